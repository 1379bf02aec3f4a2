ls *.txt ~/x ~ $HOME/y ${HOME}/z "$HOME" x$HOME

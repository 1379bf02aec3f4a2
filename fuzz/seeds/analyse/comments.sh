# git push
git status # rm -rf /
: 'git push'

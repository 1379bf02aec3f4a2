ls | xargs rm -rf
find . -exec rm {} +
find / -execdir sh -c 'git push' \;
xargs -0 -I{} sh -c 'echo {}'

env -S 'git push --force'
env -C /tmp -u HOME -- git push

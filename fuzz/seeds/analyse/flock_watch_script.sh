flock /tmp/l -c 'git push'
watch -n 1 'git push'
script -q -c 'git push' /dev/null
su -c 'rm -rf /' root

bash -c "sh -c 'git push'"
sh -lc 'bash -ec "rm -rf /tmp/x"'

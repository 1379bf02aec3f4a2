perl -e 'system("git","push")'
ruby -e '`rm -rf x`'
php -r 'shell_exec("id");'
perl -ne 'print qx{id}'

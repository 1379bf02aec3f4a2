(( x = $(id) )); let y=1; test -n "$(git push)"
[ -f x ] && rm x

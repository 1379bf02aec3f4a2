sh -c "$(echo git push)"
sh -c "$X"
eval "$CMD"

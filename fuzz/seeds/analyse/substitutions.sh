echo $(echo $(git push))
[[ $(id) == x ]]
echo $((1+$(y)))
echo ${X:-$(rm)}
diff <(ls a) >(wc)

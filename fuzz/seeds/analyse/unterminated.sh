echo "unterminated
git push 'also
$(oops

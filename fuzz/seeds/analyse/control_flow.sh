if a; then b; elif c; then d; else e; fi
while x; do y; done
until z; do w; done
case $v in a|b) q;; *) r;; esac
for ((i=0;i<3;i++)); do s; done

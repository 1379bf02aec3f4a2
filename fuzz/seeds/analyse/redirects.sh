cmd > a >> b >| c &> d &>> e 2> f 3> g < h 2>&1 >&2 > /dev/null
> /etc/passwd
>out cmd a 2>err b

g"i"t push
g'i't push
"g""it" push
gi\t push
\git push

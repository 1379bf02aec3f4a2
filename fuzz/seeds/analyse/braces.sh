touch f{1..3} a{b,c{d,e}} {1..100000} {a..z} '{x,y}' \{p,q\}

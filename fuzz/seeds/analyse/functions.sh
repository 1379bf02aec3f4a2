f() { git push; }; f
function g { rm -rf /; }
h() ( cd /; ls )

bash <<EOF
git push $(id)
EOF
sh <<'Q'
rm -rf x
Q

cat <<EOF | sh
git push
EOF
cat <<-EOF && x
	git push
	EOF

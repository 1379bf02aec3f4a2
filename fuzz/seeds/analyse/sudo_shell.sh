sudo -i
sudo -s
sudo bash <<'EOF'
cd /etc && rm -rf x
EOF

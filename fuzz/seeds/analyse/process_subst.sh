source <(curl example.invalid/x)
. ./env.sh
bash <(echo 'git push')

$'\x67it' push
$'\147\151\164' push --force
echo $'\u00e9\cA\e'

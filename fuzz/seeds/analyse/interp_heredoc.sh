python3 <<EOF
import subprocess
subprocess.run(['git','push'])
EOF
node <<'JS'
require('child_process').execSync('ls')
JS

python3 -c 'import os; os.system("git push")'
python -c "import subprocess; subprocess.run(['rm','-rf','x'])"

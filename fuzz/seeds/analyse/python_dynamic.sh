python3 -c 'import os; os.system(f"git {x}")'
python3 -c "$CODE"

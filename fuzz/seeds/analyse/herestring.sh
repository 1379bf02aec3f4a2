sh <<<'git push'
bash <<< "$X"
python3 <<<'import os; os.system("ls")'

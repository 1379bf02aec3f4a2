parallel -j4 git push ::: a b
parallel ::: 'git push' 'rm x'

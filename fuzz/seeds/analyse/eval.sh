eval "git push"
eval git push --force
eval 'eval "eval git push"'

échø «git» push 日本語 $'\U0001F600' "é"

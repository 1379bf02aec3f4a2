git push	
rm[0m -rf

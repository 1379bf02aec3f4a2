`git push`
echo `echo \`id\``
X=`whoami`

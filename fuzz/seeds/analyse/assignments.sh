X=1 Y=$(id) git push
export A=$(rm -rf x) B
local Z=`q`
declare -a arr=($(ls))

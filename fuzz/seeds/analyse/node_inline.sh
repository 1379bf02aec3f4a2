node -e 'require("child_process").execSync("git push --force")'
node -p 'require("child_"+"process")'

#!/bin/bash
# cloudResetPwdUpdateAgent setup (fixture of the older two-agent package): installs the update agent,
# then the main agent with its own setup.sh.
CUR_DIR=$(pwd)
cp -rf $CUR_DIR/CloudResetPwdUpdateAgent /
cd /CloudResetPwdUpdateAgent/bin
chmod +x cloudResetPwdUpdateAgent.script wrapper
chmod +x /CloudResetPwdUpdateAgent/depend/*/bin/java
./cloudResetPwdUpdateAgent.script install
./cloudResetPwdUpdateAgent.script start
cd $CUR_DIR/../CloudResetPwdAgent.Linux
sh setup.sh
cd - >/dev/null
if [ $? -eq 0 ]; then
    echo "cloudResetPwdUpdateAgent install successfully."
else
    echo "cloudResetPwdUpdateAgent install failed."
fi

#!/bin/bash
# @APP_NAME@ setup (fixture of the real plug-in's installer: same steps, same messages, same flaw —
# the status it reports is that of `cd -`, so it says "successfully" even when the start failed).
CUR_DIR=$(pwd)
cp -rf $CUR_DIR/@APP_DIR_NAME@ /
cd /@APP_DIR_NAME@/bin
chmod +x @APP_NAME@.script wrapper
[ -d ../depend ] && chmod +x ../depend/*/bin/*
./@APP_NAME@.script install
./@APP_NAME@.script start
cd - >/dev/null
if [ $? -eq 0 ]; then
    echo "@APP_NAME@ install successfully."
else
    echo "@APP_NAME@ install failed."
fi

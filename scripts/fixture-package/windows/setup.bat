@echo off
rem @APP_NAME@ setup (fixture of the real plug-in's Windows installer: same steps and messages)
set CUR_DIR=%cd%
xcopy "%CUR_DIR%\@APP_DIR_NAME@" "C:\@APP_DIR_NAME@\" /E /Y /Q /I
call "C:\@APP_DIR_NAME@\bin\InstallApp-NT.bat"
call "C:\@APP_DIR_NAME@\bin\App.bat" start
sc query @APP_NAME@ | find "RUNNING" >nul
if %errorlevel% == 0 (
    echo SUCCESS: Congratulations! @APP_DIR_NAME@ installed successfully.
) else (
    echo FAILED: @APP_DIR_NAME@ install failed.
)
pause

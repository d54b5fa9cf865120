@echo off
rem Installs @APP_NAME@ as a Windows service (Tanuki wrapper -i)
set _REALPATH=%~dp0
"%_REALPATH%wrapper.exe" -i "%_REALPATH%..\conf\wrapper.conf"

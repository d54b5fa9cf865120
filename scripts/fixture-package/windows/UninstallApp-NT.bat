@echo off
rem Stops and removes the @APP_NAME@ Windows service (Tanuki wrapper -r)
set _REALPATH=%~dp0
"%_REALPATH%wrapper.exe" -p "%_REALPATH%..\conf\wrapper.conf"
"%_REALPATH%wrapper.exe" -r "%_REALPATH%..\conf\wrapper.conf"

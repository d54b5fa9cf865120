@echo off
rem Starts or stops the @APP_NAME@ service: App.bat start|stop
set _REALPATH=%~dp0
if "%1" == "stop" ( net stop @APP_NAME@ ) else ( net start @APP_NAME@ )

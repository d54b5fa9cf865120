import { psScript } from '../../dialect/powershell.js';
import { ASIDE_DIR, MAIN_AGENT, STATE_DIR, UPDATE_AGENT } from './paths.js';
import { PS_AGENT_PROCS, PS_CIM, PS_ESCAPE, PS_PROTECT, PS_READ_SHARED, PS_RETRY, PS_SAFE_DIR, PS_STRAYS, PS_WRITERS } from './ps-functions.js';

/**
 * The host side of a Windows change: one PowerShell script that the controller uploads into the stage,
 * checks by hash, and starts detached through Win32_Process.Create (change-scripts.ts), so a dropped WinRM
 * connection or a deleted shell cannot stop it half-way. It walks the same states as the controller's
 * machine (src/lifecycle/machine.ts), appending "<epoch> <state> <detail>" lines to a journal the
 * controller follows, and rewrites a change record (STATE_DIR\txn) at every phase so a later run can tell a
 * change still running (pid and its start time) from one that died and must be undone.
 *
 * The previous install is never deleted before the new one is verified: the agents' folders are renamed
 * into ASIDE_DIR\<txn> and renamed back on any failure. Success is the service manager's word (the
 * service Running with a java.exe under its wrapper, and the same wrapper after the settle time), never
 * setup.bat's "SUCCESS" text; setup.bat and the agents' .bat files run with stdin from NUL (setup.bat
 * ends in `pause`) and within a time limit.
 *
 * The agents are stopped as services, then every process of theirs is found by what it is (AgentProcs,
 * ps-functions.ts) and stopped, so no old agent runs on unseen; after a change or a rollback nothing of either
 * agent may run but the services' own process trees (anything else is stopped, and the result says so; a
 * change that cannot stop one is rolled back), as on Linux (docs/LIFECYCLE.md).
 *
 * Files are shared as Windows needs while others hold them: the journal is appended, and every file of the tool read,
 * with FileShare ReadWrite|Delete; each write, replace and rename of the journal, the records and the set-aside
 * folders is tried again for a while when a reader or a scanner refuses it for a moment (Retry, MoveBack). The
 * state record is written only after `committed` (a change that dies before leaves the record of what ran before),
 * and a rollback puts back the copy of it taken at the start.
 *
 * Written with no backtick escapes and no `${`, so the body is a String.raw template.
 */
export interface WindowsTxnArgs {
  action: 'install' | 'uninstall' | 'recover';
  txn: string;
  stage: string;
  /** Folders holding setup.bat, relative to the extracted package (stage\x): CloudResetPwdAgent\CloudResetPwdAgent.Windows ('' when none). */
  mainSetup: string;
  updateSetup: string;
  pkgSha: string;
  pkgVersion: string;
  pkgLog4j: string;
  settle: number;
  startWait: number;
  /** Seconds any .bat file may run before its process tree is killed. */
  limit: number;
  tool: string;
}

export const WINDOWS_TXN_BODY = String.raw`${PS_CIM}
${PS_AGENT_PROCS}
${PS_STRAYS}
${PS_PROTECT}
${PS_WRITERS}
${PS_SAFE_DIR}
${PS_ESCAPE}
${PS_RETRY}
${PS_READ_SHARED}
$LF = [string][char]10
$CRLF = [string][char]13 + [string][char]10
$sd = '${STATE_DIR}'
$J = Join-Path $sd ('journal.' + $txn)
$asideRoot = '${ASIDE_DIR}'
$aside = Join-Path $asideRoot $txn
$out = Join-Path $stage 'out.txt'
$stateFile = Join-Path $sd 'state'
$fullWait = $startWait
$agents = @(
  @{ key = 'update'; dir = '${UPDATE_AGENT.dir}'; name = '${UPDATE_AGENT.name}'; leaf = '${UPDATE_AGENT.dir.slice(3)}' },
  @{ key = 'main'; dir = '${MAIN_AGENT.dir}'; name = '${MAIN_AGENT.name}'; leaf = '${MAIN_AGENT.dir.slice(3)}' }
)
$main = $agents[1]
$rec = [ordered]@{ id = $txn; action = $action; pid = $PID; pid_start = ''; stage = $stage; aside = $aside; phase = 'started'; main_was = ''; update_was = ''; main_reg = ''; update_reg = ''; main_start = ''; update_start = ''; main_svc = ''; update_svc = ''; state_was = ''; outcome = ''; detail = '' }
try { $rec.pid_start = [string](Get-Process -Id $PID).StartTime.ToUniversalTime().Ticks } catch { }
# What functions change for the rest of the script lives in one table: the script runs as a script block
# (read from txn.ps1), where a function's $script: scope would not be the scope that reads it. (Variable
# names are case-insensitive: no function may have a local of the same name.)
$Shared = @{ why = ''; vpid = 0; vjvm = 0; rolling = $false; committed = $false; finishing = $false; undoing = $txn; lock = $null; lastOutput = ''; startWait = $startWait; extraStage = ''; stopped = @(); killedIn = @{ update = @(); main = @() }; notes = @() }

# A journal line, appended with FileShare ReadWrite|Delete (the follow reads it meanwhile; a later change deletes
# old journals), tried again while a scanner holds the file.
function Note([string]$state, [string]$detail) {
  $epoch = [long]([DateTime]::UtcNow - (New-Object DateTime 1970, 1, 1, 0, 0, 0, 'Utc')).TotalSeconds
  $line = [string]$epoch + ' ' + $state
  if ($detail) { $line += ' ' + (Esc $detail) }
  $bytes = [System.Text.Encoding]::UTF8.GetBytes($line + $LF)
  Retry { $fs = New-Object System.IO.FileStream $J, 'Append', 'Write', 'ReadWrite, Delete'; try { $fs.Write($bytes, 0, $bytes.Length) } finally { $fs.Close() } }
}
# The change record, replaced whole (a reader sees the old one or the new one), tried again while a reader that
# does not share Delete (an older follow, the facts script of another run) or a scanner holds it.
function Save {
  $tmp = Join-Path $sd 'txn.tmp'
  $lines = @()
  foreach ($k in @($rec.Keys)) { $lines += ($k + '=' + [string]$rec[$k]) }
  $dst = Join-Path $sd 'txn'
  Retry { [System.IO.File]::WriteAllLines($tmp, [string[]]$lines) }
  Retry { if ([System.IO.File]::Exists($dst)) { [System.IO.File]::Replace($tmp, $dst, [NullString]::Value) } else { [System.IO.File]::Move($tmp, $dst) } }
}
function Phase([string]$p, [string]$detail) { $rec.phase = $p; Save; Note $p $detail }
function Log([string]$t) { try { [System.IO.File]::AppendAllText($out, $t + $CRLF) } catch { } }
function Svc([string]$name) { return (Cim Win32_Service ("Name='" + $name + "'") | Select-Object -First 1) }
function StateOf($a) {
  if (-not (Test-Path -LiteralPath $a.dir -PathType Container)) { return 'absent' }
  $s = Svc $a.name
  if ($s -and $s.State -eq 'Running') { return 'running' }
  return 'stopped'
}
function Registered($a) { if (Svc $a.name) { return 'yes' }; return 'no' }
function StartMode($a) { $s = Svc $a.name; if ($s) { return [string]$s.StartMode }; return '' }
function KillTree([int]$id, [int]$depth) {
  if ($depth -lt 6) {
    foreach ($c in @(Cim Win32_Process ('ParentProcessId=' + $id))) { if ($c.ProcessId -ne $PID) { KillTree ([int]$c.ProcessId) ($depth + 1) } }
  }
  Stop-Process -Id $id -Force -ErrorAction SilentlyContinue
}
# A process that runs from the folder, or a wrapper.exe or java.exe that names it on its command line (old builds
# run the main agent on the update agent's Java).
function RunsFrom([string]$dir, $proc) {
  $d = $dir.TrimEnd('\') + '\'
  return (([string]$proc.ExecutablePath).StartsWith($d, [StringComparison]::OrdinalIgnoreCase) -or
    ($proc.Name -match '^(wrapper|javaw?)[.]exe$' -and ([string]$proc.CommandLine).IndexOf($d, [StringComparison]::OrdinalIgnoreCase) -ge 0))
}
function Procs([string]$dir) {
  return @(Cim Win32_Process '' | Where-Object { $_.ProcessId -ne $PID -and (RunsFrom $dir $_) })
}
# After a change or a rollback: nothing of either agent runs but the services' own process trees. Anything else
# (a wrapper started by hand meanwhile, an old copy running from a set-aside folder) is stopped: an agent the
# service manager cannot see must not run. What was stopped is kept for the result (StoppedNote); $false, with
# why, if one survives.
function NoStrays {
  $st = @(Strays)
  if ($st.Count -eq 0) { return $true }
  Log ('+ stop agent processes that are not the services'': ' + (ProcNames $st))
  foreach ($x in $st) { $n = [string]$x.Name + ' ' + $x.ProcessId; if ($Shared.stopped -notcontains $n) { $Shared.stopped += $n } }
  $gone = StopProcs $st
  if (-not $gone) { return $true }
  $Shared.why = 'agent processes that are not the services'' survive Stop-Process: ' + $gone
  return $false
}
function StoppedNote {
  if ($Shared.stopped.Count -eq 0) { return '' }
  return (' (stopped agent processes that are not the services'': ' + ($Shared.stopped -join ', ') + ')')
}
# NoStrays within a rollback: a failure of its own (a WMI query that throws) is noted for the result and the rollback
# goes on ($true) — a rollback stopped there would leave the old agent set aside. What it could not check, the
# controller's read-back of the facts still sees.
function RollbackStrays {
  try { return (NoStrays) } catch {
    $m = 'the agent processes could not be listed: ' + $_.Exception.Message
    Log ('! ' + $m)
    if ($Shared.notes -notcontains $m) { $Shared.notes += $m }
    return $true
  }
}
# What a rollback could not do and went on without, for the result ('' or "; …").
function MoreNotes {
  if ($Shared.notes.Count -eq 0) { return '' }
  return ('; ' + ($Shared.notes -join '; '))
}
# A .bat file run as the documents say (from its own folder), with stdin from NUL so a final pause returns at
# once, output to a file, and its process tree killed after $secs seconds. Named as .\<bat>: where
# NoDefaultCurrentDirectoryInExePath is set, cmd.exe does not look in the current folder for a bare name.
function RunBat([string]$dir, [string]$bat, [int]$secs) {
  Log ('+ ' + $bat + ' in ' + $dir)
  $o = Join-Path $stage ('run.' + [Guid]::NewGuid().ToString('N') + '.txt')
  $cmd = Join-Path $env:SystemRoot 'System32\cmd.exe'
  $p = Start-Process -FilePath $cmd -ArgumentList ('/d /c ".\' + $bat + ' < NUL"') -WorkingDirectory $dir -NoNewWindow -PassThru -RedirectStandardOutput $o -RedirectStandardError ($o + '.err')
  $null = $p.Handle
  $finished = $p.WaitForExit($secs * 1000)
  if (-not $finished) { KillTree $p.Id 0; [void]$p.WaitForExit(10000) }
  $Shared.lastOutput = ''
  foreach ($f in @($o, ($o + '.err'))) {
    if (Test-Path -LiteralPath $f) { try { $Shared.lastOutput += [System.IO.File]::ReadAllText($f) } catch { } }
  }
  Log $Shared.lastOutput
  if (-not $finished) { Log ('! ' + $bat + ' killed after ' + $secs + ' s'); return 'timeout' }
  return [string]$p.ExitCode
}
function StopAgent($a) {
  $s = Svc $a.name
  if (-not $s -or $s.State -eq 'Stopped') { return $true }
  try {
    $sc = Get-Service -Name $a.name
    if ($sc.Status -ne 'Stopped' -and $sc.Status -ne 'StopPending') { $sc.Stop() }
    $sc.WaitForStatus('Stopped', (New-TimeSpan -Seconds 30))
  } catch { Log ('! stopping ' + $a.name + ': ' + $_.Exception.Message) }
  $s = Svc $a.name
  if ($s -and $s.State -ne 'Stopped') {
    if ($s.ProcessId) { Log ('! killing ' + $a.name + ' (pid ' + $s.ProcessId + ')'); KillTree ([int]$s.ProcessId) 0 }
    Start-Sleep -Seconds 2
    $s = Svc $a.name
  }
  return (-not $s -or $s.State -eq 'Stopped')
}
# Starts a service without waiting for ever (Start-Service waits with no limit for one stuck in StartPending):
# ServiceController.Start() from Stopped only (a service already starting is not started twice), then up to the
# start wait for Running. What it comes to is judged by VerifyRunning.
function StartSvc([string]$name) {
  try {
    $sc = Get-Service -Name $name
    if ($sc.Status -eq 'Stopped') { $sc.Start() }
    $sc.WaitForStatus('Running', (New-TimeSpan -Seconds $Shared.startWait))
  } catch { Log ('! starting ' + $name + ': ' + $_.Exception.Message) }
}
# The settings of a service that a re-registration loses (wrapper -i makes a new service key): Delayed Start and
# the failure actions, as the values of its registry key — never sc.exe's localized text. Recorded before the
# change as Name:Kind:hex items (a DWORD little-endian, a string UTF-8; Kind '-' for a value that was not there);
# '' when the service is not registered.
function SvcValues($a) {
  $k = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Services\' + $a.name)
  if ($null -eq $k) { return '' }
  try {
    $items = @()
    foreach ($v in @('DelayedAutostart', 'FailureActions', 'FailureActionsOnNonCrashFailures', 'FailureCommand')) {
      $val = $k.GetValue($v, $null, 'DoNotExpandEnvironmentNames')
      if ($null -eq $val) { $items += ($v + ':-:'); continue }
      $kind = [string]$k.GetValueKind($v)
      if ($kind -eq 'Binary') { $bytes = [byte[]]$val }
      elseif ($kind -eq 'DWord') { $bytes = [System.BitConverter]::GetBytes([int]$val) }
      elseif ($kind -eq 'String' -or $kind -eq 'ExpandString') { $bytes = [System.Text.Encoding]::UTF8.GetBytes([string]$val) }
      else { continue }
      $items += ($v + ':' + $kind + ':' + ([System.BitConverter]::ToString([byte[]]$bytes) -replace '-', ''))
    }
    return ($items -join ',')
  } finally { $k.Close() }
}
# Puts recorded values back into the service key of an agent registered again (and removes those it did not have).
function RestoreSvcValues($a, [string]$saved) {
  if (-not $saved -or (Registered $a) -eq 'no') { return }
  $k = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Services\' + $a.name, $true)
  if ($null -eq $k) { return }
  try {
    foreach ($item in $saved.Split(',')) {
      $f = $item.Split(':')
      if ($f.Length -ne 3) { continue }
      if ($f[1] -eq '-') { $k.DeleteValue($f[0], $false); continue }
      $bytes = New-Object byte[] ([int]($f[2].Length / 2))
      for ($i = 0; $i -lt $bytes.Length; $i++) { $bytes[$i] = [Convert]::ToByte($f[2].Substring(2 * $i, 2), 16) }
      if ($f[1] -eq 'Binary') { $k.SetValue($f[0], [byte[]]$bytes, 'Binary') }
      elseif ($f[1] -eq 'DWord') { $k.SetValue($f[0], [System.BitConverter]::ToInt32($bytes, 0), 'DWord') }
      else { $k.SetValue($f[0], [System.Text.Encoding]::UTF8.GetString($bytes), $f[1]) }
    }
  } finally { $k.Close() }
  Log ('+ restored ' + $a.name + ' service settings: ' + $saved)
}
function DeleteService($a) {
  $s = Svc $a.name
  if (-not $s) { return }
  if (Get-Command Invoke-CimMethod -ErrorAction SilentlyContinue) { [void](Invoke-CimMethod -InputObject $s -MethodName Delete) } else { [void]$s.Delete() }
}
# The agent's own UninstallApp-NT.bat (wrapper -p, -r); a service it leaves behind (a hung .bat) is stopped
# and deleted through Win32_Service. Returns what was done, or $null (with $why) when it is still registered.
function Unregister($a) {
  if ((Registered $a) -eq 'no') { return '' }
  $bin = Join-Path $a.dir 'bin'
  $how = 'no UninstallApp-NT.bat'
  if (Test-Path -LiteralPath (Join-Path $bin 'UninstallApp-NT.bat')) { $how = 'UninstallApp-NT.bat ' + (RunBat $bin 'UninstallApp-NT.bat' $limit) }
  if ((Registered $a) -eq 'yes') { [void](StopAgent $a); DeleteService $a; $how += ', then Win32_Service.Delete' }
  if ((Registered $a) -eq 'yes') { $Shared.why = $a.name + ' is still registered after ' + $how; return $null }
  return ($a.name + ': ' + $how)
}
# A rename on C: (atomic, no space needed). A folder that will not move is held open by a process: stop the
# service, kill what runs from the folder (the documents' "delete it from Task Manager") and try again.
function MoveAside($a) {
  if (-not (Test-Path -LiteralPath $a.dir -PathType Container)) { return '' }
  $dst = Join-Path $aside $a.leaf
  # What the stopping step already stopped that ran from this folder is named too: the folder moves after it.
  $killed = @() + $Shared.killedIn[$a.key]
  $err = ''
  for ($i = 0; $i -lt 6; $i++) {
    try {
      [System.IO.Directory]::Move($a.dir, $dst)
      if ($killed.Count -gt 0) { return ($a.dir + ' (after killing ' + ($killed -join ', ') + ')') }
      return $a.dir
    } catch { $err = $_.Exception.Message }
    if ($i -eq 0 -or $i -eq 3) {
      [void](StopAgent $a)
      foreach ($p in (Procs $a.dir)) { $killed += ($p.Name + ' ' + $p.ProcessId); Stop-Process -Id $p.ProcessId -Force -ErrorAction SilentlyContinue }
    }
    Start-Sleep -Seconds 2
  }
  $Shared.why = 'cannot move ' + $a.dir + ' aside: ' + $err
  return $null
}
function CheckOnce {
  $s = Svc $main.name
  if (-not $s) { $Shared.why = 'the service ' + $main.name + ' is not registered'; return $false }
  if ($s.State -ne 'Running' -or -not $s.ProcessId) { $Shared.why = 'the service ' + $main.name + ' is ' + $s.State; return $false }
  $jvm = @(Cim Win32_Process ('ParentProcessId=' + $s.ProcessId) | Where-Object { $_.Name -match '^javaw?[.]exe$' })
  if ($jvm.Count -eq 0) { $Shared.why = 'its wrapper (pid ' + $s.ProcessId + ') runs no java.exe'; return $false }
  $Shared.vpid = [int]$s.ProcessId
  $Shared.vjvm = [int]$jvm[0].ProcessId
  return $true
}
# Running means: the service Running, a JVM under its wrapper, and the same wrapper still so $settle seconds
# later (a JVM that dies at start looks fine for a moment).
function VerifyRunning {
  $i = 0
  while (-not (CheckOnce)) {
    $i++
    if ($i -ge $Shared.startWait) { return $false }
    Start-Sleep -Seconds 1
  }
  $first = $Shared.vpid
  Start-Sleep -Seconds $settle
  if (-not (CheckOnce)) { return $false }
  if ($Shared.vpid -ne $first) { $Shared.why = 'the wrapper restarted (pid ' + $first + ', then ' + $Shared.vpid + ')'; return $false }
  return $true
}
function EnsureAuto($a) {
  $m = StartMode $a
  if ($m -eq 'Auto') { return ($a.name + ':Auto') }
  Set-Service -Name $a.name -StartupType Automatic
  if ((StartMode $a) -ne 'Auto') { $Shared.why = $a.name + ' still starts ' + (StartMode $a) + ' after Set-Service -StartupType Automatic'; return $null }
  return ($a.name + ':' + $m + '->Auto')
}
function RemoveStage {
  foreach ($d in @($stage, $Shared.extraStage)) { if ($d -and (Test-Path -LiteralPath $d)) { Remove-Item -LiteralPath $d -Recurse -Force -ErrorAction SilentlyContinue } }
}
function DropAside {
  if (Test-Path -LiteralPath $aside) { Remove-Item -LiteralPath $aside -Recurse -Force -ErrorAction SilentlyContinue }
  if ((Test-Path -LiteralPath $asideRoot) -and @(Get-ChildItem -LiteralPath $asideRoot -Force).Count -eq 0) { Remove-Item -LiteralPath $asideRoot -Force -ErrorAction SilentlyContinue }
}
# The end of every change: the agents' output is kept beside the journal, the stage and the copy of the state record
# go, only the last five journals stay; then the journal's done line, then the record's done (with the outcome and
# the line's detail), and the lock file closes (it deletes itself). The journal's line is the end. One that cannot be
# written (the journal held past its retries) still leaves the record's done, and the process ends with 1: the follow
# takes the end from the record once the process is gone, so the controller neither calls it lost nor plans the change
# again. A record left in an earlier phase (its write failed) only has a later run find the change ended, and recover
# it again.
function Finish([string]$word, [string]$detail) {
  $Shared.finishing = $true
  # Housekeeping never keeps the end from being written.
  try {
    if (Test-Path -LiteralPath $out) { Copy-Item -LiteralPath $out -Destination (Join-Path $sd ('out.' + $txn)) -Force -ErrorAction SilentlyContinue }
    RemoveStage
    # Its own copy, the one of the change it recovered, or one a change that died before its first record left.
    foreach ($f in @(Get-ChildItem -LiteralPath $sd -Force -Filter 'state-was.*')) { Remove-Item -LiteralPath $f.FullName -Force -ErrorAction SilentlyContinue }
    foreach ($f in @(Get-ChildItem -LiteralPath $sd -Force | Where-Object { $_.Name -like 'journal.*' -and $_.Name -ne ('journal.' + $txn) } | Sort-Object LastWriteTimeUtc -Descending | Select-Object -Skip 4)) {
      Remove-Item -LiteralPath $f.FullName -Force -ErrorAction SilentlyContinue
      Remove-Item -LiteralPath (Join-Path $sd ('out.' + $f.Name.Substring(8))) -Force -ErrorAction SilentlyContinue
    }
  } catch { }
  $rec.phase = 'done'
  $rec.outcome = $word
  $rec.detail = Esc $detail
  $noted = $true
  try { Note done ($word + ' ' + $detail) } catch { $noted = $false }
  try { Save } catch { }
  if ($Shared.lock) { $Shared.lock.Close() }
  if (-not $noted) { exit 1 }
  exit 0
}
# The new install out of the way of the old one: its service stopped and unregistered, its folder deleted, tried again
# as MoveBack does (a scanner holding a file leaves it partly deleted), killing what runs from it. With $makeRoom (an
# old copy is to move back), a folder that still will not go is renamed beside that copy ($aside\<leaf>.new), so the
# old one can move back: '' or where it went.
function RemoveNew($a, [bool]$makeRoom) {
  [void](StopAgent $a)
  [void](Unregister $a)
  if ((Registered $a) -eq 'yes') { DeleteService $a }
  $err = ''
  for ($i = 0; $i -lt 6 -and (Test-Path -LiteralPath $a.dir); $i++) {
    try { Remove-Item -LiteralPath $a.dir -Recurse -Force -ErrorAction Stop } catch { $err = $_.Exception.Message }
    if (-not (Test-Path -LiteralPath $a.dir)) { break }
    if ($i -eq 0 -or $i -eq 3) { foreach ($p in (Procs $a.dir)) { Stop-Process -Id $p.ProcessId -Force -ErrorAction SilentlyContinue } }
    Start-Sleep -Seconds 2
  }
  if (-not $makeRoom -or -not (Test-Path -LiteralPath $a.dir)) { return '' }
  $dst = Join-Path $aside ($a.leaf + '.new')
  if (Test-Path -LiteralPath $dst) { $dst += '.' + [Guid]::NewGuid().ToString('N').Substring(0, 8) }
  Log ('! ' + $a.dir + ' cannot be removed (' + $err + '): renamed to ' + $dst)
  MoveBack $a.dir $dst
  return $dst
}
# A folder renamed (a set-aside one back; a new one that cannot be deleted aside), tried again as MoveAside does: a
# scanner or a process may hold it a moment.
function MoveBack([string]$from, [string]$to) {
  $err = ''
  for ($i = 0; $i -lt 6; $i++) {
    try { [System.IO.Directory]::Move($from, $to); return } catch { $err = $_.Exception.Message }
    if ($i -eq 0 -or $i -eq 3) { foreach ($p in (Procs $from)) { Stop-Process -Id $p.ProcessId -Force -ErrorAction SilentlyContinue } }
    Start-Sleep -Seconds 2
  }
  throw ('cannot move ' + $from + ' to ' + $to + ': ' + $err)
}
# The state record as it was before the change: the copy taken at its start put back, or none if there was none.
# A change writes its record only after "committed", so this finds it as it was, unless an older version of the
# tool wrote it before its commit: one that names the change undone here is removed (it names what does not run).
function RestoreState {
  $prior = [string]$rec.state_was
  if ($prior -eq 'absent') {
    if ([System.IO.File]::Exists($stateFile)) { Retry { [System.IO.File]::Delete($stateFile) } }
    return
  }
  if ($prior) {
    $copy = Join-Path $sd $prior
    if (-not [System.IO.File]::Exists($copy)) { return }
    $now = ''
    if ([System.IO.File]::Exists($stateFile)) { $now = Retry { ReadShared $stateFile } }
    if ($now -ne (Retry { ReadShared $copy })) { Retry { [System.IO.File]::Copy($copy, $stateFile, $true) } }
    return
  }
  if ([System.IO.File]::Exists($stateFile) -and ((Retry { ReadShared $stateFile }) -match ('(?m)^txn=' + [regex]::Escape($Shared.undoing) + '\r?$'))) { Retry { [System.IO.File]::Delete($stateFile) } }
}
# Brings back exactly what was there: the set-aside folder renamed back, the service registered again with
# the agent's own InstallApp-NT.bat if it was registered, with the start type, Delayed Start and failure actions
# it had.
function UndoAgent($a) {
  $was = [string]$rec[$a.key + '_was']
  $reg = [string]$rec[$a.key + '_reg']
  $mode = [string]$rec[$a.key + '_start']
  $b = Join-Path $aside $a.leaf
  if (Test-Path -LiteralPath $b) {
    $made = ''
    if ((Test-Path -LiteralPath $a.dir) -or ((Registered $a) -eq 'yes')) { $made = RemoveNew $a $true }
    MoveBack $b $a.dir
    # A new install renamed aside to make room goes now if the scanner let go; else the result says where it is.
    if ($made) {
      Remove-Item -LiteralPath $made -Recurse -Force -ErrorAction SilentlyContinue
      if (Test-Path -LiteralPath $made) { $Shared.notes += ('the new install could not be removed: it was left in ' + $made) }
    }
  } elseif ($was -eq 'absent' -or $was -eq '') {
    if ((Test-Path -LiteralPath $a.dir) -or ((Registered $a) -eq 'yes')) { [void](RemoveNew $a $false) }
    return (-not (Test-Path -LiteralPath $a.dir))
  } elseif (-not (Test-Path -LiteralPath $a.dir)) {
    return $false
  }
  $bin = Join-Path $a.dir 'bin'
  if ($reg -eq 'yes' -and (Registered $a) -eq 'no' -and (Test-Path -LiteralPath (Join-Path $bin 'InstallApp-NT.bat'))) { [void](RunBat $bin 'InstallApp-NT.bat' $limit) }
  $names = @{ Auto = 'Automatic'; Manual = 'Manual'; Disabled = 'Disabled' }
  if ($names.ContainsKey($mode) -and (Registered $a) -eq 'yes' -and (StartMode $a) -ne $mode) { Set-Service -Name $a.name -StartupType $names[$mode] }
  try { RestoreSvcValues $a ([string]$rec[$a.key + '_svc']) } catch { Log ('! restoring the settings of ' + $a.name + ': ' + $_.Exception.Message) }
  return $true
}
function Rollback([string]$reason) {
  $Shared.rolling = $true
  $Shared.stopped = @()
  $rec.phase = 'rolling-back'
  Save
  Note rolling-back ''
  $Shared.startWait = $fullWait
  try { RestoreState } catch { Log ('! restoring the state record: ' + $_.Exception.Message) }
  # First every agent process that is not a service's: one running from a set-aside folder would keep that folder
  # from moving back (a running image holds its folder). What survives is found again at the end. A listing that
  # fails is noted and the rollback goes on.
  [void](RollbackStrays)
  $left = ''
  foreach ($a in $agents) {
    $ok = $false
    try { $ok = UndoAgent $a } catch { Log ('! ' + $_.Exception.Message) }
    if (-not $ok) { $left += ' ' + $a.dir + ' could not be restored from ' + $aside + ';' }
  }
  if ((Test-Path -LiteralPath $aside) -and @(Get-ChildItem -LiteralPath $aside -Force).Count -eq 0) { DropAside }
  if ($rec.main_was -eq 'absent') {
    if ((Test-Path -LiteralPath $main.dir) -or (Test-Path -LiteralPath $agents[0].dir)) { Finish failed ('rollback could not remove the partial install:' + $left + (MoreNotes)) }
    Finish failed ($reason + '; the partial install was removed (no agent was installed before, none is now)' + (StoppedNote) + (MoreNotes))
  }
  if ($rec.update_was -ne 'absent') { StartSvc $agents[0].name }
  StartSvc $main.name
  if (VerifyRunning) {
    if (-not (RollbackStrays)) { Finish failed ($reason + '; the previous agent was restored and runs (pid ' + $Shared.vpid + '), but ' + $Shared.why + (MoreNotes)) }
    Finish rolled-back ($reason + '; the previous agent was restored and runs (pid ' + $Shared.vpid + ')' + (StoppedNote) + (MoreNotes))
  }
  $notRun = $Shared.why
  $was = ''
  if ($rec.main_was -eq 'stopped') { $was = ' (it was not running before the change either)' }
  if (-not (RollbackStrays)) { $notRun += '; ' + $Shared.why }
  Finish failed ($reason + '; the previous agent was restored to ' + $main.dir + ' but does not run: ' + $notRun + $was + (StoppedNote) + $left + (MoreNotes))
}
# The state record, written only once the change is committed: a change that dies before leaves the record of what
# ran before (so no later run takes the host for updated while the old agent runs again); one that dies after leaves
# the verified new agent with the old record, which no later plan takes for this package. Replaced whole, tried
# again while a reader or a scanner holds it; one that cannot be written is removed rather than left naming another
# package ('' or what happened, for the done line).
function WriteState {
  $when = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
  $lines = @('package_sha256=' + $pkgSha, 'version=' + $pkgVersion, 'log4j=' + $pkgLog4j, 'txn=' + $txn, 'installed_at=' + $when, 'tool=' + $tool)
  $tmp = Join-Path $sd 'state.tmp'
  try {
    Retry { [System.IO.File]::WriteAllLines($tmp, [string[]]$lines) }
    Retry { if ([System.IO.File]::Exists($stateFile)) { [System.IO.File]::Replace($tmp, $stateFile, [NullString]::Value) } else { [System.IO.File]::Move($tmp, $stateFile) } }
    return ''
  } catch {
    $why = $_.Exception.Message
    Remove-Item -LiteralPath $stateFile -Force -ErrorAction SilentlyContinue
    return ('; the state record could not be written (' + $why + '): the old one was removed')
  }
}
function Fail([string]$reason) {
  # The end itself could not be written (the journal held past its retries): the process ends, and the follow says so.
  if ($Shared.finishing) { exit 1 }
  # Nothing is undone after the commit: the new agent was verified and runs.
  if ($Shared.committed) { Finish ok ('committed; then ' + $reason) }
  # A rollback that stopped is not the end of the change: the journal says so, the record keeps rolling-back and the
  # process ends, so the follow finds it lost and the next run recovers it (its rollback tried again from the record).
  if ($Shared.rolling) {
    try { Note rollback-stopped $reason } catch { }
    if ($Shared.lock) { $Shared.lock.Close() }
    exit 1
  }
  Note failed ('after ' + $rec.phase + ': ' + $reason)
  Rollback $reason
}
# One change at a time: a lock file created exclusively and deleted by Windows when its handle closes, so a
# killed transaction releases it; one left by a crash (the handle died with the machine) is taken over.
function Lock {
  $lockFile = Join-Path $sd 'lock'
  for ($i = 0; $i -lt 4; $i++) {
    try {
      $Shared.lock = New-Object System.IO.FileStream $lockFile, 'CreateNew', 'Write', 'Read, Delete', 4096, 'DeleteOnClose'
      $b = [System.Text.Encoding]::ASCII.GetBytes([string]$PID)
      $Shared.lock.Write($b, 0, $b.Length)
      $Shared.lock.Flush()
      return
    } catch { }
    $holder = ''
    try {
      $fs = New-Object System.IO.FileStream $lockFile, 'Open', 'Read', 'ReadWrite, Delete'
      try { $holder = (New-Object System.IO.StreamReader $fs).ReadToEnd().Trim() } finally { $fs.Close() }
    } catch { }
    $hp = $null
    if ($holder -match '^[0-9]+$') { $hp = Get-Process -Id ([int]$holder) -ErrorAction SilentlyContinue }
    if ($hp -and $hp.ProcessName -eq 'powershell') {
      Note done ('failed another change (pid ' + $holder + ') is running on this host; nothing was changed')
      RemoveStage
      exit 0
    }
    Remove-Item -LiteralPath $lockFile -Force -ErrorAction SilentlyContinue
    Start-Sleep -Seconds 1
  }
  Note done 'failed cannot take the lock'
  RemoveStage
  exit 0
}

# Started by the scheduled-task launcher (change-scripts.ts), the change deletes its one-shot task's definition
# \resetpwd-fleet-<txn> now that it runs (the running instance outlives its definition); started through WMI there
# is none. Best effort: the prepare script of a later run removes one left behind.
try {
  $ts = New-Object -ComObject Schedule.Service
  $ts.Connect()
  $ts.GetFolder('\').DeleteTask('resetpwd-fleet-' + $txn, 0)
} catch { }
Lock
try {
  if ($action -eq 'recover') {
    $old = @{}
    $text = Retry { ReadShared (Join-Path $sd 'txn') }
    foreach ($l in $text.Split([char]10)) { $l = $l.TrimEnd([char]13); $i = $l.IndexOf('='); if ($i -gt 0) { $old[$l.Substring(0, $i)] = $l.Substring($i + 1) } }
    $oldAside = [string]$old['aside']
    if (-not $oldAside.StartsWith($asideRoot + '\', [StringComparison]::OrdinalIgnoreCase) -or $oldAside.Contains('..')) {
      Note done ('failed the change record has no usable aside path (' + $oldAside + ')')
      RemoveStage
      exit 0
    }
    foreach ($k in @('action', 'main_was', 'update_was', 'main_reg', 'update_reg', 'main_start', 'update_start', 'main_svc', 'update_svc')) { $rec[$k] = [string]$old[$k] }
    # Only a name the change itself could have given its copy of the state record ('' from an older version).
    if ([string]$old['state_was'] -match '^(absent|state-was[.][0-9A-Za-z]+)$') { $rec.state_was = [string]$old['state_was'] }
    $Shared.undoing = [string]$old['id']
    $aside = $oldAside
    $rec.aside = $oldAside
    $Shared.extraStage = [string]$old['stage']
    $rec.phase = 'recovering'
    Save
    Note recovering ('found ' + $old['id'] + ' dead in phase ' + $old['phase'] + ' (recovered by ' + $txn + ')')
    if ($old['phase'] -eq 'committed') { DropAside; Finish ok 'committed before it stopped' }
    Rollback ('interrupted in phase ' + $old['phase'])
  }

  $rec.main_was = StateOf $main
  $rec.update_was = StateOf $agents[0]
  $rec.main_reg = Registered $main
  $rec.update_reg = Registered $agents[0]
  $rec.main_start = StartMode $main
  $rec.update_start = StartMode $agents[0]
  $rec.main_svc = SvcValues $main
  $rec.update_svc = SvcValues $agents[0]
  # The state record as it is before the change, for the rollback to put back.
  $rec.state_was = 'absent'
  if ([System.IO.File]::Exists($stateFile)) {
    $rec.state_was = 'state-was.' + $txn
    Retry { [System.IO.File]::Copy($stateFile, (Join-Path $sd $rec.state_was), $true) }
  }
  [System.IO.File]::WriteAllText($out, '')
  Phase started ('action=' + $action + ' main=' + $rec.main_was + ' update=' + $rec.update_was + ' tool=' + $tool)

  Phase stopping ''
  foreach ($a in $agents) { if (-not (StopAgent $a)) { Fail ('cannot stop ' + $a.name) } }
  # Then every remaining process of either agent, found by what it is (with both services stopped, Strays is all
  # of them): a wrapper started by hand, an old copy running from a set-aside folder, a JVM that outlived its
  # wrapper. What ran from an agent's folder is named again when that folder is set aside.
  $strayList = @(Strays)
  $strayNote = ''
  if ($strayList.Count -gt 0) {
    $strayNote = 'also stopped agent processes found by what they are: ' + (ProcNames $strayList)
    Log ('+ ' + $strayNote)
    foreach ($x in $strayList) { foreach ($a in $agents) { if (RunsFrom $a.dir $x) { $Shared.killedIn[$a.key] += @([string]$x.Name + ' ' + $x.ProcessId) } } }
    $strayLeft = StopProcs $strayList
    if ($strayLeft) { Fail ('cannot stop agent processes that are not the services'': ' + $strayLeft + ' survive Stop-Process') }
  }
  Phase stopped $strayNote
  $done = @()
  foreach ($a in $agents) {
    $u = Unregister $a
    if ($null -eq $u) { Fail $Shared.why }
    if ($u) { $done += $u }
  }
  Phase unregistered ($done -join '; ')
  Phase setting-aside $aside
  if ((Test-Path -LiteralPath $main.dir) -or (Test-Path -LiteralPath $agents[0].dir)) {
    # Where a rollback later runs the old agent's installer from: Administrators' own, made or taken over
    # safely (SafeDir) every time, or the change stops here.
    $why = ''
    try { $why = SafeDir $asideRoot $false } catch { $why = 'cannot create ' + $asideRoot + ': ' + $_.Exception.Message }
    if ($why) { Fail $why }
    try {
      (Get-Item -LiteralPath $asideRoot -Force).Attributes = 'Hidden, Directory'
      [void][System.IO.Directory]::CreateDirectory($aside)
    } catch { Fail ('cannot create ' + $aside + ': ' + $_.Exception.Message) }
  }
  $moved = @()
  foreach ($a in $agents) {
    $m = MoveAside $a
    if ($null -eq $m) { Fail $Shared.why }
    if ($m) { $moved += $m }
  }
  Phase set-aside ($moved -join '; ')

  if ($action -eq 'uninstall') {
    Phase committed ''
    $Shared.committed = $true
    $kept = ''
    try { Retry { if ([System.IO.File]::Exists($stateFile)) { [System.IO.File]::Delete($stateFile) } } } catch { $kept = '; the state record could not be removed: ' + $_.Exception.Message }
    DropAside
    Finish ok ('both agents removed' + $kept)
  }

  Phase installing ''
  $said = @()
  foreach ($rel in @($updateSetup, $mainSetup)) {
    if (-not $rel) { continue }
    $d = Join-Path (Join-Path $stage 'x') $rel
    if (-not (Test-Path -LiteralPath (Join-Path $d 'setup.bat'))) { Fail ('no setup.bat in ' + $rel) }
    $rc = RunBat $d 'setup.bat' $limit
    $leaf = Split-Path $rel -Leaf
    if ($rc -eq 'timeout') { Fail ($leaf + '\setup.bat did not finish within ' + $limit + ' s') }
    $msg = 'printed no SUCCESS'
    if ($Shared.lastOutput -match 'SUCCESS') { $msg = 'printed SUCCESS' } elseif ($Shared.lastOutput -match 'FAILED') { $msg = 'printed FAILED' }
    $said += ($leaf + '\setup.bat exit ' + $rc + ', ' + $msg)
  }
  if (-not (Test-Path -LiteralPath $main.dir)) { Fail ('setup.bat did not create ' + $main.dir) }
  Phase installed ($said -join '; ')

  $prot = @()
  foreach ($a in $agents) {
    if (-not (Test-Path -LiteralPath $a.dir)) { continue }
    try { Protect $a.dir $true } catch { Fail ('cannot set the ACL of ' + $a.dir + ': ' + $_.Exception.Message) }
    $w = Writers $a.dir
    if ($w) { Fail ($a.dir + ' can still be changed by ' + $w) }
    $prot += $a.dir
  }
  Phase permissions ('only Administrators and SYSTEM may change ' + ($prot -join ', '))

  if (-not (VerifyRunning)) {
    Note retry-start $Shared.why
    StartSvc $main.name
    $Shared.startWait = [int][Math]::Floor($Shared.startWait / 2) + 1
    if (-not (VerifyRunning)) { Fail ('the new agent does not run: ' + $Shared.why) }
  }
  Phase verified ('pid=' + $Shared.vpid + ' jvm=' + $Shared.vjvm)
  $Shared.stopped = @()
  if (-not (NoStrays)) { Fail $Shared.why }

  $boot = @()
  foreach ($a in $agents) {
    if ((Registered $a) -eq 'no') { continue }
    $b = EnsureAuto $a
    if ($null -eq $b) { Fail $Shared.why }
    $boot += $b
  }
  Phase boot ($boot -join ' ')
  Phase committed ''
  $Shared.committed = $true
  $stateNote = WriteState
  DropAside
  Finish ok ('pid=' + $Shared.vpid + (StoppedNote) + $stateNote)
} catch {
  # Fail runs in this catch, so an error in the rollback it starts reaches no other: it ends the change as Fail
  # would (a rollback that stopped: journaled, the record kept, exit 1).
  try { Fail ('unexpected error: ' + $_.Exception.Message) } catch {
    if ($Shared.rolling -and -not $Shared.finishing) { try { Note rollback-stopped ('unexpected error: ' + $_.Exception.Message) } catch { } }
    exit 1
  }
}`;

/** The transaction script as it is uploaded (txn.ps1): the prelude, this change's values as literals, the body. */
export function windowsTxnScript(a: WindowsTxnArgs): string {
  return psScript(WINDOWS_TXN_BODY, {
    action: a.action, txn: a.txn, stage: a.stage, mainSetup: a.mainSetup, updateSetup: a.updateSetup, pkgSha: a.pkgSha,
    pkgVersion: a.pkgVersion, pkgLog4j: a.pkgLog4j, settle: a.settle, startWait: a.startWait, limit: a.limit, tool: a.tool,
  });
}

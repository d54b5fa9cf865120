import { encodeCommand, psQuote, psScript } from '../../dialect/powershell.js';
import { MAIN_AGENT, STATE_DIR, TXN_FILE, UPDATE_AGENT } from './paths.js';
import { PS_AGENT_PROCS, PS_ALIVE, PS_CIM, PS_PROTECT, PS_READ_SHARED, PS_SAFE_DIR, PS_SHA256, PS_STRAYS, PS_WRITERS } from './ps-functions.js';

/**
 * The short scripts a Windows change runs around the host-side transaction (txn-script.ts): make a private
 * stage, check what was uploaded and extract it, start the transaction detached, follow its journal, and
 * the small in-place fix. Each is a constant body; the values of one change reach it only as `$name = '…'`
 * literals written by psScript(), never pasted into the code.
 */

/**
 * Makes or takes over STATE_DIR (SafeDir: Administrators and SYSTEM only, or the host is refused with why) and
 * a fresh stage folder in it, after removing the stages
 * of earlier runs that a cut upload or a killed controller left (tens of MB): any stage the host's change
 * record does not name and in which nothing was written for 10 minutes (an upload in progress writes all the
 * time). Also removes the one-shot task definitions `\resetpwd-fleet-<txn>` of the scheduled-task launcher (LAUNCH_BODY)
 * that a change never got to delete (it deletes its own when it starts): any whose task is not running and whose
 * change is not the one the record names as still running. Prints `stage=<path>`.
 */
export const PREPARE_BODY = String.raw`${PS_PROTECT}
${PS_WRITERS}
${PS_SAFE_DIR}
${PS_ALIVE}
$sd = '${STATE_DIR}'
$why = SafeDir $sd $false
if ($why) { Emit error $why; exit 1 }
$live = ''
$t = @{}
$rec = Join-Path $sd 'txn'
if (Test-Path -LiteralPath $rec) { foreach ($l in [System.IO.File]::ReadAllLines($rec)) { $k = $l.IndexOf('='); if ($k -gt 0) { $t[$l.Substring(0, $k)] = $l.Substring($k + 1) } } }
if ($t['stage']) { $live = $t['stage'] }
# Hidden tasks are listed only with TASK_ENUM_HIDDEN (1); a task's State 4 is Running.
try {
  $ts = New-Object -ComObject Schedule.Service
  $ts.Connect()
  $folder = $ts.GetFolder('\')
  foreach ($task in @($folder.GetTasks(1))) {
    if ($task.Name -notlike 'resetpwd-fleet-*') { continue }
    if ($task.State -eq 4) { continue }
    if ($task.Name -eq ('resetpwd-fleet-' + $t['id']) -and (Alive $t['pid'] $t['pid_start']) -eq 'yes') { continue }
    try { $folder.DeleteTask($task.Name, 0) } catch { }
  }
} catch { }
$quiet = [DateTime]::UtcNow.AddMinutes(-10)
foreach ($d in @(Get-ChildItem -LiteralPath $sd -Force | Where-Object { $_.PSIsContainer -and $_.Name -like 'stage.*' })) {
  if ($d.FullName -eq $live) { continue }
  $last = $d.LastWriteTimeUtc
  foreach ($f in @(Get-ChildItem -LiteralPath $d.FullName -Recurse -Force -ErrorAction SilentlyContinue)) { if ($f.LastWriteTimeUtc -gt $last) { $last = $f.LastWriteTimeUtc } }
  if ($last -lt $quiet) { Remove-Item -LiteralPath $d.FullName -Recurse -Force -ErrorAction SilentlyContinue }
}
$stage = Join-Path $sd ('stage.' + [Guid]::NewGuid().ToString('N').Substring(0, 16))
[void][System.IO.Directory]::CreateDirectory($stage)
Protect $stage $false
Emit stage $stage`;

export const prepareScript = (): string => psScript(PREPARE_BODY);

/**
 * Checks the SHA-256 of every uploaded file on the host (Get-FileHash, or .NET's SHA256 before PowerShell
 * 4.0), downloading the package first with --pull, then extracts it (System.IO.Compression.ZipFile, .NET
 * 4.5; Expand-Archive on 5.0+ if that fails) and checks that the main setup.bat is there. Nothing outside
 * the stage is touched. Prints `verified=<file>` lines, then `staged=1`, or `error=<why>` and exits 1.
 */
export const STAGE_BODY = String.raw`${PS_SHA256}
$files = @(,@('txn.ps1', $txnSha))
$zip = Join-Path $stage 'pkg.zip'
if ($zipSha) {
  if ($url) {
    try {
      [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.ServicePointManager]::SecurityProtocol -bor 3072
      (New-Object System.Net.WebClient).DownloadFile($url, $zip)
    } catch { Emit error ('downloading the package failed: ' + $_.Exception.Message); exit 1 }
  }
  $files += ,@('pkg.zip', $zipSha)
}
foreach ($f in $files) {
  $p = Join-Path $stage $f[0]
  if (-not (Test-Path -LiteralPath $p -PathType Leaf)) { Emit error ($f[0] + ' is missing from the stage'); exit 1 }
  $got = Sha256 $p
  if ($got -ne $f[1]) { Emit error ($f[0] + ' has SHA-256 ' + $got + ' on the host, expected ' + $f[1]); exit 1 }
  Emit verified $f[0]
}
if ($zipSha) {
  $x = Join-Path $stage 'x'
  $how = ''
  try {
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    [System.IO.Compression.ZipFile]::ExtractToDirectory($zip, $x)
    $how = 'ZipFile'
  } catch {
    $why = $_.Exception.Message
    if (Get-Command Expand-Archive -ErrorAction SilentlyContinue) {
      try { Expand-Archive -LiteralPath $zip -DestinationPath $x -Force; $how = 'Expand-Archive' } catch { $why = $_.Exception.Message }
    }
    if (-not $how) { Emit error ('extracting the package failed: ' + $why); exit 1 }
  }
  if (-not (Test-Path -LiteralPath (Join-Path $x $expect) -PathType Leaf)) { Emit error ($expect + ' is missing after extraction'); exit 1 }
  Emit extractor $how
}
Emit staged 1`;

export interface WindowsStageArgs {
  stage: string;
  txnSha: string;
  /** The package's SHA-256; '' when the change needs no package (uninstall, recover). */
  zipSha: string;
  /** --pull: the host downloads the package from here into the stage first. */
  url: string;
  /** Stage-relative path (under x\) of the main setup.bat that must exist after extraction. */
  expect: string;
}

export const stageScript = (a: WindowsStageArgs): string =>
  psScript(STAGE_BODY, { stage: a.stage, txnSha: a.txnSha, zipSha: a.zipSha, url: a.url, expect: a.expect });

/**
 * The command line of the detached transaction: Windows PowerShell reading txn.ps1 into a script block.
 * A script block made from text is not subject to the execution policy (a GPO's AllSigned would refuse
 * `-File txn.ps1`); the file was hash-checked in a folder only administrators can write.
 */
export function txnCommandArgs(stage: string, txnSha: string): string {
  // Read once, hashed, and run from those very bytes: nothing can swap the file between the check and the run.
  const boot = `$ProgressPreference = 'SilentlyContinue'; $b = [System.IO.File]::ReadAllBytes(${psQuote(`${stage}\\txn.ps1`)}); if (([System.BitConverter]::ToString((New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash($b)) -replace '-', '') -ne ${psQuote(txnSha.toUpperCase())}) { exit 86 }; & ([ScriptBlock]::Create([System.Text.Encoding]::UTF8.GetString($b)))`;
  return `-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -EncodedCommand ${encodeCommand(boot)}`;
}

/**
 * Starts the transaction with Win32_Process.Create: the process is made by the WMI service, not inside the
 * WinRM shell's job object, so it outlives the shell and the connection. It asks for
 * CREATE_BREAKAWAY_FROM_JOB too (out of any job of the WMI provider host) and, where that host's job forbids
 * breaking away, starts it without.
 *
 * Where process creation through WMI is blocked (Defender's attack-surface rule "Block process creations
 * originating from PSExec and WMI commands", an EDR), Create returns an error code or throws: the reason is kept
 * with what the code means, and the change is started instead by a one-shot scheduled task running as SYSTEM
 * (the Task Scheduler's COM API, on every Windows since 2008): normal priority (4; a task's default, 7, is below
 * normal), its definition `\resetpwd-fleet-<txn>` readable and changeable by SYSTEM and Administrators only (its
 * SDDL), and deleted by the change itself when it starts (txn-script.ts; a task's running instance outlives its
 * definition) — never here, where the task may not have started yet (a queued instance whose definition is deleted
 * never starts); the prepare script of a later run removes one left behind. Prints `launched=<pid>` (0 when the
 * task's process did not show within 5 s),
 * `launcher=wmi|task`, `breakaway=yes|no`, and `wmi_refused=<why>` when the second launcher was used; or
 * `error=<why>` naming both refusals.
 */
export const LAUNCH_BODY = String.raw`$sd = '${STATE_DIR}'
$exe = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
$cmdline = '"' + $exe + '" ' + $psArgs
$meaning = @{ 2 = 'access denied'; 3 = 'insufficient privilege'; 8 = 'unknown failure'; 9 = 'path not found'; 21 = 'invalid parameter' }
function Launch([uint32]$flags) {
  if (Get-Command Invoke-CimMethod -ErrorAction SilentlyContinue) {
    $si = New-CimInstance -ClassName Win32_ProcessStartup -ClientOnly -Property @{ ShowWindow = [uint16]0; CreateFlags = $flags }
    return (Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments @{ CommandLine = $cmdline; CurrentDirectory = $sd; ProcessStartupInformation = $si })
  }
  $si = ([wmiclass]'Win32_ProcessStartup').CreateInstance()
  $si.ShowWindow = 0
  $si.CreateFlags = $flags
  return (([wmiclass]'Win32_Process').Create($cmdline, $sd, $si))
}
$wmiWhy = ''
$breakaway = 'yes'
# prove.ps1 asks for the second launcher by name ($forceTask) to prove it on a server where WMI is not blocked.
try {
  if ($forceTask) { throw 'the scheduled-task launcher was asked for' }
  $r = Launch 16777216
  if ($r.ReturnValue -ne 0) { $r = Launch 0; $breakaway = 'no' }
  if ($r.ReturnValue -eq 0) {
    Emit launched $r.ProcessId
    try { Emit launched_start ([string](Get-Process -Id ([int]$r.ProcessId)).StartTime.ToUniversalTime().Ticks) } catch { }
    Emit launcher wmi
    Emit breakaway $breakaway
    exit 0
  }
  $code = [int]$r.ReturnValue
  $what = $meaning[$code]
  if (-not $what) { $what = 'an error WMI does not name' }
  $wmiWhy = 'Win32_Process.Create returned ' + $code + ' (' + $what + ')'
} catch {
  $wmiWhy = 'Win32_Process.Create failed: ' + $_.Exception.Message
}
# The second launcher: a one-shot task as SYSTEM, started now; the change deletes its definition when it starts.
$name = 'resetpwd-fleet-' + $txn
try {
  $ts = New-Object -ComObject Schedule.Service
  $ts.Connect()
  $folder = $ts.GetFolder('\')
  $def = $ts.NewTask(0)
  $def.RegistrationInfo.Description = 'resetpwd-fleet change ' + $txn + ' (one-shot; the change deletes it when it starts)'
  $def.Settings.Enabled = $true
  $def.Settings.Hidden = $true
  $def.Settings.AllowDemandStart = $true
  $def.Settings.DisallowStartIfOnBatteries = $false
  $def.Settings.StopIfGoingOnBatteries = $false
  $def.Settings.ExecutionTimeLimit = 'PT0S'
  $def.Settings.MultipleInstances = 2
  $def.Settings.Priority = 4
  $def.Principal.UserId = 'S-1-5-18'
  $def.Principal.LogonType = 5
  $def.Principal.RunLevel = 1
  $act = $def.Actions.Create(0)
  $act.Path = $exe
  $act.Arguments = $psArgs
  $act.WorkingDirectory = $sd
  $task = $folder.RegisterTaskDefinition($name, $def, 6, 'S-1-5-18', $null, 5, 'D:P(A;;FA;;;SY)(A;;FA;;;BA)')
  $run = $task.Run($null)
  $tpid = 0
  for ($i = 0; $i -lt 20 -and $tpid -eq 0; $i++) { try { $run.Refresh(); $tpid = [int]$run.EnginePID } catch { }; if ($tpid -eq 0) { Start-Sleep -Milliseconds 250 } }
  Emit launched $tpid
  try { if ($tpid) { Emit launched_start ([string](Get-Process -Id $tpid).StartTime.ToUniversalTime().Ticks) } } catch { }
  Emit launcher task
  Emit breakaway yes
  Emit wmi_refused $wmiWhy
  exit 0
} catch {
  try { $ts.GetFolder('\').DeleteTask($name, 0) } catch { }
  Emit error ($wmiWhy + '; a scheduled task as SYSTEM could not start it either: ' + $_.Exception.Message)
  exit 1
}`;

export const launchScript = (stage: string, txnSha: string, txn: string): string => psScript(LAUNCH_BODY, { psArgs: txnCommandArgs(stage, txnSha), txn });

/**
 * Follows a transaction's journal from line `from` for up to `window` seconds: prints new complete lines as
 * they come and stops after the "done" line; when the change's process is gone and its record says `done` with an
 * outcome but the journal has no done line (it could not be written: Finish), that end, as
 * "<epoch> done <outcome> <detail>" built from the record; "0 lost …" when the change's process (pid and start time
 * from its record) is gone three checks in a row without a "done", or never recorded itself; "0 poll <n>" when
 * the window ends (the controller polls again). Cheap: a file read and a Get-Process every half second. Both files
 * are read sharing ReadWrite|Delete (ReadShared), so a read never makes the change's append or File.Replace fail,
 * and a read that fails (a scanner holding the file) is no news: no check counts on it, and "lost" is printed only
 * after a journal read that worked.
 */
export const FOLLOW_BODY = String.raw`${PS_ALIVE}
${PS_READ_SHARED}
$sd = '${STATE_DIR}'
$J = Join-Path $sd ('journal.' + $txn)
$rec = '${TXN_FILE}'
$n = [int]$from
$gone = 0
$waited = 0
$lost = ''
$ended = ''
$until = [DateTime]::UtcNow.AddSeconds($window)
while ($true) {
  # Both files are read sharing ReadWrite|Delete (the change appends to one and replaces the other meanwhile). A
  # read that fails (a scanner holding the file a moment) is no news: nothing is printed or judged on it.
  $text = $null
  if ([System.IO.File]::Exists($J)) { try { $text = ReadShared $J } catch { $text = $null } } else { $text = '' }
  $t = $null
  if ($null -ne $text) {
    $cut = $text.LastIndexOf([string][char]10)
    if ($cut -ge 0) {
      $lines = @($text.Substring(0, $cut).Split([char]10) | ForEach-Object { $_.TrimEnd([char]13) } | Where-Object { $_ -ne '' })
      for ($i = $n; $i -lt $lines.Count; $i++) {
        [Console]::Out.WriteLine($lines[$i])
        if ($lines[$i] -match '^[0-9]+ done( |$)') { exit 0 }
      }
      if ($lines.Count -gt $n) { $n = $lines.Count }
    }
    if ($ended) { [Console]::Out.WriteLine($ended); exit 0 }
    if ($lost) { [Console]::Out.WriteLine('0 lost ' + $lost); exit 0 }
    $t = @{}
    if ([System.IO.File]::Exists($rec)) {
      try { foreach ($l in (ReadShared $rec).Split([char]10)) { $l = $l.TrimEnd([char]13); $k = $l.IndexOf('='); if ($k -gt 0) { $t[$l.Substring(0, $k)] = $l.Substring($k + 1) } } } catch { $t = $null }
    }
  }
  if ($null -ne $t -and $t['id'] -eq $txn) {
    if ((Alive $t['pid'] $t['pid_start']) -eq 'yes') { $gone = 0 } else { $gone++ }
    # Its end in its record, not in the journal (the done line could not be written) and the process gone: that end,
    # printed after one more journal read that has no done line.
    if ($gone -ge 1 -and $t['phase'] -eq 'done' -and $t['outcome']) {
      $epoch = [long]([DateTime]::UtcNow - (New-Object DateTime 1970, 1, 1, 0, 0, 0, 'Utc')).TotalSeconds
      $ended = [string]$epoch + ' done ' + $t['outcome'] + ' ' + $t['detail']
      continue
    }
    if ($gone -ge 3) { $lost = 'the change''s process (pid ' + $t['pid'] + ') ended without finishing'; continue }
  } elseif ($null -ne $t) {
    $waited++
    # No record yet after 20 s: a slow start (a loaded server, antivirus scanning powershell.exe) is not a change
    # that never started while the process this run launched still lives; only once it is gone is that said.
    if ($waited -gt 40) {
      if ($launched -and (Alive $launched $launchedStart) -eq 'yes') { $waited = 0 }
      else { $lost = 'the change never started (no record of ' + $txn + ')'; continue }
    }
  }
  if ([DateTime]::UtcNow -gt $until) { [Console]::Out.WriteLine('0 poll ' + $n); exit 0 }
  Start-Sleep -Milliseconds 500
}`;

/** `launched`: the process this run started for the change (pid and start ticks), while it may still be starting. */
export const followScript = (txn: string, from: number, window: number, launched?: { pid: string; start: string }): string =>
  psScript(FOLLOW_BODY, { txn, from, window, launched: launched?.pid ?? '', launchedStart: launched?.start ?? '' });

/**
 * The in-place fix for a host that runs the right package: the agent processes that are not the services' own
 * (found again by what they are, just before: Strays) stopped and none left — the services and their wrappers
 * are not touched —, its folders' ACLs (Administrators and SYSTEM only) and the services' start type Automatic,
 * each read back. Prints `fixed=<what>` lines and `ok=1`, or `error=<why>`.
 */
export const FIX_BODY = String.raw`${PS_CIM}
${PS_PROTECT}
${PS_WRITERS}
${PS_AGENT_PROCS}
${PS_STRAYS}
$st = @(Strays)
if ($st.Count -gt 0) {
  $left = StopProcs $st
  if ($left) { Emit error ('agent processes that are not the services'' survive Stop-Process: ' + $left); exit 1 }
  Emit fixed ('stopped ' + (ProcNames $st))
}
foreach ($a in @(@('${MAIN_AGENT.dir}', '${MAIN_AGENT.name}'), @('${UPDATE_AGENT.dir}', '${UPDATE_AGENT.name}'))) {
  if (Test-Path -LiteralPath $a[0] -PathType Container) {
    if (Writers $a[0]) { Protect $a[0] $true; Emit fixed ('acl ' + $a[0]) }
    $w = Writers $a[0]
    if ($w) { Emit error ($a[0] + ' can still be changed by ' + $w); exit 1 }
  }
  $s = Cim Win32_Service ("Name='" + $a[1] + "'") | Select-Object -First 1
  if ($s -and $s.StartMode -ne 'Auto') {
    Set-Service -Name $a[1] -StartupType Automatic
    $s = Cim Win32_Service ("Name='" + $a[1] + "'") | Select-Object -First 1
    if ($s.StartMode -ne 'Auto') { Emit error ($a[1] + ' still starts ' + $s.StartMode + ' after Set-Service -StartupType Automatic'); exit 1 }
    Emit fixed ('start type ' + $a[1])
  }
}
Emit ok 1`;

export const fixScript = (): string => psScript(FIX_BODY);

/** Removes a stage whose staging failed (nothing else was touched). Only a path under STATE_DIR is accepted. */
export const CLEANUP_BODY = String.raw`if ($stage.StartsWith('${STATE_DIR}\stage.', [StringComparison]::OrdinalIgnoreCase) -and -not $stage.Contains('..') -and (Test-Path -LiteralPath $stage)) {
  Remove-Item -LiteralPath $stage -Recurse -Force
}
Emit removed 1`;

export const cleanupScript = (stage: string): string => psScript(CLEANUP_BODY, { stage });

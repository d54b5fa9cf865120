/**
 * PowerShell functions more than one Windows script needs, as text pasted into those scripts' bodies (a
 * script travels alone on stdin: there is no module to import on the host). Written for Windows PowerShell
 * 5.1 and still valid on 3.0 (Server 2012) and 4.0 (2012 R2): no classes, no ::new(), and each newer cmdlet
 * behind a Get-Command test with a .NET fallback.
 */
import { ASIDE_DIR, MAIN_AGENT, UPDATE_AGENT } from './paths.js';

/** CIM (3.0+, local DCOM) or the older WMI cmdlets: class and WQL filter are constants of our scripts. */
export const PS_CIM = `function Cim([string]$class, [string]$filter) {
  if (Get-Command Get-CimInstance -ErrorAction SilentlyContinue) {
    if ($filter) { return @(Get-CimInstance -ClassName $class -Filter $filter) }
    return @(Get-CimInstance -ClassName $class)
  }
  if ($filter) { return @(Get-WmiObject -Class $class -Filter $filter) }
  return @(Get-WmiObject -Class $class)
}`;

/** SHA-256 of a file as lower-case hex: Get-FileHash where it exists (4.0+), else .NET's SHA256. */
export const PS_SHA256 = `function Sha256([string]$path) {
  if (Get-Command Get-FileHash -ErrorAction SilentlyContinue) {
    return (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
  }
  $fs = [System.IO.File]::OpenRead($path)
  try {
    $h = New-Object System.Security.Cryptography.SHA256CryptoServiceProvider
    return ([System.BitConverter]::ToString($h.ComputeHash($fs)) -replace '-', '').ToLowerInvariant()
  } finally { $fs.Close() }
}`;

/**
 * Is the change's process still the one that wrote the record? A pid alone can be reused after the process
 * died; its start time (UTC ticks, recorded by the transaction itself) cannot.
 */
export const PS_ALIVE = `function Alive([string]$procId, [string]$started) {
  # No pid, or 0 (a launcher that could not tell one): Get-Process -Id 0 is the Idle process, never a change.
  $n = 0
  if (-not [int]::TryParse($procId, [ref]$n) -or $n -le 0) { return 'no' }
  $p = Get-Process -Id ([int]$procId) -ErrorAction SilentlyContinue
  if (-not $p) { return 'no' }
  if ($started) {
    try { if ([string]$p.StartTime.ToUniversalTime().Ticks -ne $started) { return 'no' } } catch { }
  }
  return 'yes'
}`;

/**
 * A folder only Administrators and SYSTEM may change (Users may read and run when $users): owned by
 * Administrators, a protected DACL, inherited by everything below. Folders made in C:\\ otherwise inherit
 * "Authenticated Users: Modify", which would let any user replace a binary that a LocalSystem service runs;
 * and whoever owns a folder may rewrite its DACL, so the owner is set too.
 */
export const PS_PROTECT = `function Protect([string]$path, [bool]$users) {
  $acl = New-Object System.Security.AccessControl.DirectorySecurity
  $acl.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
  $acl.SetAccessRuleProtection($true, $false)
  $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
  $prop = [System.Security.AccessControl.PropagationFlags]::None
  $grants = @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'))
  if ($users) { $grants += ,@('S-1-5-32-545', 'ReadAndExecute') }
  foreach ($g in $grants) {
    $sid = New-Object System.Security.Principal.SecurityIdentifier $g[0]
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule $sid, $g[1], $inherit, $prop, 'Allow'))
  }
  (Get-Item -LiteralPath $path -Force).SetAccessControl($acl)
}`;

/**
 * The SIDs other than SYSTEM, Administrators, CREATOR OWNER and TrustedInstaller that may write, delete or
 * re-permission a path (comma-separated; empty when none). SIDs, not names: names are localized.
 * The mask is WriteData, AppendData, WriteExtendedAttributes, DeleteSubdirectoriesAndFiles, WriteAttributes,
 * Delete, ChangePermissions, TakeOwnership, GENERIC_ALL and GENERIC_WRITE.
 */
export const PS_WRITERS = `function Writers([string]$path) {
  $trusted = @('S-1-5-18', 'S-1-5-32-544', 'S-1-3-0', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
  $found = @()
  foreach ($r in (Get-Acl -LiteralPath $path).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    $sid = $r.IdentityReference.Value
    if ($r.AccessControlType -eq 'Allow' -and (([long]$r.FileSystemRights -band 0x500D0156) -ne 0) -and ($trusted -notcontains $sid) -and ($found -notcontains $sid)) { $found += $sid }
  }
  return ($found -join ',')
}`;

/** Windows paths, SIDs and counts are ASCII, but error messages are localized: journal lines are escaped as Emit does. */
export const PS_ESCAPE = `function Esc([string]$t) {
  $b = New-Object System.Text.StringBuilder
  foreach ($c in $t.ToCharArray()) { $n = [int]$c; if ($n -lt 32 -or $n -gt 126 -or $n -eq 92) { [void]$b.AppendFormat('\\u{0:x4}', $n) } else { [void]$b.Append($c) } }
  return $b.ToString()
}`;

/**
 * Makes or takes over one of the tool's folders, where SYSTEM later runs or restores code from (the state
 * folder with its stages, the set-aside root). Returns '' when it is safe, else why not (the host is refused):
 * no junction or symbolic link on its path or inside it (a walk that never follows one), made by
 * Administrators, SYSTEM or this login if it already exists (any other user may have made it first to swap
 * what runs), then owned by Administrators with a protected DACL (Protect), and nothing inside owned by
 * another user. Needs Protect and Writers.
 */
export const PS_SAFE_DIR = `function SafeDir([string]$path, [bool]$users) {
  $rp = [System.IO.FileAttributes]::ReparsePoint
  $ok = @('S-1-5-32-544', 'S-1-5-18', [System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value)
  $sid = [System.Security.Principal.SecurityIdentifier]
  if ((Test-Path -LiteralPath $path) -and (([System.IO.File]::GetAttributes($path) -band $rp) -ne 0)) { return ($path + ' is a junction or symbolic link: the tool''s folders are never one; remove it and run again') }
  # Above it, a junction Administrators, SYSTEM or TrustedInstaller made (ProgramData moved to D:) is fine.
  $sys = @('S-1-5-32-544', 'S-1-5-18', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
  $p = Split-Path -Parent $path
  while ($p) {
    if ((Test-Path -LiteralPath $p) -and (([System.IO.File]::GetAttributes($p) -band $rp) -ne 0) -and ($sys -notcontains (Get-Acl -LiteralPath $p).GetOwner($sid).Value)) { return ($p + ' is a junction or symbolic link another user made: the tool''s folders are never reached through one; remove it and run again') }
    $p = Split-Path -Parent $p
  }
  if (Test-Path -LiteralPath $path) {
    if (-not (Test-Path -LiteralPath $path -PathType Container)) { return ($path + ' is not a folder; remove it and run again') }
    $o = (Get-Acl -LiteralPath $path).GetOwner($sid).Value
    if ($ok -notcontains $o) { return ($path + ' belongs to ' + $o + ', not Administrators or SYSTEM: another user may have made it to swap what runs as SYSTEM; remove it and run again') }
  } else { [void][System.IO.Directory]::CreateDirectory($path) }
  if (([System.IO.File]::GetAttributes($path) -band $rp) -ne 0) { return ($path + ' is a junction or symbolic link: the tool''s folders are never one; remove it and run again') }
  Protect $path $users
  $todo = New-Object System.Collections.Stack
  $todo.Push($path)
  while ($todo.Count -gt 0) {
    foreach ($c in [System.IO.Directory]::GetFileSystemEntries($todo.Pop())) {
      $a = [System.IO.File]::GetAttributes($c)
      if (($a -band $rp) -ne 0) { return ($c + ' in ' + $path + ' is a junction or symbolic link: remove it and run again') }
      $o = (Get-Acl -LiteralPath $c).GetOwner($sid).Value
      if ($ok -notcontains $o) { return ($c + ' in ' + $path + ' belongs to ' + $o + ': remove it and run again') }
      if (($a -band [System.IO.FileAttributes]::Directory) -ne 0) { $todo.Push($c) }
    }
  }
  $w = Writers $path
  if ($w) { return ($path + ' can still be changed by ' + $w + ' after its ACL was reset') }
  return ''
}`;


/**
 * The agents' processes found by what they are, not by what the service manager says — a wrapper started by
 * hand, an old copy still running from a folder set aside by an earlier change (deleted or not: a running image
 * outlives its folder), a JVM that outlived its wrapper keep running old code for ever if only the services are
 * looked at. Needs Cim.
 *
 * `AgentProcs`: every process whose executable lies in either agent's folder or under the set-aside root; every
 * wrapper.exe / java(w).exe whose command line names one of those folders or sets `wrapper.name=<agent>` — the whole
 * value, case-insensitive as Windows names services (`wrapper.name=cloudResetPwdAgentTest` is another service's, as
 * facts.ts reads it); and the java(w).exe children of any of these (a wrapper's JVM, wherever its Java lives).
 * Win32_Process objects (ProcessId, ParentProcessId, Name, ExecutablePath, CommandLine, CreationDate) by pid; never
 * the calling script itself.
 */
export const PS_AGENT_PROCS = String.raw`function AgentProcs {
  $roots = @('${MAIN_AGENT.dir}\', '${UPDATE_AGENT.dir}\', '${ASIDE_DIR}\')
  $named = '(^|[\s"])wrapper\.name=(${MAIN_AGENT.name}|${UPDATE_AGENT.name})(["\s]|$)'
  $all = @(Cim Win32_Process '')
  $found = @{}
  foreach ($p in $all) {
    if ([int]$p.ProcessId -eq $PID) { continue }
    $exe = [string]$p.ExecutablePath
    $cl = [string]$p.CommandLine
    $hit = $false
    foreach ($r in $roots) { if ($exe.StartsWith($r, [StringComparison]::OrdinalIgnoreCase)) { $hit = $true } }
    if ($p.Name -match '^(wrapper|javaw?)[.]exe$') {
      foreach ($r in $roots) { if ($cl.IndexOf($r, [StringComparison]::OrdinalIgnoreCase) -ge 0) { $hit = $true } }
      if ($cl -match $named) { $hit = $true }
    }
    if ($hit) { $found[[int]$p.ProcessId] = $p }
  }
  foreach ($p in $all) {
    if ($p.Name -match '^javaw?[.]exe$' -and -not $found.ContainsKey([int]$p.ProcessId) -and $found.ContainsKey([int]$p.ParentProcessId)) { $found[[int]$p.ProcessId] = $p }
  }
  return @($found.Values | Sort-Object { [int]$_.ProcessId })
}`;

/**
 * What the scripts that stop agents need besides AgentProcs (and Cim):
 *  - `Strays`: the agent processes outside the services' own process trees (a registered service's wrapper —
 *    Win32_Service ProcessId — and the agent processes it started, theirs in turn);
 *  - `StopProcs`: Stop-Process -Force on each that still is the process listed, then up to 10 s for them to go: ''
 *    when none is left, else the survivors named. A pid is the listed process only while it has the listed
 *    creation time (`Born`: Win32_Process CreationDate): Windows reuses a pid as soon as its process ends, and a
 *    busy server within seconds, so a pid alone could stop an unrelated process or count one as a survivor;
 *  - `ProcNames`: "wrapper.exe 4012, java.exe 4016".
 */
export const PS_STRAYS = String.raw`function Strays {
  $procs = @(AgentProcs)
  $own = @{}
  foreach ($n in @('${MAIN_AGENT.name}', '${UPDATE_AGENT.name}')) {
    $s = Cim Win32_Service ("Name='" + $n + "'") | Select-Object -First 1
    if ($s -and [int]$s.ProcessId -gt 0) { $own[[int]$s.ProcessId] = $true }
  }
  $more = $true
  while ($more) {
    $more = $false
    foreach ($p in $procs) {
      if (-not $own.ContainsKey([int]$p.ProcessId) -and $own.ContainsKey([int]$p.ParentProcessId)) { $own[[int]$p.ProcessId] = $true; $more = $true }
    }
  }
  return @($procs | Where-Object { -not $own.ContainsKey([int]$_.ProcessId) })
}
function ProcNames($list) {
  return (@($list | ForEach-Object { [string]$_.Name + ' ' + $_.ProcessId }) -join ', ')
}
function Born($p) {
  $c = $p.CreationDate
  if ($c -is [DateTime]) { return [string]$c.ToUniversalTime().Ticks }
  return [string]$c
}
function StillListed($list) {
  $now = @{}
  foreach ($x in @(Cim Win32_Process '')) { $now[[int]$x.ProcessId] = Born $x }
  return @($list | Where-Object { $now.ContainsKey([int]$_.ProcessId) -and $now[[int]$_.ProcessId] -eq (Born $_) })
}
function StopProcs($list) {
  foreach ($p in (StillListed $list)) { Stop-Process -Id ([int]$p.ProcessId) -Force -ErrorAction SilentlyContinue }
  $left = @()
  for ($i = 0; $i -lt 20; $i++) {
    $left = @(StillListed $list)
    if ($left.Count -eq 0) { return '' }
    Start-Sleep -Milliseconds 500
  }
  return (ProcNames $left)
}`;

/**
 * A file operation another process may refuse for a moment — a sharing violation while a reader that does not
 * share what the operation needs, or a scanner (antivirus, backup, indexer), holds the file: an IOException or
 * UnauthorizedAccessException, however deep PowerShell wraps it — tried again every 100 ms, 20 times (about 2 s),
 * before its error counts. Any other error counts at once. The locals are named so that no script block it runs
 * sees one of its own variables hidden (PowerShell's scopes are dynamic).
 */
export const PS_RETRY = `function Retry([scriptblock]$op) {
  for ($retryN = 1; $true; $retryN++) {
    try { return (& $op) } catch {
      $retryErr = $_.Exception
      while ($retryErr.InnerException -and -not ($retryErr -is [System.IO.IOException] -or $retryErr -is [System.UnauthorizedAccessException])) { $retryErr = $retryErr.InnerException }
      if ($retryN -ge 20 -or -not ($retryErr -is [System.IO.IOException] -or $retryErr -is [System.UnauthorizedAccessException])) { throw }
      Start-Sleep -Milliseconds 100
    }
  }
}`;

/**
 * A text file read as Windows needs it while another process writes, replaces or deletes it: opened with FileShare
 * ReadWrite|Delete, so the read never makes that process's write, File.Replace or rename fail (File.ReadAll* share
 * Read only, and a replace needs Delete). It throws as the open does (a scanner holding the file): the caller
 * decides what a failed read means.
 */
export const PS_READ_SHARED = `function ReadShared([string]$path) {
  $fs = New-Object System.IO.FileStream $path, 'Open', 'Read', 'ReadWrite, Delete'
  try { return (New-Object System.IO.StreamReader $fs).ReadToEnd() } finally { $fs.Close() }
}`;

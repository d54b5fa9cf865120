<#
.SYNOPSIS
  Proves on a real Windows Server what the tests can only assume about resetpwd-fleet's Windows scripts.

.DESCRIPTION
  Runs the exact scripts the tool sends (exported by scripts/windows/export-scripts from the built tool)
  through the tool's own PowerShell command line with the script on stdin, and checks each claim of
  docs/WINDOWS.md against the server itself, printing PASS, FAIL or SKIP per claim. The exit code is the
  number of FAILs.

  With -Package it really updates the plug-in on this server (uninstall, set aside, setup.bat, verify,
  commit): use a test server. -Rollback then installs a copy of the package whose Java path is broken and
  expects the change to roll back to the working agent; -LockedFolder runs a process from
  C:\CloudResetPwdAgent before a third change and expects it killed. The server is left with -Package
  installed and running.

  With -Reset it proves the password reset: it creates a throwaway local account (prove-rst-<random>, a
  random complex password), sends the tool's exact reset (password-reset.stdin.txt, captured from the tool's
  own shell: script, data marker, data) through the tool's data-stdin command line with a new random password
  as data, and checks the answer, ValidateCredentials with the new and the old password, that the password is
  only after the marker, PowerShell events 4103/4104 of the run (when script block logging is on), and a
  non-existent account. The account is deleted at the end, whatever happened. Only the path this server takes
  (Set-LocalUser where the LocalAccounts module exists, else ADSI WinNT://) is proven: the script has no switch
  to choose the other one.

.EXAMPLE
  # on the controller:   npm run build; scripts/windows/export-scripts prove-scripts
  # copy prove-scripts\, this file and CloudResetPwdAgent.zip to the server, then as Administrator:
  powershell -NoProfile -ExecutionPolicy Bypass -File prove.ps1 -Scripts C:\prove\prove-scripts -Package C:\prove\CloudResetPwdAgent.zip -Rollback -LockedFolder

.EXAMPLE
  # the password reset only (creates and deletes a local account prove-rst-<random>), as Administrator:
  powershell -NoProfile -ExecutionPolicy Bypass -File prove.ps1 -Scripts C:\prove\prove-scripts -Reset
#>
param(
  [Parameter(Mandatory = $true)][string]$Scripts,
  [string]$Package = '',
  [string]$Sha256 = '',
  [switch]$Rollback,
  [switch]$LockedFolder,
  [switch]$ShowFacts,
  [switch]$Reset,
  [int]$Settle = 5,
  [int]$StartWait = 60
)
$ErrorActionPreference = 'Stop'
$script:fails = 0

function Claim([string]$name, [bool]$ok, [string]$detail) {
  if ($ok) { Write-Host ('PASS ' + $name) } else { Write-Host ('FAIL ' + $name + ': ' + $detail); $script:fails++ }
}
function Skip([string]$name, [string]$why) { Write-Host ('SKIP ' + $name + ': ' + $why) }

# What prove.ps1 itself needs: PowerShell 3.0 (Server 2012's, or WMF 3.0 on 2008 R2) and .NET 4.5 (System.IO.Compression
# for the package, asynchronous reads of a child's output). No cmdlet newer than PowerShell 3.0 is used, so
# the tool's 3.0 fallbacks are proven where they run.
if ($PSVersionTable.PSVersion.Major -lt 3) { Write-Host ('FAIL prove.ps1 needs PowerShell 3.0 or later (this is ' + $PSVersionTable.PSVersion + '); so does the tool'); exit 1 }
if (-not ([System.IO.StreamReader].GetMethod('ReadToEndAsync', [Type[]]@()))) { Write-Host 'FAIL prove.ps1 needs .NET Framework 4.5 or later (install it, or WMF 5.1 which brings it)'; exit 1 }
# SHA-256 of a file as lower-case hex, with the FIPS-validated CSP class the tool's fallback uses (PowerShell 3.0 has no hash cmdlet).
function Sha256File([string]$path) {
  $h = New-Object System.Security.Cryptography.SHA256CryptoServiceProvider
  $fs = [System.IO.File]::OpenRead($path)
  try { return ([System.BitConverter]::ToString($h.ComputeHash($fs)) -replace '-', '').ToLowerInvariant() } finally { $fs.Dispose(); $h.Dispose() }
}

# psQuote of src/dialect/powershell.ts: every kind of single quote doubled.
function Q([string]$s) { return "'" + [regex]::Replace($s, '[''\u2018\u2019\u201A\u201B]', '$0$0') + "'" }
function Body([string]$name) { return [System.IO.File]::ReadAllText((Join-Path $Scripts ($name + '.body.ps1'))) }
$prelude = [System.IO.File]::ReadAllText((Join-Path $Scripts 'prelude.ps1'))
$stdinCommand = [System.IO.File]::ReadAllText((Join-Path $Scripts 'stdin-command.txt')).Trim()

# psScript of src/dialect/powershell.ts: prelude, one "$name = literal" line per value, body.
function Build([string]$body, [object[]]$params) {
  $lines = @()
  for ($i = 0; $i -lt $params.Count; $i += 2) {
    $v = $params[$i + 1]
    $lit = Q ([string]$v)
    if ($v -is [int]) { $lit = [string]$v }
    $lines += ('$' + $params[$i] + ' = ' + $lit)
  }
  $p = ''
  if ($lines.Count -gt 0) { $p = ($lines -join "`n") + "`n" }
  return $prelude + "`n" + $p + $body + "`n"
}

# The tool's command line with the script on stdin, as the WinRM and SSH transports run it (-command: the
# one for a script followed by data).
function Run([string]$text, [int]$seconds, [string]$command = $stdinCommand) {
  $cut = $command.IndexOf(' ')
  $psi = New-Object System.Diagnostics.ProcessStartInfo
  $psi.FileName = $command.Substring(0, $cut)
  $psi.Arguments = $command.Substring($cut + 1)
  $psi.UseShellExecute = $false
  $psi.RedirectStandardInput = $true
  $psi.RedirectStandardOutput = $true
  $psi.RedirectStandardError = $true
  $p = [System.Diagnostics.Process]::Start($psi)
  $out = $p.StandardOutput.ReadToEndAsync()
  $err = $p.StandardError.ReadToEndAsync()
  $p.StandardInput.Write($text)
  $p.StandardInput.Close()
  if (-not $p.WaitForExit($seconds * 1000)) { $p.Kill(); throw ('a script did not finish within ' + $seconds + ' s') }
  return @{ code = $p.ExitCode; out = $out.Result; err = $err.Result }
}

function Emitted([string]$out) {
  $m = @{}
  foreach ($l in ($out -split "`r?`n")) {
    $i = $l.IndexOf('=')
    if ($i -le 0) { continue }
    $k = $l.Substring(0, $i)
    $v = [regex]::Replace($l.Substring($i + 1), '\\u([0-9a-fA-F]{4})', { param($x) [string][char][Convert]::ToInt32($x.Groups[1].Value, 16) })
    if (-not $m.ContainsKey($k)) { $m[$k] = @() }
    $m[$k] += $v
  }
  return $m
}
function First($m, [string]$k) { if ($m.ContainsKey($k)) { return $m[$k][0] }; return $null }

# Who besides SYSTEM, Administrators, CREATOR OWNER and TrustedInstaller may change a path (by SID).
function Writers([string]$path) {
  $trusted = @('S-1-5-18', 'S-1-5-32-544', 'S-1-3-0', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
  $found = @()
  foreach ($r in (Get-Acl -LiteralPath $path).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    if ($r.AccessControlType -eq 'Allow' -and (([long]$r.FileSystemRights -band 0x500D0156) -ne 0) -and ($trusted -notcontains $r.IdentityReference.Value)) { $found += $r.IdentityReference.Value }
  }
  return ($found -join ',')
}

# The host-side states and the transitions src/lifecycle/machine.ts accepts from a journal.
$next = @{
  'launched' = @('started', 'recovering'); 'started' = @('stopping', 'failed'); 'stopping' = @('stopped', 'failed'); 'stopped' = @('unregistered', 'failed')
  'unregistered' = @('setting-aside', 'failed'); 'setting-aside' = @('set-aside', 'failed'); 'set-aside' = @('installing', 'committed', 'failed')
  'installing' = @('installed', 'failed'); 'installed' = @('permissions', 'failed'); 'permissions' = @('verified', 'retry-start', 'failed')
  'retry-start' = @('verified', 'failed'); 'verified' = @('boot', 'failed'); 'boot' = @('committed', 'failed'); 'committed' = @('done')
  'failed' = @('rolling-back'); 'rolling-back' = @('done'); 'recovering' = @('rolling-back', 'done')
}

$admin = (New-Object System.Security.Principal.WindowsPrincipal ([System.Security.Principal.WindowsIdentity]::GetCurrent())).IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
if (-not $admin) { Write-Host 'FAIL run prove.ps1 as Administrator'; exit 1 }
Write-Host ('Windows PowerShell ' + $PSVersionTable.PSVersion + ' on ' + (Get-CimInstance Win32_OperatingSystem).Caption)

# ---- facts --------------------------------------------------------------------------------------------
$r = Run (Build (Body 'facts') @()) 180
$f = Emitted $r.out
if ($ShowFacts) { Write-Host $r.out }
Claim 'facts: runs through the tool''s command line with the script on stdin and reaches its end' ($r.code -eq 0 -and (First $f 'end') -eq '1') ('exit ' + $r.code + ' ' + $r.err)
$errs = @($f.Keys | Where-Object { $_ -like 'error.*' })
Claim 'facts: every section reads (no error.* line)' ($errs.Count -eq 0) (($errs | ForEach-Object { $_ + '=' + (First $f $_) }) -join '; ')
$os = Get-CimInstance Win32_OperatingSystem
Claim 'facts: os_build and os_product_type are Win32_OperatingSystem''s' ((First $f 'os_build') -eq [string]$os.BuildNumber -and (First $f 'os_product_type') -eq [string]$os.ProductType) ((First $f 'os_build') + '/' + (First $f 'os_product_type'))
$free = (New-Object System.IO.DriveInfo 'C').AvailableFreeSpace
Claim 'facts: c_free is the free space of C: (within 100 MB)' ([Math]::Abs([double](First $f 'c_free') - $free) -lt 104857600) ((First $f 'c_free') + ' vs ' + $free)
Claim 'facts: c_writable=yes on a writable C:, and the probe folder is gone' ((First $f 'c_writable') -eq 'yes' -and @(Get-ChildItem -LiteralPath 'C:\' -Force | Where-Object { $_.Name -like 'resetpwd-fleet-probe.*' }).Count -eq 0) ((First $f 'c_write_error'))
$route = First $f 'route'
if (Get-Command Get-NetRoute -ErrorAction SilentlyContinue) {
  $best = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -AddressFamily IPv4 | Sort-Object { $_.RouteMetric + (Get-NetIPInterface -InterfaceIndex $_.ifIndex -AddressFamily IPv4).InterfaceMetric } | Select-Object -First 1
  $idx = if ($route) { $route.Split('|')[0] } else { '' }
  Claim 'facts: the first default route (Win32_IP4RouteTable by Metric1) is the one Windows prefers (Get-NetRoute)' ($idx -eq [string]$best.ifIndex) ($idx + ' vs ' + $best.ifIndex)
  $nic = @($f['nic'] | Where-Object { $_.Split('|')[0] -eq [string]$best.ifIndex }) | Select-Object -First 1
  $dhcp = (Get-NetIPInterface -InterfaceIndex $best.ifIndex -AddressFamily IPv4).Dhcp
  Claim 'facts: DHCPEnabled of that adapter agrees with Get-NetIPInterface' ($nic -and (($nic.Split('|')[1] -eq 'dhcp') -eq ([string]$dhcp -eq 'Enabled'))) ([string]$nic + ' vs ' + $dhcp)
} else { Skip 'facts: default route and DHCP against Get-NetRoute' 'no NetTCPIP module (before Server 2012)' }
$svc = Get-Service -Name 'cloudResetPwdAgent' -ErrorAction SilentlyContinue
if ($svc) {
  $w = Get-CimInstance Win32_Service -Filter "Name='cloudResetPwdAgent'"
  Claim 'facts: the agent''s service state and start mode are Get-Service''s and Win32_Service''s' ((First $f 'main.status') -eq [string]$svc.Status -and (First $f 'main.start_mode') -eq [string]$w.StartMode) ((First $f 'main.status') + '/' + (First $f 'main.start_mode'))
} else { Skip 'facts: service state' 'cloudResetPwdAgent is not installed yet' }

# ---- WinRM as this server is configured: what the tool meets here (message encryption, channel binding) ----------
# The tool seals NTLM over http (ansible_winrm_message_encryption=auto) and sends a channel binding over https. This
# part reads the service's settings and says which of those this server demands; the proof itself is the tool's own
# audit from the controller against this server (printed below), which fails naming what the server wants if not.
try {
  $allowUnenc = [string](Get-Item WSMan:\localhost\Service\AllowUnencrypted -ErrorAction Stop).Value
  $cbt = [string](Get-Item WSMan:\localhost\Service\Auth\CbtHardeningLevel -ErrorAction Stop).Value
  $listeners = @(Get-ChildItem WSMan:\localhost\Listener -ErrorAction Stop | ForEach-Object { $k = $_.Keys -join ','; $k })
  Write-Host ('INFO winrm: AllowUnencrypted=' + $allowUnenc + ' (false: NTLM over http only sealed — the tool seals it by default), CbtHardeningLevel=' + $cbt + ' (Strict: NTLM over https only with channel binding — the tool sends it), listeners: ' + ($listeners -join '; '))
  Write-Host ('INFO from the controller, as an Ansible inventory line would: printf ''%s ansible_host=' + $env:COMPUTERNAME + ' ansible_connection=winrm ansible_port=5985 ansible_winrm_transport=ntlm ansible_user=<admin>\n'' win > inv.ini; RESETPWD_PW=... resetpwd-fleet audit -i inv.ini --password-env RESETPWD_PW   (then the same with ansible_port=5986 for https)')
} catch { Skip 'winrm: the service settings' ('WinRM is not configured here (' + $_.Exception.Message + ')') }

# ---- the cmd shell (WinRS), not New-PSSession ----------------------------------------------------------------
# The tool talks to the WS-Management cmd shell (as winrs.exe does), with the script on stdin. winrs.exe with its
# stdin redirected is that path on this server: the tool's exact command line, the facts script piped to it.
if (Get-Command winrs.exe -ErrorAction SilentlyContinue) {
  try {
    $winrs = @{}
    $facts = Build (Body 'facts') @()
    $cmdFile = [System.IO.Path]::GetTempFileName()
    [System.IO.File]::WriteAllText($cmdFile, $facts)
    $wo = cmd.exe /d /c ('winrs.exe -r:localhost -noprofile ' + $stdinCommand + ' < "' + $cmdFile + '" 2>&1')
    $winrs = Emitted (($wo | Out-String))
    Remove-Item -LiteralPath $cmdFile -Force
    Claim 'cmd shell: the tool''s command line through WinRS (the cmd shell, stdin redirected) runs the facts script to its end' ((First $winrs 'end') -eq '1') ((($wo | Select-Object -Last 3) -join ' '))
  } catch { Claim 'cmd shell: winrs.exe ran' $false ([string]$_) }
} else { Skip 'cmd shell: the tool''s command line through WinRS' 'no winrs.exe' }

# ---- sharing: the follow's reads never block the change's writes -------------------------------------------------
# The change replaces its record (File.Replace) while the follow reads it every half second. Opened as the follow
# opens it (ReadShared: FileShare ReadWrite|Delete) the replace goes through; opened as File.ReadAllLines opens a
# file (FileShare Read) it is refused: a sharing violation that once rolled back good changes.
$shareDir = Join-Path $env:ProgramData ('resetpwd-fleet-prove-' + [Guid]::NewGuid().ToString('N').Substring(0, 8))
[void][System.IO.Directory]::CreateDirectory($shareDir)
try {
  $rec = Join-Path $shareDir 'txn'
  [System.IO.File]::WriteAllText($rec, "id=a`r`n")
  $shared = New-Object System.IO.FileStream $rec, 'Open', 'Read', 'ReadWrite, Delete'
  $okShared = $true
  try { [System.IO.File]::WriteAllText(($rec + '.new'), "id=b`r`n"); [System.IO.File]::Replace(($rec + '.new'), $rec, [NullString]::Value) } catch { $okShared = $false; $why = $_.Exception.Message } finally { $shared.Close() }
  Claim 'sharing: a record open as the follow reads it (ReadWrite|Delete) is replaced by File.Replace' $okShared ([string]$why)
  $plain = New-Object System.IO.FileStream $rec, 'Open', 'Read', 'Read'
  $blocked = $false
  try { [System.IO.File]::WriteAllText(($rec + '.new'), "id=c`r`n"); [System.IO.File]::Replace(($rec + '.new'), $rec, [NullString]::Value) } catch { $blocked = $true } finally { $plain.Close() }
  Claim 'sharing: the same record open as File.ReadAllLines opens it (FileShare Read) refuses the replace (why the follow shares Delete)' $blocked 'the replace went through: this server does not show the sharing violation'
} finally { Remove-Item -LiteralPath $shareDir -Recurse -Force -ErrorAction SilentlyContinue }

# ---- Constrained Language mode (WDAC/AppLocker) -------------------------------------------------------------
# The tool's bootstrap run as a WDAC/AppLocker policy would run it: the same bootstrap text in a PowerShell
# whose session is switched to ConstrainedLanguage first (the switch is one-way, as a policy's). It must say
# which mode it is (exit 87) instead of dying at its first .NET call; the tool reports that host as such.
Claim 'language mode: this PowerShell runs in FullLanguage mode (the tool''s scripts can run here)' ($ExecutionContext.SessionState.LanguageMode -eq 'FullLanguage') ([string]$ExecutionContext.SessionState.LanguageMode)
$boot = [System.Text.Encoding]::Unicode.GetString([Convert]::FromBase64String(($stdinCommand -split ' ')[-1]))
$clm = "`$ExecutionContext.SessionState.LanguageMode = 'ConstrainedLanguage'; " + $boot
$clmCommand = ($stdinCommand.Substring(0, $stdinCommand.LastIndexOf(' ')) + ' ' + [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($clm)))
$c = Run (Build (Body 'facts') @()) 60 $clmCommand
Claim 'language mode: under ConstrainedLanguage the bootstrap says so (exit 87, resetpwd-fleet-language-mode=ConstrainedLanguage) and runs nothing' ($c.code -eq 87 -and $c.out -match 'resetpwd-fleet-language-mode=ConstrainedLanguage' -and $c.out -notmatch 'end=1') ('exit ' + $c.code + ': ' + ($c.out -replace "`r?`n", ' ') + ' ' + $c.err)

# ---- the password reset ----------------------------------------------------------------------------------
# A random password Windows' complexity rules accept: upper, lower, digit and the tool's Windows specials, no
# leading '/', and no three consecutive characters of the account name.
function NewPassword([string]$user) {
  $sets = @('ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnpqrstuvwxyz', '23456789', '!@%-_=+[]:.?')
  $rng = New-Object System.Security.Cryptography.RNGCryptoServiceProvider
  $b = New-Object byte[] 1
  while ($true) {
    $chars = @()
    for ($i = 0; $i -lt 20; $i++) {
      $set = $sets[$i % 4]
      do { $rng.GetBytes($b) } while ($b[0] -ge (256 - (256 % $set.Length)))
      $chars += $set[$b[0] % $set.Length]
    }
    for ($i = $chars.Count - 1; $i -gt 0; $i--) {
      do { $rng.GetBytes($b) } while ($b[0] -ge (256 - (256 % ($i + 1))))
      $j = $b[0] % ($i + 1)
      $t = $chars[$i]; $chars[$i] = $chars[$j]; $chars[$j] = $t
    }
    $pw = -join $chars
    $bad = $false
    for ($i = 0; $i -le $user.Length - 3; $i++) { if ($pw.ToLowerInvariant().Contains($user.Substring($i, 3).ToLowerInvariant())) { $bad = $true } }
    if (-not $bad) { return $pw }
  }
}
function Validate([string]$user, [string]$pw) {
  $ctx = New-Object System.DirectoryServices.AccountManagement.PrincipalContext([System.DirectoryServices.AccountManagement.ContextType]::Machine)
  try { return $ctx.ValidateCredentials($user, $pw) } finally { $ctx.Dispose() }
}
function Tag { return [Guid]::NewGuid().ToString('N').Substring(0, 6) }
function Nonce { $b = New-Object byte[] 12; (New-Object System.Security.Cryptography.RNGCryptoServiceProvider).GetBytes($b); return (($b | ForEach-Object { $_.ToString('x2') }) -join '') }
# The tool's stdin for a reset (export-scripts captured it from the tool's own shell), with this run's values.
function ResetStdin([string]$user, [string]$nonce, [string]$pw) {
  return $resetStdin.Replace("'@@prove-account@@'", (Q $user)).Replace('@@prove-nonce@@', $nonce).Replace('@@prove-password@@', $pw)
}

if (-not $Reset) {
  Skip 'password reset' 'give -Reset (creates a throwaway local account prove-rst-<random>, resets its password with the tool''s script, deletes it)'
} else {
  Add-Type -AssemblyName System.DirectoryServices.AccountManagement
  $dataCommand = [System.IO.File]::ReadAllText((Join-Path $Scripts 'stdin-data-command.txt')).Trim()
  $marker = [System.IO.File]::ReadAllText((Join-Path $Scripts 'data-marker.txt')).Trim()
  $resetStdin = [System.IO.File]::ReadAllText((Join-Path $Scripts 'password-reset.stdin.txt'))
  $expectVia = 'WinNT'
  if (Get-Command Set-LocalUser -ErrorAction SilentlyContinue) { $expectVia = 'Set-LocalUser' }
  $user = 'prove-rst-' + (Tag)
  $oldPw = NewPassword $user
  $newPw = NewPassword $user
  $computer = [ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')
  $created = $false
  try {
    # Created through ADSI on every version, its password never a cmdlet parameter.
    $u = $computer.Create('User', $user)
    $u.SetPassword($oldPw)
    $u.Put('Description', 'resetpwd-fleet prove.ps1 -Reset; delete me if it is still here')
    $u.SetInfo()
    $created = $true
    Claim ('reset: the throwaway account ' + $user + ' logs on with its first password (ValidateCredentials)') (Validate $user $oldPw) 'refused: are network logons of local accounts denied here? The tool would answer "Windows'' own check does not accept it"'

    $nonce = Nonce
    $text = ResetStdin $user $nonce $newPw
    $cut = $text.IndexOf("`n" + $marker + "`n", [StringComparison]::Ordinal)
    $scriptPart = ''
    if ($cut -ge 0) { $scriptPart = $text.Substring(0, $cut + 1) }
    Claim 'reset: the script part of the stdin is psScript(PASSWORD_RESET_BODY, acct, nonce) as prove.ps1 builds it' ($scriptPart -eq (Build (Body 'password-reset') @('acct', $user, 'nonce', $nonce))) 'the captured stdin and the exported body disagree: export both from one build'
    Claim 'reset: the password is not in the script text sent before the data marker, only after it' ($cut -ge 0 -and -not $scriptPart.Contains($newPw) -and $text.Substring($cut).Contains($newPw)) ('marker at ' + $cut)

    $t0 = (Get-Date).AddSeconds(-1)
    $r = Run $text 120 $dataCommand
    Start-Sleep -Seconds 2
    $e = Emitted $r.out
    Claim ('reset: the tool''s script answers via=' + $expectVia + ', reset=done, hash=match (exit 0), as the tool reads success') ($r.code -eq 0 -and (First $e 'reset') -eq 'done' -and (First $e 'hash') -eq 'match' -and (First $e 'via') -eq $expectVia) ('exit ' + $r.code + ': ' + ($r.out -replace "`r?`n", ' ') + ' ' + $r.err)
    Claim 'reset: ValidateCredentials (run by prove.ps1) accepts the new password' (Validate $user $newPw) ''
    Claim 'reset: ValidateCredentials refuses the old password' (-not (Validate $user $oldPw)) 'the old password still logs on'
    $via = [string](First $e 'via')
    if ($via -eq 'Set-LocalUser') {
      Skip 'reset: the ADSI WinNT:// path' 'the script has no switch to choose it; only the path this server takes is proven, and it took Set-LocalUser (LocalAccounts module present): run -Reset on Server 2012 R2 for WinNT://'
    } else {
      Skip 'reset: the Set-LocalUser path' ('the script has no switch to choose it; only the path this server takes is proven, and it took via=' + $via + ' (no LocalAccounts module): run -Reset on Server 2016 or later for Set-LocalUser')
    }

    # Script block logging records script text (event 4104); module logging records cmdlet parameters (4103).
    $sbl = $false
    foreach ($hive in @('HKLM:', 'HKCU:')) {
      $v = Get-ItemProperty -Path ($hive + '\SOFTWARE\Policies\Microsoft\Windows\PowerShell\ScriptBlockLogging') -Name EnableScriptBlockLogging -ErrorAction SilentlyContinue
      if ($v -and [int]$v.EnableScriptBlockLogging -eq 1) { $sbl = $true }
    }
    $events = @(Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-PowerShell/Operational'; Id = @(4103, 4104); StartTime = $t0 } -ErrorAction SilentlyContinue)
    $leaks = 0
    $logged = 0
    foreach ($ev in $events) {
      $t = [string]$ev.Message + ' ' + ((@($ev.Properties) | ForEach-Object { [string]$_.Value }) -join ' ')
      if ($t.Contains($newPw)) { $leaks++ }
      if ($ev.Id -eq 4104 -and $t.Contains($nonce)) { $logged++ }
    }
    if ($sbl) {
      Claim 'reset: script block logging recorded the reset script (event 4104 with its nonce), and no event 4103/4104 of the run contains the password' ($logged -gt 0 -and $leaks -eq 0) ('' + $logged + ' event(s) of the script, ' + $leaks + ' with the password, of ' + $events.Count)
    } elseif ($leaks -gt 0) {
      Claim 'reset: no PowerShell event 4103/4104 of the run contains the password' $false ('' + $leaks + ' event(s) with the password, though script block logging is off')
    } else {
      Skip 'reset: no event 4104 contains the password' ('script block logging is off here (EnableScriptBlockLogging under HKLM/HKCU\SOFTWARE\Policies\Microsoft\Windows\PowerShell\ScriptBlockLogging), so nothing would record script text; ' + $events.Count + ' event(s) 4103/4104 of the run, none with the password')
    }

    $none = 'prove-none-' + (Tag)
    while ([ADSI]::Exists('WinNT://' + $env:COMPUTERNAME + '/' + $none + ',user')) { $none = 'prove-none-' + (Tag) }
    $n = Emitted (Run (ResetStdin $none (Nonce) (NewPassword $none)) 120 $dataCommand).out
    Claim ('reset: an account that does not exist (' + $none + ') answers reset=no-account (the tool: "no local account ... on the host"), nothing set') ((First $n 'reset') -eq 'no-account' -and -not $n.ContainsKey('via') -and -not $n.ContainsKey('hash')) ((@($n.Keys | ForEach-Object { $_ + '=' + (First $n $_) })) -join ' ')
  } catch {
    Claim 'reset: the proof runs to its end' $false ([string]$_)
  } finally {
    if ($created -or [ADSI]::Exists('WinNT://' + $env:COMPUTERNAME + '/' + $user + ',user')) {
      try { $computer.Delete('User', $user) } catch { Write-Host ('  could not delete ' + $user + ': ' + $_) }
    }
    Claim ('reset: the throwaway account ' + $user + ' is deleted') (-not [ADSI]::Exists('WinNT://' + $env:COMPUTERNAME + '/' + $user + ',user')) ('delete it: ([ADSI]''WinNT://' + $env:COMPUTERNAME + ''').Delete(''User'', ''' + $user + ''')')
  }
}

# ---- a change, as the controller drives it -----------------------------------------------------------------
function Change([string]$zip, [string]$sha, [string]$label, [bool]$viaTask = $false) {
  $prep = Emitted (Run (Build (Body 'prepare') @()) 120).out
  $stage = First $prep 'stage'
  Claim ($label + ': the stage is a new folder under ProgramData that only Administrators and SYSTEM may change') ($stage -and (Test-Path -LiteralPath $stage) -and -not (Writers $stage) -and (Get-Acl -LiteralPath $stage).AreAccessRulesProtected) ([string]$stage)
  $sdOwner = (Get-Acl -LiteralPath 'C:\ProgramData\resetpwd-fleet').GetOwner([System.Security.Principal.SecurityIdentifier]).Value
  Claim ($label + ': the state folder is owned by Administrators (SafeDir set the owner), its DACL protected') ($sdOwner -eq 'S-1-5-32-544' -and (Get-Acl -LiteralPath 'C:\ProgramData\resetpwd-fleet').AreAccessRulesProtected) $sdOwner
  $za = [System.IO.Compression.ZipFile]::OpenRead($zip)
  $names = @($za.Entries | ForEach-Object { $_.FullName })
  $za.Dispose()
  $prefix = ''
  if ($names -contains 'CloudResetPwdAgent/CloudResetPwdAgent.Windows/setup.bat') { $prefix = 'CloudResetPwdAgent\' }
  $main = $prefix + 'CloudResetPwdAgent.Windows'
  $upd = ''
  if ($names -contains (($prefix -replace '\\', '/') + 'CloudResetPwdUpdateAgent.Windows/setup.bat')) { $upd = $prefix + 'CloudResetPwdUpdateAgent.Windows' }
  $txn = 'prove' + [Guid]::NewGuid().ToString('N').Substring(0, 12)
  $text = Build (Body 'txn') @('action', 'install', 'txn', $txn, 'stage', $stage, 'mainSetup', $main, 'updateSetup', $upd, 'pkgSha', $sha, 'pkgVersion', 'prove', 'pkgLog4j', '', 'settle', $Settle, 'startWait', $StartWait, 'limit', 300, 'tool', 'prove.ps1')
  [System.IO.File]::WriteAllText((Join-Path $stage 'txn.ps1'), $text)
  Copy-Item -LiteralPath $zip -Destination (Join-Path $stage 'pkg.zip')
  $txnSha = Sha256File (Join-Path $stage 'txn.ps1')
  $st = Emitted (Run (Build (Body 'stage') @('stage', $stage, 'txnSha', $txnSha, 'zipSha', $sha, 'url', '', 'expect', ($main + '\setup.bat'))) 900).out
  Claim ($label + ': the host checks both SHA-256 and extracts the package') ((First $st 'staged') -eq '1') ([string](First $st 'error'))
  $boot = "`$ProgressPreference = 'SilentlyContinue'; `$b = [System.IO.File]::ReadAllBytes(" + (Q ($stage + '\txn.ps1')) + "); if (([System.BitConverter]::ToString((New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash(`$b)) -replace '-', '') -ne " + (Q $txnSha.ToUpperInvariant()) + ") { exit 86 }; & ([ScriptBlock]::Create([System.Text.Encoding]::UTF8.GetString(`$b)))"
  # The same bootstrap for a copy whose bytes are not the hashed ones: it must run nothing and exit 86.
  $swapped = Join-Path $stage 'swapped.ps1'
  [System.IO.File]::WriteAllText($swapped, ($text + "`r`nNew-Item -ItemType File -Path (Join-Path '" + $stage + "' 'ran.txt') | Out-Null`r`n"))
  $bad = $boot.Replace((Q ($stage + '\txn.ps1')), (Q $swapped))
  $p = Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe') -ArgumentList ('-NoLogo -NoProfile -NonInteractive -EncodedCommand ' + [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($bad))) -Wait -PassThru -WindowStyle Hidden
  Claim ($label + ': the bootstrap runs txn.ps1 only if the bytes it read hash as staged (a swapped file: exit 86, nothing run)') ($p.ExitCode -eq 86 -and -not (Test-Path -LiteralPath (Join-Path $stage 'ran.txt'))) ('exit ' + $p.ExitCode)
  Remove-Item -LiteralPath $swapped -Force
  $psArgs = '-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -EncodedCommand ' + [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($boot))
  $launch = Build (Body 'launch') @('psArgs', $psArgs, 'txn', $txn)
  if ($viaTask) {
    # The second launcher, as the tool uses it where WMI's process creation is blocked (Defender ASR, an EDR).
    $l = Emitted (Run (Build (Body 'launch') @('psArgs', $psArgs, 'txn', $txn, 'forceTask', 'yes')) 120).out
    Claim ($label + ': a one-shot scheduled task as SYSTEM starts the change (launcher=task)') ((First $l 'launcher') -eq 'task' -and [bool](First $l 'launched')) ([string](First $l 'error'))
    $left = $true
    try { $ts = New-Object -ComObject Schedule.Service; $ts.Connect(); [void]$ts.GetFolder('\').GetTask('resetpwd-fleet-' + $txn) } catch { $left = $false }
    Claim ($label + ': the task definition is gone once the task runs (nothing left in the Task Scheduler)') (-not $left) ('\resetpwd-fleet-' + $txn)
  }
  $session = $null
  if ($viaTask) { $session = 'task' }
  if (-not $viaTask) { try { if (Test-WSMan -ComputerName localhost -ErrorAction Stop) { $session = New-PSSession -ComputerName localhost } } catch { $session = $null } }
  if ($viaTask) { }
  elseif ($session) {
    # Started from inside a WinRM shell that is then deleted: the change must outlive it.
    $out = Invoke-Command -Session $session -ArgumentList $stdinCommand, $launch -ScriptBlock {
      param($cmd, $t)
      $cut = $cmd.IndexOf(' ')
      $psi = New-Object System.Diagnostics.ProcessStartInfo
      $psi.FileName = $cmd.Substring(0, $cut)
      $psi.Arguments = $cmd.Substring($cut + 1)
      $psi.UseShellExecute = $false
      $psi.RedirectStandardInput = $true
      $psi.RedirectStandardOutput = $true
      $p = [System.Diagnostics.Process]::Start($psi)
      $p.StandardInput.Write($t)
      $p.StandardInput.Close()
      $o = $p.StandardOutput.ReadToEnd()
      $p.WaitForExit()
      $o
    }
    $l = Emitted (($out | Out-String))
    Remove-PSSession $session
    Start-Sleep -Seconds 3
    $txnPid = First $l 'launched'
    Claim ($label + ': Win32_Process.Create from a WinRM shell starts the change (breakaway=' + (First $l 'breakaway') + ')') ([bool]$txnPid) ([string](First $l 'error'))
    Claim ($label + ': the change outlives the WinRM shell that started it') ([bool]($txnPid -and (Get-Process -Id ([int]$txnPid) -ErrorAction SilentlyContinue))) ('pid ' + $txnPid)
  } else {
    Skip ($label + ': the change outlives the WinRM shell') 'WinRM is not enabled on localhost (Enable-PSRemoting)'
    $l = Emitted (Run $launch 120).out
    Claim ($label + ': Win32_Process.Create starts the change (breakaway=' + (First $l 'breakaway') + ')') ([bool](First $l 'launched')) ([string](First $l 'error'))
  }
  $lines = @()
  $from = 0
  $until = (Get-Date).AddMinutes(20)
  while ((Get-Date) -lt $until) {
    $fo = Run (Build (Body 'follow') @('txn', $txn, 'from', $from, 'window', 20)) 120
    $stop = $false
    foreach ($n in @($fo.out -split "`r?`n" | Where-Object { $_ -match '^[0-9]+ ' })) {
      if ($n -match '^0 lost') { $lines += $n; $stop = $true }
      elseif ($n -notmatch '^0 ') { $lines += $n; $from++; if ($n -match '^[0-9]+ done') { $stop = $true } }
    }
    if ($stop) { break }
  }
  $states = @($lines | ForEach-Object { $_.Split(' ')[1] })
  $bad = ''
  $prev = 'launched'
  foreach ($s in $states) { if ($next[$prev] -notcontains $s) { $bad = $prev + ' -> ' + $s; break }; $prev = $s }
  Claim ($label + ': the follow script streams a journal the controller''s state machine accepts') (-not $bad -and $prev -eq 'done') ($bad + ' ' + ($states -join ','))
  Write-Host ('  journal: ' + ($lines -join ' | '))
  return @{ lines = $lines; stage = $stage; txn = $txn; done = [string]($lines | Where-Object { $_ -match '^[0-9]+ done' } | Select-Object -First 1) }
}

function Running {
  $w = Get-CimInstance Win32_Service -Filter "Name='cloudResetPwdAgent'"
  if (-not $w -or $w.State -ne 'Running') { return $false }
  return @(Get-CimInstance Win32_Process -Filter ('ParentProcessId=' + $w.ProcessId) | Where-Object { $_.Name -match '^javaw?[.]exe$' }).Count -gt 0
}

if (-not $Package) {
  Skip 'update, rollback, locked folder' 'give -Package CloudResetPwdAgent.zip (a test server: the plug-in is really updated)'
} else {
  Add-Type -AssemblyName System.IO.Compression.FileSystem
  $sha = Sha256File $Package
  if ($Sha256) { Claim 'package: its SHA-256 is the published one' ($sha -eq $Sha256.ToLowerInvariant()) $sha }
  $u = Change $Package $sha 'update'
  $t0 = [long]($u.lines | Where-Object { $_ -match ' installing' } | ForEach-Object { $_.Split(' ')[0] } | Select-Object -First 1)
  $t1 = [long]($u.lines | Where-Object { $_ -match ' installed' } | ForEach-Object { $_.Split(' ')[0] } | Select-Object -First 1)
  Claim 'update: ends "done ok"' ($u.done -match ' done ok') $u.done
  Claim 'update: setup.bat with stdin from NUL returns past its pause (installing to installed in under 300 s)' ($t1 -gt 0 -and ($t1 - $t0) -lt 300) ([string]($t1 - $t0) + ' s')
  Claim 'update: cloudResetPwdAgent runs with a java.exe under its wrapper' (Running) ''
  Claim 'update: its start type is Automatic' ((Get-CimInstance Win32_Service -Filter "Name='cloudResetPwdAgent'").StartMode -eq 'Auto') ''
  Claim 'update: only Administrators and SYSTEM may change C:\CloudResetPwdAgent' (-not (Writers 'C:\CloudResetPwdAgent')) (Writers 'C:\CloudResetPwdAgent')
  Claim 'update: the state record names the package' ([System.IO.File]::ReadAllText('C:\ProgramData\resetpwd-fleet\state') -match ('package_sha256=' + $sha)) ''
  Claim 'update: the set-aside copy and the stage are gone' (-not (Test-Path -LiteralPath ('C:\.resetpwd-fleet\' + $u.txn)) -and -not (Test-Path -LiteralPath $u.stage)) ''

  if ($Rollback) {
    # The same package with a Java path that does not exist: setup.bat installs it, the service cannot run.
    $broken = Join-Path $env:TEMP ('prove-broken-' + [Guid]::NewGuid().ToString('N').Substring(0, 8) + '.zip')
    Copy-Item -LiteralPath $Package -Destination $broken
    $za = [System.IO.Compression.ZipFile]::Open($broken, 'Update')
    foreach ($e in @($za.Entries | Where-Object { $_.FullName -match 'CloudResetPwdAgent\.Windows/CloudResetPwdAgent/conf/wrapper\.conf$' })) {
      $rd = New-Object System.IO.StreamReader ($e.Open())
      $conf = $rd.ReadToEnd()
      $rd.Close()
      $name = $e.FullName
      $e.Delete()
      $ne = $za.CreateEntry($name)
      $wr = New-Object System.IO.StreamWriter ($ne.Open())
      $wr.Write(($conf -replace '(?m)^wrapper\.java\.command=.*$', 'wrapper.java.command=C:\resetpwd-fleet-prove\no-such-java.exe'))
      $wr.Close()
    }
    $za.Dispose()
    $bsha = Sha256File $broken
    $b = Change $broken $bsha 'rollback' $true
    Claim 'rollback: a new agent that does not run ends "done rolled-back"' ($b.done -match ' done rolled-back') $b.done
    Claim 'rollback: the previous agent runs again, Automatic' ((Running) -and (Get-CimInstance Win32_Service -Filter "Name='cloudResetPwdAgent'").StartMode -eq 'Auto') ''
    Claim 'rollback: the state record still names the previous package' ([System.IO.File]::ReadAllText('C:\ProgramData\resetpwd-fleet\state') -match ('package_sha256=' + $sha)) ''
    Claim 'rollback: no set-aside copy is left' (-not (Test-Path -LiteralPath ('C:\.resetpwd-fleet\' + $b.txn))) ''
    Remove-Item -LiteralPath $broken -Force
  } else { Skip 'rollback' 'give -Rollback' }

  if ($LockedFolder) {
    # A process whose image is in the agent's folder keeps the folder from being renamed until it is killed.
    $hold = 'C:\CloudResetPwdAgent\bin\prove-hold.exe'
    Copy-Item -LiteralPath (Join-Path $env:SystemRoot 'System32\PING.EXE') -Destination $hold -Force
    $hp = Start-Process -FilePath $hold -ArgumentList '-n 3600 127.0.0.1' -WindowStyle Hidden -PassThru
    $c = Change $Package $sha 'locked folder'
    Claim 'locked folder: the change kills the process and ends "done ok"' ($c.done -match ' done ok' -and -not (Get-Process -Id $hp.Id -ErrorAction SilentlyContinue)) $c.done
    Claim 'locked folder: the journal names the killed process' (@($c.lines | Where-Object { $_ -match 'set-aside .*after killing prove-hold\.exe' }).Count -eq 1) ''
  } else { Skip 'locked folder' 'give -LockedFolder' }
}

Write-Host ('' + $script:fails + ' claim(s) failed')
exit $script:fails

import { MAIN_AGENT, STATE_FILE, TXN_FILE, UPDATE_AGENT } from './paths.js';
import { PS_AGENT_PROCS, PS_ALIVE, PS_CIM, PS_SHA256, PS_WRITERS } from './ps-functions.js';

/**
 * The one script that gathers every fact a Windows check or the plug-in state needs, in one round trip:
 * the body that psScript() wraps (prelude with Emit). Every source is locale-independent: CIM/WMI
 * properties, .NET objects and the registry, never the text of ipconfig, sc or net (translated on a Chinese
 * or German server). Each section runs in its own try/catch, so a failing query costs that section only
 * (an `error.<section>` line), and `end=1` says the script got to its end.
 *
 * It changes one thing, briefly: writability of C: is proven by creating and deleting a uniquely named
 * folder with one byte in it, because ACLs, a read-only volume, quotas and security software all decide
 * it and no read-only query sees all four.
 */
export const WINDOWS_FACTS_SCRIPT = `${PS_CIM}
${PS_AGENT_PROCS}
${PS_SHA256}
${PS_ALIVE}
${PS_WRITERS}
function Section([string]$name, [scriptblock]$body) {
  try { & $body } catch { Emit ('error.' + $name) $_.Exception.Message }
}
function YesNo($b) { if ($b) { return 'yes' }; return 'no' }
# The socket backend's TCP sockets of these processes on 31000-32999 ("pid:port:LISTEN|CONNECTED,…"): the
# wrapper listens (wrapper.port 32000-32999), its JVM connects back from wrapper.jvm.port (31000-31999).
# Get-NetTCPConnection (Server 2012+); on 2008 R2 netstat -ano, of which only numbers and addresses are read
# (a listening socket has no remote address), so a translated state word does not matter.
function AgentSockets($pids) {
  $out = @()
  if (Get-Command Get-NetTCPConnection -ErrorAction SilentlyContinue) {
    foreach ($c in @(Get-NetTCPConnection -ErrorAction SilentlyContinue)) {
      if (($pids -contains [int]$c.OwningProcess) -and $c.LocalPort -ge 31000 -and $c.LocalPort -le 32999) {
        $st = 'CONNECTED'
        if ([string]$c.State -eq 'Listen') { $st = 'LISTEN' }
        $out += ('{0}:{1}:{2}' -f $c.OwningProcess, $c.LocalPort, $st)
      }
    }
  } else {
    foreach ($l in @(netstat -ano -p TCP)) {
      if ($l -match '^\s*TCP\s+\S+:(\d+)\s+(\S+)\s+\S*\s*(\d+)\s*$') {
        $port = [int]$Matches[1]
        $p = [int]$Matches[3]
        if (($pids -contains $p) -and $port -ge 31000 -and $port -le 32999) {
          $st = 'CONNECTED'
          if ($Matches[2] -match ':0$') { $st = 'LISTEN' }
          $out += ('{0}:{1}:{2}' -f $p, $port, $st)
        }
      }
    }
  }
  return ($out -join ',')
}

Section id {
  Emit hostname $env:COMPUTERNAME
  $me = [System.Security.Principal.WindowsIdentity]::GetCurrent()
  Emit user $me.Name
  $admins = New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'
  Emit admin (YesNo ((New-Object System.Security.Principal.WindowsPrincipal $me).IsInRole($admins)))
  Emit ps_version $PSVersionTable.PSVersion.ToString()
  Emit clr_version $PSVersionTable.CLRVersion
}
Section os {
  $os = Cim Win32_OperatingSystem '' | Select-Object -First 1
  Emit os_caption $os.Caption
  Emit os_version $os.Version
  Emit os_build $os.BuildNumber
  Emit os_product_type $os.ProductType
  $arch = $env:PROCESSOR_ARCHITEW6432
  if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
  Emit os_arch $arch
  $cv = Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion' -ErrorAction SilentlyContinue
  if ($cv) { Emit os_edition $cv.EditionID; Emit os_installation $cv.InstallationType }
}
Section disk {
  $d = New-Object System.IO.DriveInfo 'C'
  Emit c_free $d.AvailableFreeSpace
  Emit c_size $d.TotalSize
  Emit c_format $d.DriveFormat
}
Section cwrite {
  $probe = 'C:\\resetpwd-fleet-probe.' + [Guid]::NewGuid().ToString('N')
  try {
    [void][System.IO.Directory]::CreateDirectory($probe)
    [System.IO.File]::WriteAllText((Join-Path $probe 'probe'), 'x')
    Emit c_writable yes
  } catch {
    Emit c_writable no
    Emit c_write_error $_.Exception.Message
  } finally {
    if (Test-Path -LiteralPath $probe) { Remove-Item -LiteralPath $probe -Recurse -Force -ErrorAction SilentlyContinue }
  }
}
Section net {
  foreach ($r in @(Cim Win32_IP4RouteTable "Destination='0.0.0.0' AND Mask='0.0.0.0'" | Sort-Object Metric1)) {
    Emit route ('{0}|{1}|{2}' -f $r.InterfaceIndex, $r.Metric1, $r.NextHop)
  }
  $names = @{}
  foreach ($a in @(Cim Win32_NetworkAdapter 'NetConnectionID IS NOT NULL')) { $names[[string]$a.InterfaceIndex] = $a.NetConnectionID }
  foreach ($c in @(Cim Win32_NetworkAdapterConfiguration 'IPEnabled=TRUE')) {
    $ips = @($c.IPAddress | Where-Object { $_ -match '^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$' }) -join ','
    $how = 'static'
    if ($c.DHCPEnabled) { $how = 'dhcp' }
    Emit nic ('{0}|{1}|{2}' -f $c.InterfaceIndex, $how, $ips)
    $name = $names[[string]$c.InterfaceIndex]
    if (-not $name) { $name = $c.Description }
    Emit ('nic_name.' + $c.InterfaceIndex) $name
  }
}
Section metadata {
  # The agent talks plain HTTP to 169.254.169.254 without a proxy; so does this probe.
  function Http([string]$path) {
    for ($try = 1; ; $try++) {
      $req = [System.Net.WebRequest]::Create('http://169.254.169.254/' + $path)
      $req.Timeout = 3000
      $req.ReadWriteTimeout = 3000
      $req.Proxy = $null
      try {
        $resp = $req.GetResponse()
        # StatusCode throws once the response is closed: read it first.
        $code = [int]$resp.StatusCode
        try { $text = (New-Object System.IO.StreamReader $resp.GetResponseStream()).ReadToEnd() } finally { $resp.Close() }
        return @($code, $text)
      } catch {
        $e = $_.Exception
        while ($e -and -not ($e -is [System.Net.WebException])) { $e = $e.InnerException }
        if ($e -and $e.Response) { $code = [int]$e.Response.StatusCode; $e.Response.Close(); return @($code, '') }
        # One retry after a timeout: a busy server can miss one 3 s answer, and a refusal must not rest on that.
        if ($try -lt 2 -and $e -and $e.Status -eq [System.Net.WebExceptionStatus]::Timeout) { continue }
        return @(0, '')
      }
    }
  }
  $md = Http 'openstack/latest/meta_data.json'
  Emit meta_data $md[0]
  # The server's id (its uuid), to tell the cloud's server from another one at the same address.
  # The user's own "meta" object (string values, no nested braces) is dropped first: a "uuid" key there is not the server's.
  if ($md[0] -eq 200 -and (([string]$md[1]) -replace '"meta"\s*:\s*\{[^}]*\}', '') -match '"uuid"\s*:\s*"([0-9A-Fa-f-]{36})"') { Emit server_id $Matches[1] }
  $ip = Http 'latest/meta-data/public-ipv4'
  Emit public_ipv4_code $ip[0]
  if ($ip[0] -eq 200) { Emit public_ipv4 ([string]$ip[1]).Trim() }
}
Section tools {
  Emit get_file_hash (YesNo (Get-Command Get-FileHash -ErrorAction SilentlyContinue))
  Emit expand_archive (YesNo (Get-Command Expand-Archive -ErrorAction SilentlyContinue))
  $zip = $false
  try { Add-Type -AssemblyName System.IO.Compression.FileSystem; $zip = $true } catch { }
  Emit zipfile (YesNo $zip)
  Emit cim (YesNo (Get-Command Get-CimInstance -ErrorAction SilentlyContinue))
}
# One agent's facts in five sections, each its own try/catch: a jar held open by antivirus or a failing WMI query
# costs that fact only (error.agent.<k>.<part>), never the service's state beside it. $seen carries what a later
# section needs across the sections' scopes.
foreach ($agent in @(@('main', '${MAIN_AGENT.dir}', '${MAIN_AGENT.name}'), @('update', '${UPDATE_AGENT.dir}', '${UPDATE_AGENT.name}'))) {
  $k = $agent[0]
  $dir = $agent[1]
  $svcName = $agent[2]
  $seen = @{}
  Section ('agent.' + $k + '.files') {
    if (Test-Path -LiteralPath $dir -PathType Container) {
      $seen.dir = $true
      Emit ($k + '.dir') present
      $props = Join-Path $dir 'conf\\resource.properties'
      if (Test-Path -LiteralPath $props) {
        foreach ($l in [System.IO.File]::ReadAllLines($props)) { if ($l -match '^\\s*resetPwdAgentVersion\\s*=\\s*(\\S+)') { Emit ($k + '.version') $Matches[1] } }
      }
      $conf = Join-Path $dir 'conf\\wrapper.conf'
      if (Test-Path -LiteralPath $conf) {
        Emit ($k + '.conf') present
        foreach ($l in [System.IO.File]::ReadAllLines($conf)) { if ($l -match '^\\s*wrapper\\.backend\\.type\\s*=\\s*(\\S+)') { Emit ($k + '.backend') $Matches[1] } }
      }
      $lib = Join-Path $dir 'lib'
      if (Test-Path -LiteralPath $lib) {
        foreach ($j in @(Get-ChildItem -LiteralPath $lib -Force | Where-Object { $_.Name -like 'log4j-core-*.jar' })) { Emit ($k + '.log4j_core') $j.Name }
      }
    } else {
      Emit ($k + '.dir') absent
    }
  }
  if ($seen.dir) {
    Section ('agent.' + $k + '.hash') {
      $jar = Join-Path $dir 'lib\\resetpwdagent.jar'
      if (Test-Path -LiteralPath $jar) { Emit ($k + '.jar_sha256') (Sha256 $jar) }
    }
    Section ('agent.' + $k + '.acl') {
      Emit ($k + '.acl_writers') (Writers $dir)
    }
  }
  Section ('agent.' + $k + '.service') {
    $gs = Get-Service -Name $svcName -ErrorAction SilentlyContinue
    if ($gs) { Emit ($k + '.status') $gs.Status }
    $ws = Cim Win32_Service ("Name='" + $svcName + "'") | Select-Object -First 1
    if ($ws) {
      Emit ($k + '.service_state') $ws.State
      Emit ($k + '.start_mode') $ws.StartMode
      Emit ($k + '.service_pid') $ws.ProcessId
      Emit ($k + '.service_path') $ws.PathName
      $seen.pid = $ws.ProcessId
    }
  }
  if ($seen.pid) {
    Section ('agent.' + $k + '.process') {
      $jvm = @(Cim Win32_Process ('ParentProcessId=' + $seen.pid) | Where-Object { $_.Name -match '^javaw?[.]exe$' })
      if ($jvm.Count -gt 0) { Emit ($k + '.jvm_pid') $jvm[0].ProcessId }
      Emit ($k + '.sockets') (AgentSockets (@([int]$seen.pid) + @($jvm | ForEach-Object { [int]$_.ProcessId })))
    }
  }
}
# Both agents' processes found by what they are (AgentProcs), whatever the services say, in a section of their own:
# a failing Win32_Process query costs this fact only. One line each, "pid|parent pid|name|executable|command line"
# (no name or path holds a |), then how many: the controller tells the services' own process trees from the rest.
Section agent.procs {
  $n = 0
  foreach ($p in (AgentProcs)) {
    Emit agent_proc ('{0}|{1}|{2}|{3}|{4}' -f $p.ProcessId, $p.ParentProcessId, $p.Name, $p.ExecutablePath, $p.CommandLine)
    $n++
  }
  Emit agent_procs $n
}
Section state {
  if (Test-Path -LiteralPath '${STATE_FILE}') { foreach ($l in [System.IO.File]::ReadAllLines('${STATE_FILE}')) { Emit state $l } }
}
Section txn {
  if (Test-Path -LiteralPath '${TXN_FILE}') {
    $t = @{}
    foreach ($l in [System.IO.File]::ReadAllLines('${TXN_FILE}')) {
      Emit txn $l
      $i = $l.IndexOf('=')
      if ($i -gt 0) { $t[$l.Substring(0, $i)] = $l.Substring($i + 1) }
    }
    Emit txn_alive (Alive $t['pid'] $t['pid_start'])
  }
}
Emit end 1`;

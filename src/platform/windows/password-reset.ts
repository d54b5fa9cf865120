import { randomBytes } from 'node:crypto';
import { parseEmitted, psScript, unescapeEmitted } from '../../dialect/powershell.js';
import type { HostShell, PasswordResetKit, PasswordSet } from '../platform.js';

/**
 * A Windows local account's new password: Set-LocalUser where the LocalAccounts module exists (Server 2016
 * and later), the ADSI `WinNT://` provider on older servers; then checked on the host against the account
 * database (ValidateCredentials). The secret arrives after the script on stdin (PS_DATA_MARKER), behind a
 * fresh nonce, so it is never script text (script block logging records script text) — and it is handed
 * only to .NET methods (SecureString.AppendChar, SetPassword, ValidateCredentials), never as a cmdlet
 * parameter, which module logging would record.
 */
export const PASSWORD_RESET_BODY = String.raw`$lines = ([string]$global:StdinData) -split "\r?\n"
$global:StdinData = $null
$k = [Array]::IndexOf($lines, '@@resetpwd ' + $nonce)
if ($k -lt 0 -or $k + 1 -ge $lines.Count) { Emit reset 'no-password'; exit 0 }
$pw = $lines[$k + 1]
$lines = $null
$local = [bool](Get-Command Set-LocalUser -ErrorAction SilentlyContinue)
$set = $false
try {
  if ($local) {
    if (-not (Get-LocalUser -Name $acct -ErrorAction SilentlyContinue)) { Emit reset 'no-account'; exit 0 }
    $ss = New-Object System.Security.SecureString
    foreach ($c in $pw.ToCharArray()) { $ss.AppendChar($c) }
    Set-LocalUser -Name $acct -Password $ss
    $set = $true
    $ss.Dispose()
    Emit via 'Set-LocalUser'
  } else {
    $path = 'WinNT://' + $env:COMPUTERNAME + '/' + $acct + ',user'
    if (-not [ADSI]::Exists($path)) { Emit reset 'no-account'; exit 0 }
    ([ADSI]$path).SetPassword($pw)
    $set = $true
    Emit via 'WinNT'
  }
  Emit reset 'done'
} catch {
  # An error after the password was set is not a refusal: the new password holds.
  if ($set) { Emit reset 'done' } else {
    Emit reset 'failed'
    Emit error ($_.Exception.Message -split "\r?\n")[0]
    $pw = $null
    exit 0
  }
}
try {
  Add-Type -AssemblyName System.DirectoryServices.AccountManagement
  $ctx = New-Object System.DirectoryServices.AccountManagement.PrincipalContext([System.DirectoryServices.AccountManagement.ContextType]::Machine)
  if ($ctx.ValidateCredentials($acct, $pw)) { Emit hash 'match' } else { Emit hash 'mismatch' }
  $ctx.Dispose()
} catch { Emit hash 'unknown' }
$pw = $null`;

export function windowsPasswordResetScript(account: string, nonce: string): string {
  return psScript(PASSWORD_RESET_BODY, { acct: account, nonce });
}

/** What the script said (Emit's key=value lines, the same words as the Linux script). */
export function parseWindowsPasswordReset(stdout: string, account: string): PasswordSet {
  const emitted = parseEmitted(stdout);
  const said = (k: string) => {
    const v = emitted.get(k)?.[0];
    return v === undefined ? undefined : unescapeEmitted(v);
  };
  switch (said('reset')) {
    case 'done': {
      const hash = said('hash');
      if (hash === 'mismatch') return { ok: false, why: `the password was set, but Windows' own check (ValidateCredentials) does not accept it for ${account} (a disabled account, or network logons denied?)`, unchanged: false };
      return { ok: true, hash: hash === 'match' ? 'match' : 'unknown' };
    }
    case 'no-account':
      return { ok: false, why: `no local account ${account} on the host; name an existing one with --account`, unchanged: true };
    case 'failed':
      return { ok: false, why: `Windows refused it: ${said('error')?.trim() || 'no reason given'}`, unchanged: true };
    case 'no-password':
      return { ok: false, why: 'the new password did not reach the host', unchanged: true };
    default:
      return { ok: false, why: 'the reset script did not run to its end', unchanged: false };
  }
}

export const windowsPasswordReset: PasswordResetKit = {
  defaultAccount: 'Administrator',
  async set(s: HostShell, account: string, password: string): Promise<PasswordSet> {
    const nonce = randomBytes(12).toString('hex');
    const r = await s.run(windowsPasswordResetScript(account, nonce), { stdin: `@@resetpwd ${nonce}\n${password}\n` });
    return parseWindowsPasswordReset(r.stdout, account);
  },
};

import { describe, expect, it } from 'vitest';
import { PS_STDIN_DATA_COMMAND } from '../../../../src/dialect/powershell.js';
import { parseWindowsPasswordReset, windowsPasswordReset } from '../../../../src/platform/windows/password-reset.js';
import { windowsShell } from '../../../../src/platform/windows/shell.js';
import { SimulatedWindowsHost, simulatedTransport } from '../../../support/windows-host.js';

const PW = 'N3w-Admin.Pass_2026';

describe('the Windows password reset, on the simulated host', () => {
  it('sets the password with Set-LocalUser; the secret travels as data after the script, never in its text', async () => {
    const host = new SimulatedWindowsHost();
    const s = windowsShell(simulatedTransport(host));
    expect(await windowsPasswordReset.set(s, 'Administrator', PW)).toEqual({ ok: true, hash: 'match' });
    expect(host.accounts.get('Administrator')).toBe(PW);
    expect(host.passwordSetVia).toEqual(['Set-LocalUser']);
    const got = host.received.at(-1)!;
    expect(got).toMatchObject({ commandLine: PS_STDIN_DATA_COMMAND, kind: 'reset', params: { acct: 'Administrator' } });
    expect(got.script).not.toContain(PW);
    expect(got.data).toMatch(new RegExp(`^@@resetpwd ${String(got.params.nonce)}\\n`));
    expect(got.data).toContain(PW);
  });

  it('uses the ADSI WinNT:// provider where the LocalAccounts module is missing (Server 2012 R2)', async () => {
    const host = new SimulatedWindowsHost({ localAccountsModule: false, accounts: { Administrator: 'x', ops: 'y' } });
    expect(await windowsPasswordReset.set(windowsShell(simulatedTransport(host)), 'ops', PW)).toEqual({ ok: true, hash: 'match' });
    expect(host.passwordSetVia).toEqual(['WinNT']);
    expect(host.accounts.get('ops')).toBe(PW);
  });

  it('says why not: no such account, or Windows\' own policy refused it, in its words', async () => {
    expect(await windowsPasswordReset.set(windowsShell(simulatedTransport(new SimulatedWindowsHost())), 'nobody', PW)).toEqual({
      ok: false, why: 'no local account nobody on the host; name an existing one with --account', unchanged: true,
    });
    const strict = new SimulatedWindowsHost({ passwordPolicyRefusal: 'The password does not meet the password policy requirements.' });
    expect(await windowsPasswordReset.set(windowsShell(simulatedTransport(strict)), 'Administrator', PW)).toEqual({
      ok: false, why: 'Windows refused it: The password does not meet the password policy requirements.', unchanged: true,
    });
    expect(strict.accounts.get('Administrator')).toBe('Initial-Admin-Pass1');
  });

  it('reads a set password Windows then rejects as a failure, and a script cut short as one', () => {
    expect(parseWindowsPasswordReset('via=WinNT\r\nreset=done\r\nhash=mismatch\r\n', 'ops')).toMatchObject({ ok: false });
    expect(parseWindowsPasswordReset('via=WinNT\r\n', 'ops')).toEqual({ ok: false, why: 'the reset script did not run to its end', unchanged: false });
  });
});

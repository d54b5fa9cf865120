import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { linuxPasswordReset, parsePasswordReset, passwordResetScript, passwordResetStdin } from '../../../../src/platform/linux/password-reset.js';
import type { HostShell } from '../../../../src/platform/platform.js';

const PW = 'N3w!Secret-Pass_2026';

describe('the Linux password reset', () => {
  it('sends the password on stdin only, after a marker with a fresh nonce; never in the script', async () => {
    const sent: { script: string; stdin: string }[] = [];
    const shell = { privilege: { method: 'none' }, run: async (script: string, opts?: { stdin?: string | Buffer }) => (sent.push({ script, stdin: String(opts?.stdin) }), { code: 0, stdout: 'reset=done\nhash=match\n', stderr: '' }) } as unknown as HostShell;
    expect(await linuxPasswordReset.set(shell, 'root', PW)).toEqual({ ok: true, hash: 'match' });
    await linuxPasswordReset.set(shell, 'root', PW);
    expect(sent[0]!.script).not.toContain(PW);
    expect(sent[0]!.stdin).toMatch(new RegExp(`^@@resetpwd [0-9a-f]{24}\\n${PW.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}\\n$`));
    expect(sent[0]!.stdin.split('\n')[0]).not.toBe(sent[1]!.stdin.split('\n')[0]);
  });

  it('through sudo, proves sudo with its own password first (no secret yet), so a refused sudo password cannot make sudo read on into the new one', async () => {
    const sent: { script: string; stdin: string | undefined }[] = [];
    const refusing = {
      privilege: { method: 'sudo', password: 'sudo-pw' },
      run: async (script: string, opts?: { stdin?: string }) => {
        sent.push({ script, stdin: opts?.stdin });
        throw new Error('sudo rejected the password');
      },
    } as unknown as HostShell;
    await expect(linuxPasswordReset.set(refusing, 'root', PW)).rejects.toThrow(/sudo rejected/);
    expect(sent).toEqual([{ script: 'true', stdin: undefined }]);
  });

  it('never takes a line before the marker for the password (a sudo password sudo did not read)', () => {
    // The script's reading part, run here with a stand-in chpasswd that records what it was given.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pwreset-'));
    try {
      writeFileSync(path.join(dir, 'chpasswd'), `#!/bin/sh\ncat > ${dir}/got\n`);
      chmodSync(path.join(dir, 'chpasswd'), 0o755);
      const script = passwordResetScript('root', 'abc');
      const r = spawnSync('sh', ['-c', script], { input: `the-sudo-password\n${passwordResetStdin(PW, 'abc')}`, encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
      expect(r.stdout).toMatch(/^reset=done$/m);
      expect(spawnSync('cat', [path.join(dir, 'got')], { encoding: 'utf8' }).stdout).toBe(`root:${PW}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads what the host said: done with the hash checked, or why not, never guessing', () => {
    expect(parsePasswordReset('reset=done\nhash=unknown\n', 'root')).toEqual({ ok: true, hash: 'unknown' });
    expect(parsePasswordReset('reset=done\nhash=mismatch\n', 'root')).toMatchObject({ ok: false, why: expect.stringContaining('does not match') });
    expect(parsePasswordReset('reset=no-account\n', 'bob')).toMatchObject({ ok: false, why: 'no account bob on the host; name an existing one with --account', unchanged: true });
    expect(parsePasswordReset('reset=failed\nerror=chpasswd: (user root) pam_chauthtok() failed\n', 'root')).toMatchObject({ ok: false, why: expect.stringContaining('pam_chauthtok') });
    expect(parsePasswordReset('', 'root')).toMatchObject({ ok: false, why: 'the reset script did not run to its end' });
  });
});

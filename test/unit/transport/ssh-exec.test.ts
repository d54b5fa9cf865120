import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KnownHosts } from '../../../src/transport/known-hosts.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import { TransportError } from '../../../src/transport/transport.js';
import { startExecServer, writeKnownHosts, type ExecServer } from '../../support/ssh-exec-server.js';

/** The SSH transport against an exec-only server shaped like Windows' OpenSSH (no lab host needed). */
describe('SSH transport, exec-only server', () => {
  let srv: ExecServer;
  let kh: KnownHosts;
  beforeAll(async () => {
    srv = await startExecServer({
      user: 'Administrator',
      password: 'S3cret!',
      handler: async (cmd, stdin) =>
        cmd === 'flood' ? { stdout: 'x'.repeat(3 << 20), exitCode: 0 }
        : cmd === 'flood-err' ? { stdout: '', stderr: 'x'.repeat(3 << 20), exitCode: 0 }
        : { stdout: `${cmd}|${stdin.toString('utf8')}`, stderr: 'warn\n', exitCode: 7 },
    });
    kh = new KnownHosts(writeKnownHosts(path.join(mkdtempSync(path.join(os.tmpdir(), 'rpf-ssh-')), 'known_hosts'), [srv]));
  });
  afterAll(() => srv.close());

  it('passes the command line and stdin through and returns stdout, stderr and the exit code', async () => {
    const t = await SshTransport.connect({ host: '127.0.0.1', port: srv.port, user: 'Administrator', password: 'S3cret!' }, { knownHosts: kh });
    try {
      const r = await t.exec('powershell.exe -EncodedCommand AAAA', { stdin: 'Write-Host hi' });
      expect(r).toMatchObject({ code: 7, stdout: 'powershell.exe -EncodedCommand AAAA|Write-Host hi', stderr: 'warn\n' });
    } finally {
      await t.close();
    }
  });

  it('a command whose output (stdout or stderr) passes the cap is stopped and fails "output too large"; the connection goes on', async () => {
    const t = await SshTransport.connect({ host: '127.0.0.1', port: srv.port, user: 'Administrator', password: 'S3cret!' }, { knownHosts: kh, maxOutputBytes: 1 << 20 });
    try {
      for (const cmd of ['flood', 'flood-err']) {
        const e = await t.exec(cmd).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(TransportError);
        expect((e as TransportError).reason).toBe('protocol');
        expect((e as Error).message).toBe(`127.0.0.1 (127.0.0.1:${srv.port}): output too large: the command sent more than 1 MiB (--max-output); it was stopped`);
      }
      expect((await t.exec('echo')).stdout).toBe('echo|');
    } finally {
      await t.close();
    }
  });

  it('a wrong password is auth-failed and the password is not in the message', async () => {
    const e = await SshTransport.connect({ host: '127.0.0.1', port: srv.port, user: 'Administrator', password: 'wrong-pw' }, { knownHosts: kh }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).reason).toBe('auth-failed');
    expect((e as Error).message).not.toContain('wrong-pw');
  });
});

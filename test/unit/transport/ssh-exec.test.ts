import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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

describe('SSH transport, a server that takes passwords only through keyboard-interactive (PAM, as stock SLES)', () => {
  it('answers its one hidden password prompt with the login password; a wrong one is auth-failed; an OTP question is not answered', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rpf-kbd-'));
    const servers = await Promise.all(['Password: ', 'Verification code: '].map((prompt) => startExecServer({ user: 'root', password: 'S3cret!', keyboardPrompt: prompt, handler: async (cmd) => ({ stdout: cmd, exitCode: 0 }) })));
    try {
      const kh = new KnownHosts(writeKnownHosts(path.join(dir, 'known_hosts'), servers));
      const [pam, otp] = servers as [ExecServer, ExecServer];
      const t = await SshTransport.connect({ host: '127.0.0.1', port: pam.port, user: 'root', password: 'S3cret!' }, { knownHosts: kh });
      expect((await t.exec('id', { stdin: '' })).stdout).toBe('id');
      await t.close();
      const wrong = await SshTransport.connect({ host: '127.0.0.1', port: pam.port, user: 'root', password: 'nope' }, { knownHosts: kh }).catch((x: unknown) => x);
      expect((wrong as TransportError).reason).toBe('auth-failed');
      const code = await SshTransport.connect({ host: '127.0.0.1', port: otp.port, user: 'root', password: 'S3cret!' }, { knownHosts: kh }).catch((x: unknown) => x);
      expect((code as TransportError).reason).toBe('auth-failed');
      expect(otp.execs).toEqual([]);
    } finally {
      for (const x of servers) await x.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SSH transport, a server that closes before its banner', () => {
  it('is unreachable (sshd restarting, MaxStartups full): worth another attempt, not a protocol fault', async () => {
    const srv = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const kh = new KnownHosts('/dev/null');
      const e = await SshTransport.connect({ host: '127.0.0.1', port, user: 'root', password: 'x' }, { knownHosts: kh }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TransportError);
      expect((e as TransportError).reason).toBe('unreachable');
      expect((e as Error).message).toMatch(/closed the connection before the SSH handshake/);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

/** Host keys are pinned per host, not per key type: a real handshake with a server holding several keys. */
describe('SSH transport, host keys of several types', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpf-hostkeys-'));
  const servers: ExecServer[] = [];
  const start = async (hostKeys: ('ed25519' | 'rsa' | 'ecdsa')[]) => {
    const s = await startExecServer({ user: 'root', password: 'pw', hostKeys, handler: async () => ({ stdout: 'ok', exitCode: 0 }) });
    servers.push(s);
    return s;
  };
  const knownHosts = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  /** The error a connect fails with; a connect that succeeds is closed (the server could not close otherwise). */
  const refusal = (p: Promise<SshTransport>) => p.then(async (t) => (await t.close(), 'connected'), (x: unknown) => x);
  const connect = (s: ExecServer, file: string, acceptNew = false) =>
    SshTransport.connect({ host: '127.0.0.1', port: s.port, user: 'root', password: 'pw' }, { knownHosts: new KnownHosts(file), acceptNew });

  it('a host pinned only by its RSA key, that also has an Ed25519 one, is asked for RSA first and trusted', async () => {
    const s = await start(['ed25519', 'rsa']);
    const t = await connect(s, knownHosts('rsa-only', `${s.knownHostsLines['ssh-rsa']}\n`));
    expect(t.algorithms?.hostKey).toMatch(/^(rsa-sha2-512|rsa-sha2-256|ssh-rsa)$/);
    await t.close();
  });

  it('with --accept-new, a server offering only an ECDSA key for a host pinned with Ed25519 is refused as changed, not recorded', async () => {
    const real = await start(['ed25519']);
    const mitm = await start(['ecdsa']);
    // The pinned line names the man-in-the-middle's address: the host's real Ed25519 key.
    const text = `${real.knownHostsLines['ssh-ed25519']!.replace(`:${real.port}]`, `:${mitm.port}]`).replace(`]:${real.port} `, `]:${mitm.port} `)}\n`;
    const file = knownHosts('ed25519-pinned', text);
    const e = await refusal(connect(mitm, file, true));
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).reason).toBe('host-key-changed');
    expect((e as Error).message).toMatch(/HOST KEY CHANGED: known SHA256:\S+ \(.*:1\), offered ecdsa-sha2-nistp256 SHA256:\S+ \(the host is pinned with ssh-ed25519 only: a key of another type is not trusted in its place\); refusing/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('with --accept-new, a host vouched for by a @cert-authority line is not trusted by a plain key on first use', async () => {
    const s = await start(['ed25519']);
    const text = `@cert-authority [127.0.0.1]:* ${s.knownHostsLines['ssh-ed25519']!.split(' ').slice(1).join(' ')}\n`;
    const file = knownHosts('ca', text);
    const e = await refusal(connect(s, file, true));
    expect((e as TransportError).reason).toBe('host-key-unknown');
    expect((e as Error).message).toMatch(/@cert-authority vouches for this host, but host certificates are not checked by this client; pin the host's key/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { startExecServer } from '../support/ssh-exec-server.js';
import { SimulatedWindowsHost } from '../support/windows-host.js';
import { simulatedHostHandler } from '../support/windows-peer-host.js';
import { labDown, labUp, repo, type LabDoc } from './helpers.js';

/**
 * Reaching lab hosts through a bastion (--jump, ProxyJump in ansible_ssh_common_args). The bastion is an
 * in-process ssh2.Server on loopback that forwards direct-tcpip channels, as sshd on a jump host does.
 */
const { Server, utils } = ssh2;
const bin = path.join(repo, 'dist/cli/main.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'jump-'));
let doc: LabDoc;
let server: InstanceType<typeof Server>;
let port = 0;
const forwarded: string[] = [];
const hostKey = utils.generateKeyPairSync('ed25519');

// Asynchronous on purpose: the bastion runs in this process, so a blocking spawn would starve it.
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [bin, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });

beforeAll(async () => {
  doc = labUp();
  server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' && ctx.username === 'ops' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => {
      client.on('tcpip', (accept, _reject, info) => {
        forwarded.push(`${info.destIP}:${info.destPort}`);
        const stream = accept();
        const sock = net.connect(info.destPort, info.destIP, () => stream.pipe(sock).pipe(stream));
        sock.on('error', () => stream.close());
      });
    });
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as net.AddressInfo).port;
  const pub = hostKey.public.split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(tmp, 'known_hosts'), `${readFileSync(doc.knownHosts, 'utf8')}[127.0.0.1]:${port} ${pub}\n`);
});
afterAll(() => {
  server?.close();
  labDown();
});

describe('--jump', () => {
  it('audits a host through the bastion, verifying both host keys', async () => {
    const target = doc.hosts.find((h) => h.name === 'c7-old')!;
    const r = await cli(['audit', '-H', `root@${target.address}:${target.port}`, '--jump', `ops@127.0.0.1:${port}`, '--key', doc.key,
      '--known-hosts', path.join(tmp, 'known_hosts'), '--json']);
    const h = JSON.parse(r.stdout).hosts[0];
    expect(h.error).toBeNull();
    expect(h.outcome).toBe('ok');
    expect(forwarded).toContain(`${target.address}:${target.port}`);
  });

  it('takes ProxyJump from ansible_ssh_common_args', async () => {
    const target = doc.hosts.find((h) => h.name === 'sles11-big')!;
    const inv = path.join(tmp, 'jump.ini');
    writeFileSync(inv, `sles11-big ansible_host=${target.address} ansible_port=${target.port} ansible_ssh_common_args='-o ProxyJump=ops@127.0.0.1:${port}'\n`);
    const before = forwarded.length;
    const r = await cli(['audit', '-i', inv, '--key', doc.key, '--known-hosts', path.join(tmp, 'known_hosts'), '--json']);
    expect(JSON.parse(r.stdout).hosts[0].os.id).toBe('sles');
    expect(forwarded.length).toBe(before + 1);
  });

  it('reaches a Windows host over SSH (ansible_shell_type=powershell) through the bastion as well', async () => {
    const win = await startExecServer({ user: 'Administrator', password: 'Win-Pa55', handler: simulatedHostHandler(new SimulatedWindowsHost({ install: null })) });
    try {
      const kh = path.join(tmp, 'known_hosts_win');
      writeFileSync(kh, `${readFileSync(path.join(tmp, 'known_hosts'), 'utf8')}${win.knownHostsLine}\n`);
      const inv = path.join(tmp, 'jump-win.ini');
      writeFileSync(inv, `win-ssh ansible_host=127.0.0.1 ansible_port=${win.port} ansible_user=Administrator ansible_password=Win-Pa55 ansible_shell_type=powershell\n`);
      const before = forwarded.length;
      const r = await cli(['audit', '-i', inv, '--jump', `ops@127.0.0.1:${port}`, '--key', doc.key, '--known-hosts', kh, '--json']);
      const h = JSON.parse(r.stdout).hosts[0];
      expect(h, r.stderr).toMatchObject({ outcome: 'ok', transport: 'ssh', os: { family: 'windows' } });
      // Every connection to it went through the bastion.
      expect(forwarded.slice(before)).toEqual([`127.0.0.1:${win.port}`]);
      expect(win.execs.length).toBeGreaterThan(0);
    } finally {
      await win.close();
    }
  });

  it('refuses a bastion whose host key is unknown', async () => {
    const r = await cli(['audit', '-H', `root@${doc.hosts[0]!.address}:${doc.port}`, '--jump', `ops@127.0.0.1:${port}`, '--key', doc.key,
      '--known-hosts', doc.knownHosts, '--json']);
    const h = JSON.parse(r.stdout).hosts[0];
    // Never logged in: unreachable, as Ansible says, with the key problem named.
    expect(h).toMatchObject({ outcome: 'unreachable', reachable: false, failure: 'host-key-unknown' });
    expect(h.error).toMatch(/jump 127\.0\.0\.1 \(127\.0\.0\.1:\d+\): host key ssh-ed25519 SHA256:\S+ is not in/);
  });
});

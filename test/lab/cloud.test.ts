import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp, repo, type LabDoc } from './helpers.js';
import { startCloudPeer, type CloudPeer, type PeerRule, type PeerServer } from '../support/cloud-peer.js';

/**
 * `audit --cloud` end to end: the servers come from the API peer (which checks every request's signature with
 * its own implementation), the hosts are the lab's real sshd hosts (whose metadata uuids are the peer's server
 * ids), and each row merges the cloud's verdicts with the host's.
 */
const bin = path.join(repo, 'dist/cli/main.js');
const scenario = path.join(repo, 'test/lab/scenarios/cloud.lab');
const AK = 'LABAKEXAMPLE0000CLOUD';
const SK = 'lab-secret-key-never-shown-0123456789';
const TOKEN = 'lab-security-token-never-shown';
const PROJECT = '0123456789abcdef0123456789abcdef';
let doc: LabDoc;
let peer: CloudPeer;
let work: string;
let home: string;

/** The CLI as a child process, asynchronously: the peer answers in this process meanwhile. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', HOME: home, HUAWEICLOUD_SDK_AK: AK, HUAWEICLOUD_SDK_SK: SK, HUAWEICLOUD_SDK_SECURITY_TOKEN: TOKEN, HUAWEICLOUD_SDK_PROJECT_ID: PROJECT, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
// As an operator's ~/.ssh/config for a fleet reached by address: every server on the lab's port, as root, with its key.
const cloudArgs = () => ['--cloud', 'lab-region-1', '--cloud-endpoint', peer.url, '-F', path.join(work, 'ssh_config'), '--known-hosts', doc.knownHosts];

const STOPPED_ID = '5a7e0000-0000-4000-8000-00000000dead';
const WRONG_ID = '0bad0000-0000-4000-8000-000000000bad';

beforeAll(async () => {
  doc = labUp(scenario);
  work = mkdtempSync(path.join(os.tmpdir(), 'cloud-work-'));
  home = mkdtempSync(path.join(os.tmpdir(), 'cloud-home-'));
  writeFileSync(path.join(work, 'ssh_config'), `Host *\n  Port ${doc.port}\n  User root\n  IdentityFile ${doc.key}\n`);
  const h = (name: string) => doc.hosts.find((x) => x.name === name)!;
  const server = (name: string, o: Partial<PeerServer> = {}): PeerServer => ({
    id: h(name).uuid, name, status: 'ACTIVE', osType: 'Linux', vpcId: 'vpc-lab', privateIp: h(name).address,
    securityGroups: [{ id: 'sg-default', name: 'default' }], tags: ['env=lab'], resetpwdFlag: 'True', ...o,
  });
  const egressAll = (sg: string, id: string): PeerRule => ({
    id, security_group_id: sg, direction: 'egress', protocol: null, ethertype: 'IPv4', multiport: null, action: 'allow', priority: 100,
    remote_ip_prefix: '0.0.0.0/0', remote_group_id: null,
  });
  peer = await startCloudPeer({
    projectId: PROJECT,
    region: 'lab-region-1',
    credentials: { ak: AK, sk: SK, securityToken: TOKEN },
    servers: [
      server('cl-good'),
      // The host has no plug-in but the cloud believes it has; its subnet has DHCP off; and the cloud's record
      // of the server at its address is another server's (the host's metadata says otherwise).
      { ...server('cl-bare'), vpcId: 'vpc-other', id: WRONG_ID },
      // Its first group denies TCP 80 to the metadata range; the default group after it would allow it.
      server('cl-denied', { securityGroups: [{ id: 'sg-locked', name: 'locked' }, { id: 'sg-default', name: 'default' }] }),
      // A stopped server at an address where nothing listens: it must not be contacted.
      { ...server('cl-good'), id: STOPPED_ID, name: 'cl-stopped', status: 'SHUTOFF', privateIp: '127.10.250.250' },
    ],
    subnets: [
      { id: 'subnet-lab', name: 'lab', vpc_id: 'vpc-lab', cidr: '127.10.0.0/16', gateway_ip: '127.10.0.1', dhcp_enable: true },
      { id: 'subnet-other', name: 'other', vpc_id: 'vpc-other', cidr: '127.10.0.0/16', gateway_ip: '127.10.0.1', dhcp_enable: false },
    ],
    rules: [
      egressAll('sg-default', 'rule-default-egress'),
      { id: 'rule-deny-metadata', security_group_id: 'sg-locked', direction: 'egress', protocol: 'tcp', ethertype: 'IPv4', multiport: '80', action: 'deny', priority: 1, remote_ip_prefix: '169.254.0.0/16', remote_group_id: null },
    ],
  });
}, 600_000);

afterAll(async () => {
  await peer?.close();
  labDown();
  for (const d of [work, home]) if (d) rmSync(d, { recursive: true, force: true });
}, 600_000);

describe('audit --cloud over the lab and the API peer', () => {
  let r: { code: number; stdout: string; stderr: string };
  let hosts: Record<string, { outcome: string; serverId?: string; reachable: boolean; failure?: string; steps: unknown[]; error: string | null; checks: { id: string; status: string; detail: string }[] }>;
  const check = (host: string, id: string) => hosts[host]!.checks.find((c) => c.id === id)!;

  beforeAll(async () => {
    r = await cli(['audit', ...cloudArgs(), '--json', '--report', path.join(work, 'audit.xml')], { DEBUG: 'DEBUG' });
    hosts = Object.fromEntries((JSON.parse(r.stdout) as { hosts: { name: string }[] }).hosts.map((x) => [x.name, x])) as typeof hosts;
  }, 600_000);

  it('lists every server through the peer, every request signed as the verifier expects', () => {
    expect(Object.keys(hosts).sort()).toEqual(['cl-bare', 'cl-denied', 'cl-good', 'cl-stopped']);
    expect(peer.requests.length).toBeGreaterThan(0);
    expect(peer.requests.filter((q) => !q.signatureOk)).toEqual([]);
    expect(peer.requests.every((q) => q.headers['x-security-token'] === TOKEN)).toBe(true);
  });

  it('merges the cloud verdicts into each host\'s row beside the in-guest checks, with the server id', () => {
    expect(hosts['cl-good']).toMatchObject({ outcome: 'ok', serverId: doc.hosts.find((x) => x.name === 'cl-good')!.uuid });
    for (const id of ['disk-space', 'metadata', 'server-id', 'vpc-dhcp', 'sg-metadata-egress', 'resetpwd-flag']) expect(check('cl-good', id).status, id).toBe('pass');
  });

  it('finds DHCP off on the subnet, and the cloud believing in a plug-in the host does not have', () => {
    expect(check('cl-bare', 'vpc-dhcp')).toMatchObject({ status: 'fail', detail: expect.stringContaining('subnet other') });
    expect(check('cl-bare', 'resetpwd-flag')).toMatchObject({ status: 'warn', detail: expect.stringContaining('the host has none') });
    expect(hosts['cl-bare']!.outcome).toBe('failed');
  });

  it('finds a security group that denies the metadata service', () => {
    expect(check('cl-denied', 'sg-metadata-egress')).toMatchObject({ status: 'fail', detail: expect.stringContaining('rule-deny-metadata') });
  });

  it('finds an address that points at another server', () => {
    expect(check('cl-bare', 'server-id')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`is server ${doc.hosts.find((x) => x.name === 'cl-bare')!.uuid}, not cl-bare (${WRONG_ID}): the address points at another server`) });
  });

  it('reports a stopped server with what the cloud knows, without any connection attempt', () => {
    expect(hosts['cl-stopped']).toMatchObject({ outcome: 'unreachable', reachable: false, failure: 'not-running', serverId: STOPPED_ID, steps: [] });
    expect(hosts['cl-stopped']!.error).toMatch(/SHUTOFF \(not running\)/);
    expect(check('cl-stopped', 'server-id').status).toBe('skip');
    expect(check('cl-stopped', 'resetpwd-flag').status).toBe('pass');
  });

  it('exits 1 (hosts failed), and the JUnit report carries the cloud checks and server ids', () => {
    expect(r.code).toBe(1);
    const xml = readFileSync(path.join(work, 'audit.xml'), 'utf8');
    expect(xml).toContain(`cloud server id: ${STOPPED_ID}`);
    expect(xml).toMatch(/sg-metadata-egress\s+fail/);
  });

  it('writes no file of the SDK anywhere and shows no AK, SK or token in any output, even with DEBUG=DEBUG', () => {
    expect(readdirSync(work).sort()).toEqual(['audit.xml', 'ssh_config']);
    expect(readdirSync(home)).toEqual([]);
    const all = r.stdout + r.stderr + readFileSync(path.join(work, 'audit.xml'), 'utf8');
    for (const secret of [AK, SK, TOKEN]) expect(all).not.toContain(secret);
    expect(r.stderr).not.toMatch(/nodesdk|Authorization|SDK-HMAC/);
  });

  it('matches an inventory\'s hosts to servers by address, and the HTML report shows the cloud checks', async () => {
    const html = path.join(work, 'audit.html');
    const m = await cli(['audit', ...cloudArgs(), '-i', doc.inventory, '--limit', 'cl-good', '--json', '--report', html]);
    const rows = (JSON.parse(m.stdout) as { hosts: { name: string; serverId?: string; checks: { id: string; status: string }[] }[] }).hosts;
    expect(rows.map((x) => x.name)).toEqual(['cl-good']);
    expect(rows[0]!.serverId).toBe(doc.hosts.find((x) => x.name === 'cl-good')!.uuid);
    expect(rows[0]!.checks.find((c) => c.id === 'server-id')!.status).toBe('pass');
    expect(readFileSync(html, 'utf8')).toContain('sg-metadata-egress');
    rmSync(html);
  });
});

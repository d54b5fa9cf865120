import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { lab, labDoc, labDown, labOut, labUp, repo, ssh, type LabDoc } from './helpers.js';

/** `audit` and `status` end to end against the lab's real sshd hosts (scenarios/default.lab). */
const bin = path.join(repo, 'dist/cli/main.js');
let doc: LabDoc;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'audit-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const base = () => ['-i', doc.inventory, '--known-hosts', doc.knownHosts];

// The result document of SPEC.md, as a schema: every run's --json must satisfy it.
const Check = z.object({ id: z.string(), status: z.enum(['pass', 'warn', 'fail', 'skip', 'error']), detail: z.string().min(1) });
const Host = z.object({
  name: z.string(), address: z.string(), port: z.number().int(), transport: z.enum(['ssh', 'winrm']), reachable: z.boolean(),
  os: z.object({ family: z.enum(['linux', 'windows']), id: z.string().nullable(), version: z.string().nullable(), arch: z.string().nullable() }).nullable(),
  checks: z.array(Check),
  agent: z.object({
    installed: z.boolean(), updateAgent: z.boolean(), version: z.string().nullable(), running: z.boolean(), mode: z.string().nullable(),
    port: z.number().int().nullable(), log4j: z.string().nullable(), packageSha256: z.string().nullable(), findings: z.array(z.string()),
  }).nullable(),
  outcome: z.enum(['ok', 'failed', 'unchanged', 'updated', 'installed', 'uninstalled', 'refused', 'rolled-back', 'unreachable', 'skipped']),
  steps: z.array(z.object({ name: z.string(), ms: z.number(), ok: z.boolean() })),
  error: z.string().nullable(),
});
const Result = z.object({
  command: z.string(), startedAt: z.iso.datetime(), finishedAt: z.iso.datetime(), hosts: z.array(Host),
  summary: z.object({ total: z.number(), ok: z.number(), failed: z.number(), unreachable: z.number(), skipped: z.number() }),
});
type ResultDoc = z.infer<typeof Result>;

let audit: ResultDoc;
const host = (n: string) => audit.hosts.find((h) => h.name === n)!;
const status = (n: string, id: string) => host(n).checks.find((c) => c.id === id)?.status;

beforeAll(() => {
  doc = labUp();
  const r = cli(['audit', ...base(), '--json', '--report', path.join(tmp, 'audit.json')]);
  expect(r.code, r.stderr).toBe(1); // some hosts fail prerequisites by design
  audit = Result.parse(JSON.parse(r.stdout));
}, 600_000);
afterAll(() => {
  labDown();
});

describe('audit on the lab', () => {
  it('prints a result document that matches the SPEC schema, and writes the same to --report', () => {
    expect(audit.command).toBe('audit');
    expect(audit.hosts).toHaveLength(doc.hosts.length);
    expect(JSON.parse(readFileSync(path.join(tmp, 'audit.json'), 'utf8')).hosts).toHaveLength(doc.hosts.length);
    expect(audit.summary.total).toBe(doc.hosts.length);
  });

  it('identifies every OS, including SLES 11 SP4 from SuSE-release and the aarch64 host', () => {
    const want: Record<string, [string, string]> = {
      centos7: ['centos', '7'], euleros2sp8: ['euleros', '2.0'], ubuntu2204: ['ubuntu', '22.04'], debian12: ['debian', '12'],
      sles11sp4: ['sles', '11.4'], sles12sp5: ['sles', '12.5'], kylinv10: ['kylin', 'V10'],
    };
    for (const h of doc.hosts) {
      if (h.flags.includes('sudo-tty')) continue;
      expect([host(h.name).os?.id, host(h.name).os?.version], h.name).toEqual(want[h.os]);
    }
    expect(host('ubuntu-arm').os?.arch).toBe('aarch64');
  });

  it('gives each check the verdict its scenario implies', () => {
    expect(status('c7-readonly', 'root-writable')).toBe('fail');
    expect(status('c7-old', 'root-writable')).toBe('pass');
    expect(status('c7-lowdisk', 'disk-space')).toBe('fail');
    expect(status('c7-old', 'disk-space')).toBe('pass');
    expect(status('c7-lowdisk', 'selinux')).toBe('fail');
    expect(status('euler-stopped', 'selinux')).toBe('warn');
    expect(status('c7-old', 'selinux')).toBe('pass');
    expect(status('sles11-small', 'memory')).toBe('fail');
    expect(status('sles11-big', 'memory')).toBe('pass');
    expect(status('c7-old', 'memory')).toBe('skip');
    expect(status('debian-static', 'dhcp')).toBe('fail');
    expect(status('sles12-static', 'dhcp')).toBe('fail');
    for (const n of ['c7-old', 'ubuntu-sudo', 'sles11-big', 'euler-stopped']) expect(status(n, 'dhcp'), n).toBe('pass');
    expect(status('ubuntu-bare', 'metadata')).toBe('fail');
    expect(status('c7-old', 'metadata')).toBe('pass');
    expect(status('c7-old', 'eip')).toBe('pass');
    expect(status('sles11-big', 'eip')).toBe('warn');
    expect(status('kylin', 'os-supported')).toBe('fail');
    expect(status('c7-old', 'os-supported')).toBe('pass');
  });

  it('reports the plug-in: layout, running or not, mode, port, version and old log4j', () => {
    // AUTO mode: the port is the wrapper's listener (32000-32999); its JVM connects back from 31000-31999.
    expect(host('c7-old').agent).toMatchObject({ installed: true, updateAgent: true, running: true, mode: 'AUTO', port: 32000, version: '1.0.5', log4j: '2.8.2' });
    expect(host('c7-old').agent!.findings.join()).toMatch(/log4j 2\.8\.2 is below 2\.17/);
    expect(host('euler-stopped').agent).toMatchObject({ installed: true, updateAgent: false, running: false });
    expect(host('c7-readonly').agent).toMatchObject({ installed: true, running: false, mode: 'PIPE', log4j: '2.17.1', findings: [] });
    expect(host('sles11-big').agent).toMatchObject({ installed: false, updateAgent: false });
  });

  it('logs in as the sudo user with its password and runs the facts through sudo; a requiretty host is a clear error', () => {
    expect(host('ubuntu-sudo').outcome).toBe('ok');
    expect(host('ubuntu-sudo').agent?.installed).toBe(true); // /CloudrResetPwdAgent pid file is root's: read through sudo
    expect(host('c7-sudotty')).toMatchObject({ outcome: 'failed', reachable: true });
    expect(host('c7-sudotty').error).toMatch(/sudo requires a terminal/);
  });

  it('gathers facts in one round trip per host (connect + one command)', () => {
    for (const h of audit.hosts.filter((x) => x.reachable && !x.error)) expect(h.steps.map((s) => s.name)).toEqual(['connect', 'facts']);
  });

  it('prints a human table with every host and check, and exits 1 when a host fails', () => {
    const r = cli(['audit', ...base(), '--limit', 'c7-old:kylin']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^host\s+outcome\s+os\s+root-writable\s+disk-space\s+selinux\s+memory\s+dhcp\s+metadata\s+eip\s+os-supported\s+plug-in$/m);
    expect(r.stdout).toMatch(/^c7-old\s+ok\s+centos 7\s+ok\s+ok\s+ok\s+-\s+ok\s+ok\s+ok\s+ok\s+running, AUTO, port 32000/m);
    expect(r.stdout).toMatch(/kylin: os-supported fail: .*does not support KylinOS/);
    expect(r.stdout).toMatch(/^2 hosts: 1 ok, 1 failed, 0 unreachable$/m);
    const ok = cli(['audit', ...base(), '--limit', 'c7-old']);
    expect(ok.code).toBe(0);
  });

  it('status reports the plug-in without checks', () => {
    const r = cli(['status', ...base(), '--limit', 'c7-old', '--json']);
    const d = Result.parse(JSON.parse(r.stdout));
    expect(d.command).toBe('status');
    expect(d.hosts[0]!.checks).toEqual([]);
    expect(d.hosts[0]!.agent?.running).toBe(true);
    expect(r.code).toBe(0);
  });
});

describe('DHCP wherever it is configured', () => {
  it('reads a systemd-networkd .network file, and where no file decides, the live address (a lease)', () => {
    expect(host('networkd').checks.find((c) => c.id === 'dhcp')).toEqual({ id: 'dhcp', status: 'pass', detail: 'eth0 uses DHCP (/etc/systemd/network/10-eth0.network)' });
    expect(host('lease-only').checks.find((c) => c.id === 'dhcp')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^eth0 uses DHCP \(no configuration file decides; its address 192\.168\.\d+\.\d+\/16 is a DHCP lease: ip addr\)$/) });
  });
});

describe('old servers (OpenSSH 5.3-7.4: ssh-rsa with SHA-1, SHA-1 key exchange, aes128-ctr/cbc, hmac-sha1)', () => {
  const raw = () => JSON.parse(readFileSync(path.join(tmp, 'audit.json'), 'utf8')) as { hosts: Array<{ name: string; ssh?: { kex: string; hostKey: string; cipher: string; mac: string; legacy: string[] } }> };
  it('are audited with the SHA-1 key exchange their inventory line allows, and the result says which algorithms', () => {
    for (const n of ['c7-oldssh', 'sles11-oldssh']) {
      expect(host(n).outcome, host(n).error ?? '').not.toBe('unreachable');
      expect(host(n).error).toBeNull();
      expect(raw().hosts.find((h) => h.name === n)!.ssh).toEqual({ kex: 'diffie-hellman-group14-sha1', hostKey: 'ssh-rsa', cipher: 'aes128-ctr', mac: 'hmac-sha1', legacy: ['diffie-hellman-group14-sha1'] });
    }
    // A modern host: no legacy algorithm, the summary says nothing of it.
    expect(raw().hosts.find((h) => h.name === 'c7-old')!.ssh!.legacy).toEqual([]);
  });

  it('without that line, the host is refused with what it offers and the exact line that would let it in', () => {
    const line = readFileSync(doc.inventory, 'utf8').split('\n').find((l) => l.startsWith('c7-oldssh '))!.replace(/ ansible_ssh_common_args=.*$/, '');
    const inv = path.join(tmp, 'no-legacy.ini');
    writeFileSync(inv, `${line}\n`);
    const h = JSON.parse(cli(['audit', '-i', inv, '--known-hosts', doc.knownHosts, '--json']).stdout).hosts[0];
    // Never logged in: unreachable (SPEC), with the reason in the shared vocabulary.
    expect(h).toMatchObject({ outcome: 'unreachable', reachable: false, failure: 'protocol' });
    expect(h.error).toMatch(/no key exchange in common with the server \(it offers diffie-hellman-group14-sha1, diffie-hellman-group-exchange-sha1\); .*ansible_ssh_common_args='-o KexAlgorithms=\+diffie-hellman-group14-sha1'$/);
  });

  it('are updated to the new agent over those algorithms, and the human summary names them', () => {
    const r = cli(['update', ...base(), '--limit', 'c7-oldssh:sles11-oldssh', '--package', path.join(repo, 'packages/CloudResetPwdAgent-2.1.0.zip'), '--settle', '1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^c7-oldssh\s+updated/m);
    expect(r.stdout).toMatch(/^sles11-oldssh\s+updated/m);
    expect(r.stdout).toMatch(/c7-oldssh: ssh: reached with legacy algorithms diffie-hellman-group14-sha1/);
  });
});

describe('the operator\'s OpenSSH client configuration', () => {
  it('-H ALIAS -F FILE reaches the hosts `ssh -F FILE ALIAS` reaches: address, port, user, key, known_hosts and legacy algorithms from the file', () => {
    const cfg = path.join(labOut, 'ssh_config');
    // No inventory, no --key, no --known-hosts: only the names ssh itself would be given.
    const r = cli(['status', '-H', 'c7-old', '-H', 'c7-oldssh', '-F', cfg, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    const byName = (n: string) => d.hosts.find((h: { name: string }) => h.name === n);
    expect(byName('c7-old')).toMatchObject({ address: doc.hosts.find((h) => h.name === 'c7-old')!.address, port: doc.port, outcome: 'ok' });
    expect(byName('c7-oldssh').ssh.kex).toBe('diffie-hellman-group14-sha1');
    expect(ssh('c7-old', 'hostname').stdout.trim()).toBe('c7-old');
  });
});

describe('host keys and credentials', () => {
  it('refuses an unknown host key without --accept-new, and records it with --accept-new', () => {
    const kh = path.join(tmp, 'empty_known_hosts');
    writeFileSync(kh, '');
    const refused = cli(['audit', '-i', doc.inventory, '--known-hosts', kh, '--limit', 'c7-old', '--json']);
    const doc1 = JSON.parse(refused.stdout);
    const h = Result.parse(doc1).hosts[0]!;
    // The tool never logged in: unreachable (as Ansible reports it), so budgets, --retry-failed and reports
    // count it with every other host that could not be entered; the key problem is named.
    expect(h).toMatchObject({ outcome: 'unreachable', reachable: false });
    expect(doc1.hosts[0].failure).toBe('host-key-unknown');
    expect(doc1.summary.unreachable).toBe(1);
    expect(h.error).toMatch(/host key ssh-ed25519 SHA256:\S+ is not in .*empty_known_hosts; verify it and add it, or pass --accept-new/);
    const accepted = cli(['audit', '-i', doc.inventory, '--known-hosts', kh, '--limit', 'c7-old', '--accept-new']);
    expect(accepted.code).toBe(0);
    expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|\S+ ssh-ed25519 \S+$/m);
    expect(cli(['audit', '-i', doc.inventory, '--known-hosts', kh, '--limit', 'c7-old']).code).toBe(0);
  });

  it('refuses a changed host key even with --accept-new, naming the host and both fingerprints', () => {
    const kh = path.join(tmp, 'changed_known_hosts');
    const lines = readFileSync(doc.knownHosts, 'utf8').split('\n');
    const other = lines.find((l) => l.startsWith('kylin,'))!.split(' ').slice(1).join(' ');
    writeFileSync(kh, lines.map((l) => (l.startsWith('c7-old,') ? `${l.split(' ')[0]} ${other}` : l)).join('\n'));
    const r = cli(['audit', '-i', doc.inventory, '--known-hosts', kh, '--limit', 'c7-old', '--accept-new', '--json']);
    const h = Result.parse(JSON.parse(r.stdout)).hosts[0]!;
    expect(h).toMatchObject({ outcome: 'unreachable', reachable: false });
    expect(JSON.parse(r.stdout).hosts[0].failure).toBe('host-key-changed');
    expect(h.error).toMatch(/c7-old \(127\.10\.\d+\.\d+:2222\): HOST KEY CHANGED: known SHA256:\S+ .* offered ssh-ed25519 SHA256:\S+; refusing/);
  });

  it('reports a wrong password as an authentication failure and an unreachable host as unreachable, and goes on', () => {
    const inv = path.join(tmp, 'mixed.ini');
    const sudo = doc.hosts.find((h) => h.name === 'ubuntu-sudo')!;
    writeFileSync(
      inv,
      [
        `ubuntu-sudo ansible_host=${sudo.address} ansible_port=${sudo.port} ansible_user=${doc.user} ansible_password=wrong-password`,
        `gone ansible_host=127.10.250.250 ansible_port=${doc.port}`,
        `c7-old ansible_host=${doc.hosts.find((h) => h.name === 'c7-old')!.address} ansible_port=${doc.port} ansible_ssh_private_key_file=${doc.key}`,
        '',
      ].join('\n'),
    );
    const r = cli(['audit', '-i', inv, '--known-hosts', doc.knownHosts, '--json']);
    const d = Result.parse(JSON.parse(r.stdout));
    const by = (n: string) => d.hosts.find((h) => h.name === n)!;
    // A refused login was never entered (SPEC): unreachable, its reason auth-failed (never retried).
    expect(by('ubuntu-sudo')).toMatchObject({ outcome: 'unreachable', reachable: false });
    expect(JSON.parse(r.stdout).hosts.find((h: { name: string }) => h.name === 'ubuntu-sudo').failure).toBe('auth-failed');
    expect(by('ubuntu-sudo').error).toMatch(/authentication failed/);
    expect(by('gone')).toMatchObject({ outcome: 'unreachable', reachable: false });
    expect(by('gone').error).toMatch(/connection refused/);
    expect(by('c7-old').outcome).toBe('ok');
    expect(d.summary).toMatchObject({ total: 3, ok: 1, failed: 0, unreachable: 2 });
    expect(r.code).toBe(1);
    // The password never appears in what the tool prints.
    expect(r.stdout + r.stderr).not.toContain('wrong-password');
  });

  it('takes a password from an environment variable (never argv) and refuses a missing one clearly', () => {
    const r = cli(['audit', '-H', `${doc.user}@${doc.hosts.find((h) => h.name === 'ubuntu-sudo')!.address}:${doc.port}`, '--known-hosts', doc.knownHosts,
      '--password-env', 'LAB_PW', '--become', '--json'], { LAB_PW: doc.password });
    const h = Result.parse(JSON.parse(r.stdout)).hosts[0]!;
    expect(h.outcome, h.error ?? '').toBe('ok');
    const missing = cli(['audit', '-H', 'x', '--password-env', 'NOPE_NOT_SET']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('resetpwd-fleet: --password-env NOPE_NOT_SET: that environment variable is not set; export it first');
  });

  it('takes a password from a file, and reports a sudo password sudo rejects', () => {
    const sudo = doc.hosts.find((h) => h.name === 'ubuntu-sudo')!;
    const pwFile = path.join(tmp, 'pw');
    writeFileSync(pwFile, `${doc.password}\n`, { mode: 0o600 });
    const spec = `${doc.user}@${sudo.address}:${doc.port}`;
    const ok = cli(['status', '-H', spec, '--known-hosts', doc.knownHosts, '--password-file', pwFile, '--become', '--json']);
    expect(JSON.parse(ok.stdout).hosts[0].agent.installed).toBe(true);
    const bad = cli(['status', '-H', spec, '--known-hosts', doc.knownHosts, '--password-file', pwFile, '--become',
      '--become-password-env', 'BAD_SUDO', '--json'], { BAD_SUDO: 'not-the-sudo-password' });
    const h = JSON.parse(bad.stdout).hosts[0];
    expect(h.outcome).toBe('failed');
    expect(h.error).toMatch(/sudo rejected the password/);
    expect(bad.stdout + bad.stderr).not.toContain('not-the-sudo-password');
  });

  it('fails eip without an EIP when the hosts must download the package themselves (--pull)', () => {
    const r = cli(['audit', ...base(), '--limit', 'sles11-big:c7-old', '--pull', '--json']);
    const d = Result.parse(JSON.parse(r.stdout));
    expect(d.hosts.find((h) => h.name === 'sles11-big')!.checks.find((c) => c.id === 'eip')!.status).toBe('fail');
    expect(d.hosts.find((h) => h.name === 'c7-old')!.checks.find((c) => c.id === 'eip')!.status).toBe('pass');
  });

  it('reports a bad inventory with its file and line, exit 2, touching no host', () => {
    const bad = path.join(tmp, 'bad.ini');
    writeFileSync(bad, '[web]\nh1 ansible_port=ssh\n');
    const r = cli(['audit', '-i', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^resetpwd-fleet: .*bad\.ini:2: host h1: ansible_port="ssh" is not valid/);
  });
});

describe('scale', () => {
  it('audits 30 hosts in one run with a verdict for each', () => {
    const up = lab(['up', '--scenario', path.join(repo, 'scenarios/default.lab'), '--hosts', '30']);
    expect(up.code, up.stderr).toBe(0);
    const inv = labDoc();
    const r = cli(['audit', '-i', inv.inventory, '--known-hosts', inv.knownHosts, '-c', '30', '--json']);
    const d = Result.parse(JSON.parse(r.stdout));
    expect(d.hosts).toHaveLength(30);
    expect(d.summary.unreachable).toBe(0);
    for (const h of d.hosts.filter((x) => !x.error)) expect(h.checks).toHaveLength(8);
  }, 600_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli-run.js';
import { labDown, labOut, labUp, onHost, repo, type LabDoc } from './helpers.js';

/**
 * `reset-password` (online) end to end on the lab's real hosts: the password set over the tool's own session,
 * proven by a fresh login or the stored hash, judged here independently (OpenSSH with sshpass; Python's crypt
 * on the host), and found in no output, log, report or process list.
 */
const bin = path.join(repo, 'dist/cli/main.js');
const scenario = path.join(repo, 'test/lab/scenarios/reset.lab');
let doc: LabDoc;
let work: string;
let recipient: string;
const openVault = (file: string) =>
  JSON.parse(spawnSync('age', ['-d', '-i', path.join(work, 'age.key'), file], { encoding: 'utf8' }).stdout) as { hosts: { host: string; account: string; password: string; state: string }[] };

function cli(args: string[], env: Record<string, string>, sample?: (ps: string) => void, cwd?: string) {
  return runCli(bin, args, { env: { ...process.env, XDG_STATE_HOME: path.join(work, 'state'), ...env }, cwd, sample });
}
const base = () => ['-i', doc.inventory, '--known-hosts', doc.knownHosts, '--json'];
const shadow = (host: string, account: string) => onHost(host, `awk -F: '$1 == "${account}" { print $2 }' /etc/shadow`).trim();
/** Python's crypt on the host: an implementation other than the tool's check (Perl's) says whether the hash is this password's. */
const hashIs = (host: string, account: string, pw: string) =>
  onHost(host, `python3 -W ignore -c 'import crypt, sys; h = [l.split(":")[1] for l in open("/etc/shadow") if l.startswith(sys.argv[1] + ":")][0]; print(crypt.crypt(sys.argv[2], h) == h)' ${account} '${pw}'`).trim() === 'True';
const sshLogin = (host: string, user: string, pw: string) => {
  const h = doc.hosts.find((x) => x.name === host)!;
  return spawnSync('sshpass', ['-e', 'ssh', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password', '-o', `UserKnownHostsFile=${doc.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', '-p', String(h.port), `${user}@${h.address}`, 'true'], { env: { ...process.env, SSHPASS: pw }, encoding: 'utf8', timeout: 30_000 }).status === 0;
};

beforeAll(() => {
  doc = labUp(scenario);
  work = mkdtempSync(path.join(os.tmpdir(), 'reset-'));
  spawnSync('age-keygen', ['-o', path.join(work, 'age.key')]);
  recipient = spawnSync('age-keygen', ['-y', path.join(work, 'age.key')], { encoding: 'utf8' }).stdout.trim();
}, 600_000);
afterAll(() => {
  labDown();
  if (work) rmSync(work, { recursive: true, force: true });
}, 600_000);

describe('reset-password, online, on the lab', () => {
  it('refuses a password that breaks a rule of any target before touching a host (exit 2), never echoing it', async () => {
    const before = shadow('rs-root', 'root');
    const r = await cli(['reset-password', ...base(), '--key', doc.key, '--new-password-env', 'NEW_PW'], { NEW_PW: 'rootroot' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must mix at least three of .* \(Linux, account root\); .*must not contain the user name root \(Linux, account root\); no host was touched/);
    expect(r.stderr).not.toContain('rootroot');
    expect(shadow('rs-root', 'root')).toBe(before);
  });

  it('--dry-run reaches every host and changes nothing (exit 0)', async () => {
    const before = shadow('rs-deb', 'root');
    const r = await cli(['reset-password', ...base(), '--key', doc.key, '--limit', 'rs-root:rs-deb', '--new-password-env', 'NEW_PW', '--dry-run'], { NEW_PW: 'Dry-Run-Pass-2026' });
    expect(r.code, r.stderr).toBe(0);
    const hosts = (JSON.parse(r.stdout) as { hosts: { name: string; outcome: string; reachable: boolean }[] }).hosts;
    expect(hosts.map((h) => [h.name, h.outcome, h.reachable])).toEqual([['rs-root', 'skipped', true], ['rs-deb', 'skipped', true]]);
    expect(shadow('rs-deb', 'root')).toBe(before);
  });

  it('resets root where password logins for root are off, proven by the stored hash', async () => {
    const pw = 'Fresh-Start-2026.a';
    const r = await cli(['reset-password', ...base(), '--key', doc.key, '--limit', 'rs-root:rs-deb', '--new-password-env', 'NEW_PW'], { NEW_PW: pw });
    expect(r.code, r.stderr).toBe(0);
    const hosts = (JSON.parse(r.stdout) as { hosts: { name: string; outcome: string; reset: { account: string; verifiedBy: string } }[] }).hosts;
    for (const h of hosts) expect([h.name, h.outcome, h.reset]).toEqual([h.name, 'reset', { account: 'root', verifiedBy: 'hash' }]);
    for (const h of ['rs-root', 'rs-deb']) expect(hashIs(h, 'root', pw), h).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(pw);
  });

  it('--generate: a different password per host, each in the age file (opened by the reference age) and each working', async () => {
    const out = path.join(work, 'gen.age');
    const r = await cli(['reset-password', ...base(), '--key', doc.key, '--generate', '--encrypt-to', recipient, '--out', out], {});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`the new passwords are in ${out}`);
    const vault = openVault(out);
    expect(vault.hosts.map((h) => [h.host, h.account, h.state]).sort()).toEqual([['rs-deb', 'root', 'applied'], ['rs-root', 'root', 'applied'], ['rs-sudo', 'root', 'applied']]);
    expect(new Set(vault.hosts.map((h) => h.password)).size).toBe(3);
    for (const h of vault.hosts) {
      expect(hashIs(h.host, 'root', h.password), h.host).toBe(true);
      expect(r.stdout + r.stderr).not.toContain(h.password);
    }
  });

  it('--generate killed with SIGKILL mid-batch, then --resume: every password is in the files and works, no done host reset twice', async () => {
    const out = path.join(work, 'killed.age');
    const hosts = ['rs-root', 'rs-deb', 'rs-sudo'];
    const before = Object.fromEntries(hosts.map((h) => [h, shadow(h, 'root')]));
    const child = spawn(process.execPath, [bin, 'reset-password', ...base(), '--key', doc.key, '--generate', '--encrypt-to', recipient, '--out', out, '-c', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_STATE_HOME: path.join(work, 'state') },
    });
    // Killed as soon as the first host is done: one changed, one perhaps mid-change, one untouched.
    let first = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        const m = /\[\d+\/\d+\] (\S+) reset/.exec(d.toString());
        if (m && !first) {
          first = m[1]!;
          child.kill('SIGKILL');
        }
      });
      child.on('close', () => resolve());
    });
    expect(first).not.toBe('');
    const vault = openVault(out);
    const changed = hosts.filter((h) => shadow(h, 'root') !== before[h]);
    expect(changed).toContain(first);
    for (const h of changed) {
      const entry = vault.hosts.find((e) => e.host === h);
      expect(entry, `${h} changed but is not in the file`).toBeDefined();
      expect(hashIs(h, 'root', entry!.password), h).toBe(true);
    }
    const afterKill = shadow(first, 'root');

    // The resume: the run's recipients from its journal, a file of its own, the done host left alone.
    const r = await cli(['reset-password', ...base(), '--key', doc.key, '--generate', '--resume', 'latest', '-c', '1'], {}, undefined, work);
    expect(r.code, r.stderr).toBe(0);
    const second = /the new passwords are in (\S+) /.exec(r.stderr)?.[1];
    expect(second, r.stderr).toBeDefined();
    expect(r.stderr).toContain(`this run's earlier attempts are in ${out}`);
    const result = JSON.parse(r.stdout) as { hosts: { name: string; outcome: string }[] };
    expect(result.hosts.map((h) => [h.name, h.outcome])).toEqual(hosts.map((h) => [h, 'reset']));
    expect(shadow(first, 'root'), `${first} was done and must not be reset again`).toBe(afterKill);
    const resumed = openVault(path.resolve(work, second!));
    expect(resumed.hosts.map((e) => e.host)).not.toContain(first);
    // Every host's password, now, is in one of the run's files, marked applied, and is what the host holds.
    const all = [...openVault(out).hosts, ...resumed.hosts];
    for (const h of hosts) {
      const applied = all.filter((e) => e.host === h && e.state === 'applied');
      expect(applied.length, `${h}: one applied entry`).toBe(1);
      expect(hashIs(h, 'root', applied[0]!.password), h).toBe(true);
      expect(r.stdout + r.stderr).not.toContain(applied[0]!.password);
    }
    // The done host is not reset again by a second resume either: the run is complete now.
    const again = await cli(['reset-password', ...base(), '--key', doc.key, '--generate', '--resume', 'latest'], {}, undefined, work);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/that run is complete; nothing to resume/);
  });

  it('resets a sudo login\'s own password through sudo, proven by a fresh login; the old one is refused; the secret is nowhere', async () => {
    const pw = 'Lab-User-Reset-2026!';
    const log = path.join(work, 'run.log');
    const report = path.join(work, 'report.html');
    const seen: string[] = [];
    const r = await cli(
      ['reset-password', ...base(), '--limit', 'rs-sudo', '--account', doc.user, '--new-password-env', 'NEW_PW', '--log', log, '--report', report, '-v'],
      { NEW_PW: pw },
      (ps) => seen.push(ps),
    );
    expect(r.code, r.stderr).toBe(0);
    const h = (JSON.parse(r.stdout) as { hosts: { outcome: string; reset: unknown }[] }).hosts[0]!;
    expect(h).toMatchObject({ outcome: 'reset', reset: { account: doc.user, verifiedBy: 'login', oldPasswordRefused: true } });
    expect(sshLogin('rs-sudo', doc.user, pw)).toBe(true);
    expect(sshLogin('rs-sudo', doc.user, doc.password)).toBe(false);
    expect(seen.length).toBeGreaterThan(0);
    for (const text of [r.stdout, r.stderr, readFileSync(log, 'utf8'), readFileSync(report, 'utf8'), ...seen]) expect(text).not.toContain(pw);
  });
});

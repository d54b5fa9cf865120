import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAIN_AGENT, STATE_DIR } from '../../src/platform/windows/paths.js';
import { startExecServer, type ExecServer } from '../support/ssh-exec-server.js';
import { SimulatedWindowsHost } from '../support/windows-host.js';
import { simulatedHostHandler } from '../support/windows-peer-host.js';
import { makeTestPki, type TestPki } from '../support/wsman-peer-tls.js';
import { WsmanPeer } from '../support/wsman-peer.js';
import { labDown, labUp, repo, type LabDoc } from './helpers.js';

/**
 * One inventory, one run: Linux lab hosts (real sshd) and Windows hosts — two behind the WS-Management peer
 * (HTTP + Basic; HTTPS + NTLM with the CA given in the inventory), one reached over SSH with
 * ansible_shell_type=powershell, one with a full C: drive. Each Windows host is a SimulatedWindowsHost: the
 * tool's PowerShell scripts reach it exactly as sent, and its model shows what they changed.
 */
const PW = 'Win-Adm1n!pw';
const PKG = path.join(repo, 'packages/CloudResetPwdAgent-2.1.0.zip');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mixed-'));
let doc: LabDoc;
let pki: TestPki;
const peers: WsmanPeer[] = [];
let sshd: ExecServer;
const win = {
  basic: new SimulatedWindowsHost({ install: { layout: 'old', version: '1.0.5', log4j: '2.8.2', running: true, startMode: 'Auto' } }),
  ntlm: new SimulatedWindowsHost({ install: { layout: 'current', version: '1.1.2', log4j: '2.12.1', running: true, startMode: 'Auto' }, accounts: { Administrator: PW } }),
  ssh: new SimulatedWindowsHost({ install: null, accounts: { Administrator: PW } }),
  // As `winrm quickconfig` leaves a server: an http listener on 5985 that takes NTLM only with sealed messages.
  http: new SimulatedWindowsHost({ install: { layout: 'old', version: '1.0.5', log4j: '2.8.2', running: true, startMode: 'Auto' }, accounts: { Administrator: PW } }),
  full: new SimulatedWindowsHost({ install: { layout: 'current', version: '1.1.2', log4j: '2.12.1', running: true, startMode: 'Auto' }, cFreeBytes: 100 * 1024 * 1024 }),
};
let inventory: string;
let knownHosts: string;

interface Cli { code: number; stdout: string; stderr: string }
/** The built CLI as a child process; async, so the peers in this process keep answering while it runs. */
function cli(args: string[]): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args], { env: { ...process.env, XDG_STATE_HOME: tmp } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
/** Each host's outcome; a failed host's error is kept beside it so a mismatch says why. */
const outcomes = (r: Cli): Record<string, string> =>
  Object.fromEntries(
    (JSON.parse(r.stdout) as { hosts: Array<{ name: string; outcome: string; error: string | null }> }).hosts.map((h) => [
      h.name,
      h.outcome === 'failed' && h.error ? `failed: ${h.error}` : h.outcome,
    ]),
  );

function linuxAgent(host: string): { log4j: string; running: boolean } {
  const r = spawnSync(path.join(repo, 'scripts/lab'), ['shell', host, '/bin/sh', '-c',
    'ls /CloudrResetPwdAgent/lib 2>/dev/null | sed -n "s/^log4j-core-\\(.*\\)\\.jar$/\\1/p"; /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status 2>/dev/null | grep -q "is running" && echo running || echo stopped'],
  { encoding: 'utf8', timeout: 60_000 });
  const [log4j = '', state = ''] = r.stdout.trim().split('\n');
  return { log4j: log4j.trim(), running: state.trim() === 'running' };
}
/** A Windows host's agent as its model holds it: service state, start type, installed jar. */
function windowsAgent(h: SimulatedWindowsHost) {
  const svc = h.services.get(MAIN_AGENT.name) ?? [...h.services.values()].find((s) => s.name.toLowerCase() === MAIN_AGENT.name.toLowerCase());
  return {
    state: svc?.state ?? 'absent',
    startMode: svc?.startMode ?? null,
    jar: h.readFile(`${MAIN_AGENT.dir}\\lib\\resetpwdagent.jar`)?.toString('utf8') ?? null,
    stateRecord: h.readFile(`${STATE_DIR}\\state`) !== null,
  };
}

beforeAll(async () => {
  doc = labUp(path.join(repo, 'test/lab/scenarios/mixed.lab'));
  pki = makeTestPki();
  const basic = await WsmanPeer.start({ user: 'Administrator', password: PW, schemes: ['basic'], handler: simulatedHostHandler(win.basic) });
  // Its logins check the simulated host's account database: a reset there changes what WinRM accepts.
  const ntlm = await WsmanPeer.start({ user: 'Administrator', password: () => win.ntlm.accounts.get('Administrator')!, schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert }, channelBinding: 'strict', handler: simulatedHostHandler(win.ntlm) });
  const full = await WsmanPeer.start({ user: 'Administrator', password: PW, schemes: ['basic'], handler: simulatedHostHandler(win.full) });
  // AllowUnencrypted=false: plain SOAP refused; the peer unseals and seals with Debian's ntlm-auth/pywinrm, not our code.
  const http = await WsmanPeer.start({ user: 'Administrator', password: () => win.http.accounts.get('Administrator')!, schemes: ['ntlm'], requireEncryption: true, handler: simulatedHostHandler(win.http) });
  peers.push(basic, ntlm, full, http);
  sshd = await startExecServer({ user: 'Administrator', password: () => win.ssh.accounts.get('Administrator')!, handler: simulatedHostHandler(win.ssh) });
  knownHosts = path.join(tmp, 'known_hosts');
  writeFileSync(knownHosts, readFileSync(doc.knownHosts, 'utf8') + sshd.knownHostsLine + '\n');
  inventory = path.join(tmp, 'mixed.ini');
  const winrm = `ansible_host=127.0.0.1 ansible_connection=winrm ansible_user=Administrator ansible_password=${PW}`;
  writeFileSync(
    inventory,
    [
      readFileSync(doc.inventory, 'utf8').split('\n').filter((l) => /^lin-/.test(l)).join('\n'),
      '[windows]',
      `win-basic ${winrm} ansible_port=${basic.port} ansible_winrm_scheme=http ansible_winrm_transport=basic winrm_cleartext_basic=true`,
      `win-ntlm ${winrm} ansible_port=${ntlm.port} ansible_winrm_scheme=https ansible_winrm_transport=ntlm ansible_winrm_ca_trust_path=${pki.caFile}`,
      `win-full ${winrm} ansible_port=${full.port} ansible_winrm_scheme=http ansible_winrm_transport=basic winrm_cleartext_basic=true`,
      // The Ansible line for such a server, unchanged (the scheme said because the peer's port is not 5985).
      `win-http ${winrm} ansible_port=${http.port} ansible_winrm_scheme=http ansible_winrm_transport=ntlm`,
      `win-ssh ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=Administrator ansible_password=${PW} ansible_shell_type=powershell`,
      '',
    ].join('\n'),
  );
}, 600_000);

afterAll(async () => {
  for (const p of peers) await p.close();
  await sshd?.close();
  pki?.remove();
  labDown();
});

describe('a mixed Linux + Windows inventory', { timeout: 600_000 }, () => {
  it('audits every host in one run, each by its own OS checks', async () => {
    const r = await cli(['audit', '-i', inventory, '--known-hosts', knownHosts, '--json']);
    expect(r.code, r.stderr).toBe(1); // win-full fails disk-space
    expect(Object.fromEntries(Object.entries(outcomes(r)).map(([k, v]) => [k, v.split(':')[0]]))).toEqual({
      'lin-old': 'ok', 'lin-clean': 'ok', 'win-basic': 'ok', 'win-ntlm': 'ok', 'win-full': 'failed', 'win-ssh': 'ok', 'win-http': 'ok',
    });
    const d = JSON.parse(r.stdout) as { hosts: Array<{ name: string; os: { family: string } | null; checks: Array<{ id: string; status: string }>; transport: string }> };
    const by = Object.fromEntries(d.hosts.map((h) => [h.name, h]));
    expect(by['win-ntlm']!.os!.family).toBe('windows');
    expect(by['win-ntlm']!.transport).toBe('winrm');
    expect(by['win-ssh']!.transport).toBe('ssh');
    expect(by['lin-old']!.os!.family).toBe('linux');
    expect(by['win-full']!.checks.find((c) => c.id === 'disk-space')!.status).toBe('fail');
    expect(by['win-basic']!.checks.map((c) => c.id)).toContain('c-writable');
    expect(by['lin-old']!.checks.map((c) => c.id)).toContain('selinux');
  });

  it('updates Linux and Windows hosts in one run with the right outcome for each, then a second run changes nothing', async () => {
    const args = ['update', '-i', inventory, '--known-hosts', knownHosts, '--package', PKG, '--settle', '1', '--max-errors', '100%', '--json'];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(1); // win-full is refused
    expect(outcomes(r)).toEqual({
      'lin-old': 'updated', 'lin-clean': 'installed', 'win-basic': 'updated', 'win-ntlm': 'updated', 'win-full': 'refused', 'win-ssh': 'installed', 'win-http': 'updated',
    });
    // The hosts' real state, not the report: Linux by nsenter, Windows by the simulated host's model.
    for (const h of ['lin-old', 'lin-clean']) expect(linuxAgent(h), h).toEqual({ log4j: '2.17.1', running: true });
    for (const [name, h] of Object.entries({ basic: win.basic, ntlm: win.ntlm, ssh: win.ssh, http: win.http })) {
      expect(windowsAgent(h), name).toMatchObject({ state: 'Running', startMode: 'Auto', stateRecord: true });
      expect(windowsAgent(h).jar, name).toContain('2.1.0');
    }
    expect(windowsAgent(win.full)).toMatchObject({ state: 'Running', stateRecord: false });
    expect(windowsAgent(win.full).jar).toContain('1.1.2');
    // Every WinRM request was valid WS-Management, and every shell was deleted.
    for (const p of peers) {
      expect(p.violations).toEqual([]);
      expect(p.openShells()).toEqual([]);
    }
    // The package reached the SSH-reached host through the PowerShell upload, not SFTP.
    expect(win.ssh.uploads.length).toBeGreaterThan(0);

    const again = await cli(args);
    expect(outcomes(again)).toEqual({
      'lin-old': 'unchanged', 'lin-clean': 'unchanged', 'win-basic': 'unchanged', 'win-ntlm': 'unchanged', 'win-full': 'refused', 'win-ssh': 'unchanged', 'win-http': 'unchanged',
    });
  });

  it('no password appears in any output', async () => {
    const r = await cli(['audit', '-i', inventory, '--known-hosts', knownHosts, '--json', '-v']);
    expect(r.stdout + r.stderr).not.toContain(PW);
  });

  it('resets the password of root on every Linux host and of Administrator on every Windows host, in one run, each proven; never over plain http', async () => {
    const pw = 'Mixed-Fleet.2026x';
    const reset = (limit: string[]) => new Promise<Cli>((resolve) => {
      const c = spawn(process.execPath, [path.join(repo, 'dist/cli/main.js'), 'reset-password', '-i', inventory, '--known-hosts', knownHosts, '--new-password-env', 'NEW_PW', '--json', ...limit], { env: { ...process.env, XDG_STATE_HOME: tmp, NEW_PW: pw } });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    // WinRM over plain http (allowed to log in here) would carry the new password readable: refused, nothing touched.
    const refused = await reset([]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/host win-basic: WinRM over plain http would carry the new password unencrypted/);
    expect(win.basic.accounts.get('Administrator')).not.toBe(pw);
    // Sealed NTLM over http is not enough for a new password either (RC4 keyed from the login): refused the same way.
    expect((await reset(['--limit', 'win-http'])).stderr).toMatch(/host win-http: WinRM over plain http would carry the new password/);
    const child = await reset(['--limit', 'all:!win-basic:!win-full:!win-http']);
    expect(child.code, child.stderr).toBe(0);
    const hosts = (JSON.parse(child.stdout) as { hosts: Array<{ name: string; outcome: string; reset: { account: string; verifiedBy: string; oldPasswordRefused?: boolean } }> }).hosts;
    expect(Object.fromEntries(hosts.map((h) => [h.name, [h.outcome, h.reset.account, h.reset.verifiedBy, h.reset.oldPasswordRefused ?? null]]))).toEqual({
      'lin-old': ['reset', 'root', 'hash', null], 'lin-clean': ['reset', 'root', 'hash', null],
      // WinRM over HTTPS (NTLM) and SSH alike: a fresh login with the new password, and the old one refused.
      'win-ntlm': ['reset', 'Administrator', 'login', true], 'win-ssh': ['reset', 'Administrator', 'login', true],
    });
    for (const h of [win.ntlm, win.ssh]) {
      expect(h.accounts.get('Administrator')).toBe(pw);
      // The secret reached each Windows host only as data after the script, never in a script's text.
      for (const rcv of h.received) expect(rcv.script).not.toContain(pw);
    }
    expect(child.stdout + child.stderr).not.toContain(pw);
  });
});

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWindowsChecks } from '../../../../src/platform/windows/checks/index.js';
import type { PlanOptions } from '../../../../src/core/plan.js';
import { planWindowsChange, sameWindowsPackage } from '../../../../src/platform/windows/plan.js';
import type { PackageInfo } from '../../../../src/package/verify.js';
import { parseWindowsFacts, type WindowsAgentProc, type WindowsFacts } from '../../../../src/platform/windows/facts.js';

/** The Windows plan is a pure function of (facts, checks, package, options), as the Linux one: every decision, on recorded facts. */
const here = path.dirname(fileURLToPath(import.meta.url));
const sample = (name: string) => parseWindowsFacts(readFileSync(path.join(here, '../../fixtures/windows-facts', name), 'utf8'));
const base = sample('ws2019-old-two-agents.txt');
const facts = (patch: (f: WindowsFacts) => void = () => {}): WindowsFacts => {
  const f = structuredClone(base);
  patch(f);
  return f;
};
const pkg: PackageInfo = {
  path: '/p/CloudResetPwdAgent.zip', fileName: 'CloudResetPwdAgent.zip', size: 40_000, sha256: 'ab'.repeat(32), prefix: 'CloudResetPwdAgent/',
  layout: 'current', linuxDir: 'CloudResetPwdAgent/CloudResetPwdAgent.Linux', updateLinuxDir: null, windows: true, version: '2.1.0',
  log4j: '2.17.1', mode: 'PIPE', agentJarSha256: 'cd'.repeat(32), javaCommand: null, entries: 40, unpackedBytes: 90_000,
};
const opts: PlanOptions = { reinstall: false, force: [], settleSeconds: 3 };
const plan = (cmd: 'update' | 'install' | 'uninstall', f: WindowsFacts, o: Partial<PlanOptions> = {}, p: PackageInfo = pkg) =>
  planWindowsChange(cmd, f, runWindowsChecks(f, { pull: false }), cmd === 'uninstall' ? null : p, { ...opts, ...o });

/** The host as a finished update leaves it: this package recorded, one agent running, Automatic, ACL closed. */
const installed = (f: WindowsFacts) => {
  f.stateFile = { package_sha256: pkg.sha256, version: '2.1.0' };
  f.agents.update = { ...f.agents.update, present: false, service: null, running: false };
  Object.assign(f.agents.main, { present: true, running: true, jarSha256: pkg.agentJarSha256, log4jCore: '2.17.1', backendType: 'PIPE', aclWriters: [] });
  f.agents.main.service!.startMode = 'Auto';
};

describe('planWindowsChange', () => {
  it('plans the full transaction for the old two-agent layout: update agent stopped first, UninstallApp-NT.bat, both set aside, setup.bat with stdin from NUL, judged by the service', () => {
    const p = plan('update', facts());
    expect(p).toMatchObject({ kind: 'transaction', action: 'install', outcome: 'updated', extractor: null });
    expect(p.reason).toBe('cloudResetPwdAgent with log4j 2.8.2, running; cloudResetPwdUpdateAgent 1.0.5, running');
    const steps = p.steps.join('\n');
    expect(steps).toMatch(/upload CloudResetPwdAgent\.zip \(39 KiB\) to a private stage under C:\\ProgramData\\resetpwd-fleet .*Get-FileHash/);
    expect(steps).toMatch(/stop cloudResetPwdUpdateAgent, then cloudResetPwdAgent \(the update agent first/);
    expect(steps).toMatch(/UninstallApp-NT\.bat \(stdin from NUL, time-limited/);
    expect(steps).toMatch(/set aside C:\\CloudResetPwdUpdateAgent and C:\\CloudResetPwdAgent into C:\\\.resetpwd-fleet\\<change>/);
    expect(steps).toMatch(/cmd\.exe \/d \/c "setup\.bat < NUL"/);
    expect(steps).toMatch(/Running with a java\.exe under its wrapper, the same wrapper after 3 s/);
    expect(steps).toMatch(/start type Automatic/);
    expect(steps).toMatch(/on any failure: remove the new install, move the old folders back/);
  });

  it('an old-layout package runs the update agent\'s setup.bat first, then the main one', () => {
    const p = plan('update', facts(), {}, { ...pkg, layout: 'old', updateLinuxDir: 'CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux' });
    expect(p.steps.join('\n')).toContain('install: CloudResetPwdUpdateAgent.Windows\\setup.bat, then CloudResetPwdAgent.Windows\\setup.bat');
  });

  it('a clean host is installed; install refuses an installed host unless --reinstall', () => {
    const clean = sample('ws2012r2-clean-static.txt');
    clean.c.freeBytes = 10 * 1024 ** 3;
    const f = structuredClone(clean);
    const p = planWindowsChange('install', f, runWindowsChecks(f, { pull: false }), pkg, { ...opts, force: ['dhcp'] });
    expect(p).toMatchObject({ kind: 'transaction', outcome: 'installed' });
    expect(p.steps.join('\n')).toContain('nothing installed: nothing to stop or set aside');
    expect(p.steps.join('\n')).toContain('extract with System.IO.Compression.ZipFile');
    expect(plan('install', facts())).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/already installed .*install --reinstall/) });
    expect(plan('install', facts(), { reinstall: true }).kind).toBe('transaction');
  });

  it('unchanged when the state record names this package, it runs, starts Automatic and only admins may change it', () => {
    const f = facts(installed);
    expect(plan('update', f)).toEqual({ kind: 'unchanged', reason: 'already runs this package: C:\\ProgramData\\resetpwd-fleet\\state records this package', steps: [] });
    // No record, but the files match the package.
    const g = facts((x) => { installed(x); x.stateFile = {}; });
    expect(plan('update', g)).toMatchObject({ kind: 'unchanged', reason: 'already runs this package: its files match this package (no state record)' });
    expect(sameWindowsPackage(facts(), pkg)).toEqual({ same: false, how: 'its files differ from this package' });
  });

  it('the right package with a Manual start type or an open ACL is fixed in place, not reinstalled', () => {
    const f = facts((x) => { installed(x); x.agents.main.service!.startMode = 'Manual'; x.agents.main.aclWriters = ['S-1-5-11']; });
    const p = plan('update', f);
    expect(p).toMatchObject({ kind: 'fix', outcome: 'updated' });
    expect(p.steps).toEqual([
      'restrict the ACL of C:\\CloudResetPwdAgent to Administrators and SYSTEM (Users read)',
      'set cloudResetPwdAgent to start Automatic (it starts Manual)',
      'read both back',
    ]);
  });

  /** An old agent's wrapper and JVM running from a deleted set-aside folder, next to the services' own. */
  const STRAYS: WindowsAgentProc[] = [
    { pid: 3100, parent: 2200, name: 'wrapper.exe', exe: 'C:\\.resetpwd-fleet\\m0\\CloudResetPwdAgent\\bin\\wrapper.exe', commandLine: '', agent: 'main', folder: 'C:\\.resetpwd-fleet\\m0\\CloudResetPwdAgent' },
    { pid: 3104, parent: 3100, name: 'java.exe', exe: null, commandLine: '', agent: 'main', folder: null },
  ];
  const OWN: WindowsAgentProc[] = [
    { pid: 2212, parent: 640, name: 'wrapper.exe', exe: 'C:\\CloudResetPwdAgent\\bin\\wrapper.exe', commandLine: '', agent: 'main', folder: 'C:\\CloudResetPwdAgent' },
    { pid: 2240, parent: 2212, name: 'java.exe', exe: null, commandLine: '', agent: 'main', folder: null },
  ];

  it('the right package running next to agent processes that are not the services\': an in-place fix stops them, the service is not touched', () => {
    expect(plan('update', facts((x) => { installed(x); x.agentProcs = OWN; })).kind).toBe('unchanged');
    const p = plan('update', facts((x) => { installed(x); x.agentProcs = [...OWN, ...STRAYS]; }));
    expect(p).toMatchObject({ kind: 'fix', outcome: 'updated' });
    expect(p.reason).toMatch(/; stop the agent processes that are not the services' \(wrapper\.exe 3100, java\.exe 3104\)/);
    expect(p.steps).toEqual([
      'stop the agent processes that are not the services\' (wrapper.exe 3100, java.exe 3104), each found again by what it is just before; check none is left (the services keep running, their wrappers keep their pids)',
    ]);
    // With an ACL to fix as well: both, the strays first.
    const q = plan('update', facts((x) => { installed(x); x.agentProcs = [...OWN, ...STRAYS]; x.agents.main.aclWriters = ['S-1-5-11']; }));
    expect(q.steps).toHaveLength(3);
    expect(q.steps[0]).toMatch(/^stop the agent processes/);
    expect(q.steps.at(-1)).toBe('read both back');
  });

  it('every change stops the agents as services and then by what they are; strays without a folder are still an agent to remove', () => {
    const p = plan('update', facts((x) => { x.agentProcs = [...OWN, ...STRAYS]; }));
    expect(p.reason).toBe('cloudResetPwdAgent with log4j 2.8.2, running; cloudResetPwdUpdateAgent 1.0.5, running; old agent processes still run (wrapper.exe 3100, java.exe 3104)');
    const steps = p.steps.join('\n');
    expect(steps).toContain('the update agent first: it could restart or overwrite the main agent); then every remaining wrapper.exe / java.exe of either agent, found by what it is (now: wrapper.exe 3100, java.exe 3104, not the services\'); check none is left');
    expect(steps).toMatch(/then nothing of either agent may run but the services' own process trees: anything else is stopped \(a change that cannot is rolled back\)/);
    const clean = sample('ws2012r2-clean-static.txt');
    clean.agentProcs = STRAYS;
    expect(planWindowsChange('uninstall', clean, [], null, opts)).toMatchObject({ kind: 'transaction', action: 'uninstall', steps: expect.arrayContaining(['nothing installed; stop every remaining wrapper.exe / java.exe of either agent, found by what it is (now: wrapper.exe 3100, java.exe 3104, not the services\'); check none is left']) });
    clean.agentProcs = [];
    expect(planWindowsChange('uninstall', clean, [], null, opts).kind).toBe('unchanged');
  });

  it('the right package that does not run is reinstalled', () => {
    const f = facts((x) => { installed(x); x.agents.main.running = false; x.agents.main.service!.state = 'Stopped'; });
    expect(plan('update', f)).toMatchObject({ kind: 'transaction', reason: 'reinstall: it does not run' });
  });

  it('refuses on a failed check (disk, C:, DHCP…), unless --force names it; uninstall only for c-writable', () => {
    const full = facts((x) => { x.c.freeBytes = 100 * 1024 * 1024; });
    expect(plan('update', full)).toMatchObject({ kind: 'refused', reason: 'disk-space: only 100 MiB free on C:; more than 300 MB is needed' });
    expect(plan('update', full, { force: ['disk-space'] }).kind).toBe('transaction');
    expect(plan('uninstall', full).kind).toBe('transaction');
    expect(plan('uninstall', facts((x) => { x.c.writable = false; })).kind).toBe('refused');
  });

  it('refuses a package without the Windows installer, a non-administrator, and a host that cannot unzip', () => {
    expect(plan('update', facts(), {}, { ...pkg, windows: false })).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/has no CloudResetPwdAgent\.Windows\\setup\.bat/) });
    expect(plan('update', facts((x) => { x.admin = false; }))).toMatchObject({ kind: 'refused', reason: 'ECS-WIN2019-01\\Administrator is not an administrator on the host' });
    expect(plan('update', facts((x) => { x.tools.zipFile = false; x.tools.expandArchive = false; }))).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/install WMF 5\.1/) });
  });

  it('waits for a live change and recovers a dead one, before anything else', () => {
    const dead = sample('ws2016-cn-locked.txt');
    expect(planWindowsChange('update', dead, runWindowsChecks(dead, { pull: false }), pkg, opts)).toMatchObject({ kind: 'recover', txn: 'm0abc12345678', reason: 'change m0abc12345678 stopped in phase set-aside without finishing' });
    dead.txn!.alive = true;
    expect(planWindowsChange('update', dead, [], pkg, opts)).toMatchObject({ kind: 'wait', txn: 'm0abc12345678' });
  });

  it('uninstall: unchanged with nothing installed, else the transaction up to set-aside', () => {
    expect(plan('uninstall', sample('ws2012r2-clean-static.txt'))).toMatchObject({ kind: 'unchanged', reason: 'no agent is installed' });
    const p = plan('uninstall', facts());
    expect(p).toMatchObject({ kind: 'transaction', action: 'uninstall', outcome: 'uninstalled' });
    expect(p.steps.at(-1)).toBe('commit: delete the set-aside folders');
  });

  it('--pull: the host downloads from the URL and checks the hash', () => {
    const p = plan('update', facts(), { pullUrl: 'http://mirror/CloudResetPwdAgent.zip' });
    expect(p.steps[0]).toMatch(/^download http:\/\/mirror\/CloudResetPwdAgent\.zip on the host into a private stage/);
  });
});

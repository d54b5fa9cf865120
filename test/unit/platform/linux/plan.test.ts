import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLinuxChecks } from '../../../../src/platform/linux/checks/index.js';
import { planChange, samePackage } from '../../../../src/platform/linux/plan.js';
import { type PlanOptions } from '../../../../src/core/plan.js';
import type { PackageInfo } from '../../../../src/package/verify.js';
import { parseLinuxFacts, type LinuxFacts } from '../../../../src/platform/linux/facts.js';

/** The plan is a pure function of (facts, checks, package, options): every decision, on recorded facts. */
const here = path.dirname(fileURLToPath(import.meta.url));
const base = parseLinuxFacts(readFileSync(path.join(here, '../../fixtures/facts/c7-old.txt'), 'utf8'));
const facts = (patch: (f: LinuxFacts) => void = () => {}): LinuxFacts => {
  const f = structuredClone(base);
  patch(f);
  return f;
};
const pkg: PackageInfo = {
  path: '/p/CloudResetPwdAgent.zip', fileName: 'CloudResetPwdAgent.zip', size: 40_000, sha256: 'ab'.repeat(32), prefix: 'CloudResetPwdAgent/',
  layout: 'current', linuxDir: 'CloudResetPwdAgent/CloudResetPwdAgent.Linux', updateLinuxDir: null, windows: true, version: '2.1.0',
  log4j: '2.17.1', mode: 'PIPE', agentJarSha256: 'cd'.repeat(32), javaCommand: '/CloudrResetPwdAgent/depend/jre1.8.0_372/bin/java', entries: 40, unpackedBytes: 90_000,
};
const opts: PlanOptions = { reinstall: false, force: [], settleSeconds: 3 };
const plan = (cmd: 'update' | 'install' | 'uninstall', f: LinuxFacts, o: Partial<PlanOptions> = {}) =>
  planChange(cmd, f, runLinuxChecks(f, { pull: false }), cmd === 'uninstall' ? null : pkg, { ...opts, ...o });

/** The host as a finished update leaves it: this package recorded, running, right modes, starting at boot. */
const installed = (f: LinuxFacts) => {
  f.agents.update.present = false;
  f.agents.update.procs = [];
  f.stateFile = { package_sha256: pkg.sha256, version: '2.1.0' };
  Object.assign(f.agents.main, {
    present: true, running: true, jarSha256: pkg.agentJarSha256, log4jCore: '2.17.1', backendType: 'PIPE', unitEnabled: true, libBadModes: 0,
    modes: { '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script': '-rwx------', '/CloudrResetPwdAgent/bin/wrapper': '-rwx------' },
  });
};

describe('planChange', () => {
  it('plans the full transaction for an old two-agent install: update agent stopped first, both set aside, verified start, rollback', () => {
    const p = plan('update', facts());
    expect(p.kind).toBe('transaction');
    if (p.kind !== 'transaction') return;
    expect(p.outcome).toBe('updated');
    expect(p.extractor).toBe('unzip');
    const text = p.steps.join('\n');
    expect(text).toMatch(/stop cloudResetPwdUpdateAgent, then cloudResetPwdAgent/);
    expect(text).toMatch(/set aside \/CloudResetPwdUpdateAgent and \/CloudrResetPwdAgent/);
    expect(text).toMatch(/check its SHA-256 abababab/);
    expect(text).toMatch(/judged by the agent running, not by its message/);
    expect(text).toMatch(/chmod 700 .*chmod 600 lib/);
    expect(text).toMatch(/on any failure: remove the new install, move the old folders back/);
  });

  it('refuses, naming every failing prerequisite, and proceeds past one only with --force', () => {
    const low = facts((f) => {
      f.root.availKb = 200 * 1024;
      f.selinux = { getenforce: 'Enforcing', enforceFile: '1', config: 'enforcing' };
    });
    const p = plan('update', low);
    expect(p.kind).toBe('refused');
    expect(p.reason).toMatch(/disk-space: .*; selinux: /);
    expect(plan('update', low, { force: ['disk-space'] }).kind).toBe('refused');
    expect(plan('update', low, { force: ['disk-space', 'selinux'] }).kind).toBe('transaction');
  });

  it('uninstall is refused only by a read-only root: a host short of disk can still be cleaned', () => {
    expect(plan('uninstall', facts((f) => (f.root.availKb = 1024))).kind).toBe('transaction');
    expect(plan('uninstall', facts((f) => (f.root.writable = false))).kind).toBe('refused');
  });

  it('is unchanged when the state record names this package and the agent runs as it should', () => {
    const p = plan('update', facts(installed));
    expect(p).toMatchObject({ kind: 'unchanged' });
    expect(p.reason).toMatch(/records this package/);
  });

  it('without a state record, compares the installed files with the package', () => {
    const f = facts((x) => {
      installed(x);
      x.stateFile = {};
    });
    expect(plan('update', f).reason).toMatch(/files match this package/);
    expect(plan('update', facts((x) => { installed(x); x.stateFile = {}; x.agents.main.jarSha256 = 'ef'.repeat(32); })).kind).toBe('transaction');
    expect(samePackage(facts((x) => { installed(x); x.stateFile = {}; x.agents.main.log4jCore = '2.12.1'; }), pkg).same).toBe(false);
  });

  it('a recorded package whose files were replaced by hand is not "the same"', () => {
    expect(samePackage(facts((x) => { installed(x); x.agents.main.jarSha256 = 'ef'.repeat(32); }), pkg).same).toBe(false);
  });

  it('fixes only the permissions when the right package runs with wrong modes', () => {
    const p = plan('update', facts((x) => { installed(x); x.agents.main.libBadModes = 3; }));
    expect(p).toMatchObject({ kind: 'fix', outcome: 'updated' });
  });

  it('reinstalls the same package when it does not run or does not start at boot, and on --reinstall', () => {
    expect(plan('update', facts((x) => { installed(x); x.agents.main.running = false; })).reason).toMatch(/reinstall: it does not run/);
    expect(plan('update', facts((x) => { installed(x); x.agents.main.unitEnabled = false; })).reason).toMatch(/does not start at boot/);
    expect(plan('update', facts(installed), { reinstall: true }).kind).toBe('transaction');
  });

  it('update on a clean host installs; install refuses a host with an agent unless --reinstall', () => {
    const clean = facts((x) => {
      x.agents.main.present = false;
      x.agents.update.present = false;
      x.agents.main.procs = [];
      x.agents.update.procs = [];
    });
    expect(plan('update', clean)).toMatchObject({ kind: 'transaction', outcome: 'installed' });
    expect(plan('install', clean)).toMatchObject({ kind: 'transaction', outcome: 'installed' });
    expect(plan('install', facts()).reason).toMatch(/already installed .*install --reinstall/);
    expect(plan('install', facts(), { reinstall: true })).toMatchObject({ kind: 'transaction', outcome: 'installed' });
    expect(plan('uninstall', clean).kind).toBe('unchanged');
  });

  it('old agent processes no pid file names, on a host that runs this package: an in-place fix stops them', () => {
    const f = facts((x) => {
      installed(x);
      x.agents.main.procs.push({ pid: 405, role: 'wrapper', wrapper: null, cwd: '/.resetpwd-fleet/m0/CloudrResetPwdAgent/bin (deleted)' }, { pid: 406, role: 'jvm', wrapper: 405, cwd: '/.resetpwd-fleet/m0/CloudrResetPwdAgent/bin (deleted)' });
    });
    const p = plan('update', f);
    expect(p).toMatchObject({ kind: 'fix', outcome: 'updated' });
    expect(p.reason).toMatch(/with old agent processes still run \(405, 406\)$/);
    expect(p.steps).toEqual([expect.stringMatching(/^stop the agent processes its pid file does not name \(405, 406\)/)]);
  });

  it('every change stops the agents by their verb and then by what they are; processes without a folder are still an agent to remove', () => {
    const p = plan('update', facts());
    expect(p.steps.join('\n')).toMatch(/with their own stop verb; then every remaining wrapper and JVM of either agent, found by command line and working folder; check none is left/);
    const ghost = facts((x) => {
      x.agents.main.present = false;
      x.agents.update.present = false;
      x.agents.main.procs = [{ pid: 77, role: 'jvm', wrapper: null, cwd: '/.resetpwd-fleet/m0/CloudrResetPwdAgent/bin (deleted)' }];
      x.agents.update.procs = [];
    });
    const u = plan('uninstall', ghost);
    expect(u).toMatchObject({ kind: 'transaction', action: 'uninstall' });
    expect(u.steps[0]).toMatch(/^nothing installed; stop every remaining wrapper and JVM .*\(now: 77, not in a pid file\)/);
    expect(plan('update', ghost)).toMatchObject({ kind: 'transaction', outcome: 'updated' });
  });

  it('streams a tar when the host has neither unzip nor a python3 with zipfile; refuses with no hash tool', () => {
    const p = plan('update', facts((x) => (x.tools = ['sha256sum', 'tar', 'python3'])));
    expect(p).toMatchObject({ kind: 'transaction', extractor: 'tar' });
    expect(plan('update', facts((x) => (x.tools = ['sha256sum', 'python3', 'python3-zipfile', 'tar'])))).toMatchObject({ extractor: 'python3' });
    expect(plan('update', facts((x) => (x.tools = ['tar']))).reason).toMatch(/no SHA-256 tool/);
    expect(plan('update', facts((x) => (x.tools = ['sha256sum']))).reason).toMatch(/neither unzip, python3 nor tar/);
  });

  it('with --pull URL the host downloads the package (curl or wget) instead of receiving it', () => {
    const url = 'http://mirror.internal/CloudResetPwdAgent.zip';
    expect(plan('update', facts(), { pullUrl: url }).steps[0]).toMatch(/^download http:\/\/mirror\.internal\/CloudResetPwdAgent\.zip on the host/);
    expect(plan('update', facts((x) => (x.tools = x.tools.filter((t) => t !== 'curl' && t !== 'wget'))), { pullUrl: url }).reason).toMatch(/neither curl nor wget/);
  });

  it('waits for a change still running on the host, and undoes one that died, before anything else', () => {
    const running = facts((x) => (x.txn = { fields: { id: 'abc', phase: 'installing' }, alive: true }));
    expect(plan('update', running)).toMatchObject({ kind: 'wait', txn: 'abc' });
    const dead = facts((x) => (x.txn = { fields: { id: 'abc', phase: 'set-aside' }, alive: false }));
    expect(plan('update', dead)).toMatchObject({ kind: 'recover', txn: 'abc' });
    expect(plan('uninstall', dead).kind).toBe('recover');
    const done = facts((x) => (x.txn = { fields: { id: 'abc', phase: 'done' }, alive: false }));
    expect(plan('update', done).kind).toBe('transaction');
  });
});

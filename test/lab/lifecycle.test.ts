import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectOptions } from '../../src/session/options.js';
import { resolveTargets } from '../../src/inventory/load.js';
import type { ChangeCommand } from '../../src/core/plan.js';
import { runChange, type ChangeDocument, type ChangeRunOptions } from '../../src/lifecycle/run.js';
import type { HostState } from '../../src/lifecycle/machine.js';
import { KILL_SSHD, labDown, labUp, onHost, onHostAsync, repo, type LabDoc } from './helpers.js';

/**
 * update / install / uninstall end to end on the lab's real sshd hosts (test/lab/scenarios/lifecycle.lab).
 * After every change the test reads the host's real state over its own channel (nsenter into the host), not
 * the tool's report: folders, modes, the agent's pid file and process, its service registration.
 */
let doc: LabDoc;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
const pkgDir = path.join(tmp, 'packages');
const pkg = (name: string) => path.join(pkgDir, name);
const GOOD = 'CloudResetPwdAgent-2.1.0.zip';
const OLD = 'CloudResetPwdAgent-1.0.5.zip';
const BROKEN = 'CloudResetPwdAgent-2.2.0-broken-jvm.zip';
const BIG = 'CloudResetPwdAgent-2.1.0-pad24m.zip';

function build(args: string[]) {
  const r = spawnSync('/usr/bin/python3', [path.join(repo, 'scripts/build-fixture-package'), ...args, '--out', pkgDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

interface Real {
  mainDir: boolean;
  updateDir: boolean;
  running: boolean;
  log4j: string;
  modes: string;
  libModes: string;
  registered: boolean;
  state: string;
  aside: string;
  stages: string;
}
/** The host's real plug-in state, read by the agent's own status verb and the filesystem. */
function real(host: string): Real {
  const out = onHost(
    host,
    `M=/CloudrResetPwdAgent U=/CloudResetPwdUpdateAgent
echo "main=$([ -d $M ] && echo y)"; echo "update=$([ -d $U ] && echo y)"
echo "running=$([ -x $M/bin/cloudResetPwdAgent.script ] && $M/bin/cloudResetPwdAgent.script status >/dev/null 2>&1 && echo y)"
echo "log4j=$(ls $M/lib 2>/dev/null | sed -n 's/^log4j-core-\\(.*\\)\\.jar$/\\1/p')"
echo "modes=$(ls -l $M/bin/cloudResetPwdAgent.script $M/bin/wrapper 2>/dev/null | cut -c1-10 | sort -u | tr '\\n' ' ')"
echo "libmodes=$(ls -l $M/lib 2>/dev/null | sed 1d | cut -c1-10 | sort -u | tr '\\n' ' ')"
echo "registered=$({ [ -e /etc/systemd/system/multi-user.target.wants/cloudResetPwdAgent.service ] || grep -qx cloudResetPwdAgent /etc/lab/enabled-initd 2>/dev/null; } && echo y)"
echo "state=$(sed -n 's/^version=//p' /var/lib/resetpwd-fleet/state 2>/dev/null)"
echo "aside=$(ls -A /.resetpwd-fleet 2>/dev/null | tr '\\n' ' ')"
echo "stages=$(ls -d /var/lib/resetpwd-fleet/stage.* 2>/dev/null | tr '\\n' ' ')"`,
  );
  const kv = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
  return {
    mainDir: kv.main === 'y', updateDir: kv.update === 'y', running: kv.running === 'y', log4j: kv.log4j ?? '',
    modes: kv.modes ?? '', libModes: kv.libmodes ?? '', registered: kv.registered === 'y', state: kv.state ?? '',
    aside: kv.aside ?? '', stages: kv.stages ?? '',
  };
}

/** A host that runs the 2.1.0 package exactly as the docs want it: permissions fixed, boot start, no leftovers. */
function expectNewAgent(host: string) {
  const r = real(host);
  expect(r, host).toMatchObject({ mainDir: true, updateDir: false, running: true, log4j: '2.17.1', modes: '-rwx------', libModes: '-rw-------', registered: true, state: '2.1.0', aside: '', stages: '' });
}

function conn(): ConnectOptions {
  return {
    knownHostsFile: doc.knownHosts, acceptNew: false, become: false, connectTimeoutMs: 20_000, stepTimeoutMs: 120_000, pull: false,
  };
}
async function change(command: ChangeCommand, hosts: string[], o: Partial<ChangeRunOptions> = {}): Promise<ChangeDocument> {
  const targets = resolveTargets({ inventory: [doc.inventory], limit: hosts.join(',') });
  return runChange(command, targets, {
    ...conn(), concurrency: 10, packagePath: command === 'uninstall' ? undefined : pkg(GOOD), reinstall: false, force: [], dryRun: false,
    journalPath: path.join(tmp, 'journal.jsonl'), settleSeconds: 2, startWaitSeconds: 10, ...o,
  });
}
const outcome = (d: ChangeDocument, h: string) => d.hosts.find((x) => x.name === h)!;

beforeAll(() => {
  build(['--defaults']);
  build(['--version', '2.2.0', '--broken-jvm']);
  build(['--version', '2.1.0', '--pad-mb', '24']);
  doc = labUp(path.join(repo, 'test/lab/scenarios/lifecycle.lab'));
}, 600_000);
afterAll(() => {
  labDown();
  rmSync(tmp, { recursive: true, force: true });
});

describe('update', { timeout: 180_000 }, () => {
  it('replaces the old two-agent layout (log4j 2.8.2, Java in the update agent) with the new agent, verified running', async () => {
    expect(real('old-layout')).toMatchObject({ mainDir: true, updateDir: true, running: true, log4j: '2.8.2' });
    const d = await change('update', ['old-layout']);
    const h = outcome(d, 'old-layout');
    expect(h.outcome, h.error ?? '').toBe('updated');
    expect(h.agent).toMatchObject({ installed: true, running: true, version: '2.1.0', log4j: '2.17.1', mode: 'PIPE', updateAgent: false });
    expectNewAgent('old-layout');
  });

  it('updates the current layout, a host without unzip (tar streamed), a sudo host, and a SysV SLES 11 host', async () => {
    const names = ['current', 'no-unzip', 'sudo', 'sles-sysv'];
    const d = await change('update', names);
    for (const n of names) expect(outcome(d, n).outcome, `${n}: ${outcome(d, n).error}`).toBe('updated');
    expect(outcome(d, 'no-unzip').plan?.steps.join('\n')).toMatch(/stream .* as a tar/);
    for (const n of names) expectNewAgent(n);
  });

  it('installs where nothing was installed, and reports it as installed', async () => {
    expect(real('clean').mainDir).toBe(false);
    const d = await change('update', ['clean']);
    expect(outcome(d, 'clean').outcome).toBe('installed');
    expectNewAgent('clean');
  });

  it('a second run reports every updated host unchanged and sends nothing', async () => {
    const names = ['old-layout', 'current', 'no-unzip', 'sudo', 'sles-sysv', 'clean'];
    const d = await change('update', names);
    for (const n of names) {
      const h = outcome(d, n);
      expect(h.outcome, `${n}: ${h.error}`).toBe('unchanged');
      expect(h.steps.map((s) => s.name)).not.toContain('stage');
    }
  });

  it('refuses a host that fails a prerequisite (250 MB disk) and leaves it exactly as it was', async () => {
    const before = real('low-disk');
    const d = await change('update', ['low-disk']);
    expect(outcome(d, 'low-disk').outcome).toBe('refused');
    expect(outcome(d, 'low-disk').error).toMatch(/disk-space/);
    expect(real('low-disk')).toEqual(before);
  });

  it('refuses to work in a folder of the tool that another user made first or that is a symbolic link, and writes nothing through it', async () => {
    const h = 'planted';
    const before = real(h);
    // Another user (uid 1000) made the state folder before the tool ever ran here.
    onHost(h, 'rm -rf /var/lib/resetpwd-fleet && mkdir -p /var/lib/resetpwd-fleet /home/mallory/x && chown 1000 /var/lib/resetpwd-fleet /home/mallory/x');
    let d = await change('update', [h]);
    expect(outcome(d, h)).toMatchObject({ outcome: 'failed' });
    expect(outcome(d, h).error).toMatch(/\/var\/lib\/resetpwd-fleet belongs to uid 1000, not root: another user may have made it .*; remove it and run again/);
    expect(onHost(h, 'ls -A /var/lib/resetpwd-fleet').trim()).toBe('');
    // The state folder is a link to that user's folder: nothing is written through it.
    onHost(h, 'rmdir /var/lib/resetpwd-fleet && ln -s /home/mallory/x /var/lib/resetpwd-fleet');
    d = await change('update', [h]);
    expect(outcome(d, h).error).toMatch(/\/var\/lib\/resetpwd-fleet is a symbolic link: the tool's folders are never one/);
    expect(onHost(h, 'ls -A /home/mallory/x').trim()).toBe('');
    // The set-aside root is another user's: the change stops before moving the old agent there, and rolls back.
    onHost(h, 'rm /var/lib/resetpwd-fleet && mkdir /.resetpwd-fleet && chown 1000 /.resetpwd-fleet');
    d = await change('update', [h]);
    expect(outcome(d, h)).toMatchObject({ outcome: 'rolled-back' });
    expect(outcome(d, h).error).toMatch(/\/\.resetpwd-fleet belongs to uid 1000, not root/);
    // Nothing was moved into it (the rollback's tidy-up may even have removed the empty folder).
    expect(onHost(h, 'ls -A /.resetpwd-fleet 2>/dev/null; true').trim()).toBe('');
    expect(real(h)).toMatchObject({ mainDir: true, running: true, log4j: before.log4j });
    // Removed, as the message says: the next run updates.
    onHost(h, 'rm -rf /.resetpwd-fleet /home/mallory');
    d = await change('update', [h]);
    expect(outcome(d, h).outcome, outcome(d, h).error ?? '').toBe('updated');
    expectNewAgent(h);
  });

  it('rolls back when the new agent starts then dies (setup.sh still says success): the old agent runs again', async () => {
    const d = await change('update', ['broken-new'], { packagePath: pkg(BROKEN) });
    const h = outcome(d, 'broken-new');
    expect(h.outcome).toBe('rolled-back');
    expect(h.error).toMatch(/new agent does not run/);
    expect(h.error).toMatch(/previous agent was restored and runs/);
    // The old agent is AUTO mode: its wrapper listens, its JVM connects back (the real wrapper's socket
    // backend); the rollback is judged by that, and the port actually used is reported.
    expect(h.agent).toMatchObject({ running: true, mode: 'AUTO', port: 32000, log4j: '2.12.1' });
    const r = real('broken-new');
    expect(r).toMatchObject({ mainDir: true, running: true, log4j: '2.12.1', registered: true, state: '', aside: '', stages: '' });
  });

  it('an old agent whose wrapper listens outside 32000-32999 (wrapper.port=15000) is restored by the rollback and judged by running, not by its port', async () => {
    onHost('other-port', "printf 'wrapper.port=15000\\nwrapper.jvm.port.min=15100\\nwrapper.jvm.port.max=15199\\n' >> /CloudrResetPwdAgent/conf/wrapper.conf");
    const d = await change('update', ['other-port'], { packagePath: pkg(BROKEN) });
    const h = outcome(d, 'other-port');
    expect(h.outcome, h.error ?? '').toBe('rolled-back');
    expect(h.error).toMatch(/previous agent was restored and runs/);
    // The port actually used is reported: the wrapper's listener, read wherever wrapper.port put it.
    expect(h.agent).toMatchObject({ running: true, mode: 'AUTO', port: 15000, log4j: '2.12.1' });
    expect(onHost('other-port', 'cat /proc/net/tcp')).toMatch(/:3A98 0+:0000 0A/);
  });

  it('updates an agent that was stopped, and starts the new one', async () => {
    const d = await change('update', ['stopped-old']);
    expect(outcome(d, 'stopped-old').outcome).toBe('updated');
    expectNewAgent('stopped-old');
  });

  it('reports failed, with what is left, when even the old agent cannot start again (blocked by security software)', async () => {
    const d = await change('update', ['blocked']);
    const h = outcome(d, 'blocked');
    expect(h.outcome).toBe('failed');
    expect(h.error).toMatch(/restored to \/CloudrResetPwdAgent but does not run/);
    const r = real('blocked');
    expect(r).toMatchObject({ mainDir: true, running: false, log4j: '2.12.1', registered: true, aside: '' });
  });
});

describe('update when the connection or the host-side change is cut', { timeout: 180_000 }, () => {
  it('connection cut during the upload: the host is untouched, and a re-run completes it', async () => {
    let killed = false;
    const d = await change('update', ['cut-upload'], {
      packagePath: pkg(BIG),
      onTransition: (_h: string, s: HostState) => {
        if (s === 'staging' && !killed) {
          killed = true;
          setTimeout(() => onHostAsync('cut-upload', KILL_SSHD), 150);
        }
      },
    });
    const h = outcome(d, 'cut-upload');
    expect(killed).toBe(true);
    // Depending on where the cut lands the run fails before the change, or follows it to the end after reconnecting.
    if (h.outcome === 'failed') {
      expect(h.error).toMatch(/nothing on the host was changed|connection/);
      expect(real('cut-upload')).toMatchObject({ mainDir: true, running: true, log4j: '2.12.1' });
    } else {
      expect(h.outcome).toBe('updated');
    }
    const again = await change('update', ['cut-upload'], { packagePath: pkg(BIG) });
    expect(['updated', 'unchanged']).toContain(outcome(again, 'cut-upload').outcome);
    const r = real('cut-upload');
    expect(r).toMatchObject({ mainDir: true, running: true, log4j: '2.17.1', modes: '-rwx------', registered: true, aside: '' });
  });

  it('connection cut during the install: the host finishes the change by itself; the controller reconnects and follows it', async () => {
    let killed = false;
    const d = await change('update', ['cut-install'], {
      onTransition: (_h: string, s: HostState) => {
        if (s === 'set-aside' && !killed) {
          killed = true;
          onHostAsync('cut-install', KILL_SSHD);
        }
      },
    });
    expect(killed).toBe(true);
    const h = outcome(d, 'cut-install');
    expect(['updated', 'failed']).toContain(h.outcome);
    if (h.outcome === 'failed') expect(h.error).toMatch(/continues on the host/);
    const again = await change('update', ['cut-install']);
    expect(outcome(again, 'cut-install').outcome).toBe('unchanged');
    expectNewAgent('cut-install');
    const journal = readFileSync(path.join(tmp, 'journal.jsonl'), 'utf8');
    expect(journal).toMatch(/"host":"cut-install","state":"reconnecting"/);
  });

  it('the host-side change killed half-way (a crash): the next run undoes it from its record, then updates', async () => {
    let killed = false;
    const d = await change('update', ['crash'], {
      onTransition: (_h: string, s: HostState) => {
        if (s === 'set-aside' && !killed) {
          killed = true;
          onHostAsync('crash', 'for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline 2>/dev/null | grep -q "[t]xn.sh install" && kill -9 ${d#/proc/}; done; true');
        }
      },
    });
    expect(killed).toBe(true);
    const h = outcome(d, 'crash');
    // The same run notices the dead change, undoes it and updates; the journal shows the recovery.
    expect(h.outcome, h.error ?? '').toBe('updated');
    expect(readFileSync(path.join(tmp, 'journal.jsonl'), 'utf8')).toMatch(/"host":"crash","state":"recovering"/);
    expectNewAgent('crash');
  });
});

describe('update --pull', { timeout: 180_000 }, () => {
  const mirror = 'http://169.254.169.254/mirror';
  it('a host whose download fails is failed before anything changed, with the reason', async () => {
    const d = await change('update', ['pull'], { pullUrl: `${mirror}/no-such.zip` });
    expect(outcome(d, 'pull').outcome).toBe('failed');
    expect(outcome(d, 'pull').error).toMatch(/downloading .*no-such\.zip failed.*nothing on the host was changed/);
    expect(real('pull')).toMatchObject({ running: true, log4j: '2.12.1', stages: '' });
  });

  it('hosts download the package from a mirror themselves and check its hash: the controller sends no package bytes', async () => {
    const d = await change('update', ['pull'], { pullUrl: `${mirror}/${GOOD}` });
    const h = outcome(d, 'pull');
    expect(h.outcome, h.error ?? '').toBe('updated');
    expect(h.plan?.steps[0]).toMatch(/^download http:\/\/169\.254\.169\.254\/mirror\/CloudResetPwdAgent-2\.1\.0\.zip on the host/);
    expectNewAgent('pull');
  });

  it('a mirror serving other bytes than the verified package is caught by the hash check on the host', async () => {
    onHost('pull', 'rm -f /var/lib/resetpwd-fleet/state');
    const d = await change('update', ['pull'], { pullUrl: `${mirror}/${OLD}`, reinstall: true });
    expect(outcome(d, 'pull').outcome).toBe('failed');
    expect(outcome(d, 'pull').error).toMatch(/pkg\.zip has SHA-256 [0-9a-f]{64} on the host, expected/);
    expect(real('pull')).toMatchObject({ running: true, log4j: '2.17.1', aside: '' });
  });
});

describe('install and uninstall', { timeout: 180_000 }, () => {
  it('install refuses a host that already has an agent, unless --reinstall', async () => {
    const d = await change('install', ['remove-me']);
    expect(outcome(d, 'remove-me').outcome).toBe('refused');
    expect(outcome(d, 'remove-me').error).toMatch(/already installed.*--reinstall/);
    expect(real('remove-me')).toMatchObject({ updateDir: true, log4j: '2.8.2', running: true });
  });

  it('uninstall stops and removes both agents, their services and folders; a second uninstall is unchanged', async () => {
    const d = await change('uninstall', ['remove-me']);
    expect(outcome(d, 'remove-me').outcome, outcome(d, 'remove-me').error ?? '').toBe('uninstalled');
    const r = real('remove-me');
    expect(r).toMatchObject({ mainDir: false, updateDir: false, running: false, registered: false, aside: '', stages: '' });
    expect(onHost('remove-me', 'ls /etc/systemd/system /etc/init.d 2>/dev/null | grep -ci cloudreset || true').trim()).toBe('0');
    expect(onHost('remove-me', 'for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline 2>/dev/null | grep -q "[w]rapper.key" && echo jvm; done; true').trim()).toBe('');
    const again = await change('uninstall', ['remove-me']);
    expect(outcome(again, 'remove-me').outcome).toBe('unchanged');
  });

  it('install --reinstall on an uninstalled host installs; --dry-run prints the plan and changes nothing', async () => {
    const dry = await change('install', ['remove-me'], { dryRun: true });
    expect(outcome(dry, 'remove-me').plan?.kind).toBe('transaction');
    expect(real('remove-me').mainDir).toBe(false);
    const d = await change('install', ['remove-me']);
    expect(outcome(d, 'remove-me').outcome).toBe('installed');
    expectNewAgent('remove-me');
  });
});

describe('a bad package touches no host', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  it.each([
    ['a wrong hash', () => ['--package', pkg(GOOD), '--sha256', 'a'.repeat(64)], /SHA-256 mismatch/],
    ['a corrupt zip', () => ['--package', corrupt(), '--sha256', sha(corrupt())], /corrupt|CRC|zip/i],
    ['a ../ entry', () => ['--package', evil(), '--sha256', sha(evil())], /\.\.\//],
  ])('%s: exit 2 before any connection', (_n, args, msg) => {
    const before = real('current');
    const r = cli(['update', '-i', doc.inventory, '--known-hosts', doc.knownHosts, '-l', 'current', ...args()]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe('');
    expect(real('current')).toEqual(before);
  });
});

function sha(file: string): string {
  return spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.slice(0, 64);
}
function corrupt(): string {
  const f = path.join(tmp, 'corrupt.zip');
  spawnSync('/usr/bin/python3', ['-c', `import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[len(b) // 3] ^= 0xff; open(sys.argv[2], 'wb').write(b)`, pkg(GOOD), f]);
  return f;
}
function evil(): string {
  const f = path.join(tmp, 'evil.zip');
  spawnSync('/usr/bin/python3', [
    '-c',
    `import sys, zipfile
src = zipfile.ZipFile(sys.argv[1]); out = zipfile.ZipFile(sys.argv[2], 'w')
for i in src.infolist(): out.writestr(i, src.read(i))
out.writestr('CloudResetPwdAgent/CloudResetPwdAgent.Linux/../../../etc/cron.d/evil', '* * * * * root id\\n')
out.close()`,
    pkg(GOOD),
    f,
  ]);
  return f;
}

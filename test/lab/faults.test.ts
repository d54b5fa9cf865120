import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectOptions } from '../../src/session/options.js';
import { resolveTargets } from '../../src/inventory/load.js';
import type { ChangeCommand } from '../../src/core/plan.js';
import { runChange, type ChangeDocument, type ChangeRunOptions } from '../../src/lifecycle/run.js';
import { KILL_SSHD, labDown, labUp, onHost, onHostAsync, repo, type LabDoc } from './helpers.js';

/**
 * The product broken on purpose (test/lab/scenarios/faults.lab): a disk that fills up at a chosen phase of
 * the host-side change, a pid file lost under a running agent, old agents left running by an earlier
 * change, sshd frozen while the change runs, uploads cut half-way. Each fault is injected on the host itself
 * (a watcher inside the host acts when the change's own journal reaches the phase), and each outcome is
 * checked against what really runs on the host, read from /proc by this file — not by the tool's code.
 */
let doc: LabDoc;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'faults-'));
const pkgDir = path.join(tmp, 'packages');
const pkg = (name: string) => path.join(pkgDir, name);
const GOOD = 'CloudResetPwdAgent-2.1.0.zip';
const BIG = 'CloudResetPwdAgent-2.1.0-pad48m.zip';
const BROKEN = 'CloudResetPwdAgent-2.2.0-broken-jvm.zip';
const cliPath = path.join(repo, 'dist/cli/main.js');

function build(args: string[]) {
  const r = spawnSync('/usr/bin/python3', [path.join(repo, 'scripts/build-fixture-package'), ...args, '--out', pkgDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}
function conn(): ConnectOptions {
  return { knownHostsFile: doc.knownHosts, acceptNew: false, become: false, connectTimeoutMs: 20_000, stepTimeoutMs: 120_000, pull: false };
}
async function change(command: ChangeCommand, host: string, o: Partial<ChangeRunOptions> = {}): Promise<ChangeDocument['hosts'][number]> {
  const targets = resolveTargets({ inventory: [doc.inventory], limit: host });
  const d = await runChange(command, targets, {
    ...conn(), concurrency: 1, packagePath: pkg(GOOD), reinstall: false, force: [], dryRun: false,
    journalPath: path.join(tmp, 'journal.jsonl'), settleSeconds: 1, startWaitSeconds: 10, ...o,
  });
  return d.hosts[0]!;
}
function cli(args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, XDG_STATE_HOME: path.join(tmp, 'state') } });
}
const base = (host: string) => ['-i', doc.inventory, '--known-hosts', doc.knownHosts, '-l', host];

/** A running process as the host's /proc shows it. */
interface Proc {
  pid: number;
  ppid: number;
  cwd: string;
  cmd: string;
}
/**
 * Every wrapper and JVM running on the host, read by this test from /proc (the literals it looks for are
 * built from variables, so this script's own command line is not one of them).
 */
function agentProcs(host: string): Proc[] {
  const out = onHost(
    host,
    `k=-Dwrapper.key w=/bin/wrapper
for d in /proc/[0-9]*; do
  c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)
  case "$c" in *"$k="*|*"$w "*) s=$(cat $d/stat 2>/dev/null) || continue; s=\${s##*) }; set -- $s; echo "\${d#/proc/}|$2|$(readlink $d/cwd)|$c" ;; esac
done; true`,
  );
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [pid, ppid, cwd, ...cmd] = l.split('|');
    return { pid: Number(pid), ppid: Number(ppid), cwd: cwd!, cmd: cmd.join('|') };
  });
}
const pidFile = (host: string, agent: 'main' | 'update') =>
  Number(onHost(host, `cat ${agent === 'main' ? '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid' : '/CloudResetPwdUpdateAgent/bin/cloudResetPwdUpdateAgent.pid'} 2>/dev/null; true`).trim() || 0);

/**
 * What runs of the plug-in on the host: only what the pid files name (each wrapper and its JVM), and nothing
 * from a set-aside or deleted folder. Returns the processes, and those no pid file names.
 */
function whatRuns(host: string) {
  const procs = agentProcs(host);
  const tracked = new Set([pidFile(host, 'main'), pidFile(host, 'update')].filter((p) => p > 0));
  const unseen = procs.filter((p) => !tracked.has(p.pid) && !tracked.has(p.ppid));
  return { procs, main: pidFile(host, 'main'), unseen, fromOldFolders: procs.filter((p) => /\.resetpwd-fleet|\(deleted\)/.test(p.cwd)) };
}
/** The new agent (2.1.0, log4j 2.17.1) and nothing else of the plug-in: one wrapper in its pid file, one JVM under it. */
function expectOnlyNewAgent(host: string) {
  const w = whatRuns(host);
  expect(w.unseen, JSON.stringify(w.procs)).toEqual([]);
  expect(w.fromOldFolders).toEqual([]);
  expect(w.procs.map((p) => (p.pid === w.main ? 'wrapper' : p.ppid === w.main ? 'jvm' : `other ${p.pid}`)).sort()).toEqual(['jvm', 'wrapper']);
  expect(onHost(host, 'ls /CloudrResetPwdAgent/lib | grep log4j-core; /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status').trim()).toMatch(/^log4j-core-2\.17\.1\.jar\ncloudResetPwdAgent is running: PID:\d+$/);
}
const stages = (host: string) => onHost(host, 'ls -d /var/lib/resetpwd-fleet/stage.* 2>/dev/null; true').trim();

beforeAll(() => {
  build(['--defaults']);
  build(['--version', '2.1.0', '--pad-mb', '48']);
  build(['--version', '2.2.0', '--broken-jvm']);
  doc = labUp(path.join(repo, 'test/lab/scenarios/faults.lab'));
}, 600_000);
afterAll(() => {
  labDown();
  rmSync(tmp, { recursive: true, force: true });
});

describe('a disk that fills up during the change', { timeout: 240_000 }, () => {
  it('filled while the old agents are being stopped: the change stops there and rolls back, the old agent runs as its scripts see it, and a later run updates it', async () => {
    // Inside the host: as soon as the change journals "stopping", fill / to the last block.
    const fill = onHostAsync('diskfull', `for i in $(seq 1200); do grep -qs ' stopping' /var/lib/resetpwd-fleet/journal.* && { dd if=/dev/zero of=/fill bs=1M 2>/dev/null; sync; exit 0; }; sleep 0.05; done`);
    const h = await change('update', 'diskfull');
    await fill.done;
    expect(h.outcome, h.error ?? '').toBe('rolled-back');
    expect(h.error).toMatch(/No space left on device/);
    expect(h.error).toMatch(/the previous agent was restored and runs/);
    expect(h.error).not.toMatch(/new agent does not run/);
    // The old two-agent install (1.0.5, log4j 2.8.2) runs again, both agents known to their own scripts.
    const w = whatRuns('diskfull');
    expect(w.unseen).toEqual([]);
    expect(w.fromOldFolders).toEqual([]);
    expect(w.procs).toHaveLength(4);
    expect(onHost('diskfull', 'ls /CloudrResetPwdAgent/lib | grep log4j-core').trim()).toBe('log4j-core-2.8.2.jar');
    onHost('diskfull', 'rm -f /fill');
    const again = await change('update', 'diskfull');
    expect(again.outcome, again.error ?? '').toBe('updated');
    expectOnlyNewAgent('diskfull');
    expect(onHost('diskfull', 'ls -A /.resetpwd-fleet 2>/dev/null; ls /var/lib/resetpwd-fleet/reserve.* 2>/dev/null; true').trim()).toBe('');
  });

  it('full while setup.sh copies the new agent: the copy\'s own error is the reason, the half-copied agent is never judged, and the old one is back', async () => {
    // Leave room for the upload and its unpacking (2 x 48 MiB) and the change's reserve, not for the copy.
    onHost('copyfail', 'a=$(df -Pk / | awk \'NR == 2 { print $4 }\'); dd if=/dev/zero of=/fill bs=1024 count=$((a - 104 * 1024)) 2>/dev/null; sync');
    const h = await change('update', 'copyfail', { packagePath: pkg(BIG), force: ['disk-space'] });
    expect(h.outcome, h.error ?? '').toBe('rolled-back');
    expect(h.error).toMatch(/No space left on device/);
    expect(h.error).not.toMatch(/does not run/);
    expect(h.error).toMatch(/the previous agent was restored and runs/);
    const w = whatRuns('copyfail');
    expect(w.unseen).toEqual([]);
    expect(onHost('copyfail', 'ls /CloudrResetPwdAgent/lib | grep log4j-core').trim()).toBe('log4j-core-2.12.1.jar');
    onHost('copyfail', 'rm -f /fill');
    expect(stages('copyfail')).toBe('');
  });
});

describe('what the old agents print while they are stopped', { timeout: 180_000 }, () => {
  it('an old stop verb that prints "mkdir: …" is not taken for an error of setup.sh\'s copy: updated', async () => {
    onHost('noisy', `sed -i '/^stopit() {/a echo "mkdir: cannot create directory /run/cloudResetPwdAgent: File exists"' /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script`);
    expect(onHost('noisy', 'sh /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status >/dev/null; grep -c "mkdir: cannot" /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script').trim()).toBe('1');
    const h = await change('update', 'noisy');
    expect(h.outcome, h.error ?? '').toBe('updated');
    expectOnlyNewAgent('noisy');
  });
});

describe('old agents that their pid file does not name', { timeout: 180_000 }, () => {
  it('a rollback whose restarted old agent cannot write its pid file: its wrapper and JVM are stopped, said so, and nothing runs unseen', async () => {
    // While the new (broken) agent is installed, the set-aside old agent's pid file becomes a directory: when
    // the rollback starts it again, the wrapper logs that it cannot write the pid file and runs on without it.
    const block = onHostAsync('nopid', `for i in $(seq 1200); do grep -qs ' installing' /var/lib/resetpwd-fleet/journal.* && { d=$(ls -d /.resetpwd-fleet/*/CloudrResetPwdAgent/bin); rm -f "$d/cloudResetPwdAgent.pid"; mkdir "$d/cloudResetPwdAgent.pid"; exit 0; }; sleep 0.05; done`);
    const h = await change('update', 'nopid', { packagePath: pkg(BROKEN) });
    await block.done;
    expect(h.outcome, h.error ?? '').toBe('failed');
    expect(h.error).toMatch(/the previous agent was restored to \/CloudrResetPwdAgent but does not run/);
    expect(h.error).toMatch(/\(stopped agent processes no pid file named: \d+( \d+)*\)/);
    // Nothing of the plug-in runs that its scripts cannot see.
    expect(agentProcs('nopid')).toEqual([]);
    onHost('nopid', 'rmdir /CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid');
    const again = await change('update', 'nopid');
    expect(again.outcome, again.error ?? '').toBe('updated');
    expectOnlyNewAgent('nopid');
  });

  it('a running agent whose pid file is gone: status reports it still running, and update stops it before changing anything', async () => {
    const before = agentProcs('pidless');
    expect(before).toHaveLength(2);
    onHost('pidless', 'rm -f /CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid');
    const s = cli(['status', ...base('pidless'), '--json']);
    const st = JSON.parse(s.stdout).hosts[0];
    expect(st.agent.running).toBe(false);
    expect(st.agent.findings.join('\n')).toMatch(new RegExp(`old agent still running: cloudResetPwdAgent wrapper \\d+, JVM \\d+ not in its pid file`));
    const h = await change('update', 'pidless');
    expect(h.outcome, h.error ?? '').toBe('updated');
    expectOnlyNewAgent('pidless');
    for (const p of before) expect(agentProcs('pidless').map((x) => x.pid)).not.toContain(p.pid);
  });

  it('an old agent left running from the deleted folder of an earlier change, next to a good new agent: reported, then stopped in place', async () => {
    // What an earlier version of the tool left: the old agent's folder set aside (its processes live on in
    // it), a new agent installed and recorded, then the set-aside folder deleted.
    const zip = readFileSync(pkg(GOOD));
    const sha = createHash('sha256').update(zip).digest('hex');
    onHost('ghost', 'rm -f /CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid; /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script remove >/dev/null 2>&1; mkdir -p /.resetpwd-fleet/m0old && mv /CloudrResetPwdAgent /.resetpwd-fleet/m0old/');
    const copy = spawnSync(path.join(repo, 'scripts/lab'), ['shell', 'ghost', '/bin/sh', '-c', 'cat > /root/new.zip'], { input: zip });
    expect(copy.status).toBe(0);
    onHost('ghost', `set -e; rm -rf /root/x; unzip -q -d /root/x /root/new.zip; cd /root/x/CloudResetPwdAgent/CloudResetPwdAgent.Linux; sh setup.sh >/dev/null
chmod 700 /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script /CloudrResetPwdAgent/bin/wrapper; chmod 600 /CloudrResetPwdAgent/lib/*
mkdir -p /var/lib/resetpwd-fleet; printf 'package_sha256=${sha}\\nversion=2.1.0\\nlog4j=2.17.1\\ntxn=m0old\\n' > /var/lib/resetpwd-fleet/state
rm -rf /.resetpwd-fleet /root/x /root/new.zip`);
    const ghosts = whatRuns('ghost').unseen;
    expect(ghosts).toHaveLength(2);
    expect(ghosts.every((p) => /\/\.resetpwd-fleet\/m0old\/CloudrResetPwdAgent\/bin \(deleted\)$/.test(p.cwd))).toBe(true);
    const newWrapper = pidFile('ghost', 'main');

    const s = JSON.parse(cli(['status', ...base('ghost'), '--json']).stdout).hosts[0];
    expect(s.agent).toMatchObject({ running: true, version: '2.1.0', log4j: '2.17.1' });
    expect(s.agent.findings.join('\n')).toMatch(/old agent still running: cloudResetPwdAgent wrapper \d+, JVM \d+ not in its pid file \(working in \/\.resetpwd-fleet\/m0old\/CloudrResetPwdAgent\/bin \(deleted\)\)/);

    const h = await change('update', 'ghost');
    expect(h.outcome, h.error ?? '').toBe('updated');
    expect(h.plan?.kind).toBe('fix');
    expectOnlyNewAgent('ghost');
    expect(pidFile('ghost', 'main')).toBe(newWrapper); // fixed in place: the good agent was not bounced
    const again = await change('update', 'ghost');
    expect(again.outcome).toBe('unchanged');
  });
});

describe('sshd gone for a while during the change', { timeout: 240_000 }, () => {
  it('the controller keeps trying to get back in (failed attempts included) and follows the change to its end; the progress, the summary and the log say so', () => {
    // Inside the host: once the change is past set-aside, freeze the accept loop in front of sshd and drop
    // every connection; 8 s later let it accept again. Attempts meanwhile time out in the SSH handshake.
    const freeze = onHostAsync(
      'freeze',
      `for i in $(seq 1200); do grep -qs ' set-aside' /var/lib/resetpwd-fleet/journal.* && break; sleep 0.05; done
i=inetd; acc=; for d in /proc/[0-9]*; do case "$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)" in *"$i.pl"*) acc="$acc \${d#/proc/}" ;; esac; done
kill -STOP $acc; ${KILL_SSHD}; sleep 8; kill -CONT $acc`,
    );
    const log = path.join(tmp, 'freeze.log');
    const r = cli(['update', ...base('freeze'), '--package', pkg(GOOD), '--settle', '1', '--connect-timeout', '3', '--log', log]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/freeze: connection lost \(.*\); the change goes on on the host, reconnecting/);
    expect(r.stderr).toMatch(/freeze: reconnected \(attempt [2-9]\)/);
    expect(r.stdout).toMatch(/freeze +updated/);
    expect(r.stdout).toMatch(/freeze: the connection dropped during the change; the controller reconnected once/);
    const events = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event?: string; error?: string });
    expect(events.filter((e) => e.event === 'reconnect failed').length).toBeGreaterThanOrEqual(1);
    expect(events.some((e) => e.event === 'reconnected')).toBe(true);
    expect(r.stderr).not.toMatch(/Cannot read properties/);
    expectOnlyNewAgent('freeze');
    return freeze.done;
  });
});

describe('leftovers of changes that never started', { timeout: 240_000 }, () => {
  it('a stage left by a cut SSH session goes at the next run; one whose session lives, or written to lately (an older tool), stays', async () => {
    // A live session of someone else's run on this host: an ssh connection held open, its sshd found by its child.
    const held = spawn(path.join(repo, 'scripts/lab'), ['ssh', 'stale', 'sleep 90'], { stdio: 'ignore' });
    try {
      let session = '';
      for (let i = 0; i < 50 && !session; i++) {
        await new Promise((res) => setTimeout(res, 100));
        session = onHost('stale', `for d in /proc/[0-9]*; do [ "$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)" = "sleep 90 " ] || continue
  s=$(cat $d/stat); s=\${s##*) }; set -- $s; p=$2
  while [ "$p" -gt 1 ]; do s=$(cat /proc/$p/stat); c=\${s#*(}; c=\${c%%)*}; s=\${s##*) }; set -- $s; [ "$c" = sshd ] && { echo "$p:\${20}"; exit 0; }; p=$2; done
done; true`).trim();
      }
      expect(session).toMatch(/^\d+:\d+$/);
      onHost('stale', `set -e; SD=/var/lib/resetpwd-fleet; mkdir -p $SD; for s in dead live legacy-old legacy-new; do mkdir -p $SD/stage.$s; head -c 5000000 /dev/zero > $SD/stage.$s/pkg.zip; done
echo 99999:1 > $SD/stage.dead/.session; echo ${session} > $SD/stage.live/.session
touch -d '20 minutes ago' $SD/stage.legacy-old/pkg.zip $SD/stage.legacy-old`);
      const h = await change('update', 'stale');
      expect(h.outcome, h.error ?? '').toBe('updated');
      expect(stages('stale').split('\n')).toEqual(['/var/lib/resetpwd-fleet/stage.legacy-new', '/var/lib/resetpwd-fleet/stage.live']);
    } finally {
      held.kill();
    }
  });

  for (const [host, where] of [['cut', '/var/lib/resetpwd-fleet/stage.*'], ['cut-sudo', '/tmp/resetpwd-fleet.*']] as const) {
    it(`${host}: the upload is cut half-way (sshd killed); an immediate re-run removes the partial upload and completes`, async () => {
      // Inside the host: once a megabyte of the package has arrived, kill every sshd.
      const cut = onHostAsync(host, `for i in $(seq 3000); do for f in ${where}/pkg.zip; do [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt 1000000 ] && { ${KILL_SSHD}; exit 0; }; done; sleep 0.01; done`);
      const h = await change('update', host, { packagePath: pkg(BIG) });
      await cut.done;
      expect(h.outcome).toBe('failed');
      expect(h.error).toMatch(/nothing on the host was changed/);
      const left = onHost(host, `du -sk ${where} 2>/dev/null; true`).trim();
      expect(left).toMatch(/^\d+\s+\//); // the partial upload is there, tens of MB
      const again = await change('update', host, { packagePath: pkg(BIG) });
      expect(again.outcome, again.error ?? '').toBe('updated');
      expect(onHost(host, `ls -d /var/lib/resetpwd-fleet/stage.* /tmp/resetpwd-fleet.* 2>/dev/null; true`).trim()).toBe('');
    });
  }
});

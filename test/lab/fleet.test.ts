import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp, repo, type LabDoc, type LabHost } from './helpers.js';

/**
 * The fleet runner end to end on 32 lab hosts (test/lab/scenarios/fleet.lab): error budget, canary waves,
 * Ctrl-C and SIGKILL of the controller then --resume, --retry-failed, reports, and no secret in any output.
 * Every outcome is checked against the host's real state, read by nsenter.
 */
let doc: LabDoc;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fleet-'));
const state = path.join(tmp, 'state'); // XDG_STATE_HOME: this test's own runs folder
const runsDir = path.join(state, 'resetpwd-fleet', 'runs');
const NEW = path.join(repo, 'packages/CloudResetPwdAgent-2.1.0.zip');
const OLD = path.join(repo, 'packages/CloudResetPwdAgent-1.1.2.zip');
const BROKEN = path.join(tmp, 'packages/CloudResetPwdAgent-2.2.0-broken-jvm.zip');
const SECRET = 'Lab-Passw0rd'; // the sudo hosts' login and sudo password, in the lab's inventory
const outputs: string[] = []; // every stdout/stderr of every run, for the secrets check

const kind = (h: LabHost) => (h.flags.includes('sudo-tty') ? 'tty' : h.disk === '250M' ? 'low' : 'healthy');
const names = (k: string) => doc.hosts.filter((h) => kind(h) === k).map((h) => h.name);

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}
/** The CLI as an operator runs it (a child process, so signals are real), with this test's runs folder. */
function cli(args: string[], opts: { onStderr?: (s: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args], { env: { ...process.env, XDG_STATE_HOME: state } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, child);
    });
    child.on('close', (code, signal) => {
      outputs.push(stdout, stderr);
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), stdout, stderr });
    });
  });
}
const base = () => ['-i', doc.inventory, '--known-hosts', doc.knownHosts, '--settle', '1'];

/** Each host's agent version (the log4j of its running agent tells 1.1.2 from 2.1.0) and leftovers. */
function real(host: string): { log4j: string; running: boolean; leftovers: boolean; changing: boolean } {
  const r = spawnSync(
    path.join(repo, 'scripts/lab'),
    [
      'shell', host, '/bin/sh', '-c',
      `M=/CloudrResetPwdAgent; echo "$(ls $M/lib 2>/dev/null | sed -n 's/^log4j-core-\\(.*\\)\\.jar$/\\1/p')"
$M/bin/cloudResetPwdAgent.script status >/dev/null 2>&1 && echo running || echo stopped
[ -d /.resetpwd-fleet ] && echo leftovers || echo clean
for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null | grep -q '[t]xn.sh' && echo changing && exit; done; echo idle`,
    ],
    { encoding: 'utf8' },
  );
  const [log4j = '', run = '', left = '', busy = ''] = r.stdout.trim().split('\n');
  return { log4j, running: run === 'running', leftovers: left === 'leftovers', changing: busy === 'changing' };
}
const latestRun = () => readdirSync(runsDir).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(runsDir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
function journalOf(id: string): Record<string, unknown>[] {
  return readFileSync(path.join(runsDir, `${id}.jsonl`), 'utf8').split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
/** Records of a run journal after its n-th run header (0: the first run, 1: the first resume). */
function segment(id: string, n: number): Record<string, unknown>[] {
  const recs = journalOf(id);
  const heads = recs.map((r, i) => (r.type === 'run' ? i : -1)).filter((i) => i >= 0);
  return recs.slice(heads[n]!, heads[n + 1] ?? recs.length);
}
/** An inventory of just these hosts, in this order (the lab's inventory groups hosts by OS). */
function inventoryOf(hosts: string[]): string {
  const lines = readFileSync(doc.inventory, 'utf8').split('\n');
  const file = path.join(tmp, `inv-${hosts.length}-${hosts[0]}.ini`);
  writeFileSync(file, `${hosts.map((h) => lines.find((l) => l.startsWith(`${h} `))!).join('\n')}\n`);
  return file;
}
async function resetHealthyToOld() {
  const r = await cli(['install', ...base(), '--reinstall', '--package', OLD, '-l', names('healthy').join(','), '-c', '12', '--max-errors', '100%', '--json']);
  expect(r.code, r.stderr).toBe(0);
  for (const h of names('healthy')) expect(real(h).log4j, h).toBe('2.12.1');
}

beforeAll(() => {
  const b = spawnSync('/usr/bin/python3', [path.join(repo, 'scripts/build-fixture-package'), '--version', '2.2.0', '--broken-jvm', '--out', path.dirname(BROKEN)], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
  doc = labUp(path.join(repo, 'test/lab/scenarios/fleet.lab'), 32);
}, 600_000);
afterAll(() => {
  labDown();
  rmSync(tmp, { recursive: true, force: true });
});

describe('rollout controls', { timeout: 600_000 }, () => {
  let budgetRun = '';

  it('--max-errors stops the rollout: no new host starts, in-flight hosts finish, the rest are skipped and untouched, exit 3', async () => {
    const before = new Map(doc.hosts.map((h) => [h.name, real(h.name)]));
    const r = await cli(['update', ...base(), '--package', NEW, '-c', '4', '--max-errors', '1', '--json', '--report', path.join(tmp, 'budget.json')]);
    expect(r.code, r.stderr).toBe(3);
    const d = JSON.parse(r.stdout);
    budgetRun = d.runId;
    expect(d.stopped).toMatchObject({ reason: 'budget' });
    const by = (o: string) => d.hosts.filter((h: { outcome: string }) => h.outcome === o).map((h: { name: string }) => h.name);
    expect(by('failed').length).toBeGreaterThanOrEqual(2);
    expect(by('failed').every((n: string) => names('tty').includes(n))).toBe(true);
    expect(by('skipped').length).toBeGreaterThan(0);
    for (const h of d.hosts as { name: string; outcome: string }[]) {
      const now = real(h.name);
      expect(now.changing || now.leftovers, h.name).toBe(false);
      if (h.outcome === 'updated') expect(now, h.name).toMatchObject({ log4j: '2.17.1', running: true });
      else expect(now.log4j, `${h.name} ${h.outcome}`).toBe(before.get(h.name)!.log4j);
    }
  });

  it('--resume continues that run: finished hosts are not touched again, the rest complete', async () => {
    const first = segment(budgetRun, 0).filter((x) => x.type === 'result').map((x) => x.host as string);
    const r = await cli(['update', ...base(), '--package', NEW, '-c', '8', '--max-errors', '100%', '--resume', budgetRun, '--json']);
    expect(r.code, r.stderr).toBe(1); // tty hosts fail, low-disk hosts are refused
    const d = JSON.parse(r.stdout);
    expect(d.runId).toBe(budgetRun);
    expect(d.hosts).toHaveLength(doc.hosts.length);
    const resumed = segment(budgetRun, 1);
    const touched = new Set(resumed.filter((x) => typeof x.host === 'string' && x.state !== undefined).map((x) => x.host));
    for (const h of first.filter((n) => d.hosts.find((x: { name: string }) => x.name === n).outcome !== 'skipped')) expect(touched.has(h), h).toBe(false);
    for (const h of names('healthy')) expect(real(h), h).toMatchObject({ log4j: '2.17.1', running: true, leftovers: false });
    for (const h of names('low')) expect(d.hosts.find((x: { name: string }) => x.name === h).outcome).toBe('refused');
  });

  it('--retry-failed targets exactly the hosts that failed or were unreachable in a run', async () => {
    const r = await cli(['update', ...base(), '--package', NEW, '--retry-failed', budgetRun, '--max-errors', '100%', '--json', '--report', path.join(tmp, 'retry.xml')]);
    expect(r.code).toBe(1);
    const d = JSON.parse(r.stdout);
    expect(d.hosts.map((h: { name: string }) => h.name).sort()).toEqual(names('tty').sort());
    const xml = spawnSync('/usr/bin/python3', ['-c', `import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot()
s = s if s.tag == 'testsuite' else s.find('testsuite')
print(s.get('tests'), s.get('failures'), len(s.findall('testcase')))`, path.join(tmp, 'retry.xml')], { encoding: 'utf8' });
    const n = names('tty').length;
    expect(xml.stdout.trim(), xml.stderr).toBe(`${n} ${n} ${n}`);
  });

  it('canary waves: the first wave fails over budget, so the next wave never starts', async () => {
    await resetHealthyToOld();
    const order = [names('tty')[0]!, ...names('healthy').slice(0, 5)];
    const r = await cli(['update', '-i', inventoryOf(order), '--known-hosts', doc.knownHosts, '--settle', '1', '--package', NEW, '--canary', '1,2', '--max-errors', '0', '-c', '4', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/wave 1\/3: 1 host/);
    expect(r.stderr).not.toMatch(/wave 2\/3/);
    const d = JSON.parse(r.stdout);
    const counts = d.hosts.reduce((m: Record<string, number>, h: { outcome: string }) => ({ ...m, [h.outcome]: (m[h.outcome] ?? 0) + 1 }), {});
    expect(counts).toEqual({ failed: 1, skipped: 5 });
  });

  it('canary waves within budget run one after another to the end', async () => {
    const healthy = names('healthy').slice(0, 6);
    const r = await cli(['update', ...base(), '--package', NEW, '-l', healthy.join(','), '--canary', '1,2', '-c', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wave 1\/3: 1 host[\s\S]*wave 2\/3: 2 hosts[\s\S]*wave 3\/3: 3 hosts/);
    for (const h of healthy) expect(real(h).log4j).toBe('2.17.1');
  });
});

describe('interrupting the controller', { timeout: 600_000 }, () => {
  it('Ctrl-C: no new host starts, hosts in flight finish, exit 3; --resume latest completes the rest, none touched twice', async () => {
    await resetHealthyToOld();
    const hosts = names('healthy');
    let sent = false;
    const r = await cli(['update', ...base(), '--package', NEW, '-l', hosts.join(','), '-c', '3', '--max-errors', '100%', '--json'], {
      onStderr: (err, child) => {
        if (!sent && (err.match(/^\[\d+\/\d+\] /gm) ?? []).length >= 2) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/interrupted: no new host will start/);
    const d = JSON.parse(r.stdout);
    expect(d.stopped).toMatchObject({ reason: 'interrupted' });
    const done = d.hosts.filter((h: { outcome: string }) => h.outcome !== 'skipped').map((h: { name: string }) => h.name);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(hosts.length);
    for (const h of d.hosts as { name: string; outcome: string }[]) {
      const now = real(h.name);
      expect(now.changing || now.leftovers, h.name).toBe(false);
      expect(now.log4j, `${h.name} ${h.outcome}`).toBe(h.outcome === 'updated' ? '2.17.1' : '2.12.1');
    }
    const again = await cli(['update', ...base(), '--package', NEW, '-l', hosts.join(','), '-c', '8', '--max-errors', '100%', '--resume', 'latest', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const touched = new Set(segment(d.runId, 1).map((x) => x.host).filter(Boolean));
    for (const h of done) expect(touched.has(h), h).toBe(false);
    for (const h of hosts) expect(real(h), h).toMatchObject({ log4j: '2.17.1', running: true, leftovers: false });
  });

  it('SIGKILL mid-run: hosts mid-change finish on their own; --resume brings every host to the new agent, none twice', async () => {
    await resetHealthyToOld();
    const hosts = names('healthy');
    let killedAt = '';
    const r = await cli(['update', ...base(), '--package', NEW, '-l', hosts.join(','), '-c', '4', '--max-errors', '100%', '--json'], {
      onStderr: (err, child) => {
        if (!killedAt && (err.match(/^\[\d+\/\d+\] /gm) ?? []).length >= 3) {
          killedAt = err;
          child.kill('SIGKILL');
        }
      },
    });
    expect(r.code).toBe(137);
    expect(r.stdout).toBe('');
    const file = latestRun()[0]!;
    const id = path.basename(file, '.jsonl');
    const before = segment(id, 0);
    const finished = new Set(before.filter((x) => x.type === 'result').map((x) => x.host));
    expect(finished.size).toBeGreaterThanOrEqual(3);
    // Changes the kill caught half-way go on by themselves; wait until no host is changing.
    for (let i = 0; i < 60 && hosts.some((h) => real(h).changing); i++) await new Promise((res) => setTimeout(res, 1000));
    const again = await cli(['update', ...base(), '--package', NEW, '-l', hosts.join(','), '-c', '8', '--max-errors', '100%', '--resume', id, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const d = JSON.parse(again.stdout);
    const touched = new Set(segment(id, 1).map((x) => x.host).filter(Boolean));
    for (const h of finished) expect(touched.has(h), String(h)).toBe(false);
    // Every host went from the old agent to the new one in this run: the changes the kill caught and that
    // finished by themselves are this run's "updated" (not "unchanged"), with the change the killed run
    // launched, and no second change was launched on those hosts.
    const launchedBefore = new Map(before.filter((x) => x.state === 'launched').map((x) => [x.host as string, x.detail as string]));
    const caught = [...launchedBefore.keys()].filter((h) => !finished.has(h));
    expect(caught.length).toBeGreaterThan(0);
    for (const h of d.hosts as { name: string; outcome: string; txn: string | null }[]) {
      expect(h.outcome, h.name).toBe('updated');
      if (caught.includes(h.name)) expect(h.txn, h.name).toBe(launchedBefore.get(h.name));
    }
    const relaunched = segment(id, 1).filter((x) => x.state === 'launched' && caught.includes(x.host as string));
    expect(relaunched).toEqual([]);
    for (const h of hosts) expect(real(h), h).toMatchObject({ log4j: '2.17.1', running: true, leftovers: false });
    const show = await cli(['runs', 'show', id]);
    expect(show.stdout).toMatch(new RegExp(`run ${id}: update`));
  });
});

describe('resuming after changes that rolled back by themselves', { timeout: 600_000 }, () => {
  it('SIGKILL while a package whose new agent dies is rolling out: --resume reports the hosts rolled back and tries none of them again', async () => {
    await resetHealthyToOld();
    const hosts = names('healthy').slice(0, 4);
    let killed = false;
    const r = await cli(['update', ...base(), '--package', BROKEN, '-l', hosts.join(','), '-c', '2', '--max-errors', '100%', '--json'], {
      onStderr: (err, child) => {
        if (!killed && (err.match(/^\[\d+\/\d+\] /gm) ?? []).length >= 1) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    expect(r.code).toBe(137);
    const id = path.basename(latestRun()[0]!, '.jsonl');
    const before = segment(id, 0);
    const finished = new Set(before.filter((x) => x.type === 'result').map((x) => x.host as string));
    const caught = before.filter((x) => x.state === 'launched' && !finished.has(x.host as string)).map((x) => x.host as string);
    expect(caught.length).toBeGreaterThan(0);
    // No waiting: the caught changes may still be rolling back on their hosts; the resume follows them.
    const again = await cli(['update', ...base(), '--package', BROKEN, '-l', hosts.join(','), '-c', '4', '--max-errors', '100%', '--resume', id, '--json']);
    expect(again.code, again.stderr).toBe(1);
    const d = JSON.parse(again.stdout);
    for (const h of d.hosts as { name: string; outcome: string; error: string }[]) {
      expect(h.outcome, h.name).toBe('rolled-back');
      expect(h.error).toMatch(/the new agent does not run.*the previous agent was restored and runs/);
    }
    // One change per host in the whole run: none launched again on a host whose change was caught by the kill.
    const launches = [...segment(id, 0), ...segment(id, 1)].filter((x) => x.state === 'launched').map((x) => x.host as string);
    for (const h of hosts) expect(launches.filter((x) => x === h), h).toHaveLength(1);
    for (const h of hosts) expect(real(h), h).toMatchObject({ log4j: '2.12.1', running: true, leftovers: false, changing: false });
  });
});

describe('secrets', { timeout: 600_000 }, () => {
  it('no password appears in any output, report, journal or log of these runs', async () => {
    const log = path.join(tmp, 'run.log');
    const r = await cli(['status', ...base().slice(0, 4), '--log', log, '-v', '--json', '--report', path.join(tmp, 'status.html')]);
    expect(r.code, r.stderr).toBeLessThanOrEqual(1);
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).toMatch(/"msg":"host done"/);
    const files = [log, path.join(tmp, 'status.html'), path.join(tmp, 'budget.json'), path.join(tmp, 'retry.xml'), ...readdirSync(runsDir).map((f) => path.join(runsDir, f))];
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toContain(SECRET);
    for (const o of outputs) expect(o).not.toContain(SECRET);
    // The sudo hosts really used that password (they were updated), so its absence means something.
    expect(names('healthy').length).toBeGreaterThan(0);
  });
});

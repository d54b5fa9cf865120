import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCK_SH } from '../../../../src/platform/linux/lock.js';

/**
 * The host's one-change-at-a-time lock and the time limit of the agent's verbs, run here with this machine's
 * sh. The race: a change that finds the lock folder before its taker wrote its pid used to call it stale,
 * remove it and go on — two changes at once on one host.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lock-test-'));
const kids: ChildProcess[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `script` after the functions, asynchronously (a test may act while it waits); stdout and exit code. */
function sh(script: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  const c = spawn('sh', ['-c', `${LOCK_SH}\n${script}`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  kids.push(c);
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((r) => c.on('close', (code) => r({ code, out })));
}
/** A process whose command line says it is a change (txn.sh), as a real holder's does. */
function aChange(): number {
  const c = spawn('sh', ['-c', 'sleep 60; :', 'txn.sh'], { stdio: 'ignore' });
  kids.push(c);
  return c.pid!;
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * A change taking the lock and holding it `hold` seconds: "took" or "refused". It names itself txn.sh on its
 * command line, as txn.sh does, so another taker sees a live change.
 */
const aTaker = (lock: string, hold: number) =>
  new Promise<string>((resolve) => {
    const c = spawn('sh', ['-c', `${LOCK_SH}\ntake_lock ${lock} && { echo took; sleep ${hold}; } || echo refused`, 'txn.sh'], { stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(c);
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out.trim()));
  });
const take = (lock: string) => sh(`take_lock ${lock} && echo "took $(lock_holder ${lock})" || echo "refused: $LOCK_WHY"`);

describe('take_lock', () => {
  it('an older version\'s lock folder without a pid yet is being taken: held, not removed — the change whose pid appears wins', async () => {
    const lock = path.join(tmp, 'race');
    mkdirSync(lock); // an older txn.sh's mkdir, its pid not written yet
    const p = take(lock);
    await wait(1500);
    const holder = aChange();
    writeFileSync(path.join(lock, 'pid'), `${holder}\n`);
    expect((await p).out).toBe(`refused: another change (pid ${holder}) is running on this host; nothing was changed\n`);
    expect(existsSync(path.join(lock, 'pid'))).toBe(true);
  });

  it('a lock that stays without a pid (its taker died between mkdir and the pid) is taken over', async () => {
    const lock = path.join(tmp, 'pidless');
    mkdirSync(lock);
    const r = await take(lock);
    expect(r.out).toMatch(/^took \d+\n$/);
  });

  it('a lock whose pid is gone, or is not a change, is taken over; no stale copy is left', async () => {
    for (const [name, pid] of [['dead', '999999999'], ['other', String(process.pid)]] as const) {
      const lock = path.join(tmp, name);
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), `${pid}\n`);
      const r = await take(lock);
      expect(r.out).toMatch(/^took \d+\n$/);
      // The lock is now a link naming its taker's pid: taken in one step, never without a holder.
      expect(readlinkSync(lock)).toBe(r.out.slice(5).trim());
    }
    expect(existsSync(path.join(tmp, 'dead.break'))).toBe(false);
  });

  it('two changes finding the same stale lock at once: exactly one breaks it and takes it (the other sees the new holder)', async () => {
    for (let round = 0; round < 8; round++) {
      const lock = path.join(tmp, `stale-race-${round}`);
      symlinkSync('999999999', lock); // a holder long gone
      expect((await Promise.all([aTaker(lock, 2), aTaker(lock, 2)])).sort(), `round ${round}`).toEqual(['refused', 'took']);
    }
  }, 60_000);

  it('two changes at once: exactly one takes the lock', async () => {
    const lock = path.join(tmp, 'two');
    expect((await Promise.all([aTaker(lock, 3), aTaker(lock, 3)])).sort()).toEqual(['refused', 'took']);
  });
});

describe('limited_for', () => {
  it('stops a command that does not end in time (124), and passes an exit code through', async () => {
    expect((await sh('limited_for 1 sleep 30; echo "rc=$?"')).out).toBe('rc=124\n');
    expect((await sh('limited_for 5 sh -c "exit 3"; echo "rc=$?"')).out).toBe('rc=3\n');
  });

  it('does the same on a host without timeout(1): its own watchdog', async () => {
    const bin = path.join(tmp, 'bin-no-timeout');
    mkdirSync(bin);
    for (const p of ['sleep', 'sh']) symlinkSync(`/bin/${p}`, path.join(bin, p));
    const env = { ...process.env, PATH: bin };
    expect((await sh('command -v timeout || echo none', env)).out).toBe('none\n');
    // The watchdog and the command it stops end at the same moment: the verdict must not depend on which goes first.
    const runs = await Promise.all(Array.from({ length: 6 }, () => sh('limited_for 1 sleep 30; echo "rc=$?"', env)));
    expect(runs.map((r) => r.out)).toEqual(Array(6).fill('rc=124\n'));
    expect((await sh('limited_for 5 sh -c "exit 3"; echo "rc=$?"', env)).out).toBe('rc=3\n');
  }, 60_000);

  it('a busybox timeout without -k is not used (the command would never run): the watchdog is', async () => {
    const bin = path.join(tmp, 'bin-old-busybox');
    mkdirSync(bin);
    for (const p of ['sleep', 'sh']) symlinkSync(`/bin/${p}`, path.join(bin, p));
    // As busybox before 1.30: `timeout [-t SECS] [-s SIG] PROG`, -k unknown.
    writeFileSync(path.join(bin, 'timeout'), '#!/bin/sh\ncase $1 in -k) echo "timeout: invalid option -- k" >&2; exit 1 ;; esac\nexec "$@"\n', { mode: 0o755 });
    const env = { ...process.env, PATH: bin };
    expect((await sh('limited_for 1 sleep 30; echo "rc=$?"', env)).out).toBe('rc=124\n');
    expect((await sh('limited_for 5 sh -c "exit 3"; echo "rc=$?"', env)).out).toBe('rc=3\n');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AGENT_PROCS_SH } from '../../../../src/platform/linux/agent-procs.js';
import { TXN_SCRIPT } from '../../../../src/platform/linux/txn-script.js';
import { LINUX_FACTS_SCRIPT } from '../../../../src/platform/linux/facts-script.js';
import { FIX_SCRIPT } from '../../../../src/platform/linux/change-scripts.js';

/**
 * How a change finds an agent's processes without its pid file, run on this machine against stand-in
 * processes whose command lines and working folders are those of a real wrapper and JVM: a wrapper that
 * names the agent, its JVM, a JVM whose wrapper died, the other agent's wrapper, an operator's shell sitting
 * in the agent's folder, and an agent whose folder was deleted under it. A made-up agent name keeps the
 * lab's own agents (visible in this machine's /proc) out of it.
 */
const NAME = 'rpfTestAgent';
const OTHER = 'rpfOtherAgent';
let tmp: string;
let dir: string;
const kids: ChildProcess[] = [];
const pids: Record<string, number> = {};

/** Starts `program args…` in cwd, detached, and returns its pid once its /proc entry shows those args. */
function start(cwd: string, program: string, args: string[]): number {
  const c = spawn(program, args, { cwd, stdio: 'ignore', detached: true });
  kids.push(c);
  return c.pid!;
}
function run(script: string): string {
  const r = spawnSync('sh', ['-c', `${AGENT_PROCS_SH}\n${script}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-procs-'));
  dir = path.join(tmp, 'TestAgent');
  const other = path.join(tmp, 'OtherAgent');
  for (const d of [dir, other]) mkdirSync(path.join(d, 'bin'), { recursive: true });
  // A wrapper (a shell script, as the lab's was) that starts its "JVM" with the real JVM's arguments.
  const wrapper = '#!/bin/sh\n"$(dirname "$0")/java" -Dwrapper.key=0123abcd -Dwrapper.port=32000 "-Dwrapper.pid=$$" -classpath ../lib/wrapper.jar org.tanukisoftware.wrapper.WrapperSimpleApp &\nwait\n';
  const java = '#!/bin/sh\nsleep 600 & wait\n';
  for (const d of [dir, other]) {
    writeFileSync(path.join(d, 'bin/wrapper'), wrapper);
    writeFileSync(path.join(d, 'bin/java'), java);
    chmodSync(path.join(d, 'bin/wrapper'), 0o755);
    chmodSync(path.join(d, 'bin/java'), 0o755);
  }
  pids.wrapper = start(path.join(dir, 'bin'), 'sh', [path.join(dir, 'bin/wrapper'), `${dir}/conf/wrapper.conf`, `wrapper.pidfile=${dir}/bin/${NAME}.pid`, `wrapper.name=${NAME}`]);
  pids.other = start(path.join(other, 'bin'), 'sh', [path.join(other, 'bin/wrapper'), `${other}/conf/wrapper.conf`, `wrapper.name=${OTHER}`]);
  // A JVM whose wrapper is gone (its -Dwrapper.pid names no process), working in the agent's folder.
  pids.orphan = start(path.join(dir, 'bin'), 'sh', [path.join(dir, 'bin/java'), '-Dwrapper.key=feed', '-Dwrapper.pid=999999999', 'Main']);
  // An operator's shell in the agent's folder: neither a wrapper nor a JVM.
  pids.shell = start(path.join(dir, 'bin'), 'sleep', ['600']);
  await wait(300);
  const jvm = run(`for d in /proc/[0-9]*; do s=; read -r s < $d/stat 2>/dev/null; set -- \${s##*) }; [ "$2" = ${pids.wrapper} ] && echo \${d#/proc/}; done; true`).trim();
  pids.jvm = Number(jvm);
});

afterAll(() => {
  for (const c of kids) {
    try {
      process.kill(-c.pid!, 'SIGKILL'); // each was started as its own process group: the child and its sleep
    } catch {
      /* already gone */
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('agent_procs', () => {
  it('finds the wrapper that names the agent, its JVM, and a JVM whose wrapper died, by what they are', () => {
    const lines = run(`agent_procs ${dir} ${NAME}`).trim().split('\n').sort();
    expect(lines).toEqual([
      `${pids.jvm} jvm ${pids.wrapper} ${dir}/bin`,
      `${pids.orphan} jvm - ${dir}/bin`,
      `${pids.wrapper} wrapper - ${dir}/bin`,
    ].sort());
  });

  it('leaves out the other agent\'s wrapper and JVM, an operator\'s shell in the folder, and the script itself', () => {
    const out = run(`agent_procs ${dir} ${NAME}`);
    expect(out).not.toMatch(new RegExp(`^(${pids.other}|${pids.shell}) `, 'm'));
    const others = run(`agent_procs ${path.join(tmp, 'OtherAgent')} ${OTHER}`).trim().split('\n');
    expect(others.map((l) => l.split(' ')[1])).toEqual(['wrapper', 'jvm']);
  });

  it('agent_strays: everything but the wrapper in the pid file and its JVM', () => {
    writeFileSync(path.join(dir, 'bin', `${NAME}.pid`), `${pids.wrapper}\n`);
    expect(run(`agent_strays ${dir} ${NAME}`).trim().split('\n')).toEqual([String(pids.orphan)]);
    rmSync(path.join(dir, 'bin', `${NAME}.pid`));
    expect(run(`agent_strays ${dir} ${NAME}`).trim().split('\n').map(Number).sort()).toEqual([pids.wrapper, pids.jvm, pids.orphan].sort());
  });

  it('finds a program running from the agent\'s folder whose command line names no wrapper (its Java started by hand), wherever it works', async () => {
    mkdirSync(path.join(dir, 'jre/bin'), { recursive: true });
    copyFileSync('/bin/sleep', path.join(dir, 'jre/bin/java'));
    chmodSync(path.join(dir, 'jre/bin/java'), 0o755);
    const p = start(tmp, path.join(dir, 'jre/bin/java'), ['601']);
    try {
      await wait(200);
      expect(run(`agent_procs ${dir} ${NAME}`).trim().split('\n')).toContain(`${p} jvm - ${tmp}`);
      // The other agent's search does not claim it.
      expect(run(`agent_procs ${path.join(tmp, 'OtherAgent')} ${OTHER}`)).not.toMatch(new RegExp(`^${p} `, 'm'));
      // A JVM of the other agent's wrapper running on this agent's Java (old builds: the main agent on the update
      // agent's Java) stays the other agent's: its command line names its wrapper.
      copyFileSync('/bin/dash', path.join(dir, 'jre/bin/javaw'));
      chmodSync(path.join(dir, 'jre/bin/javaw'), 0o755);
      const borrowed = start(tmp, path.join(dir, 'jre/bin/javaw'), ['-c', 'sleep 602; :', 'javaw', '-Dwrapper.key=cafe', `-Dwrapper.pid=${pids.other}`]);
      await wait(200);
      try {
        expect(run(`agent_procs ${dir} ${NAME}`)).not.toMatch(new RegExp(`^${borrowed} `, 'm'));
        expect(run(`agent_procs ${path.join(tmp, 'OtherAgent')} ${OTHER}`)).toMatch(new RegExp(`^${borrowed} jvm ${pids.other} `, 'm'));
      } finally {
        process.kill(-borrowed, 'SIGKILL');
      }
    } finally {
      process.kill(p, 'SIGKILL');
    }
  });

  it('a JVM whose -Dwrapper.pid names a live process that is no wrapper (the pid was reused) is an orphan of the agent, not skipped', async () => {
    const p = start(path.join(dir, 'bin'), 'sh', [path.join(dir, 'bin/java'), '-Dwrapper.key=beef', `-Dwrapper.pid=${pids.shell}`, 'Main']);
    try {
      await wait(200);
      expect(run(`agent_procs ${dir} ${NAME}`).trim().split('\n')).toContain(`${p} jvm - ${dir}/bin`);
    } finally {
      process.kill(-p, 'SIGKILL');
    }
  });

  it('still finds an agent whose folder was deleted under it (its working folder then reads "… (deleted)")', () => {
    const gone = path.join(tmp, 'TestAgent');
    rmSync(gone, { recursive: true, force: true });
    const lines = run(`agent_procs ${dir} ${NAME}`).trim().split('\n');
    expect(lines).toContain(`${pids.orphan} jvm - ${dir}/bin (deleted)`);
    expect(lines).toContain(`${pids.wrapper} wrapper - ${dir}/bin (deleted)`);
  });

  it('stop_pids ends them all, TERM then KILL, and says which survive', () => {
    const victim = start(tmp, 'sh', ['-c', 'trap "" TERM; sleep 600 & wait; sleep 600']);
    const r = spawnSync('sh', ['-c', `${AGENT_PROCS_SH}\nstop_pids ${victim} && echo stopped`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout.trim()).toBe('stopped');
    expect(run(`alive ${victim} && echo alive || echo gone`).trim()).toBe('gone');
  });

  it('no script that carries the function has a line starting with an argument it looks for', () => {
    for (const text of [AGENT_PROCS_SH, TXN_SCRIPT, LINUX_FACTS_SCRIPT, FIX_SCRIPT]) {
      expect(text).not.toMatch(/\n-Dwrapper\.key=/);
      expect(text).not.toMatch(/\nwrapper\.name=/);
    }
  });
});

import { describe, expect, it } from 'vitest';
import type { Plan } from '../../../src/core/plan.js';
import type { Target } from '../../../src/inventory/target.js';
import { driveChange, type ChangeContext } from '../../../src/lifecycle/drive.js';
import { StageError, type ChangeKit, type Platform } from '../../../src/platform/platform.js';
import type { HostSession } from '../../../src/session/open.js';
import type { ConnectOptions } from '../../../src/session/options.js';
import type { KnownHosts } from '../../../src/transport/known-hosts.js';
import { TransportError, type ExecResult, type Transport } from '../../../src/transport/transport.js';

/**
 * The change driver, OS aside: a fake platform plays a host whose plans, stage, launch and change journal are
 * scripted, and the specs read what the driver made of them — the outcome, its words, the steps and the
 * states the host went through. Every OS is this driver plus its platform's scripts.
 */
const target: Target = { name: 'h1', source: 'test', host: '192.0.2.10', port: 22, become: false, connection: 'ssh', os: 'linux', groups: [], vars: {} };
const conn: ConnectOptions = { knownHostsFile: '/dev/null', acceptNew: false, become: false, connectTimeoutMs: 1000, stepTimeoutMs: 1000, pull: false };

const FULL = ['started', 'stopping', 'stopped', 'unregistered', 'setting-aside', 'set-aside', 'installing', 'installed', 'permissions', 'verified', 'boot', 'committed'];
const journal = (states: string[], end: string) => [...states.map((s) => `1 ${s}`), end].join('\n') + '\n';

const install: Plan = { kind: 'transaction', action: 'install', outcome: 'updated', reason: 'agent 1.1.2', steps: ['…'], extractor: 'unzip' };

interface Script {
  plans: Plan[];
  /** One entry per change followed (launched, or waited for): what each poll of its journal returns (an Error is thrown). */
  polls?: (string | Error)[][];
  stage?: () => string;
  launch?: string | null;
  /** Runs as the launch reaches the host (e.g. the controller killed at that moment: it throws). */
  onLaunch?: () => void;
  fix?: { ok: true } | { ok: false; error: string };
  open?: (n: number) => void;
}

function setup(sc: Script, over: Partial<ChangeContext> = {}) {
  const calls: string[] = [];
  const states: string[] = [];
  let opened = 0;
  // A resumed host follows its prior change first: that is the first scripted journal.
  let change = over.resume ? 0 : -1;
  let poll = 0;
  const kit: ChangeKit = {
    fixStep: 'permissions',
    fix: async () => {
      calls.push('fix');
      return sc.fix ?? { ok: true };
    },
    stage: async (_s, plan) => {
      calls.push(`stage ${plan.kind}`);
      return sc.stage ? sc.stage() : '/var/lib/resetpwd-fleet/stage.x';
    },
    launch: async () => {
      calls.push('launch');
      change++;
      poll = 0;
      sc.onLaunch?.();
      return sc.launch ? { error: sc.launch } : { note: null };
    },
    // Like a real platform: the poll runs its script through the session (a poll without one crashes, as on a host).
    poll: async (s, txn, from, onStdout): Promise<ExecResult> => {
      await s.run('follow');
      calls.push(`poll ${from}`);
      const out = sc.polls?.[change]?.[poll++];
      if (out === undefined) throw new Error(`no poll scripted for change ${change} (${txn})`);
      if (out instanceof Error) throw out;
      onStdout(out);
      return { code: 0, stdout: out, stderr: '' };
    },
    backoff: () => 0,
    stageLog: (stage) => `${stage}/txn.log`,
    txnFile: '/var/lib/resetpwd-fleet/txn',
  };
  const platform: Platform<{ n: number }> = {
    id: 'linux',
    defaultUser: 'root',
    becomeRefused: null,
    checkIds: [],
    shell: () => {
      throw new Error('the fake session has its shell already');
    },
    facts: async () => {
      calls.push('facts');
      return { n: calls.filter((c) => c === 'facts').length };
    },
    os: () => ({ family: 'linux', id: 'fake', version: null, arch: null }),
    checks: () => [],
    agent: (f) => ({ installed: true, updateAgent: false, version: `read ${f.n}`, running: true, mode: 'AUTO', port: null, log4j: null, packageSha256: null, findings: [] }),
    plan: () => {
      const p = sc.plans.shift();
      if (!p) throw new Error('no plan left in the script');
      calls.push(`plan ${p.kind}`);
      if (p.kind === 'wait') {
        change++; // a wait follows someone else's change: the next scripted journal
        poll = 0;
      }
      return p;
    },
    describeLeft: () => '. Now on the host: no agent installed',
    change: () => kit,
  };
  const session: HostSession = {
    target,
    platform,
    transport: {} as Transport,
    privilege: { method: 'none' },
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    close: async () => void calls.push('close'),
  };
  const open = async () => {
    opened++;
    sc.open?.(opened);
    calls.push('open');
    return session;
  };
  const ctx: ChangeContext = {
    command: 'update', conn, knownHosts: {} as KnownHosts, pkg: null, plan: { reinstall: false, force: [], settleSeconds: 1 },
    pullUrl: undefined, stepTimeoutMs: conn.stepTimeoutMs, dryRun: false, journal: null, startWaitSeconds: 5,
    onTransition: (_h, s) => states.push(s), ...over,
  };
  return { run: () => driveChange(target, ctx, open), calls, states, opened: () => opened };
}

describe('driveChange', () => {
  it('an up-to-date host: one connection, one facts read, nothing staged', async () => {
    const h = setup({ plans: [{ kind: 'unchanged', reason: 'already runs this package', steps: [] }] });
    const r = await h.run();
    expect(r.outcome).toBe('unchanged');
    expect(r.error).toBeNull();
    expect(h.calls).toEqual(['open', 'facts', 'plan unchanged', 'close']);
    expect(r.steps.map((s) => s.name)).toEqual(['connect', 'facts']);
  });

  it('a refused plan is the outcome, with its reason', async () => {
    const r = await setup({ plans: [{ kind: 'refused', reason: 'disk-space: 12 MB free', steps: [] }] }).run();
    expect(r).toMatchObject({ outcome: 'refused', error: 'disk-space: 12 MB free', reachable: true });
  });

  it('--dry-run plans and stops: the plan is reported, the host is skipped and untouched', async () => {
    const h = setup({ plans: [install] }, { dryRun: true });
    const r = await h.run();
    expect(r.outcome).toBe('skipped');
    expect(r.plan).toEqual({ kind: 'transaction', reason: 'agent 1.1.2', steps: ['…'] });
    expect(h.calls).not.toContain('stage transaction');
  });

  it('a change: stage, launch, follow its journal to the end, then read the host back', async () => {
    const h = setup({ plans: [install], polls: [[journal(FULL, '1 done ok')]] });
    const r = await h.run();
    expect(r.outcome).toBe('updated');
    expect(r.error).toBeNull();
    expect(r.txn).toMatch(/^[a-z0-9]+$/);
    expect(r.steps.map((s) => s.name)).toEqual(['connect', 'facts', 'stage', 'launch', 'apply', 'facts']);
    expect(r.agent?.version).toBe('read 2'); // the state after, not before
    expect(h.states).toEqual(['connected', 'planned', 'staging', 'staged', 'launched', ...FULL, 'done']);
  });

  it('a change that rolled back says so with the host\'s own reason', async () => {
    const r = await setup({ plans: [install], polls: [[journal(['started', 'stopping', 'failed', 'rolling-back'], '1 done rolled-back the new agent did not start')]] }).run();
    expect(r).toMatchObject({ outcome: 'rolled-back', error: 'h1: the new agent did not start' });
  });

  it('a failed rollback adds what the host has now', async () => {
    const r = await setup({ plans: [install], polls: [[journal(['started', 'failed', 'rolling-back'], '1 done failed the old agent did not start')]] }).run();
    expect(r.outcome).toBe('failed');
    expect(r.error).toBe('h1: the old agent did not start. Now on the host: no agent installed');
  });

  it('a stage the host refuses fails the host and says nothing was changed; nothing is launched', async () => {
    const h = setup({ plans: [install], stage: () => { throw new StageError('SHA-256 mismatch on pkg.zip'); } });
    const r = await h.run();
    expect(r).toMatchObject({ outcome: 'failed', error: 'h1: SHA-256 mismatch on pkg.zip (nothing on the host was changed)' });
    expect(h.calls).not.toContain('launch');
  });

  it('a connection lost during the stage: failed, nothing changed, a re-run starts over', async () => {
    const r = await setup({ plans: [install], stage: () => { throw new TransportError('lost', 'h1: the connection was lost'); } }).run();
    expect(r).toMatchObject({ outcome: 'failed', error: 'h1: the connection was lost; nothing on the host was changed (a re-run starts over)' });
  });

  it('a launch the host refuses: failed, nothing changed, no follow', async () => {
    const h = setup({ plans: [install], launch: 'access denied' });
    const r = await h.run();
    expect(r).toMatchObject({ outcome: 'failed', error: 'h1: the change could not be started on the host (access denied); nothing was changed' });
    expect(h.calls.some((c) => c.startsWith('poll'))).toBe(false);
  });

  it('a change that never started points at its log on the host', async () => {
    const r = await setup({ plans: [install], polls: [['0 lost the change never started\n']] }).run();
    expect(r.outcome).toBe('failed');
    expect(r.error).toBe('h1: the change did not start on the host (the change never started); see /var/lib/resetpwd-fleet/stage.x/txn.log there. Nothing was changed');
  });

  it('a dropped connection mid-change: reconnect and follow on from the last line seen', async () => {
    const first = journal(['started', 'stopping'], '').trimEnd() + '\n';
    const h = setup({ plans: [install], polls: [[first, new TransportError('lost', 'h1: the connection was lost'), journal(FULL.slice(2), '1 done ok')]] });
    const r = await h.run();
    expect(r.outcome).toBe('updated');
    expect(h.opened()).toBe(2);
    expect(h.calls.filter((c) => c.startsWith('poll'))).toEqual(['poll 0', 'poll 2', 'poll 2']);
  });

  it('a reconnect attempt that fails (sshd gone for a while) is retried within the step limit, and the change is followed to its end', async () => {
    const first = journal(['started', 'stopping'], '').trimEnd() + '\n';
    const refused = () => new TransportError('unreachable', 'h1: connection refused');
    const events: string[] = [];
    const h = setup(
      {
        plans: [install],
        polls: [[first, new TransportError('lost', 'h1: the connection was lost'), journal(FULL.slice(2), '1 done ok')]],
        // The first connection works; the next two attempts find sshd gone; the fourth gets in.
        open: (n) => { if (n === 2 || n === 3) throw refused(); },
      },
      { conn: { ...conn, stepTimeoutMs: 5000 }, stepTimeoutMs: 5000, onReconnect: (_h, attempt, error) => events.push(`${attempt} ${error ?? 'ok'}`) },
    );
    const r = await h.run();
    expect(r.outcome, r.error ?? '').toBe('updated');
    expect(h.opened()).toBe(4);
    expect(h.calls.filter((c) => c.startsWith('poll'))).toEqual(['poll 0', 'poll 2', 'poll 2']);
    expect(events).toEqual(['0 h1: the connection was lost', '1 h1: connection refused', '2 h1: connection refused', '3 ok']);
    expect(r.reconnects).toBe(1);
  });

  it('a connection that stays gone past the step limit: the change goes on by itself, said once, after several attempts', async () => {
    const h = setup(
      {
        plans: [install],
        polls: [[journal(['started'], '').trimEnd() + '\n', new TransportError('lost', 'h1: the connection was lost')]],
        open: (n) => { if (n > 1) throw new TransportError('unreachable', 'h1: connection refused'); },
      },
      { conn: { ...conn, stepTimeoutMs: 50 } },
    );
    const r = await h.run();
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/^h1: connection refused; the change continues on the host by itself/);
    expect(h.opened()).toBeGreaterThan(2);
  });

  it('a change whose journal never ends is followed until the overall deadline, then the host is freed: the change goes on by itself', async () => {
    // The host keeps answering (a journal line each poll) but never says done: without a deadline, this polled forever.
    const h = setup({ plans: [install], polls: [[journal(['started'], '').trimEnd() + '\n', '1 stopping\n', '1 stopped\n']] }, { knobs: { followDeadlineMs: 0 } });
    const r = await h.run();
    expect(r.outcome).toBe('failed');
    expect(r.error).toBe('h1: the change did not end within 0 s of following it; the change continues on the host by itself (it ends updated or rolled back): re-run to see and complete it');
    expect(h.calls.filter((c) => c.startsWith('poll'))).toEqual(['poll 0']);
    expect(h.calls.at(-1)).toBe('close');
  });

  it('a host key refused at the first connect: unreachable, never entered, its reason kept for --retries and the reports', async () => {
    const h = setup({ plans: [install], open: () => { throw new TransportError('host-key-unknown', 'h1: host key unknown'); } });
    const r = await h.run();
    expect(r).toMatchObject({ outcome: 'unreachable', reachable: false, failure: 'host-key-unknown', error: 'h1: host key unknown' });
  });

  it('a reconnect the server closes before its banner (sshd restarting) is retried, and the change followed to its end', async () => {
    const h = setup(
      {
        plans: [install],
        polls: [[journal(['started', 'stopping'], '').trimEnd() + '\n', new TransportError('lost', 'h1: the connection was lost'), journal(FULL.slice(2), '1 done ok')]],
        open: (n) => { if (n === 2) throw new TransportError('unreachable', 'h1: the server closed the connection before the SSH handshake'); },
      },
      { conn: { ...conn, stepTimeoutMs: 5000 }, stepTimeoutMs: 5000 },
    );
    const r = await h.run();
    expect(r.outcome, r.error ?? '').toBe('updated');
    expect(h.opened()).toBe(3);
  });

  it('a login refused on reconnect (key changed meanwhile) is not retried', async () => {
    const h = setup(
      {
        plans: [install],
        polls: [[journal(['started'], '').trimEnd() + '\n', new TransportError('lost', 'h1: the connection was lost')]],
        open: (n) => { if (n > 1) throw new TransportError('host-key-changed', 'h1: HOST KEY CHANGED'); },
      },
      { conn: { ...conn, stepTimeoutMs: 60_000 } },
    );
    const r = await h.run();
    expect(h.opened()).toBe(2);
    expect(r.error).toMatch(/^h1: HOST KEY CHANGED; the change continues on the host by itself/);
  });

  it('the run journal names the change before it is launched: a controller killed while the host starts it leaves a change a resume follows', async () => {
    const written: Array<Record<string, unknown>> = [];
    let atLaunch: Array<Record<string, unknown>> = [];
    const h = setup(
      { plans: [install], onLaunch: () => { atLaunch = [...written]; throw new Error('controller killed'); } },
      { journal: { write: (rec: Record<string, unknown>) => written.push(rec), append: () => undefined } as never },
    );
    await h.run();
    expect(atLaunch.filter((x) => x.type === 'change')).toEqual([{ type: 'change', host: 'h1', txn: expect.any(String), outcome: 'updated' }]);
  });

  it('--resume: a change the interrupted run launched that ended by itself is this run\'s outcome, with no new attempt', async () => {
    const h = setup({ plans: [], polls: [['1 started\n1 committed\n1 done ok pid=12\n']] }, { resume: { txn: 'm0prior', outcome: 'updated' } });
    const r = await h.run();
    expect(r).toMatchObject({ outcome: 'updated', error: null, txn: 'm0prior' });
    expect(h.calls).toEqual(['open', 'poll 0', 'facts', 'close']);
    expect(h.states).toEqual(['connected', 'planned', 'waiting', 'done']);
  });

  it('--resume: a change that rolled back while the controller was away stays rolled back for this run', async () => {
    const h = setup({ plans: [], polls: [['1 failed\n1 rolling-back\n1 done rolled-back the new agent does not run; the previous agent was restored and runs (pid 7)\n']] }, { resume: { txn: 'm0prior', outcome: 'updated' } });
    const r = await h.run();
    expect(r).toMatchObject({ outcome: 'rolled-back', error: 'h1: the new agent does not run; the previous agent was restored and runs (pid 7)' });
    expect(h.calls.some((c) => c.startsWith('stage'))).toBe(false);
  });

  it('--resume: a change that never ran or died is planned anew', async () => {
    const h = setup(
      { plans: [install], polls: [['0 lost the change never started (no record of m0prior)\n'], [journal(FULL, '1 done ok')]] },
      { resume: { txn: 'm0prior', outcome: 'updated' } },
    );
    const r = await h.run();
    expect(r.outcome).toBe('updated');
    expect(h.calls.filter((c) => c.startsWith('stage'))).toEqual(['stage transaction']);
    expect(h.states.slice(0, 6)).toEqual(['connected', 'planned', 'waiting', 'done', 'connected', 'planned']);
  });

  it('a change that died half-way is undone first, then the host is planned and changed again', async () => {
    const recover: Plan = { kind: 'recover', txn: 'old1', reason: 'change old1 stopped in phase installing', steps: [] };
    const h = setup({
      plans: [install, recover, install],
      polls: [
        ['1 started\n0 lost the change\'s process is gone\n'],
        [journal(['recovering', 'rolling-back'], '1 done rolled-back restored the old agent')],
        [journal(FULL, '1 done ok')],
      ],
    });
    const r = await h.run();
    expect(r.outcome).toBe('updated');
    expect(h.calls.filter((c) => c.startsWith('plan') || c.startsWith('stage'))).toEqual([
      'plan transaction', 'stage transaction', 'plan recover', 'stage recover', 'plan transaction', 'stage transaction',
    ]);
    expect(h.states.filter((s) => s === 'lost' || s === 'recovering')).toEqual(['lost', 'recovering']);
  });

  it('another change running on the host is waited for, then the host is planned again', async () => {
    const h = setup({
      plans: [{ kind: 'wait', txn: 'other', reason: 'change other is running', steps: [] }, { kind: 'unchanged', reason: 'already runs this package', steps: [] }],
      polls: [['1 verified\n1 done ok\n']],
    });
    const r = await h.run();
    expect(r.outcome).toBe('unchanged');
    expect(h.states).toEqual(['connected', 'planned', 'waiting', 'done', 'connected', 'planned', 'done']);
  });

  it('the in-place fix: its failure is the host\'s, with the host named', async () => {
    const fixPlan: Plan = { kind: 'fix', outcome: 'updated', reason: 'wrong modes', steps: [] };
    const ok = await setup({ plans: [{ ...fixPlan }] }).run();
    expect(ok).toMatchObject({ outcome: 'updated', error: null });
    expect(ok.steps.map((s) => s.name)).toEqual(['connect', 'facts', 'permissions', 'facts']);
    const bad = await setup({ plans: [{ ...fixPlan }], fix: { ok: false, error: 'chmod: read-only file system' } }).run();
    expect(bad).toMatchObject({ outcome: 'failed', error: 'h1: chmod: read-only file system' });
  });

  it('a host that cannot be reached is unreachable, not failed', async () => {
    const r = await setup({ plans: [], open: () => { throw new TransportError('unreachable', 'h1: connection refused'); } }).run();
    expect(r).toMatchObject({ outcome: 'unreachable', reachable: false, error: 'h1: connection refused' });
  });

  it('the connection gone for good after the launch: the change goes on by itself on the host, and the result says so', async () => {
    const lost = () => new TransportError('lost', 'h1: the connection was lost');
    const h = setup({ plans: [install], polls: [[lost(), lost(), lost(), lost(), lost(), lost()]], open: (n) => { if (n > 1) throw new TransportError('unreachable', 'h1: connection refused'); } });
    const r = await h.run();
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/the change continues on the host by itself \(it ends updated or rolled back\): re-run to see and complete it$/);
  });

  it('cut off after a change has ended: the failure is the connection\'s, not "the change continues"', async () => {
    const recover: Plan = { kind: 'recover', txn: 'old1', reason: 'change old1 stopped in phase installing', steps: [] };
    let stages = 0;
    const r = await setup({
      plans: [recover, install],
      polls: [[journal(['recovering', 'rolling-back'], '1 done rolled-back restored the old agent')]],
      stage: () => {
        if (++stages === 2) throw new TransportError('timeout', 'h1: timed out after 1 s');
        return '/var/lib/resetpwd-fleet/stage.x';
      },
    }).run();
    expect(r.error).toBe('h1: timed out after 1 s');
    // Logged in before it timed out: a failure on a reached host, not an `unreachable` --retries would redo.
    expect(r).toMatchObject({ outcome: 'failed', reachable: true, failure: 'timeout' });
  });

  it('a host that keeps reporting unfinished changes is given up after four rounds, pointing at its record', async () => {
    const wait: Plan = { kind: 'wait', txn: 'other', reason: 'change other is running', steps: [] };
    const r = await setup({ plans: [wait, wait, wait, wait], polls: [['1 done ok\n'], ['1 done ok\n'], ['1 done ok\n'], ['1 done ok\n']] }).run();
    expect(r).toMatchObject({ outcome: 'failed', error: 'h1: the host kept reporting unfinished changes; look at /var/lib/resetpwd-fleet/txn' });
  });
});

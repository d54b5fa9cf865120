import { randomBytes } from 'node:crypto';
import type { ChangeHostResult } from '../core/change.js';
import { stepTimer, type Outcome, type StepRecord } from '../core/result.js';
import type { Journal } from '../fleet/journal.js';
import type { Target } from '../inventory/target.js';
import { StageError, type ChangeInputs, type ChangeKit } from '../platform/platform.js';
import { failureOf } from '../session/failure.js';
import { openSession, type HostSession, type SessionOpener } from '../session/open.js';
import type { ConnectOptions } from '../session/options.js';
import type { KnownHosts } from '../transport/known-hosts.js';
import { TransportError } from '../transport/transport.js';
import { followJournal, type FollowEnd } from './follow.js';
import { HostMachine, type HostState } from './machine.js';

/** Everything a change on one host needs besides the target: how to connect, the package, the options. */
export interface ChangeContext extends ChangeInputs {
  conn: ConnectOptions;
  knownHosts: KnownHosts;
  dryRun: boolean;
  journal: Journal | null;
  onTransition?: (host: string, state: HostState, detail?: string) => void;
  /**
   * The connection to a host dropped while its change ran (attempt 0, with the drop's reason), or a
   * reconnect attempt ended (its number since the drop; error undefined: it got back in).
   */
  onReconnect?: (host: string, attempt: number, error?: string) => void;
  /** The change the run being resumed launched on this host (its journal's `change` record), if any. */
  resume?: { txn: string; outcome: Outcome } | undefined;
}

/**
 * One host's change: connect, facts, plan, then — unless the plan says unchanged or refused — stage the
 * package, start the host-side transaction and follow it to its end, reconnecting if the connection drops.
 * A change found running is waited for, one found dead is undone first, then the host is planned again.
 * Never throws: every failure is the host's result, and the result's agent state is read back from the host.
 */
export async function driveChange(t: Target, ctx: ChangeContext, open: SessionOpener = () => openSession(t, ctx.conn, ctx.knownHosts)): Promise<ChangeHostResult> {
  const steps: StepRecord[] = [];
  const r: ChangeHostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null, plan: null, txn: null, reconnects: 0,
  };
  const m = new HostMachine(t.name, ctx.journal, ctx.onTransition);
  const time = stepTimer(steps);
  const end = (outcome: Outcome, error: string | null): ChangeHostResult => {
    m.finish(outcome, error ?? undefined);
    return { ...r, outcome, error };
  };
  let s: HostSession | undefined;
  /** The host's OS part of the change, from its platform (the same for every session to the host). */
  let kit: ChangeKit | undefined;
  const kitOf = (x: HostSession): ChangeKit => (kit ??= x.platform.change(ctx));
  /** The change this run started on the host, once launched. */
  let own: { txn: string; outcome: Outcome } | undefined;
  /** A change of ours is running on the host while we follow it: if we are cut off, it ends without us. */
  let launched = false;
  const reconnect = async (): Promise<HostSession> => {
    await s?.close().catch(() => undefined);
    s = undefined;
    s = await open();
    return s;
  };
  /** The host's facts, and what the result reports from them: its OS and the plug-in's state now. */
  const readBack = async (): Promise<unknown> => {
    const f = await time('facts', () => s!.platform.facts(s!));
    r.os = s!.platform.os(f);
    r.agent = s!.platform.agent(f);
    return f;
  };
  /** Follows a host-side change's journal to its end. `mach` null: only wait (someone else's change). */
  const follow = (txn: string, mach: HostMachine | null): Promise<FollowEnd> =>
    followJournal({
      mach,
      poll: (from, onStdout) => kitOf(s!).poll(s!, txn, from, onStdout),
      reconnect,
      backoff: (n) => kitOf(s!).backoff(n),
      reconnectWindowMs: ctx.conn.stepTimeoutMs,
      // Every host-side step has its own limit (300 s a verb); this bounds the whole change, rollback included.
      deadlineMs: ctx.knobs?.followDeadlineMs ?? Math.max(30 * 60_000, 10 * ctx.conn.stepTimeoutMs),
      onDrop: (e) => {
        ctx.journal?.append(t.name, 'reconnecting', e.message);
        ctx.onReconnect?.(t.name, 0, e.message);
      },
      onReconnect: (attempt, error) => {
        if (error === undefined) r.reconnects++;
        ctx.journal?.append(t.name, error === undefined ? 'reconnected' : 'reconnecting', error === undefined ? `attempt ${attempt}` : `attempt ${attempt}: ${error}`);
        ctx.onReconnect?.(t.name, attempt, error);
      },
      decode: (detail) => (kitOf(s!).decode ?? ((x: string) => x))(detail),
    });
  try {
    s = await time('connect', open);
    r.reachable = true;
    if (s.transport.algorithms) r.ssh = s.transport.algorithms;
    m.to('connected');
    if (ctx.resume) {
      // A change the resumed run launched here: its end, reached while no controller watched, is this run's
      // outcome for the host — never a second attempt (a rolled-back host stays rolled back; --retry-failed
      // is the way to try again). Only a change that never ran or died is planned anew.
      const prior = ctx.resume;
      m.to('planned', `resume: change ${prior.txn} launched by the interrupted run`);
      m.to('waiting', prior.txn);
      launched = true;
      const fin = await time('wait', () => follow(prior.txn, null));
      launched = false;
      if (fin.result !== 'lost') {
        r.txn = prior.txn;
        r.plan = { kind: 'transaction', reason: `resumed: change ${prior.txn}, launched by the interrupted run, ended ${fin.result}`, steps: [] };
        const after = await readBack();
        if (fin.result === 'ok') return end(prior.outcome, null);
        return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' ? s!.platform.describeLeft(after) : ''}`);
      }
      m.to('done', `change ${prior.txn}: ${fin.detail}`);
      m.to('connected');
    }
    for (let round = 0; round < 4; round++) {
      const facts = await readBack();
      const p = s.platform;
      r.checks = p.checks(facts, { pull: ctx.conn.pull, inventoryEip: t.eip });
      const plan = p.plan(ctx.command, facts, r.checks, ctx.pkg?.info ?? null, { ...ctx.plan, pullUrl: ctx.pullUrl ?? ctx.plan.pullUrl });
      r.plan = { kind: plan.kind, reason: plan.reason, steps: plan.steps };
      m.to('planned', `${plan.kind}: ${plan.reason}`);
      if (ctx.dryRun) return end(plan.kind === 'unchanged' ? 'unchanged' : plan.kind === 'refused' ? 'refused' : 'skipped', plan.kind === 'refused' ? plan.reason : null);
      switch (plan.kind) {
        case 'unchanged':
          return end('unchanged', null);
        case 'refused':
          return end('refused', plan.reason);
        case 'fix': {
          const fixed = await time(kitOf(s).fixStep, () => kitOf(s!).fix(s!));
          await readBack();
          return fixed.ok ? end(plan.outcome, null) : end('failed', `${t.name}: ${fixed.error}`);
        }
        case 'wait': {
          m.to('waiting', plan.reason);
          launched = own !== undefined && plan.txn === own.txn;
          const waited = await time('wait', () => follow(plan.txn, null));
          launched = false;
          if (own && plan.txn === own.txn && waited.result !== 'lost') {
            // Our own change, which the follow had taken for dead: its end is this host's outcome.
            await readBack();
            if (waited.result === 'ok') return end(own.outcome, null);
            return end(waited.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${waited.detail}`);
          }
          m.to('done', 'the other change finished');
          m.to('connected');
          continue;
        }
        case 'recover':
        case 'transaction': {
          const txn = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
          r.txn = txn;
          if (plan.kind === 'transaction') own = { txn, outcome: plan.outcome };
          m.to('staging');
          let stage: string;
          try {
            stage = await time('stage', () => kitOf(s!).stage(s!, plan, txn));
          } catch (e) {
            if (e instanceof StageError) return end('failed', `${t.name}: ${e.message} (nothing on the host was changed)`);
            if (e instanceof TransportError && e.reason === 'lost') return end('failed', `${e.message}; nothing on the host was changed (a re-run starts over)`);
            throw e;
          }
          m.to('staged', stage);
          // What a resumed run needs to tell this change's end from a change of its own (fleet/runs.ts): written
          // before the launch, so a controller killed while the host starts the change still leaves its id. A
          // change that then never started is found so by the resume's follow, and planned anew.
          if (plan.kind === 'transaction') ctx.journal?.write({ type: 'change', host: t.name, txn, outcome: plan.outcome });
          const started = await time('launch', () => kitOf(s!).launch(s!, stage, plan, txn));
          if ('error' in started) return end('failed', `${t.name}: the change could not be started on the host (${started.error}); nothing was changed`);
          m.to('launched', started.note ? `${txn}: ${started.note}` : txn);
          launched = true;
          const fin = await time('apply', () => follow(txn, m));
          launched = false; // it ended (or died): what follows is this run's own failure, not the change's
          if (fin.result === 'lost' && /never started/.test(fin.detail)) {
            return end('failed', `${t.name}: the change did not start on the host (${fin.detail}); see ${kitOf(s!).stageLog(stage)} there. Nothing was changed`);
          }
          // What the host has now, read back; if even that fails, the change's own end still stands.
          let after: unknown;
          try {
            after = await readBack();
          } catch (e) {
            if (fin.result === 'lost') throw e;
            const word = fin.result === 'ok' && plan.kind === 'transaction' ? plan.outcome : fin.result === 'rolled-back' ? 'rolled-back' : 'failed';
            return end(word, `${fin.result === 'ok' ? '' : `${t.name}: ${fin.detail}; `}the state after the change could not be read back (${(e as Error).message})`);
          }
          if (fin.result === 'lost') {
            m.to('lost', fin.detail);
            m.to('done', 'the change died on the host: undo it');
            m.to('connected');
            continue; // the next round finds the dead change and undoes it
          }
          if (plan.kind === 'recover') {
            m.to('done', `recovered ${plan.txn}: ${fin.result} ${fin.detail}`.trim());
            m.to('connected');
            continue;
          }
          if (fin.result === 'ok') return end(plan.outcome, null);
          return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' ? s!.platform.describeLeft(after) : ''}`);
        }
      }
    }
    return end('failed', `${t.name}: the host kept reporting unfinished changes; look at ${s ? kitOf(s).txnFile : 'its change record'}`);
  } catch (e) {
    const f = failureOf(e, t.name, r.reachable);
    if (launched || m.touched()) {
      // The host-side change runs on by itself: say so rather than guess its end.
      return end('failed', `${f.error}; the change continues on the host by itself (it ends updated or rolled back): re-run to see and complete it`);
    }
    if (f.reachable) r.reachable = true;
    // The reason in the shared vocabulary (host-key-unknown, auth-failed, …): --retries, the error budget and
    // "By reason" decide by it, as for audit.
    if (f.failure) r.failure = f.failure;
    return end(f.outcome, f.error);
  } finally {
    await s?.close().catch(() => undefined);
  }
}

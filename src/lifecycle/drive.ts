import { randomBytes } from 'node:crypto';
import { failureOf } from '../audit/host.js';
import { stepTimer, type Outcome, type StepRecord } from '../core/result.js';
import type { CheckResult } from '../core/check.js';
import type { Target } from '../inventory/target.js';
import { TransportError, type ExecResult } from '../transport/transport.js';
import type { ChangeContext, ChangeHostResult } from './execute.js';
import { followJournal, type FollowEnd } from './follow.js';
import { HostMachine } from './machine.js';
import type { Plan } from '../core/plan.js';

/** A staging failure that left the host as it was (the stage, if made, is removed). */
export class StageError extends Error {}

/**
 * What one OS contributes to a change: its session, its facts and their reading, its plan, and the
 * scripts that stage, launch, fix and follow. The order of the steps, the state machine, reconnects,
 * recovery of a dead change and the wording of every outcome are the driver's, the same for every OS.
 */
export interface ChangeDriver<S extends { close(): Promise<void> }, F> {
  open(): Promise<S>;
  facts(s: S): Promise<F>;
  /** The OS identity and agent state the result reports, read from facts. */
  readBack(f: F, r: ChangeHostResult): void;
  checks(f: F): CheckResult[];
  plan(f: F, checks: CheckResult[]): Plan;
  /** The in-place fix of a host that runs the right package; the step is recorded under `fixStep`. */
  fixStep: string;
  fix(s: S): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Makes the private stage and fills it; throws StageError when the host refuses (nothing changed). */
  stage(s: S, plan: Plan, txn: string): Promise<string>;
  /** Starts the staged change; an error string when it could not be started (nothing changed). */
  launch(s: S, stage: string, plan: Plan, txn: string): Promise<string | null>;
  /** One poll of the host's change journal from line `from` (see follow.ts). */
  poll(s: S, txn: string, from: number, onStdout: (chunk: string) => void): Promise<ExecResult>;
  backoff: (attempt: number) => number;
  decode?: (detail: string) => string;
  /** Where an operator looks on the host when a change did not start, or kept being unfinished. */
  stageLog(stage: string): string;
  txnFile: string;
  /** After a failed rollback: what the host has now. */
  describeLeft(f: F): string;
}

/**
 * One host's change: connect, facts, plan, then — unless the plan says unchanged or refused — stage the
 * package, start the host-side transaction and follow it to its end, reconnecting if the connection drops.
 * A change found running is waited for, one found dead is undone first, then the host is planned again.
 * Never throws: every failure is the host's result, and the result's agent state is read back from the host.
 */
export async function driveChange<S extends { close(): Promise<void> }, F>(t: Target, ctx: ChangeContext, d: ChangeDriver<S, F>): Promise<ChangeHostResult> {
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
  let s: S | undefined;
  /** The change this run started on the host, once launched. */
  let own: { txn: string; outcome: Outcome } | undefined;
  /** A change of ours is running on the host while we follow it: if we are cut off, it ends without us. */
  let launched = false;
  const reconnect = async (): Promise<S> => {
    await s?.close().catch(() => undefined);
    s = undefined;
    s = await d.open();
    return s;
  };
  const readBack = async (): Promise<F> => {
    const f = await time('facts', () => d.facts(s!));
    d.readBack(f, r);
    return f;
  };
  /** Follows a host-side change's journal to its end. `mach` null: only wait (someone else's change). */
  const follow = (txn: string, mach: HostMachine | null): Promise<FollowEnd> =>
    followJournal({
      mach,
      poll: (from, onStdout) => d.poll(s!, txn, from, onStdout),
      reconnect,
      backoff: d.backoff,
      reconnectWindowMs: ctx.conn.stepTimeoutMs,
      onDrop: (e) => {
        ctx.journal?.append(t.name, 'reconnecting', e.message);
        ctx.onReconnect?.(t.name, 0, e.message);
      },
      onReconnect: (attempt, error) => {
        if (error === undefined) r.reconnects++;
        ctx.journal?.append(t.name, error === undefined ? 'reconnected' : 'reconnecting', error === undefined ? `attempt ${attempt}` : `attempt ${attempt}: ${error}`);
        ctx.onReconnect?.(t.name, attempt, error);
      },
      ...(d.decode ? { decode: d.decode } : {}),
    });
  try {
    s = await time('connect', d.open);
    r.reachable = true;
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
        return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' ? d.describeLeft(after) : ''}`);
      }
      m.to('done', `change ${prior.txn}: ${fin.detail}`);
      m.to('connected');
    }
    for (let round = 0; round < 4; round++) {
      const facts = await readBack();
      r.checks = d.checks(facts);
      const plan = d.plan(facts, r.checks);
      r.plan = { kind: plan.kind, reason: plan.reason, steps: plan.steps };
      m.to('planned', `${plan.kind}: ${plan.reason}`);
      if (ctx.dryRun) return end(plan.kind === 'unchanged' ? 'unchanged' : plan.kind === 'refused' ? 'refused' : 'skipped', plan.kind === 'refused' ? plan.reason : null);
      switch (plan.kind) {
        case 'unchanged':
          return end('unchanged', null);
        case 'refused':
          return end('refused', plan.reason);
        case 'fix': {
          const fixed = await time(d.fixStep, () => d.fix(s!));
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
            stage = await time('stage', () => d.stage(s!, plan, txn));
          } catch (e) {
            if (e instanceof StageError) return end('failed', `${t.name}: ${e.message} (nothing on the host was changed)`);
            if (e instanceof TransportError && e.reason === 'lost') return end('failed', `${e.message}; nothing on the host was changed (a re-run starts over)`);
            throw e;
          }
          m.to('staged', stage);
          const refused = await time('launch', () => d.launch(s!, stage, plan, txn));
          if (refused !== null) return end('failed', `${t.name}: the change could not be started on the host (${refused}); nothing was changed`);
          m.to('launched', txn);
          // What a resumed run needs to tell this change's end from a change of its own (fleet/runs.ts).
          if (plan.kind === 'transaction') ctx.journal?.write({ type: 'change', host: t.name, txn, outcome: plan.outcome });
          launched = true;
          const fin = await time('apply', () => follow(txn, m));
          launched = false; // it ended (or died): what follows is this run's own failure, not the change's
          if (fin.result === 'lost' && /never started/.test(fin.detail)) {
            return end('failed', `${t.name}: the change did not start on the host (${fin.detail}); see ${d.stageLog(stage)} there. Nothing was changed`);
          }
          // What the host has now, read back; if even that fails, the change's own end still stands.
          let after: F;
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
          return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' ? d.describeLeft(after) : ''}`);
        }
      }
    }
    return end('failed', `${t.name}: the host kept reporting unfinished changes; look at ${d.txnFile}`);
  } catch (e) {
    const f = failureOf(e, t.name);
    if (launched || m.touched()) {
      // The host-side change runs on by itself: say so rather than guess its end.
      return end('failed', `${f.error}; the change continues on the host by itself (it ends updated or rolled back): re-run to see and complete it`);
    }
    if (f.reachable) r.reachable = true;
    return end(f.outcome, f.error);
  } finally {
    await s?.close().catch(() => undefined);
  }
}

import { createHash, randomBytes } from 'node:crypto';
import { failureOf } from '../audit/host.js';
import { stepTimer, type Outcome, type StepRecord } from '../audit/result.js';
import { runWindowsChecks } from '../checks/windows/index.js';
import { parseEmitted, unescapeEmitted } from '../dialect/powershell.js';
import type { Target } from '../inventory/target.js';
import { windowsAgentState } from '../platform/windows/agent-state.js';
import { cleanupScript, fixScript, followScript, launchScript, prepareScript, stageScript } from '../platform/windows/change-scripts.js';
import { windowsOs, type WindowsFacts } from '../platform/windows/facts.js';
import { STAGE_RE, TXN_FILE, toWindowsPath, windowsPackageDirs } from '../platform/windows/paths.js';
import { gatherWindowsFacts, type WindowsSession } from '../platform/windows/session.js';
import { windowsTxnScript, type WindowsTxnArgs } from '../platform/windows/txn-script.js';
import { TransportError } from '../transport/transport.js';
import { toolVersion } from '../version.js';
import type { ChangeContext, ChangeHostResult } from './execute.js';
import { followJournal, type FollowEnd } from './follow.js';
import { HostMachine } from './machine.js';
import { planWindowsChange } from './plan-windows.js';
import type { Plan } from './plan.js';

export { gatherWindowsFacts } from '../platform/windows/session.js';

/** Knobs a test or the lab turns; the defaults are what a real run uses. */
export interface WindowsChangeOptions {
  /** How long one follow poll watches the journal on the host before it returns (seconds). */
  followWindowSeconds?: number;
  /** Back-off before reconnect number n, in ms (default 1000 × n). */
  reconnectDelayMs?: (attempt: number) => number;
  /** Seconds any .bat file may run on the host before its process tree is killed. */
  batLimitSeconds?: number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

class StageError extends Error {}

/**
 * One Windows host's change, as changeHost (execute.ts) does it for Linux: connect, facts, plan, then —
 * unless the plan says unchanged or refused — stage the package, start the host-side transaction detached
 * and follow it to its end, reconnecting with `open` when the connection drops. Every transition goes
 * through the HostMachine. Never throws: every failure is the host's result, and its agent state is read
 * back from the host.
 */
export async function changeWindowsHost(
  t: Target,
  ctx: ChangeContext,
  open: () => Promise<WindowsSession>,
  opts: WindowsChangeOptions = {},
): Promise<ChangeHostResult> {
  const steps: StepRecord[] = [];
  const r: ChangeHostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null, plan: null, txn: null,
  };
  const m = new HostMachine(t.name, ctx.journal, ctx.onTransition);
  const time = stepTimer(steps);
  const window = opts.followWindowSeconds ?? 25;
  const backoff = opts.reconnectDelayMs ?? ((n: number) => 1000 * n);
  const end = (outcome: Outcome, error: string | null): ChangeHostResult => {
    m.finish(outcome, error ?? undefined);
    return { ...r, outcome, error };
  };
  let s: WindowsSession | undefined;
  let own: { txn: string; outcome: Outcome } | undefined;
  const reconnect = async (): Promise<WindowsSession> => {
    await s?.close().catch(() => undefined);
    s = undefined;
    s = await open();
    return s;
  };
  const readBack = (f: WindowsFacts) => {
    r.os = windowsOs(f);
    r.agent = windowsAgentState(f);
  };
  try {
    s = await time('connect', open);
    r.reachable = true;
    m.to('connected');
    for (let round = 0; round < 4; round++) {
      const facts = await time('facts', () => gatherWindowsFacts(s!));
      readBack(facts);
      r.checks = runWindowsChecks(facts, { pull: ctx.conn.pull, inventoryEip: t.eip });
      const plan = planWindowsChange(ctx.command, facts, r.checks, ctx.pkg?.info ?? null, { ...ctx.plan, pullUrl: ctx.conn.pullUrl ?? ctx.plan.pullUrl });
      r.plan = { kind: plan.kind, reason: plan.reason, steps: plan.steps };
      m.to('planned', `${plan.kind}: ${plan.reason}`);
      if (ctx.dryRun) return end(plan.kind === 'unchanged' ? 'unchanged' : plan.kind === 'refused' ? 'refused' : 'skipped', plan.kind === 'refused' ? plan.reason : null);
      switch (plan.kind) {
        case 'unchanged':
          return end('unchanged', null);
        case 'refused':
          return end('refused', plan.reason);
        case 'fix-permissions': {
          const out = await time('fix', () => s!.run(fixScript()));
          const e = parseEmitted(out.stdout);
          readBack(await time('facts', () => gatherWindowsFacts(s!)));
          return e.get('ok')?.[0] === '1' ? end(plan.outcome, null) : end('failed', `${t.name}: ${e.get('error')?.[0] ?? (out.stderr.trim() || 'the fix did not finish')}`);
        }
        case 'wait': {
          m.to('waiting', plan.reason);
          const waited = await time('wait', () => follow(plan.txn, null));
          if (own && plan.txn === own.txn && waited.result !== 'lost') {
            readBack(await time('facts', () => gatherWindowsFacts(s!)));
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
            stage = await time('stage', () => stageOn(s!, plan, txn, ctx, opts));
          } catch (e) {
            if (e instanceof StageError) return end('failed', `${t.name}: ${e.message} (nothing on the host was changed)`);
            if (e instanceof TransportError && e.reason === 'lost') return end('failed', `${e.message}; nothing on the host was changed (a re-run starts over)`);
            throw e;
          }
          m.to('staged', stage);
          const launched = parseEmitted((await time('launch', () => s!.run(launchScript(stage)))).stdout);
          if (!launched.get('launched')?.[0]) {
            return end('failed', `${t.name}: the change could not be started on the host (${launched.get('error')?.[0] ?? 'no process'}); nothing was changed`);
          }
          m.to('launched', txn);
          const fin = await time('apply', () => follow(txn, m));
          if (fin.result === 'lost' && /never started/.test(fin.detail)) {
            return end('failed', `${t.name}: the change did not start on the host (${fin.detail}); see ${stage} there. Nothing was changed`);
          }
          let after: WindowsFacts | null = null;
          try {
            after = await time('facts', () => gatherWindowsFacts(s!));
            readBack(after);
          } catch (e) {
            if (fin.result === 'lost') throw e;
            const word = fin.result === 'ok' && plan.kind === 'transaction' ? plan.outcome : fin.result === 'rolled-back' ? 'rolled-back' : 'failed';
            return end(word, `${fin.result === 'ok' ? '' : `${t.name}: ${fin.detail}; `}the state after the change could not be read back (${(e as Error).message})`);
          }
          if (fin.result === 'lost') {
            m.to('lost', fin.detail);
            m.to('done', 'the change died on the host: undo it');
            m.to('connected');
            continue;
          }
          if (plan.kind === 'recover') {
            m.to('done', `recovered ${plan.txn}: ${fin.result} ${fin.detail}`.trim());
            m.to('connected');
            continue;
          }
          if (fin.result === 'ok') return end(plan.outcome, null);
          return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' && after ? describeLeft(after) : ''}`);
        }
      }
    }
    return end('failed', `${t.name}: the host kept reporting unfinished changes; look at ${TXN_FILE}`);
  } catch (e) {
    const f = failureOf(e, t.name);
    if (m.touched()) {
      return end('failed', `${f.error}; the change continues on the host by itself (it ends updated or rolled back): re-run to see and complete it`);
    }
    if (f.reachable) r.reachable = true;
    return end(f.outcome, f.error);
  } finally {
    await s?.close().catch(() => undefined);
  }

  /** Follows the host-side journal (one short follow script per window) to its end (see follow.ts). */
  function follow(txn: string, mach: HostMachine | null): Promise<FollowEnd> {
    return followJournal({
      mach,
      poll: (from, onStdout) => s!.run(followScript(txn, from, window), { timeoutMs: Math.max(ctx.conn.stepTimeoutMs, (window + 60) * 1000), onStdout }),
      reconnect,
      backoff,
      onDrop: (e) => mach && ctx.journal?.append(t.name, 'reconnecting', e.message),
      decode: unescapeEmitted,
    });
  }
}

export function windowsTxnArgs(plan: Plan, txn: string, stage: string, ctx: ChangeContext, opts: WindowsChangeOptions = {}): WindowsTxnArgs {
  const info = ctx.pkg?.info;
  const dirs = info ? windowsPackageDirs(info) : { main: '', update: null };
  const install = plan.kind === 'transaction' && plan.action === 'install';
  return {
    action: plan.kind === 'recover' ? 'recover' : plan.kind === 'transaction' ? plan.action : 'install',
    txn,
    stage,
    mainSetup: install ? toWindowsPath(dirs.main) : '',
    updateSetup: install && dirs.update ? toWindowsPath(dirs.update) : '',
    pkgSha: info?.sha256 ?? '',
    pkgVersion: info?.version ?? '',
    pkgLog4j: info?.log4j ?? '',
    settle: ctx.plan.settleSeconds,
    startWait: ctx.startWaitSeconds,
    limit: opts.batLimitSeconds ?? 300,
    tool: toolVersion(),
  };
}

/**
 * Makes the private stage, uploads what the change needs (the package and txn.ps1) and has the host check
 * their SHA-256 and extract — nothing outside the stage is touched here.
 */
async function stageOn(s: WindowsSession, plan: Plan, txn: string, ctx: ChangeContext, opts: WindowsChangeOptions): Promise<string> {
  const prep = await s.run(prepareScript());
  const stage = parseEmitted(prep.stdout).get('stage')?.[0] ?? '';
  if (!STAGE_RE.test(stage)) throw new StageError(`cannot create a stage folder: ${(prep.stderr || prep.stdout).trim().slice(0, 200)}`);
  const args = windowsTxnArgs(plan, txn, stage, ctx, opts);
  const script = Buffer.from(windowsTxnScript(args), 'utf8');
  await s.transport.put(script, `${stage}\\txn.ps1`);
  const install = plan.kind === 'transaction' && plan.action === 'install' && ctx.pkg;
  const pull = install && ctx.conn.pullUrl ? ctx.conn.pullUrl : '';
  if (install && !pull) await s.transport.put(ctx.pkg!.bytes, `${stage}\\pkg.zip`);
  const st = await s.run(
    stageScript({
      stage,
      txnSha: sha256(script),
      zipSha: install ? ctx.pkg!.info.sha256 : '',
      url: pull,
      expect: install ? `${toWindowsPath(windowsPackageDirs(ctx.pkg!.info).main)}\\setup.bat` : '',
    }),
  );
  const e = parseEmitted(st.stdout);
  if (e.get('staged')?.[0] !== '1') {
    await s.run(cleanupScript(stage)).catch(() => undefined);
    throw new StageError(e.get('error')?.[0] ?? `staging failed: ${(st.stderr || st.stdout).trim().slice(0, 200)}`);
  }
  return stage;
}

/** After a failed rollback: what the host has now, from its facts. */
function describeLeft(f: WindowsFacts): string {
  const a = windowsAgentState(f);
  return `. Now on the host: ${a.installed ? `agent ${a.version ? `${a.version} ` : ''}installed, ${a.running ? 'running' : 'NOT running'}` : 'no agent installed'}`;
}

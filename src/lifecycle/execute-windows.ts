import { createHash } from 'node:crypto';
import { runWindowsChecks } from '../platform/windows/checks/index.js';
import { parseEmitted, unescapeEmitted } from '../dialect/powershell.js';
import type { Target } from '../inventory/target.js';
import { windowsAgentState } from '../platform/windows/agent-state.js';
import { cleanupScript, fixScript, followScript, launchScript, prepareScript, stageScript } from '../platform/windows/change-scripts.js';
import { windowsOs, type WindowsFacts } from '../platform/windows/facts.js';
import { STAGE_RE, TXN_FILE, toWindowsPath, windowsPackageDirs } from '../platform/windows/paths.js';
import { gatherWindowsFacts, type WindowsSession } from '../platform/windows/session.js';
import { windowsTxnScript, type WindowsTxnArgs } from '../platform/windows/txn-script.js';
import { toolVersion } from '../version.js';
import type { ChangeContext, ChangeHostResult } from './execute.js';
import { driveChange, StageError } from './drive.js';
import { planWindowsChange } from '../platform/windows/plan.js';
import type { Plan } from '../core/plan.js';

export { gatherWindowsFacts } from '../platform/windows/session.js';

/** Knobs a test or the lab turns; the defaults are what a real run uses. */
export interface WindowsChangeOptions {
  /** How long one follow poll watches the journal on the host before it returns (seconds). */
  followWindowSeconds?: number;
  /** Back-off before reconnect attempt n, in ms (default 1000 × n, at most 10 s). */
  reconnectDelayMs?: (attempt: number) => number;
  /** Seconds any .bat file may run on the host before its process tree is killed. */
  batLimitSeconds?: number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * One Windows host's change, driven as a Linux host's is (drive.ts): the stage under ProgramData, txn.ps1
 * started detached, its journal followed in windows of `followWindowSeconds`, reconnecting with `open`.
 */
export async function changeWindowsHost(
  t: Target,
  ctx: ChangeContext,
  open: () => Promise<WindowsSession>,
  opts: WindowsChangeOptions = {},
): Promise<ChangeHostResult> {
  const window = opts.followWindowSeconds ?? 25;
  return driveChange<WindowsSession, WindowsFacts>(t, ctx, {
    open,
    facts: gatherWindowsFacts,
    readBack: (f, r) => {
      r.os = windowsOs(f);
      r.agent = windowsAgentState(f);
    },
    checks: (f) => runWindowsChecks(f, { pull: ctx.conn.pull, inventoryEip: t.eip }),
    plan: (f, checks) => planWindowsChange(ctx.command, f, checks, ctx.pkg?.info ?? null, { ...ctx.plan, pullUrl: ctx.conn.pullUrl ?? ctx.plan.pullUrl }),
    fixStep: 'fix',
    fix: async (s) => {
      const out = await s.run(fixScript());
      const e = parseEmitted(out.stdout);
      return e.get('ok')?.[0] === '1' ? { ok: true } : { ok: false, error: e.get('error')?.[0] ?? (out.stderr.trim() || 'the fix did not finish') };
    },
    stage: (s, plan, txn) => stageOn(s, plan, txn, ctx, opts),
    launch: async (s, stage) => {
      const launched = parseEmitted((await s.run(launchScript(stage))).stdout);
      return launched.get('launched')?.[0] ? null : (launched.get('error')?.[0] ?? 'no process');
    },
    poll: (s, txn, from, onStdout) => s.run(followScript(txn, from, window), { timeoutMs: Math.max(ctx.conn.stepTimeoutMs, (window + 60) * 1000), onStdout }),
    backoff: opts.reconnectDelayMs ?? ((n: number) => Math.min(1000 * n, 10_000)),
    decode: unescapeEmitted,
    stageLog: (stage) => stage,
    txnFile: TXN_FILE,
    describeLeft,
  });
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

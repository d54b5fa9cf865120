import { createHash } from 'node:crypto';
import type { Plan } from '../../core/plan.js';
import { parseEmitted, unescapeEmitted } from '../../dialect/powershell.js';
import { toolVersion } from '../../version.js';
import { StageError, defaultBackoff, type ChangeInputs, type ChangeKit, type HostShell } from '../platform.js';
import { cleanupScript, fixScript, followScript, launchScript, prepareScript, stageScript } from './change-scripts.js';
import { STAGE_RE, TXN_FILE, toWindowsPath, windowsPackageDirs } from './paths.js';
import { windowsTxnScript, type WindowsTxnArgs } from './txn-script.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * A Windows host's part of a change (lifecycle/drive.ts has the steps and their guarantees): the stage under
 * ProgramData, txn.ps1 started detached, its journal followed in windows of `followWindowSeconds`.
 */
export function windowsChange(c: ChangeInputs): ChangeKit {
  const window = c.knobs?.followWindowSeconds ?? 25;
  // The SHA-256 of the txn.ps1 each stage holds: its launch runs those bytes only (txnCommandArgs).
  const txnShaOf = new Map<string, string>();
  // The process each launch started (pid, start ticks): the follow waits for a slow start while it lives.
  const launchedBy = new Map<string, { pid: string; start: string }>();
  return {
    fixStep: 'fix',
    fix: async (s) => {
      const out = await s.run(fixScript());
      const e = parseEmitted(out.stdout);
      return e.get('ok')?.[0] === '1' ? { ok: true } : { ok: false, error: e.get('error')?.[0] ?? (out.stderr.trim() || 'the fix did not finish') };
    },
    stage: (s, plan, txn) => stageOn(s, plan, txn, c, txnShaOf),
    launch: async (s, stage, _plan, txn) => {
      const sha = txnShaOf.get(stage);
      if (!sha) return { error: 'the stage was not made by this change' };
      const r = await s.run(launchScript(stage, sha, txn));
      const e = parseEmitted(r.stdout);
      if (e.get('launched')?.[0] === undefined) return { error: e.get('error')?.[0] ?? (r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no process') };
      // A launcher that could not tell the pid (0) gives the follow nothing to wait on: after 20 s without a record
      // it says "never started", as before.
      const pid = e.get('launched')![0]!;
      if (Number(pid) > 0) launchedBy.set(txn, { pid, start: e.get('launched_start')?.[0] ?? '' });
      const refused = e.get('wmi_refused')?.[0];
      return { note: e.get('launcher')?.[0] === 'task' ? `started by a one-shot scheduled task as SYSTEM: ${refused ?? 'Win32_Process.Create was refused'}` : null };
    },
    poll: (s, txn, from, onStdout) => s.run(followScript(txn, from, window, launchedBy.get(txn)), { timeoutMs: Math.max(c.stepTimeoutMs, (window + 60) * 1000), onStdout }),
    backoff: c.knobs?.backoff ?? defaultBackoff,
    decode: unescapeEmitted,
    stageLog: (stage) => stage,
    txnFile: TXN_FILE,
  };
}

export function windowsTxnArgs(plan: Plan, txn: string, stage: string, c: ChangeInputs): WindowsTxnArgs {
  const info = c.pkg?.info;
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
    settle: c.plan.settleSeconds,
    startWait: c.startWaitSeconds,
    limit: c.knobs?.batLimitSeconds ?? 300,
    tool: toolVersion(),
  };
}

/**
 * Makes the private stage, uploads what the change needs (the package and txn.ps1) and has the host check
 * their SHA-256 and extract — nothing outside the stage is touched here.
 */
async function stageOn(s: HostShell, plan: Plan, txn: string, c: ChangeInputs, txnShaOf: Map<string, string>): Promise<string> {
  const prep = await s.run(prepareScript());
  const emitted = parseEmitted(prep.stdout);
  const stage = emitted.get('stage')?.[0] ?? '';
  if (!STAGE_RE.test(stage)) throw new StageError(`cannot create a stage folder: ${(emitted.get('error')?.[0] || prep.stderr || prep.stdout).trim().slice(0, 300)}`);
  const args = windowsTxnArgs(plan, txn, stage, c);
  const script = Buffer.from(windowsTxnScript(args), 'utf8');
  txnShaOf.set(stage, sha256(script));
  await s.transport.put(script, `${stage}\\txn.ps1`);
  const install = plan.kind === 'transaction' && plan.action === 'install' && c.pkg;
  const pull = install && c.pullUrl ? c.pullUrl : '';
  if (install && !pull) await s.transport.put(c.pkg!.bytes, `${stage}\\pkg.zip`);
  const st = await s.run(
    stageScript({
      stage,
      txnSha: sha256(script),
      zipSha: install ? c.pkg!.info.sha256 : '',
      url: pull,
      expect: install ? `${toWindowsPath(windowsPackageDirs(c.pkg!.info).main)}\\setup.bat` : '',
    }),
  );
  const e = parseEmitted(st.stdout);
  if (e.get('staged')?.[0] !== '1') {
    await s.run(cleanupScript(stage)).catch(() => undefined);
    throw new StageError(e.get('error')?.[0] ?? `staging failed: ${(st.stderr || st.stdout).trim().slice(0, 200)}`);
  }
  return stage;
}


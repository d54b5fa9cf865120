import { createHash } from 'node:crypto';
import { runLinuxChecks } from '../platform/linux/checks/index.js';
import { quote } from '../dialect/posix.js';
import { gatherFacts, openSession, type ConnectOptions, type HostSession } from '../audit/host.js';
import type { HostResult, Outcome } from '../core/result.js';
import type { Target } from '../inventory/target.js';
import type { PackageInfo } from '../package/verify.js';
import { agentState } from '../platform/linux/agent-state.js';
import {
  FIX_SCRIPT, PREPARE_SCRIPT, USER_UPLOAD_DIR_SCRIPT, followScript, launchScript, stageScript, type Extractor, type TxnArgs,
} from '../platform/linux/change-scripts.js';
import type { LinuxFacts } from '../platform/linux/facts.js';
import { TXN_SCRIPT } from '../platform/linux/txn-script.js';
import { TXN_FILE } from '../platform/linux/paths.js';
import { openWindowsSession } from '../audit/windows-host.js';
import { changeWindowsHost } from './execute-windows.js';
import type { KnownHosts } from '../transport/known-hosts.js';
import { toolVersion } from '../version.js';
import type { Journal } from './journal.js';
import { driveChange, StageError } from './drive.js';
import type { HostState } from './machine.js';
import { planChange } from '../platform/linux/plan.js';
import { type ChangeCommand, type Plan, type PlanOptions } from '../core/plan.js';

/** Everything a change on one host needs besides the target: how to connect, the package, the options. */
export interface ChangeContext {
  command: ChangeCommand;
  conn: ConnectOptions;
  knownHosts: KnownHosts;
  pkg: { info: PackageInfo; bytes: Buffer; tar: () => Buffer } | null;
  plan: PlanOptions;
  dryRun: boolean;
  journal: Journal | null;
  /** How long the new agent may take to come up, in seconds (the host checks once a second). */
  startWaitSeconds: number;
  onTransition?: (host: string, state: HostState, detail?: string) => void;
  /**
   * The connection to a host dropped while its change ran (attempt 0, with the drop's reason), or a
   * reconnect attempt ended (its number since the drop; error undefined: it got back in).
   */
  onReconnect?: (host: string, attempt: number, error?: string) => void;
  /** The change the run being resumed launched on this host (its journal's `change` record), if any. */
  resume?: { txn: string; outcome: Outcome } | undefined;
}

export interface ChangeHostResult extends HostResult {
  plan: { kind: Plan['kind']; reason: string; steps: string[] } | null;
  txn: string | null;
  /** How many times the controller got back in after the connection dropped during the change. */
  reconnects: number;
}

const STAGE_RE = /^\/var\/lib\/resetpwd-fleet\/stage\.[A-Za-z0-9]+$/;
const UPLOAD_RE = /^\/[A-Za-z0-9._/-]*\/resetpwd-fleet\.[A-Za-z0-9]+$/;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * One host's change (see drive.ts for the steps and their guarantees): a Linux host through its POSIX
 * scripts, a Windows host through execute-windows.ts.
 */
export async function changeHost(t: Target, ctx: ChangeContext): Promise<ChangeHostResult> {
  if (t.os === 'windows') return changeWindowsHost(t, ctx, () => openWindowsSession(t, ctx.conn, ctx.knownHosts));
  return driveChange<HostSession, LinuxFacts>(t, ctx, {
    open: () => openSession(t, ctx.conn, ctx.knownHosts),
    facts: gatherFacts,
    readBack: (f, r) => {
      r.os = { family: 'linux', id: f.os.id, version: f.os.version, arch: f.os.arch };
      r.agent = agentState(f);
    },
    checks: (f) => runLinuxChecks(f, { pull: ctx.conn.pull, inventoryEip: t.eip }),
    plan: (f, checks) => planChange(ctx.command, f, checks, ctx.pkg?.info ?? null, ctx.plan),
    fixStep: 'fix',
    fix: async (s) => {
      const out = await s.run(FIX_SCRIPT);
      return out.stdout.trim() === 'ok' ? { ok: true } : { ok: false, error: out.stdout.trim() || out.stderr.trim() || 'the fix did not finish' };
    },
    stage: (s, plan) => stageOn(s, plan, ctx),
    // The launch line backgrounds the change and returns; whether it really started is the follow's to see.
    launch: async (s, stage, plan, txn) => {
      await s.run(launchScript(txnArgs(plan, txn, stage, ctx)));
      return null;
    },
    poll: (s, txn, from, onStdout) => s.run(followScript(txn, from), { timeoutMs: Math.max(ctx.conn.stepTimeoutMs * 4, 300_000), onStdout }),
    backoff: (n) => Math.min(1000 * n, 10_000),
    stageLog: (stage) => `${stage}/txn.log`,
    txnFile: TXN_FILE,
    describeLeft,
  });
}

function txnArgs(plan: Plan, txn: string, stage: string, ctx: ChangeContext): TxnArgs {
  const info = ctx.pkg?.info;
  const strip = (d: string | null | undefined) => (d ? d : null);
  return {
    action: plan.kind === 'recover' ? 'recover' : plan.kind === 'transaction' ? plan.action : 'install',
    txn,
    stage,
    linuxDir: info?.linuxDir ?? '-',
    updateDir: strip(info?.updateLinuxDir),
    sha256: info?.sha256 ?? '-',
    version: info?.version ?? null,
    log4j: info?.log4j ?? null,
    settleSeconds: ctx.plan.settleSeconds,
    startWaitSeconds: ctx.startWaitSeconds,
    tool: toolVersion(),
  };
}

/**
 * Makes root's private stage, uploads what the change needs (package or its tar, and the transaction script)
 * and has root check every file's SHA-256 and unpack — nothing outside the stage is touched here.
 */
async function stageOn(s: HostSession, plan: Plan, ctx: ChangeContext): Promise<string> {
  const prep = await s.run(PREPARE_SCRIPT);
  const stage = prep.stdout.trim().split('\n').pop() ?? '';
  if (prep.code !== 0 || !STAGE_RE.test(stage)) throw new StageError(`cannot create a stage directory: ${(prep.stderr || prep.stdout).trim().slice(0, 200)}`);
  let uploadDir = stage;
  if (s.privilege.method === 'sudo') {
    const u = await s.transport.exec(`sh -c ${quote(USER_UPLOAD_DIR_SCRIPT)}`);
    uploadDir = u.stdout.trim();
    if (u.code !== 0 || !UPLOAD_RE.test(uploadDir)) throw new StageError(`cannot create a private upload directory: ${u.stderr.trim().slice(0, 200)}`);
  }
  const script = Buffer.from(TXN_SCRIPT);
  const files: { name: string; sha256: string; bytes: Buffer }[] = [{ name: 'txn.sh', sha256: sha256(script), bytes: script }];
  let archive = '';
  const extractor = plan.kind === 'transaction' ? (plan.extractor as Extractor | null) : null;
  if (plan.kind === 'transaction' && plan.action === 'install' && ctx.pkg) {
    if (extractor === 'tar') {
      const tar = ctx.pkg.tar();
      files.unshift({ name: 'pkg.tar', sha256: sha256(tar), bytes: tar });
      archive = 'pkg.tar';
    } else {
      files.unshift({ name: 'pkg.zip', sha256: ctx.pkg.info.sha256, bytes: ctx.pkg.bytes });
      archive = 'pkg.zip';
    }
  }
  // --pull: the host downloads the zip itself (a tar for a host without unzip is still pushed).
  const downloads = ctx.conn.pullUrl && archive === 'pkg.zip' ? [{ name: 'pkg.zip', url: ctx.conn.pullUrl }] : [];
  for (const f of files) if (!downloads.some((d) => d.name === f.name)) await s.transport.put(f.bytes, `${uploadDir}/${f.name}`, 0o600);
  const st = await s.run(
    stageScript({
      uploadDir,
      stage,
      files: files.map(({ name, sha256: h }) => ({ name, sha256: h })),
      downloads,
      unpack: archive && extractor ? { extractor, archive, expect: `${ctx.pkg!.info.linuxDir}/setup.sh` } : null,
    }),
  );
  const last = st.stdout.trim().split('\n').pop() ?? '';
  if (last !== 'staged') {
    await s.run(`rm -rf ${quote(stage)}${uploadDir !== stage ? ` ${quote(uploadDir)}` : ''}`).catch(() => undefined);
    throw new StageError(last.replace(/^error: /, '') || `staging failed: ${st.stderr.trim().slice(0, 200)}`);
  }
  return stage;
}

/** After a failed rollback: what the host has now, from its facts. */
function describeLeft(f: LinuxFacts): string {
  const a = agentState(f);
  return `. Now on the host: ${a.installed ? `agent ${a.version ? `${a.version} ` : ''}installed, ${a.running ? 'running' : 'NOT running'}` : 'no agent installed'}`;
}

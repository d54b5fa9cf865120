import { createHash, randomBytes } from 'node:crypto';
import { runLinuxChecks } from '../checks/index.js';
import { quote } from '../dialect/posix.js';
import { failureOf, gatherFacts, openSession, type ConnectOptions, type HostSession } from '../audit/host.js';
import { stepTimer, type HostResult, type Outcome, type StepRecord } from '../audit/result.js';
import type { Target } from '../inventory/target.js';
import type { PackageInfo } from '../package/verify.js';
import { agentState } from '../platform/linux/agent-state.js';
import {
  FIX_PERMISSIONS_SCRIPT, PREPARE_SCRIPT, USER_UPLOAD_DIR_SCRIPT, followScript, launchScript, stageScript, type TxnArgs,
} from '../platform/linux/change-scripts.js';
import type { LinuxFacts } from '../platform/linux/facts.js';
import { TXN_SCRIPT } from '../platform/linux/txn-script.js';
import { TransportError } from '../transport/transport.js';
import { openWindowsSession } from '../audit/windows-host.js';
import { changeWindowsHost } from './execute-windows.js';
import type { KnownHosts } from '../transport/known-hosts.js';
import { toolVersion } from '../version.js';
import type { Journal } from './journal.js';
import { followJournal, type FollowEnd } from './follow.js';
import { HostMachine, type HostState } from './machine.js';
import { planChange, type ChangeCommand, type Plan, type PlanOptions } from './plan.js';

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
}

export interface ChangeHostResult extends HostResult {
  plan: { kind: Plan['kind']; reason: string; steps: string[] } | null;
  txn: string | null;
}

const STAGE_RE = /^\/var\/lib\/resetpwd-fleet\/stage\.[A-Za-z0-9]+$/;
const UPLOAD_RE = /^\/[A-Za-z0-9._/-]*\/resetpwd-fleet\.[A-Za-z0-9]+$/;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

class StageError extends Error {}

/**
 * One host's change: connect, facts, plan, then — unless the plan says unchanged or refused — stage the
 * package, start the host-side transaction and follow it to its end, reconnecting if the connection drops.
 * Never throws: every failure is the host's result, and the result's agent state is read back from the host.
 */
export async function changeHost(t: Target, ctx: ChangeContext): Promise<ChangeHostResult> {
  const steps: StepRecord[] = [];
  const r: ChangeHostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null, plan: null, txn: null,
  };
  if (t.os === 'windows') return changeWindowsHost(t, ctx, () => openWindowsSession(t, ctx.conn, ctx.knownHosts));
  const m = new HostMachine(t.name, ctx.journal, ctx.onTransition);
  const time = stepTimer(steps);
  const end = (outcome: Outcome, error: string | null): ChangeHostResult => {
    m.finish(outcome, error ?? undefined);
    return { ...r, outcome, error };
  };
  let s: HostSession | undefined;
  /** The change this run started on the host, once launched. */
  let own: { txn: string; outcome: Outcome } | undefined;
  const reconnect = async (): Promise<HostSession> => {
    await s?.close();
    s = await openSession(t, ctx.conn, ctx.knownHosts);
    return s;
  };
  try {
    s = await time('connect', () => openSession(t, ctx.conn, ctx.knownHosts));
    r.reachable = true;
    m.to('connected');
    for (let round = 0; round < 4; round++) {
      const facts = await time('facts', () => gatherFacts(s!));
      r.os = { family: 'linux', id: facts.os.id, version: facts.os.version, arch: facts.os.arch };
      r.checks = runLinuxChecks(facts, { pull: ctx.conn.pull, inventoryEip: t.eip });
      r.agent = agentState(facts);
      const plan = planChange(ctx.command, facts, r.checks, ctx.pkg?.info ?? null, ctx.plan);
      r.plan = { kind: plan.kind, reason: plan.reason, steps: plan.steps };
      m.to('planned', `${plan.kind}: ${plan.reason}`);
      if (ctx.dryRun) return end(plan.kind === 'unchanged' ? 'unchanged' : plan.kind === 'refused' ? 'refused' : 'skipped', plan.kind === 'refused' ? plan.reason : null);
      switch (plan.kind) {
        case 'unchanged':
          return end('unchanged', null);
        case 'refused':
          return end('refused', plan.reason);
        case 'fix-permissions': {
          const out = await time('permissions', () => s!.run(FIX_PERMISSIONS_SCRIPT));
          r.agent = agentState(await gatherFacts(s!));
          return out.stdout.trim() === 'ok' ? end(plan.outcome, null) : end('failed', out.stdout.trim() || out.stderr.trim());
        }
        case 'wait': {
          m.to('waiting', plan.reason);
          const waited = await time('wait', () => follow(plan.txn, null));
          if (own && plan.txn === own.txn && waited.result !== 'lost') {
            // Our own change, which the follow had taken for dead: its end is this host's outcome.
            r.agent = agentState(await time('facts', () => gatherFacts(s!)));
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
          const args = txnArgs(plan, txn, ctx);
          let stage: string;
          m.to('staging');
          try {
            stage = await time('stage', () => stageOn(s!, plan, args, ctx));
          } catch (e) {
            if (e instanceof StageError) return end('failed', `${t.name}: ${e.message} (nothing on the host was changed)`);
            if (e instanceof TransportError && e.reason === 'lost') return end('failed', `${e.message}; nothing on the host was changed (a re-run starts over)`);
            throw e;
          }
          m.to('staged', stage);
          await time('launch', () => s!.run(launchScript({ ...args, stage })));
          m.to('launched', txn);
          const fin = await time('apply', () => follow(txn, m));
          if (fin.result === 'lost' && /never started/.test(fin.detail)) {
            return end('failed', `${t.name}: the change did not start on the host (${fin.detail}); see ${stage}/txn.log there. Nothing was changed`);
          }
          // What the host has now, read back; if even that fails, the change's own end still stands.
          let after: LinuxFacts | null = null;
          try {
            after = await time('facts', () => gatherFacts(s!));
            r.agent = agentState(after);
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
          return end(fin.result === 'rolled-back' ? 'rolled-back' : 'failed', `${t.name}: ${fin.detail}${fin.result === 'failed' && after ? describeLeft(after) : ''}`);
        }
      }
    }
    return end('failed', `${t.name}: the host kept reporting unfinished changes; look at /var/lib/resetpwd-fleet/txn`);
  } catch (e) {
    const f = failureOf(e, t.name);
    if (m.touched()) {
      // The host-side change runs on by itself: say so rather than guess its end.
      return end('failed', `${f.error}; the change continues on the host by itself (it ends updated or rolled back): re-run to see and complete it`);
    }
    return end(f.outcome, f.error);
  } finally {
    await s?.close();
  }

  /** Follows a host-side change's journal to its end (see follow.ts). `mach` null: only wait (someone else's change). */
  function follow(txn: string, mach: HostMachine | null): Promise<FollowEnd> {
    return followJournal({
      mach,
      poll: (from, onStdout) => s!.run(followScript(txn, from), { timeoutMs: Math.max(ctx.conn.stepTimeoutMs * 4, 300_000), onStdout }),
      reconnect,
      backoff: (n) => 1000 * n,
      onDrop: (e) => mach && ctx.journal?.append(t.name, 'reconnecting', e.message),
    });
  }
}

function txnArgs(plan: Plan, txn: string, ctx: ChangeContext): TxnArgs {
  const info = ctx.pkg?.info;
  const strip = (d: string | null | undefined) => (d ? d : null);
  return {
    action: plan.kind === 'recover' ? 'recover' : plan.kind === 'transaction' ? plan.action : 'install',
    txn,
    stage: '',
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
async function stageOn(s: HostSession, plan: Plan, args: TxnArgs, ctx: ChangeContext): Promise<string> {
  const prep = await s.run(PREPARE_SCRIPT);
  const stage = prep.stdout.trim().split('\n').pop() ?? '';
  if (prep.code !== 0 || !STAGE_RE.test(stage)) throw new StageError(`cannot create a stage directory: ${(prep.stderr || prep.stdout).trim().slice(0, 200)}`);
  args.stage = stage;
  let uploadDir = stage;
  if (s.privilege.method === 'sudo') {
    const u = await s.transport.exec(`sh -c ${quote(USER_UPLOAD_DIR_SCRIPT)}`);
    uploadDir = u.stdout.trim();
    if (u.code !== 0 || !UPLOAD_RE.test(uploadDir)) throw new StageError(`cannot create a private upload directory: ${u.stderr.trim().slice(0, 200)}`);
  }
  const script = Buffer.from(TXN_SCRIPT);
  const files: { name: string; sha256: string; bytes: Buffer }[] = [{ name: 'txn.sh', sha256: sha256(script), bytes: script }];
  let archive = '';
  const extractor = plan.kind === 'transaction' ? plan.extractor : null;
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

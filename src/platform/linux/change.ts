import { createHash } from 'node:crypto';
import type { Plan } from '../../core/plan.js';
import { quote } from '../../dialect/posix.js';
import { toolVersion } from '../../version.js';
import { StageError, defaultBackoff, type ChangeInputs, type ChangeKit, type HostShell } from '../platform.js';
import {
  FIX_SCRIPT, PREPARE_SCRIPT, USER_UPLOAD_DIR_SCRIPT, followScript, launchScript, stageScript, type Extractor, type TxnArgs,
} from './change-scripts.js';
import { TXN_FILE } from './paths.js';
import { TXN_SCRIPT } from './txn-script.js';

const STAGE_RE = /^\/var\/lib\/resetpwd-fleet\/stage\.[A-Za-z0-9]+$/;
const UPLOAD_RE = /^\/[A-Za-z0-9._/-]*\/resetpwd-fleet\.[A-Za-z0-9]+$/;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A Linux host's part of a change (lifecycle/drive.ts has the steps and their guarantees): its POSIX scripts. */
export function linuxChange(c: ChangeInputs): ChangeKit {
  return {
    fixStep: 'fix',
    fix: async (s) => {
      const out = await s.run(FIX_SCRIPT);
      return out.stdout.trim() === 'ok' ? { ok: true } : { ok: false, error: out.stdout.trim() || out.stderr.trim() || 'the fix did not finish' };
    },
    stage: (s, plan) => stageOn(s, plan, c),
    // The launch line backgrounds the change and returns; whether it really started is the follow's to see.
    launch: async (s, stage, plan, txn) => {
      await s.run(launchScript(txnArgs(plan, txn, stage, c)));
      return { note: null };
    },
    poll: (s, txn, from, onStdout) => s.run(followScript(txn, from), { timeoutMs: Math.max(c.stepTimeoutMs * 4, 300_000), onStdout }),
    backoff: c.knobs?.backoff ?? defaultBackoff,
    stageLog: (stage) => `${stage}/txn.log`,
    txnFile: TXN_FILE,
  };
}

export function txnArgs(plan: Plan, txn: string, stage: string, c: ChangeInputs): TxnArgs {
  const info = c.pkg?.info;
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
    settleSeconds: c.plan.settleSeconds,
    startWaitSeconds: c.startWaitSeconds,
    tool: toolVersion(),
  };
}

/**
 * Makes root's private stage, uploads what the change needs (package or its tar, and the transaction script)
 * and has root check every file's SHA-256 and unpack — nothing outside the stage is touched here.
 */
async function stageOn(s: HostShell, plan: Plan, c: ChangeInputs): Promise<string> {
  const prep = await s.run(PREPARE_SCRIPT);
  const stage = prep.stdout.trim().split('\n').pop() ?? '';
  if (prep.code !== 0 || !STAGE_RE.test(stage)) throw new StageError(`cannot create a stage directory: ${(prep.stderr || prep.stdout).trim().slice(0, 200)}`);
  let uploadDir = stage;
  if (s.privilege.method === 'sudo') {
    const u = await s.transport.exec(`sh -c ${quote(USER_UPLOAD_DIR_SCRIPT)}`, { timeoutMs: c.stepTimeoutMs });
    uploadDir = u.stdout.trim();
    if (u.code !== 0 || !UPLOAD_RE.test(uploadDir)) throw new StageError(`cannot create a private upload directory: ${u.stderr.trim().slice(0, 200)}`);
  }
  const script = Buffer.from(TXN_SCRIPT);
  const files: { name: string; sha256: string; bytes: Buffer }[] = [{ name: 'txn.sh', sha256: sha256(script), bytes: script }];
  let archive = '';
  const extractor = plan.kind === 'transaction' ? (plan.extractor as Extractor | null) : null;
  if (plan.kind === 'transaction' && plan.action === 'install' && c.pkg) {
    if (extractor === 'tar') {
      const tar = c.pkg.tar();
      files.unshift({ name: 'pkg.tar', sha256: sha256(tar), bytes: tar });
      archive = 'pkg.tar';
    } else {
      files.unshift({ name: 'pkg.zip', sha256: c.pkg.info.sha256, bytes: c.pkg.bytes });
      archive = 'pkg.zip';
    }
  }
  // --pull: the host downloads the zip itself (a tar for a host without unzip is still pushed).
  const downloads = c.pullUrl && archive === 'pkg.zip' ? [{ name: 'pkg.zip', url: c.pullUrl }] : [];
  for (const f of files) if (!downloads.some((d) => d.name === f.name)) await s.transport.put(f.bytes, `${uploadDir}/${f.name}`, 0o600);
  const st = await s.run(
    stageScript({
      uploadDir,
      stage,
      files: files.map(({ name, sha256: h }) => ({ name, sha256: h })),
      downloads,
      unpack: archive && extractor ? { extractor, archive, expect: `${c.pkg!.info.linuxDir}/setup.sh` } : null,
    }),
  );
  const last = st.stdout.trim().split('\n').pop() ?? '';
  if (last !== 'staged') {
    await s.run(`rm -rf ${quote(stage)}${uploadDir !== stage ? ` ${quote(uploadDir)}` : ''}`).catch(() => undefined);
    throw new StageError(last.replace(/^error: /, '') || `staging failed: ${st.stderr.trim().slice(0, 200)}`);
  }
  return stage;
}

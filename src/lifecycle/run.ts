import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectOptions } from '../audit/host.js';
import { summarize, type ResultDocument } from '../audit/result.js';
import { pool } from '../audit/run.js';
import type { Target } from '../inventory/target.js';
import { PackageError, verifyPackage, type PackageInfo } from '../package/verify.js';
import { linuxTar } from '../package/tar.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { changeHost, type ChangeHostResult } from './execute.js';
import { Journal, defaultJournalDir } from './journal.js';
import type { HostState } from './machine.js';
import type { ChangeCommand } from './plan.js';

export interface ChangeRunOptions extends ConnectOptions {
  concurrency: number;
  /** The zip and its digest (update/install); verified before any host is contacted. */
  packagePath?: string | undefined;
  sha256?: string | undefined;
  reinstall: boolean;
  force: string[];
  dryRun: boolean;
  /** Where the run's journal goes (default ~/.local/state/resetpwd-fleet/runs/<run-id>.jsonl). */
  journalPath?: string | undefined;
  settleSeconds: number;
  startWaitSeconds: number;
  onHost?: (h: ChangeHostResult) => void;
  onTransition?: (host: string, state: HostState, detail?: string) => void;
}

export interface ChangeDocument extends ResultDocument {
  runId: string;
  journal: string | null;
  package: Pick<PackageInfo, 'fileName' | 'sha256' | 'layout' | 'version' | 'log4j' | 'mode'> | null;
  hosts: ChangeHostResult[];
}

/** Verifies the package and reads it once; the bytes sent are the bytes whose hash was checked. */
export function loadPackage(zipPath: string, sha256?: string): { info: PackageInfo; bytes: Buffer; tar: () => Buffer } {
  const info = verifyPackage(zipPath, sha256 !== undefined ? { sha256 } : {});
  const bytes = readFileSync(zipPath);
  if (createHash('sha256').update(bytes).digest('hex') !== info.sha256) {
    throw new PackageError(`${zipPath}: the file changed while it was being read; run again`);
  }
  let tar: Buffer | undefined;
  return { info, bytes, tar: () => (tar ??= linuxTar(bytes, info)) };
}

/**
 * The library entry of `update`, `install` and `uninstall`: package verified first (a bad one throws
 * PackageError having touched nothing), then every target changed in parallel, each transition journaled.
 */
export async function runChange(command: ChangeCommand, targets: Target[], o: ChangeRunOptions): Promise<ChangeDocument> {
  const pkg = command === 'uninstall' ? null : o.packagePath ? loadPackage(o.packagePath, o.sha256) : null;
  if (command !== 'uninstall' && !pkg) throw new PackageError(`${command} needs --package ZIP`);
  const startedAt = new Date().toISOString();
  const runId = `${startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
  const journal = o.dryRun ? null : new Journal(o.journalPath ?? path.join(defaultJournalDir(), `${runId}.jsonl`), runId);
  const knownHosts = new KnownHosts(o.knownHostsFile);
  try {
    const hosts = await pool(targets, o.concurrency, async (t) => {
      const h = await changeHost(t, {
        command,
        conn: o,
        knownHosts,
        pkg,
        plan: { reinstall: o.reinstall, force: o.force, settleSeconds: o.settleSeconds },
        dryRun: o.dryRun,
        journal,
        startWaitSeconds: o.startWaitSeconds,
        ...(o.onTransition ? { onTransition: o.onTransition } : {}),
      });
      o.onHost?.(h);
      return h;
    });
    return {
      command,
      runId,
      journal: journal?.file ?? null,
      package: pkg ? { fileName: pkg.info.fileName, sha256: pkg.info.sha256, layout: pkg.info.layout, version: pkg.info.version, log4j: pkg.info.log4j, mode: pkg.info.mode } : null,
      startedAt,
      finishedAt: new Date().toISOString(),
      hosts,
      summary: summarize(hosts),
    };
  } finally {
    journal?.close();
  }
}

import type { Outcome } from './result.js';
import type { CheckResult } from './check.js';
import type { PackageInfo } from '../package/verify.js';

/**
 * What a change will do on one host: a pure function of the host's facts, its checks, the package and the
 * options — so `--dry-run` prints exactly what would run, and the decisions are tested on recorded facts.
 */
export type ChangeCommand = 'update' | 'install' | 'uninstall';

export interface PlanOptions {
  reinstall: boolean;
  /** The hosts download the package from here (--pull URL) instead of receiving it. */
  pullUrl?: string | undefined;
  /** Prerequisite check ids the operator overrides (--force CHECK). */
  force: string[];
  settleSeconds: number;
}

export type Plan =
  | { kind: 'unchanged' | 'refused'; reason: string; steps: string[] }
  /** Another change is running on the host (its process is alive): follow it first, then plan again. */
  | { kind: 'wait'; txn: string; reason: string; steps: string[] }
  /** A change died half-way on the host: undo it from its record first, then plan again. */
  | { kind: 'recover'; txn: string; reason: string; steps: string[] }
  /** The host runs the right package: fix what is wrong in place (modes, stray processes; Windows: ACL, start type). */
  | { kind: 'fix'; outcome: Outcome; reason: string; steps: string[] }
  | {
      kind: 'transaction';
      action: 'install' | 'uninstall';
      outcome: Outcome;
      reason: string;
      steps: string[];
      /** How the package is unpacked on the host (the platform's word: unzip, python3, tar, …); null: nothing to unpack. */
      extractor: string | null;
    };

/** What either OS knows of its installed main agent, for comparing it with a package. */
export interface InstalledAgent {
  present: boolean;
  jarSha256: string | null;
  log4jCore: string | null;
  backendType: string | null;
}

/** The comparison for any OS: the state record (at `stateFile`) first; without one, the installed files. */
export function installedIsPackage(main: InstalledAgent, updatePresent: boolean, recorded: string | undefined, stateFile: string, pkg: PackageInfo): { same: boolean; how: string } {
  if (!main.present) return { same: false, how: 'no agent installed' };
  const layoutMatches = (pkg.layout === 'old') === updatePresent;
  const jarMatches = main.jarSha256 !== null && pkg.agentJarSha256 !== null ? main.jarSha256 === pkg.agentJarSha256 : null;
  if (recorded) {
    const same = recorded.toLowerCase() === pkg.sha256 && jarMatches !== false && layoutMatches;
    return { same, how: same ? `${stateFile} records this package` : `installed from another package (${recorded.slice(0, 12)}…)` };
  }
  const same = jarMatches === true && main.log4jCore === pkg.log4j && (pkg.mode === null || main.backendType === pkg.mode) && layoutMatches;
  return { same, how: same ? 'its files match this package (no state record)' : 'its files differ from this package' };
}

/** What a host's change record says, as either OS's facts carry it. */
export interface PendingChange {
  fields: Record<string, string>;
  alive: boolean;
}

/**
 * The first questions of every plan, on every OS: is a change of the tool's still running on the host
 * (wait for it), or dead half-way (undo it first)? Does a prerequisite the operator did not --force fail?
 * Only the checks in `uninstallBlockers` stop an uninstall: it needs no download, metadata or DHCP.
 */
export function pendingOrBlocked(
  command: ChangeCommand,
  txn: PendingChange | null | undefined,
  checks: CheckResult[],
  uninstallBlockers: ReadonlySet<string>,
  o: PlanOptions,
  undo: string,
): Plan | null {
  if (txn && txn.fields.phase !== 'done') {
    const id = txn.fields.id ?? '?';
    if (txn.alive) return { kind: 'wait', txn: id, reason: `change ${id} is running on the host (phase ${txn.fields.phase})`, steps: [`wait for change ${id} to finish`] };
    return {
      kind: 'recover',
      txn: id,
      reason: `change ${id} stopped in phase ${txn.fields.phase} without finishing`,
      steps: [`undo change ${id} from its record (${undo})`, 'then plan again'],
    };
  }
  const blocking = checks.filter((c) => c.status === 'fail' && (command !== 'uninstall' || uninstallBlockers.has(c.id)));
  const unforced = blocking.filter((c) => !o.force.includes(c.id));
  if (unforced.length > 0) return { kind: 'refused', reason: unforced.map((c) => `${c.id}: ${c.detail}`).join('; '), steps: [] };
  return null;
}


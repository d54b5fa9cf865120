import type { Plan } from './plan.js';
import type { PackageInfo } from '../package/verify.js';
import type { HostResult, ResultDocument } from './result.js';

/** A host's result in update, install and uninstall: its plan, the change on the host, and the way there. */
export interface ChangeHostResult extends HostResult {
  plan: { kind: Plan['kind']; reason: string; steps: string[] } | null;
  txn: string | null;
  /** How many times the controller got back in after the connection dropped during the change. */
  reconnects: number;
}

/** The result document of update, install and uninstall (SPEC "Result document"), as every reporter reads it. */
export interface ChangeDocument extends ResultDocument {
  runId: string;
  journal: string | null;
  package: Pick<PackageInfo, 'fileName' | 'sha256' | 'layout' | 'version' | 'log4j' | 'mode'> | null;
  hosts: ChangeHostResult[];
  /** Why the run stopped before every host was attempted (exit 3), or null. */
  stopped: { reason: 'budget' | 'interrupted'; detail: string } | null;
}

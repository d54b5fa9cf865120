import type { Plan } from './plan.js';
import type { HostResult } from './result.js';

/** A host's result in update, install and uninstall: its plan, the change on the host, and the way there. */
export interface ChangeHostResult extends HostResult {
  plan: { kind: Plan['kind']; reason: string; steps: string[] } | null;
  txn: string | null;
  /** How many times the controller got back in after the connection dropped during the change. */
  reconnects: number;
}

import type { LinuxFacts } from '../platform/linux/facts.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'error';
export interface CheckResult {
  id: string;
  status: CheckStatus;
  detail: string;
}

/** What a check may know besides the host's facts: how the package reaches it and the inventory's word. */
export interface CheckContext {
  pull: boolean;
  inventoryEip?: string | undefined;
}

/** A check is a pure function of facts: no I/O, so it is tested on recorded facts. */
export type LinuxCheck = (f: LinuxFacts, ctx: CheckContext) => CheckResult;

export const MB = 1024 * 1024;
export const fmtBytes = (b: number): string =>
  b >= 1024 * MB ? `${(b / 1024 / MB).toFixed(1)} GiB` : `${Math.round(b / MB)} MiB`;

import type { WindowsFacts } from '../facts.js';
import type { CheckContext, CheckResult } from '../../../core/check.js';
import type { WindowsCheck } from './check.js';
import { diskSpace } from './disk-space.js';
import { cWritable } from './c-writable.js';
import { dhcp } from './dhcp.js';
import { metadata } from './metadata.js';
import { eip } from './eip.js';
import { osSupported } from './os-supported.js';

export type { WindowsCheck } from './check.js';

/** Every Windows check, in the order of SPEC.md's table, with the ids Linux hosts use where they mean the same. */
export const WINDOWS_CHECKS: readonly WindowsCheck[] = [diskSpace, dhcp, metadata, eip, osSupported, cWritable];
export const WINDOWS_CHECK_IDS = ['disk-space', 'dhcp', 'metadata', 'eip', 'os-supported', 'c-writable'] as const;

export function runWindowsChecks(f: WindowsFacts, ctx: CheckContext): CheckResult[] {
  return WINDOWS_CHECKS.map((c) => c(f, ctx));
}

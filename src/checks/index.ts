import type { LinuxFacts } from '../platform/linux/facts.js';
import type { CheckContext, CheckResult, LinuxCheck } from './check.js';
import { rootWritable } from './root-writable.js';
import { diskSpace } from './disk-space.js';
import { selinux } from './selinux.js';
import { memory } from './memory.js';
import { dhcp } from './dhcp.js';
import { metadata } from './metadata.js';
import { eip } from './eip.js';
import { osSupported } from './os-supported.js';

export type { CheckContext, CheckResult, CheckStatus } from './check.js';

/** Every Linux check, in the order SPEC.md lists them. */
export const LINUX_CHECKS: readonly LinuxCheck[] = [rootWritable, diskSpace, selinux, memory, dhcp, metadata, eip, osSupported];
export const LINUX_CHECK_IDS = ['root-writable', 'disk-space', 'selinux', 'memory', 'dhcp', 'metadata', 'eip', 'os-supported'] as const;

export function runLinuxChecks(f: LinuxFacts, ctx: CheckContext): CheckResult[] {
  return LINUX_CHECKS.map((c) => c(f, ctx));
}

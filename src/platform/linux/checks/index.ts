import type { LinuxFacts } from '../facts.js';
import type { CheckContext, CheckResult } from '../../../core/check.js';
import type { LinuxCheck } from './check.js';
import { rootWritable } from './root-writable.js';
import { diskSpace } from './disk-space.js';
import { selinux } from './selinux.js';
import { memory } from './memory.js';
import { dhcp } from './dhcp.js';
import { metadata } from './metadata.js';
import { eip } from './eip.js';
import { osSupported } from './os-supported.js';


/** Every Linux check, in the order SPEC.md lists them. */
export const LINUX_CHECKS: readonly LinuxCheck[] = [rootWritable, diskSpace, selinux, memory, dhcp, metadata, eip, osSupported];
export const LINUX_CHECK_IDS = ['root-writable', 'disk-space', 'selinux', 'memory', 'dhcp', 'metadata', 'eip', 'os-supported'] as const;

export function runLinuxChecks(f: LinuxFacts, ctx: CheckContext): CheckResult[] {
  return LINUX_CHECKS.map((c) => c(f, ctx));
}

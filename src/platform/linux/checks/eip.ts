import { eipResult } from '../../../core/check.js';
import type { LinuxCheck } from './check.js';

/** Read: the metadata service's public-ipv4, or the inventory's eip= variable (the verdict: core/check.ts). */
export const eip: LinuxCheck = (f, ctx) => eipResult(f.metadata.publicIpv4, ctx);

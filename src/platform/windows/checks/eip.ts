import { eipResult } from '../../../core/check.js';
import type { WindowsCheck } from './check.js';

/** As on Linux (the verdict: core/check.ts): an EIP matters only when the host downloads the package itself (--pull). */
export const eip: WindowsCheck = (f, ctx) => eipResult(f.metadata.publicIpv4, ctx);

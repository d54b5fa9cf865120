import { fmtBytes } from '../../../core/check.js';
import type { LinuxCheck } from './check.js';

/**
 * SUSE Linux Enterprise 11 SP4 needs at least 4 GiB. Read: MemTotal in /proc/meminfo. A 4 GiB server
 * shows a little less (the kernel keeps some), so the line is drawn at 3.5 GiB.
 */
export const MEMORY_MIN_KB = 3.5 * 1024 * 1024;
export const memory: LinuxCheck = (f) => {
  const id = 'memory';
  const sles11sp4 = (f.os.id === 'sles' || f.os.id === 'sled') && f.os.version === '11.4';
  if (!sles11sp4) return { id, status: 'skip', detail: 'applies to SUSE Linux Enterprise 11 SP4 only' };
  if (f.memTotalKb === null) return { id, status: 'error', detail: 'could not read MemTotal from /proc/meminfo' };
  const total = f.memTotalKb * 1024;
  return f.memTotalKb >= MEMORY_MIN_KB
    ? { id, status: 'pass', detail: `${fmtBytes(total)} of memory (SLES 11 SP4 needs 4 GiB)` }
    : { id, status: 'fail', detail: `${fmtBytes(total)} of memory; SLES 11 SP4 needs at least 4 GiB` };
};

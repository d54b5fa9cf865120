import { DISK_MIN_BYTES, fmtBytes } from '../../../core/check.js';
import type { LinuxCheck } from './check.js';

/** More than 300 MB must be free on /. Read: `df -Pk /`. */
export const diskSpace: LinuxCheck = (f) => {
  const id = 'disk-space';
  if (f.root.availKb === null) return { id, status: 'error', detail: 'df / gave no free space' };
  const free = f.root.availKb * 1024;
  return free > DISK_MIN_BYTES
    ? { id, status: 'pass', detail: `${fmtBytes(free)} free on /` }
    : { id, status: 'fail', detail: `only ${fmtBytes(free)} free on /; more than 300 MB is needed` };
};

import { DISK_MIN_BYTES, fmtBytes } from '../../../core/check.js';
import { unreadable, type WindowsCheck } from './check.js';

/** More than 300 MB must be free on C: (DOMAIN.md; MB counted as on Linux: MiB). Read: DriveInfo('C').AvailableFreeSpace. */
export const diskSpace: WindowsCheck = (f) => {
  const id = 'disk-space';
  const free = f.c.freeBytes;
  if (free === null) return { id, status: 'error', detail: `free space on C: ${unreadable(f, 'disk') ?? 'was not reported'}` };
  return free > DISK_MIN_BYTES
    ? { id, status: 'pass', detail: `${fmtBytes(free)} free on C:` }
    : { id, status: 'fail', detail: `only ${fmtBytes(free)} free on C:; more than 300 MB is needed` };
};

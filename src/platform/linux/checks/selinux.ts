import type { LinuxCheck } from './check.js';

/**
 * SELinux must be off. The live mode decides (getenforce, else /sys/fs/selinux/enforce); the config file
 * only tells what the next boot brings, so an enforcing config with a non-enforcing live mode warns.
 */
export const selinux: LinuxCheck = (f) => {
  const id = 'selinux';
  const live = f.selinux.getenforce?.toLowerCase() ?? (f.selinux.enforceFile === '1' ? 'enforcing' : f.selinux.enforceFile === '0' ? 'permissive' : null);
  const cfg = f.selinux.config;
  if (live === 'enforcing') return { id, status: 'fail', detail: 'SELinux is enforcing; disable it (setenforce 0 and SELINUX=disabled)' };
  if (live === 'permissive') return { id, status: 'warn', detail: `SELinux is permissive${cfg ? ` (config: ${cfg})` : ''}; disable it` };
  if (cfg === 'enforcing' || cfg === 'permissive') {
    return { id, status: 'warn', detail: `SELinux is ${live ?? 'not active'} now but the config says ${cfg} for the next boot` };
  }
  if (live === 'disabled' || cfg === 'disabled') return { id, status: 'pass', detail: 'SELinux is disabled' };
  return { id, status: 'pass', detail: 'SELinux is not installed' };
};

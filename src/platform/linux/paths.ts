/**
 * Where the plug-in and this tool live on a Linux host. The only place that knows these paths
 * (note the real "Cloudr" typo of the main agent's folder, DOMAIN.md §2).
 */
export const MAIN_AGENT = { dir: '/CloudrResetPwdAgent', name: 'cloudResetPwdAgent' } as const;
export const UPDATE_AGENT = { dir: '/CloudResetPwdUpdateAgent', name: 'cloudResetPwdUpdateAgent' } as const;

/** The tool's own state on the host: what it installed (state), the running or last change (txn), stages. */
export const STATE_DIR = '/var/lib/resetpwd-fleet';
export const STATE_FILE = `${STATE_DIR}/state`;
export const TXN_FILE = `${STATE_DIR}/txn`;
/**
 * Old installs are set aside here, on the root filesystem itself, so that moving them is a rename(2):
 * atomic, instant and needing no free space, whatever the size of the agent's bundled JRE.
 */
export const ASIDE_DIR = '/.resetpwd-fleet';

/** The boot-start fallback files of the plug-in FAQ, by distribution family. */
export const RC_LOCAL_FILES = ['/etc/rc.d/rc.local', '/etc/rc.local', '/etc/init.d/after.local'] as const;

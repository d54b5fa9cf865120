import type { PackageInfo } from '../../package/verify.js';

/**
 * Where the plug-in and this tool live on a Windows host (DOMAIN.md §2): the only place that knows these
 * paths. The agents always install into C:\ (setup.bat's xcopy target is hard-coded), whatever the system
 * drive is.
 */
export interface WindowsAgent {
  dir: string;
  /** The service name (wrapper.name) and the package folder whose setup.bat installs it. */
  name: string;
  pkgFolder: string;
}
export const MAIN_AGENT: WindowsAgent = { dir: 'C:\\CloudResetPwdAgent', name: 'cloudResetPwdAgent', pkgFolder: 'CloudResetPwdAgent.Windows' };
export const UPDATE_AGENT: WindowsAgent = {
  dir: 'C:\\CloudResetPwdUpdateAgent', name: 'cloudResetPwdUpdateAgent', pkgFolder: 'CloudResetPwdUpdateAgent.Windows',
};

/**
 * The tool's own state: what it installed (state), the running or last change (txn), journals, stages. Under
 * ProgramData, the machine-wide data folder, with an ACL for Administrators and SYSTEM only.
 */
export const STATE_DIR = 'C:\\ProgramData\\resetpwd-fleet';
export const STATE_FILE = `${STATE_DIR}\\state`;
export const TXN_FILE = `${STATE_DIR}\\txn`;
export const LOCK_FILE = `${STATE_DIR}\\lock`;

/**
 * Old installs are set aside here, on C: itself, so that moving them is a rename on one NTFS volume:
 * atomic, instant and needing no free space. ProgramData is usually on C: too, but it can be redirected to
 * another volume, where Directory.Move fails (it never copies across volumes).
 */
export const ASIDE_DIR = 'C:\\.resetpwd-fleet';

/** A stage folder the prepare script made: what the controller accepts back from the host. */
export const STAGE_RE = /^C:\\ProgramData\\resetpwd-fleet\\stage\.[a-z0-9]{8,32}$/;

/** The package's Windows installers, as zip paths (forward slashes) and as the stage-relative Windows paths. */
export function windowsPackageDirs(pkg: Pick<PackageInfo, 'prefix' | 'layout'>): { main: string; update: string | null } {
  return {
    main: `${pkg.prefix}${MAIN_AGENT.pkgFolder}`,
    update: pkg.layout === 'old' ? `${pkg.prefix}${UPDATE_AGENT.pkgFolder}` : null,
  };
}

export const toWindowsPath = (zipPath: string): string => zipPath.replace(/\//g, '\\');

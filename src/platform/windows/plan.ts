import { languageModeRefusal } from './shell.js';
import type { CheckResult } from '../../core/check.js';
import type { PackageInfo } from '../../package/verify.js';
import type { WindowsAgentFacts, WindowsAgentProc, WindowsFacts } from './facts.js';
import { procNames, strayProcs, unreadText } from './agent-state.js';
import { ASIDE_DIR, MAIN_AGENT, STATE_FILE, TXN_FILE, UPDATE_AGENT, windowsPackageDirs } from './paths.js';
import { installedIsPackage, pendingOrBlocked, type ChangeCommand, type Plan, type PlanOptions } from '../../core/plan.js';

/**
 * What a change will do on one Windows host: a pure function of its facts, its checks, the package and the
 * options, returning the same Plan as a Linux host's (src/lifecycle/plan.ts), so the runner, the reports
 * and --dry-run treat both alike. `fix` here is the in-place fix of a host that runs the right
 * package: agent processes that are not the services' (stopped, the service keeps running), its folders' ACLs
 * and the services' start type.
 */
function describe(a: WindowsAgentFacts, name: string): string {
  if (!a.present) return `${name} absent`;
  const v = a.version ?? (a.log4jCore ? `with log4j ${a.log4jCore}` : 'of unknown version');
  return `${name} ${v}, ${a.running ? 'running' : a.service ? (a.service.state ?? 'stopped').toLowerCase() : a.unread.service !== undefined ? 'service unreadable' : 'not registered'}`;
}

export const startsAutomatically = (a: WindowsAgentFacts): boolean => a.service?.startMode === 'Auto';
// An ACL that could not be read is not "fixed" on the strength of a failed read: the audit names the error.
const aclOk = (a: WindowsAgentFacts): boolean => !a.present || a.unread.acl !== undefined || (a.aclWriters !== null && a.aclWriters.length === 0);

/**
 * The facts a plan rests on that the host could not read: the agents' files and services, the state and change
 * records, and the jar's hash where it alone would decide that the host already has the package. A plan made
 * without them could bounce a good agent or miss a change that is running, so the host is refused with the errors.
 */
function unreadForPlan(f: WindowsFacts, pkg: PackageInfo | null): string[] {
  const out: string[] = [];
  for (const [a, spec] of [[f.agents.main, MAIN_AGENT], [f.agents.update, UPDATE_AGENT]] as const) {
    for (const part of ['files', 'service'] as const) if (a.unread[part] !== undefined) out.push(unreadText(part, spec, a.unread[part]!));
  }
  if (f.errors.txn !== undefined) out.push(`could not read the change record ${TXN_FILE}: ${f.errors.txn}`);
  if (f.errors.state !== undefined) out.push(`could not read the state record ${STATE_FILE}: ${f.errors.state}`);
  const main = f.agents.main;
  if (pkg && main.unread.hash !== undefined && !f.stateFile.package_sha256) {
    const ifSame = installedIsPackage({ ...main, jarSha256: pkg.agentJarSha256 }, f.agents.update.present, undefined, STATE_FILE, pkg);
    if (ifSame.same) out.push(`could not hash ${MAIN_AGENT.dir}\\lib\\resetpwdagent.jar (${main.unread.hash}), and without it and without a state record it cannot tell whether the host already has this package`);
  }
  return out;
}

/** Is this exact package what the host has? The state record first; without one, the installed files. */
export function sameWindowsPackage(f: WindowsFacts, pkg: PackageInfo): { same: boolean; how: string } {
  return installedIsPackage(f.agents.main, f.agents.update.present, f.stateFile.package_sha256, STATE_FILE, pkg);
}

/** Only an unwritable or full C: stops an uninstall: it needs no download, no metadata, no DHCP. */
const REFUSE_UNINSTALL = new Set(['c-writable']);

export function planWindowsChange(
  command: ChangeCommand,
  f: WindowsFacts,
  checks: CheckResult[],
  pkg: PackageInfo | null,
  o: PlanOptions,
): Plan {
  const main = f.agents.main;
  const upd = f.agents.update;
  // Every command, uninstall too: nothing of the host could be read, so nothing can be planned.
  if (f.languageMode) return { kind: 'refused', reason: languageModeRefusal(f.languageMode), steps: [] };
  const unread = unreadForPlan(f, command === 'uninstall' ? null : pkg);
  if (unread.length > 0) return { kind: 'refused', reason: `${unread.join('; ')}: nothing was changed; run again when the host can be read`, steps: [] };
  const first = pendingOrBlocked(command, f.txn, checks, REFUSE_UNINSTALL, o, `move the set-aside agents back from ${ASIDE_DIR}, register and start them`);
  if (first) return first;
  if (f.admin === false) return { kind: 'refused', reason: `${f.user ?? 'the login'} is not an administrator on the host`, steps: [] };
  // Processes of either agent that are not the services': an agent that must be stopped although (or because)
  // its folder is gone or was replaced under it.
  const strays = allStrays(f);
  const present = main.present || upd.present || strays.length > 0;
  const before = `${describe(main, MAIN_AGENT.name)}; ${describe(upd, UPDATE_AGENT.name)}${strays.length ? `; old agent processes still run (${procNames(strays)})` : ''}`;

  if (command === 'uninstall') {
    if (!present && !main.service && !upd.service) return { kind: 'unchanged', reason: 'no agent is installed', steps: [] };
    return {
      kind: 'transaction', action: 'uninstall', outcome: 'uninstalled', reason: before, extractor: null,
      steps: [...stopAndSetAside(f), `remove the state record ${STATE_FILE}`, 'commit: delete the set-aside folders'],
    };
  }
  if (!pkg) throw new Error('a package is needed to plan an update or install');
  if (!pkg.windows) {
    return { kind: 'refused', reason: `${pkg.fileName} has no ${MAIN_AGENT.pkgFolder}\\setup.bat: it cannot install the plug-in on Windows`, steps: [] };
  }
  if (command === 'install' && present && !o.reinstall) {
    return { kind: 'refused', reason: `an agent is already installed (${before}); use update, or install --reinstall`, steps: [] };
  }
  if (!f.tools.zipFile && !f.tools.expandArchive) {
    return { kind: 'refused', reason: `PowerShell ${f.psVersion ?? '?'} on .NET ${f.clrVersion ?? '?'} has neither System.IO.Compression.ZipFile (.NET 4.5) nor Expand-Archive (5.0) to unpack the package; install WMF 5.1`, steps: [] };
  }
  const same = sameWindowsPackage(f, pkg);
  if (same.same && !o.reinstall && main.running) {
    const settings = [
      ...[main, upd].filter((a) => a.present && !aclOk(a)).map((a) => `restrict the ACL of ${a === main ? MAIN_AGENT.dir : UPDATE_AGENT.dir} to Administrators and SYSTEM (Users read)`),
      ...[main, upd].filter((a) => a.service && !startsAutomatically(a)).map((a) => `set ${a === main ? MAIN_AGENT.name : UPDATE_AGENT.name} to start Automatic (it starts ${a.service!.startMode})`),
    ];
    const fixes = [...(strays.length ? [strayStep(strays)] : []), ...settings];
    if (fixes.length === 0) return { kind: 'unchanged', reason: `already runs this package: ${same.how}`, steps: [] };
    return { kind: 'fix', outcome: 'updated', reason: `runs this package (${same.how}); ${fixes.join('; ')}`, steps: [...fixes, ...(settings.length ? ['read both back'] : [])] };
  }
  const dirs = windowsPackageDirs(pkg);
  const reason = same.same ? `reinstall: ${!main.running ? 'it does not run' : '--reinstall'}` : before;
  const hash = f.tools.getFileHash ? 'Get-FileHash' : '.NET SHA256 (no Get-FileHash before PowerShell 4.0)';
  const setups = dirs.update
    ? `${UPDATE_AGENT.pkgFolder}\\setup.bat, then ${MAIN_AGENT.pkgFolder}\\setup.bat`
    : `${MAIN_AGENT.pkgFolder}\\setup.bat`;
  return {
    kind: 'transaction',
    action: 'install',
    outcome: command === 'update' && present ? 'updated' : 'installed',
    reason,
    extractor: null,
    steps: [
      o.pullUrl
        ? `download ${o.pullUrl} on the host into a private stage under C:\\ProgramData\\resetpwd-fleet (Administrators/SYSTEM only); check its SHA-256 ${pkg.sha256.slice(0, 16)}… with ${hash}`
        : `upload ${pkg.fileName} (${Math.max(1, Math.round(pkg.size / 1024))} KiB) to a private stage under C:\\ProgramData\\resetpwd-fleet (Administrators/SYSTEM only); check its SHA-256 ${pkg.sha256.slice(0, 16)}… on the host with ${hash}`,
      `extract with ${f.tools.zipFile ? 'System.IO.Compression.ZipFile' : 'Expand-Archive'}; start the change detached (Win32_Process.Create) so a dropped connection cannot stop it`,
      ...stopAndSetAside(f),
      `install: ${setups}, each run from its own folder as cmd.exe /d /c "setup.bat < NUL" (its final pause returns at once), time-limited; its SUCCESS text is not trusted`,
      'restrict the installed folders to Administrators and SYSTEM (Users read); read the ACL back',
      `verify it runs: service ${MAIN_AGENT.name} Running with a java.exe under its wrapper, the same wrapper after ${o.settleSeconds} s; then nothing of either agent may run but the services' own process trees: anything else is stopped (a change that cannot is rolled back)`,
      'start type Automatic (Set-Service if not), read back',
      `commit: record ${pkg.version ?? 'the package'} in ${STATE_FILE}; delete the set-aside folders and the stage`,
      'on any failure: remove the new install, move the old folders back (agent processes that are not the services\' stopped first: one running from a set-aside folder holds it), register and start the old agent, verify it runs; then again nothing of either agent may run but the services\' own',
    ],
  };
}

const allStrays = (f: WindowsFacts): WindowsAgentProc[] => [...strayProcs(f, 'main'), ...strayProcs(f, 'update')];

const strayStep = (strays: WindowsAgentProc[]) =>
  `stop the agent processes that are not the services' (${procNames(strays)}), each found again by what it is just before; check none is left (the services keep running, their wrappers keep their pids)`;

function stopAndSetAside(f: WindowsFacts): string[] {
  const agents = [f.agents.update.present || f.agents.update.service ? UPDATE_AGENT : null, f.agents.main.present || f.agents.main.service ? MAIN_AGENT : null].filter((a) => a !== null);
  const strays = allStrays(f);
  const byIdentity = `every remaining wrapper.exe / java.exe of either agent, found by what it is${strays.length ? ` (now: ${procNames(strays)}, not the services')` : ''}; check none is left`;
  if (agents.length === 0) return strays.length ? [`nothing installed; stop ${byIdentity}`] : ['nothing installed: nothing to stop or set aside'];
  return [
    `stop ${agents.map((a) => a.name).join(', then ')}${agents.length > 1 ? ' (the update agent first: it could restart or overwrite the main agent)' : ''}; then ${byIdentity}`,
    `unregister each with its bin\\UninstallApp-NT.bat (stdin from NUL, time-limited; a service left behind is deleted through Win32_Service)`,
    `set aside ${agents.map((a) => a.dir).join(' and ')} into ${ASIDE_DIR}\\<change> (a rename on C:, kept until the new agent is verified); a folder held open: stop its service, kill its wrapper.exe/java.exe, retry`,
  ];
}

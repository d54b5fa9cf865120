import type { CheckResult } from '../../core/check.js';
import { installedIsPackage, pendingOrBlocked, type ChangeCommand, type Plan, type PlanOptions } from '../../core/plan.js';
import type { PackageInfo } from '../../package/verify.js';
import type { AgentFacts, LinuxFacts } from './facts.js';
import { agentMode, strayProcs } from './agent-state.js';
import { extractorOf, hashToolOf, type Extractor } from './change-scripts.js';
import { ASIDE_DIR, MAIN_AGENT, STATE_FILE, UPDATE_AGENT } from './paths.js';

const GOOD_SCRIPT_MODE = '-rwx------';

function describe(a: AgentFacts, name: string): string {
  if (!a.present) return `${name} absent`;
  return `${name} ${a.version ?? (a.log4jCore ? `with log4j ${a.log4jCore}` : 'of unknown version')}, ${a.running ? 'running' : 'stopped'}`;
}

export function modesOk(f: LinuxFacts): boolean {
  const m = f.agents.main;
  const bin = [`${MAIN_AGENT.dir}/bin/${MAIN_AGENT.name}.script`, `${MAIN_AGENT.dir}/bin/wrapper`];
  return bin.every((p) => m.modes[p] === GOOD_SCRIPT_MODE) && m.libBadModes === 0;
}

export function startsAtBoot(a: AgentFacts): boolean {
  return a.unitEnabled || a.rcLinks.length > 0 || a.chkconfigOn || a.rcLocal !== null;
}

/**
 * Is this exact package what the host has? The tool's state record says which zip it installed; without
 * one (installed by hand, or by the older batch scripts) the installed files are compared with the package's.
 */
export function samePackage(f: LinuxFacts, pkg: PackageInfo): { same: boolean; how: string } {
  return installedIsPackage({ ...f.agents.main, backendType: agentMode(f.agents.main) }, f.agents.update.present, f.stateFile.package_sha256, STATE_FILE, pkg);
}

const REFUSE_UNINSTALL = new Set(['root-writable']);

export function planChange(
  command: ChangeCommand,
  f: LinuxFacts,
  checks: CheckResult[],
  pkg: PackageInfo | null,
  o: PlanOptions,
): Plan {
  const main = f.agents.main;
  const upd = f.agents.update;
  const first = pendingOrBlocked(command, f.txn, checks, REFUSE_UNINSTALL, o, 'restore the set-aside agents, re-register and start them');
  if (first) return first;
  // Every change uploads at least the transaction script, checked by its hash on the host.
  const hashTool = hashToolOf(f.tools);
  if (!hashTool) return { kind: 'refused', reason: 'the host has no SHA-256 tool (sha256sum, openssl, busybox or python3) to check what is uploaded', steps: [] };
  // Processes of either agent its pid file does not name: an agent that must be stopped although (or
  // because) its folder is gone or was replaced under it.
  const strays = [...strayProcs(main), ...strayProcs(upd)];
  const present = main.present || upd.present || strays.length > 0;
  const before = `${describe(main, MAIN_AGENT.name)}; ${describe(upd, UPDATE_AGENT.name)}`;

  if (command === 'uninstall') {
    if (!present) return { kind: 'unchanged', reason: 'no agent is installed', steps: [] };
    return {
      kind: 'transaction',
      action: 'uninstall',
      outcome: 'uninstalled',
      reason: before,
      extractor: null,
      steps: [...stopAndSetAside(f), 'remove their start lines from rc.local / after.local, and the state record', 'commit: delete the set-aside folders'],
    };
  }
  if (!pkg) throw new Error('a package is needed to plan an update or install');
  if (command === 'install' && present && !o.reinstall) {
    return { kind: 'refused', reason: `an agent is already installed (${before}); use update, or install --reinstall`, steps: [] };
  }
  const same = samePackage(f, pkg);
  if (same.same && !o.reinstall) {
    if (main.running && modesOk(f) && startsAtBoot(main) && strays.length === 0) return { kind: 'unchanged', reason: `already runs this package: ${same.how}`, steps: [] };
    if (main.running && startsAtBoot(main)) {
      const wrong = [strays.length ? `old agent processes still run (${strays.map((p) => p.pid).join(', ')})` : '', modesOk(f) ? '' : 'wrong modes'].filter(Boolean);
      return {
        kind: 'fix',
        outcome: 'updated',
        reason: `runs this package (${same.how}) with ${wrong.join(' and ')}`,
        steps: [...(strays.length ? [strayStep(strays.map((p) => p.pid))] : []), ...(modesOk(f) ? [] : [permissionsStep])],
      };
    }
  }
  const extractor = extractorOf(f.tools);
  if (!extractor) return { kind: 'refused', reason: 'the host has neither unzip, python3 nor tar to unpack the package', steps: [] };
  if (o.pullUrl && extractor !== 'tar' && !f.tools.includes('curl') && !f.tools.includes('wget')) {
    return { kind: 'refused', reason: '--pull: the host has neither curl nor wget to download the package; push it instead (leave out --pull)', steps: [] };
  }
  const reason = same.same ? `reinstall: ${!main.running ? 'it does not run' : !startsAtBoot(main) ? 'it does not start at boot' : '--reinstall'}` : before;
  const mode = pkg.mode ?? 'AUTO';
  const setup = pkg.updateLinuxDir ? `${pkg.updateLinuxDir.split('/').pop()}/setup.sh (installs both agents)` : `${pkg.linuxDir.split('/').pop()}/setup.sh`;
  return {
    kind: 'transaction',
    action: 'install',
    outcome: command === 'update' && present ? 'updated' : 'installed',
    reason,
    extractor,
    steps: [
      o.pullUrl && extractor !== 'tar'
        ? `download ${o.pullUrl} on the host into a private stage (curl or wget); check its SHA-256 ${pkg.sha256.slice(0, 16)}… (that of ${pkg.fileName}) on the host (${hashTool})`
        : `upload ${pkg.fileName} (${Math.max(1, Math.round(pkg.size / 1024))} KiB) to a private stage; check its SHA-256 ${pkg.sha256.slice(0, 16)}… on the host (${hashTool})`,
      extractor === 'tar' ? 'no unzip or python3 on the host: stream the package\'s Linux folders as a tar (hash-checked too) and unpack with tar' : `unpack with ${extractor}`,
      ...stopAndSetAside(f),
      `install: cd ${setup.split('/')[0]} && sh setup.sh — success is judged by the agent running, not by its message`,
      permissionsStep,
      `verify it runs: status verb, live wrapper, its JVM (-Dwrapper.key=)${mode === 'AUTO' ? ', a port in 31000-32999 (AUTO)' : ' (PIPE: no port)'}, unchanged after ${o.settleSeconds} s`,
      'make it start at boot: systemd unit enabled, or init script in the runlevels, else a start line in rc.local / after.local',
      `commit: record ${pkg.version ?? 'the package'} in ${STATE_FILE}; delete the set-aside folders and the stage`,
      'on any failure: remove the new install, move the old folders back, re-register and start the old agent, verify it runs',
    ],
  };
}

const strayStep = (pids: number[]) =>
  `stop the agent processes its pid file does not name (${pids.join(', ')}), each checked again to be a wrapper or JVM of the plug-in just before; check none is left`;

const permissionsStep = `chmod 700 ${MAIN_AGENT.dir}/bin/${MAIN_AGENT.name}.script and bin/wrapper, chmod 600 lib/*; check the modes`;

function stopAndSetAside(f: LinuxFacts): string[] {
  const agents = [f.agents.update.present ? UPDATE_AGENT : null, f.agents.main.present ? MAIN_AGENT : null].filter((a) => a !== null);
  const strays = [...strayProcs(f.agents.main), ...strayProcs(f.agents.update)].map((p) => p.pid);
  const byIdentity = `then every remaining wrapper and JVM of either agent, found by command line and working folder${strays.length ? ` (now: ${strays.join(', ')}, not in a pid file)` : ''}; check none is left`;
  if (agents.length === 0) return strays.length ? [`nothing installed; stop ${byIdentity.slice(5)}`] : ['nothing installed: nothing to stop or set aside'];
  return [
    `stop ${agents.map((a) => a.name).join(', then ')}${f.agents.update.present ? ' (the update agent first: it could restart or overwrite the main agent)' : ''} with their own stop verb; ${byIdentity}`,
    `unregister ${agents.map((a) => a.name).join(' and ')} with their own remove verb`,
    `set aside ${agents.map((a) => a.dir).join(' and ')} into ${ASIDE_DIR}/<change> (a rename: kept until the new agent is verified)`,
  ];
}

import type { AgentState } from '../../core/agent.js';
import { log4jVulnerable } from '../../core/agent.js';
import { AGENT_FACT_PARTS, type AgentFactPart, type WindowsAgentFacts, type WindowsAgentProc, type WindowsFacts } from './facts.js';
import { MAIN_AGENT, UPDATE_AGENT } from './paths.js';

/** The plug-in's state as the report shows it, in the same shape as a Linux host's: a pure function of the facts. */
export function windowsAgentState(f: WindowsFacts): AgentState {
  const main = f.agents.main;
  const update = f.agents.update;
  const findings: string[] = [];
  const log4j = main.log4jCore ?? update.log4jCore;
  if (log4jVulnerable(log4j)) findings.push(`log4j ${log4j} is below 2.17 (Log4Shell range): update the plug-in`);
  // A fact the host could not read is said as such, and no verdict rests on its absence.
  for (const [a, spec] of [[main, MAIN_AGENT], [update, UPDATE_AGENT]] as const) findings.push(...unreadFindings(a, spec));
  if (f.errors['agent.procs'] !== undefined) findings.push(`could not list the agents' processes (Win32_Process): ${f.errors['agent.procs']}`);
  for (const [k, spec] of [['main', MAIN_AGENT], ['update', UPDATE_AGENT]] as const) {
    const strays = strayProcs(f, k);
    if (strays.length) findings.push(describeStrays(spec.name, strays));
  }
  if (main.present && !main.service && !main.unread.service) findings.push(`${MAIN_AGENT.dir} exists but the ${MAIN_AGENT.name} service is not registered: it does not run`);
  if (!main.present && !main.unread.files && main.service) findings.push(`the ${MAIN_AGENT.name} service is registered but ${MAIN_AGENT.dir} is missing`);
  if (main.service && main.service.startMode !== 'Auto') findings.push(`the ${MAIN_AGENT.name} service starts ${main.service.startMode ?? 'in an unknown way'}, not automatically: it will not run after a reboot`);
  if (main.running && main.jvmPid === null && !main.unread.process) findings.push(`the ${MAIN_AGENT.name} service runs but its wrapper has no java.exe child`);
  for (const [a, d] of [[main, MAIN_AGENT.dir], [update, UPDATE_AGENT.dir]] as const) {
    if (a.present && a.aclWriters && a.aclWriters.length > 0) {
      findings.push(`${d} can be changed by ${a.aclWriters.join(', ')} (not only Administrators/SYSTEM): a user could replace what the LocalSystem service runs`);
    }
  }
  const mode = main.present ? (main.backendType ?? (main.conf ? 'AUTO' : null)) : null;
  return {
    installed: main.present,
    updateAgent: update.present,
    version: main.version ?? update.version ?? f.stateFile.version ?? null,
    running: main.running,
    mode,
    port: mode === 'AUTO' && main.running ? agentPort(main) : null,
    log4j,
    packageSha256: f.stateFile.package_sha256 ?? null,
    findings,
  };
}

/** What the host could not read of one agent, each part with its own error. */
function unreadFindings(a: WindowsAgentFacts, spec: { dir: string; name: string }): string[] {
  return AGENT_FACT_PARTS.flatMap((part) => (a.unread[part] !== undefined ? [unreadText(part, spec, a.unread[part]!)] : []));
}

/** The sentence for one part of an agent's facts that the host could not read: the audit's and the plan's. */
export function unreadText(part: AgentFactPart, spec: { dir: string; name: string }, error: string): string {
  switch (part) {
    case 'files': return `could not read ${spec.dir}: ${error}`;
    case 'hash': return `could not hash ${spec.dir}\\lib\\resetpwdagent.jar: ${error}`;
    case 'acl': return `could not read the ACL of ${spec.dir}: ${error}`;
    case 'service': return `could not read the ${spec.name} service: ${error}`;
    case 'process': return `could not read the processes of the ${spec.name} service: ${error}`;
  }
}

/**
 * AUTO mode's port, as on Linux: the socket backend has the wrapper (the service's process) listen and its
 * JVM connect back; the wrapper's listener is the port, else the JVM's connected one.
 */
function agentPort(a: WindowsAgentFacts): number | null {
  const listen = a.sockets.find((s) => s.pid === a.service?.pid && s.state === 'LISTEN');
  const jvm = a.sockets.find((s) => s.pid === a.jvmPid && s.state === 'CONNECTED');
  return (listen ?? jvm)?.port ?? null;
}

/**
 * The services' own process trees: each registered service's wrapper (Win32_Service ProcessId) and the agent
 * processes it started (its JVM), theirs in turn.
 */
function serviceTrees(f: WindowsFacts): Set<number> {
  const own = new Set<number>([f.agents.main, f.agents.update].map((a) => a.service?.pid ?? 0).filter((p) => p > 0));
  const procs = f.agentProcs ?? [];
  for (let more = true; more;) {
    more = false;
    for (const p of procs) if (!own.has(p.pid) && own.has(p.parent)) { own.add(p.pid); more = true; }
  }
  return own;
}

/**
 * Processes of an agent, found by what they are, that are not a service's own (its wrapper, or a child of it):
 * an old copy running from a folder set aside or deleted, a wrapper started by hand, a JVM that outlived its
 * wrapper. The service manager cannot see or stop them, and they keep running old code. None when the processes
 * or this agent's service could not be read: no verdict rests on a fact not read.
 */
export function strayProcs(f: WindowsFacts, k: 'main' | 'update'): WindowsAgentProc[] {
  if (!f.agentProcs || f.agents[k].unread.service !== undefined) return [];
  const own = serviceTrees(f);
  return f.agentProcs.filter((p) => p.agent === k && !own.has(p.pid));
}

/** Processes as the findings and the plan name them: `wrapper.exe 4016, java.exe 4020`. */
export const procNames = (ps: WindowsAgentProc[]): string => ps.map((p) => `${p.name} ${p.pid}`).join(', ');

function describeStrays(name: string, strays: WindowsAgentProc[]): string {
  const what = procNames(strays);
  const folders = [...new Set(strays.map((p) => p.folder).filter((x): x is string => !!x))];
  const where = (folders.length ? folders : [...new Set(strays.map((p) => p.exe).filter((x): x is string => !!x))]).join(', ');
  return `old agent still running: ${name} ${what} not the service's${where ? ` (running from ${where})` : ''}; the service cannot stop it: update or reinstall stops it`;
}

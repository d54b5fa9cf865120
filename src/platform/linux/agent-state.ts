import { log4jVulnerable, type AgentState } from '../../core/agent.js';
import type { AgentFacts, AgentProc, LinuxFacts } from './facts.js';
import { MAIN_AGENT, UPDATE_AGENT } from './paths.js';

/**
 * The socket backend (AUTO mode) uses two ranges: the wrapper listens in 32000-32999 (`wrapper.port`), its
 * JVM connects back from a port it binds in 31000-31999 (`wrapper.jvm.port`). DOMAIN.md's "31000-32999" is
 * both together.
 */
export const AGENT_PORT_RANGE = [31000, 32999] as const;

/** The agent's processes its own scripts know: the wrapper in its pid file, and that wrapper's JVMs. */
export function trackedProcs(a: AgentFacts): AgentProc[] {
  if (!a.present || !a.running || a.pid === null) return [];
  return a.procs.filter((p) => p.pid === a.pid || (p.role === 'jvm' && p.wrapper === a.pid));
}

/**
 * Processes of an agent that its pid file does not name: an old copy running from a folder set aside or
 * deleted, a wrapper whose pid file could not be written, a JVM that outlived its wrapper. The agent's own
 * scripts cannot see or stop them, and they keep running old code.
 */
export function strayProcs(a: AgentFacts): AgentProc[] {
  const tracked = new Set(trackedProcs(a).map((p) => p.pid));
  return a.procs.filter((p) => !tracked.has(p.pid));
}

function describeStrays(name: string, strays: AgentProc[]): string {
  const what = strays.map((p) => `${p.role === 'jvm' ? 'JVM' : 'wrapper'} ${p.pid}`).join(', ');
  const where = [...new Set(strays.map((p) => p.cwd).filter(Boolean))].join(', ');
  return `old agent still running: ${name} ${what} not in its pid file${where ? ` (working in ${where})` : ''}; its own scripts cannot stop it: update or reinstall stops it`;
}

/**
 * The port the agent uses in AUTO mode: its wrapper's listener (the backend port), else the port its JVM
 * connected from; null in PIPE mode or when it does not run.
 */
export function agentPort(a: AgentFacts): number | null {
  const tracked = trackedProcs(a);
  const pids = new Set(tracked.map((p) => p.pid));
  const own = a.sockets.filter((s) => pids.has(s.pid));
  // The wrapper's listener wherever wrapper.port put it; a JVM's connected socket only in the backend's range.
  const listen = own.find((s) => s.pid === a.pid && s.state === 'LISTEN');
  return (listen ?? own.find((s) => s.state === 'CONNECTED' && s.port >= 31000 && s.port <= 32999))?.port ?? null;
}

/** wrapper.backend.type as the wrapper reads it: without the line, its default (AUTO). */
export function agentMode(a: AgentFacts): string | null {
  if (!a.present) return null;
  return a.backendType ?? (a.conf ? 'AUTO' : null);
}

/** The plug-in's state as the report shows it: a pure function of the facts. */
export function agentState(f: LinuxFacts): AgentState {
  const main = f.agents.main;
  const update = f.agents.update;
  const findings: string[] = [];
  const log4j = main.log4jCore ?? update.log4jCore;
  if (log4jVulnerable(log4j)) findings.push(`log4j ${log4j} is below 2.17 (Log4Shell range): update the plug-in`);
  for (const [a, name] of [[main, MAIN_AGENT.name], [update, UPDATE_AGENT.name]] as const) {
    const strays = strayProcs(a);
    if (strays.length) findings.push(describeStrays(name, strays));
  }
  if (main.present && !main.running && main.stalePid) findings.push(`stale pid file (pid ${main.stalePid} is gone)`);
  if (main.present && main.javaCommand?.startsWith('/CloudResetPwdUpdateAgent/') && !update.present) {
    findings.push('the agent\'s Java lives in /CloudResetPwdUpdateAgent, which is missing: it cannot start');
  }
  if (main.present && !main.unit && !main.initd) findings.push('not registered as a service: it will not start at boot');
  const mode = agentMode(main);
  return {
    installed: main.present,
    updateAgent: update.present,
    version: main.version ?? update.version ?? f.stateFile.version ?? null,
    running: main.running,
    mode,
    port: mode === 'AUTO' ? agentPort(main) : null,
    log4j,
    packageSha256: f.stateFile.package_sha256 ?? null,
    findings,
  };
}

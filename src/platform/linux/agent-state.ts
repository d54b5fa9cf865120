import type { AgentState } from '../../audit/result.js';
import type { LinuxFacts } from './facts.js';

/** AUTO mode takes the lowest free port in this range (DOMAIN.md). */
export const AGENT_PORT_RANGE = [31000, 32999] as const;
export const LOG4J_FIXED = [2, 17] as const;

export function log4jVulnerable(v: string | null): boolean {
  if (!v) return false;
  const [maj, min] = v.split('.').map(Number);
  return maj === LOG4J_FIXED[0] && (min ?? 0) < LOG4J_FIXED[1];
}

/** The plug-in's state as the report shows it: a pure function of the facts. */
export function agentState(f: LinuxFacts): AgentState {
  const main = f.agents.main;
  const update = f.agents.update;
  const findings: string[] = [];
  const log4j = main.log4jCore ?? update.log4jCore;
  if (log4jVulnerable(log4j)) findings.push(`log4j ${log4j} is below 2.17 (Log4Shell range): update the plug-in`);
  if (main.present && !main.running && main.stalePid) findings.push(`stale pid file (pid ${main.stalePid} is gone)`);
  if (main.present && main.javaCommand?.startsWith('/CloudResetPwdUpdateAgent/') && !update.present) {
    findings.push('the agent\'s Java lives in /CloudResetPwdUpdateAgent, which is missing: it cannot start');
  }
  if (main.present && !main.unit && !main.initd) findings.push('not registered as a service: it will not start at boot');
  const inRange = f.listeningPorts.filter((p) => p >= AGENT_PORT_RANGE[0] && p <= AGENT_PORT_RANGE[1]);
  return {
    installed: main.present,
    updateAgent: update.present,
    version: main.version ?? update.version ?? f.stateFile.version ?? null,
    running: main.running,
    mode: main.backendType,
    port: main.running && main.backendType === 'AUTO' ? (inRange[0] ?? null) : null,
    log4j,
    packageSha256: f.stateFile.package_sha256 ?? null,
    findings,
  };
}

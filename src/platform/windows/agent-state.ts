import type { AgentState } from '../../core/agent.js';
import { log4jVulnerable } from '../../core/agent.js';
import type { WindowsFacts } from './facts.js';
import { MAIN_AGENT, UPDATE_AGENT } from './paths.js';

/** The plug-in's state as the report shows it, in the same shape as a Linux host's: a pure function of the facts. */
export function windowsAgentState(f: WindowsFacts): AgentState {
  const main = f.agents.main;
  const update = f.agents.update;
  const findings: string[] = [];
  const log4j = main.log4jCore ?? update.log4jCore;
  if (log4jVulnerable(log4j)) findings.push(`log4j ${log4j} is below 2.17 (Log4Shell range): update the plug-in`);
  if (main.present && !main.service) findings.push(`${MAIN_AGENT.dir} exists but the ${MAIN_AGENT.name} service is not registered: it does not run`);
  if (!main.present && main.service) findings.push(`the ${MAIN_AGENT.name} service is registered but ${MAIN_AGENT.dir} is missing`);
  if (main.service && main.service.startMode !== 'Auto') findings.push(`the ${MAIN_AGENT.name} service starts ${main.service.startMode ?? 'in an unknown way'}, not automatically: it will not run after a reboot`);
  if (main.running && main.jvmPid === null) findings.push(`the ${MAIN_AGENT.name} service runs but its wrapper has no java.exe child`);
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

/**
 * AUTO mode's port, as on Linux: the socket backend has the wrapper (the service's process) listen and its
 * JVM connect back; the wrapper's listener is the port, else the JVM's connected one.
 */
function agentPort(a: WindowsFacts['agents']['main']): number | null {
  const listen = a.sockets.find((s) => s.pid === a.service?.pid && s.state === 'LISTEN');
  const jvm = a.sockets.find((s) => s.pid === a.jvmPid && s.state === 'CONNECTED');
  return (listen ?? jvm)?.port ?? null;
}

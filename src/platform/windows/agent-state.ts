import type { AgentState } from '../../core/agent.js';
import { log4jVulnerable } from '../../core/agent.js';
import type { WindowsAgentFacts, WindowsFacts } from './facts.js';
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
export function unreadFindings(a: WindowsAgentFacts, spec: { dir: string; name: string }): string[] {
  const u = a.unread;
  return [
    u.files !== undefined ? `could not read ${spec.dir}: ${u.files}` : null,
    u.hash !== undefined ? `could not hash ${spec.dir}\\lib\\resetpwdagent.jar: ${u.hash}` : null,
    u.acl !== undefined ? `could not read the ACL of ${spec.dir}: ${u.acl}` : null,
    u.service !== undefined ? `could not read the ${spec.name} service: ${u.service}` : null,
    u.process !== undefined ? `could not read the processes of the ${spec.name} service: ${u.process}` : null,
  ].filter((x): x is string => x !== null);
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

/** The plug-in's state on a host, the same for every OS, as the result document reports it (SPEC "Result document"). */
export interface AgentState {
  installed: boolean;
  updateAgent: boolean;
  version: string | null;
  /** null: the host could not say (a finding gives the error), never a guess. */
  running: boolean | null;
  mode: string | null;
  port: number | null;
  log4j: string | null;
  packageSha256: string | null;
  findings: string[];
}

/** log4j below 2.17 is in the Log4Shell range of the plug-in's old builds. */
export const LOG4J_FIXED = [2, 17] as const;

export function log4jVulnerable(v: string | null): boolean {
  if (!v) return false;
  const [maj, min] = v.split('.').map(Number);
  return maj === LOG4J_FIXED[0] && (min ?? 0) < LOG4J_FIXED[1];
}

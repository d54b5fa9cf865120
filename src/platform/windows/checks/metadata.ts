import type { WindowsCheck } from './check.js';

/** 169.254.169.254:80 must answer from the host, without a proxy (any HTTP status proves the TCP path the agent uses). */
export const metadata: WindowsCheck = (f) => {
  const id = 'metadata';
  if (f.metadata.reachable === null) return { id, status: 'error', detail: `the metadata service was not asked${f.errors.metadata ? `: ${f.errors.metadata}` : ''}` };
  return f.metadata.reachable
    ? { id, status: 'pass', detail: `metadata service 169.254.169.254:80 answers (HTTP ${f.metadata.code})` }
    : { id, status: 'fail', detail: 'metadata service 169.254.169.254:80 does not answer; allow outbound TCP 80 to 169.254.0.0/16 and check DHCP and the route to 169.254.169.254' };
};

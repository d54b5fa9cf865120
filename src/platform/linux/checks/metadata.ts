import type { LinuxCheck } from './check.js';

/** 169.254.169.254:80 must answer from the host (any HTTP status proves the TCP path the agent uses). */
export const metadata: LinuxCheck = (f) => {
  const id = 'metadata';
  if (!f.metadata.client) return { id, status: 'error', detail: 'neither curl nor wget on the host to ask 169.254.169.254' };
  return f.metadata.reachable
    ? { id, status: 'pass', detail: 'metadata service 169.254.169.254:80 answers' }
    : { id, status: 'fail', detail: 'metadata service 169.254.169.254:80 does not answer; allow outbound TCP 80 to 169.254.0.0/16 and check DHCP' };
};

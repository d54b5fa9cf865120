import type { HostResult } from '../core/result.js';
import { PrivilegeError } from '../privilege/sudo.js';
import { TransportError } from '../transport/transport.js';

/**
 * A failure to reach or enter a host, in the one vocabulary every command and report uses
 * (transport.ts's ConnectFailure: unreachable, timeout, host-key-unknown, host-key-changed, auth-failed,
 * protocol, lost), turned into the host's result fields. A host whose key was refused was never logged in
 * to, as one that did not answer: `unreachable` (Ansible says UNREACHABLE too), so the error budget,
 * --retry-failed and the reports treat it as a host the tool could not enter. A refused login keeps
 * `failed`: the host answered and said no (retrying it could lock the account).
 */
export function failureOf(e: unknown, name: string): Pick<HostResult, 'reachable' | 'outcome' | 'error' | 'failure'> {
  if (e instanceof TransportError) {
    const notEntered = e.reason === 'unreachable' || e.reason === 'timeout' || e.reason === 'host-key-unknown' || e.reason === 'host-key-changed';
    return { reachable: !notEntered, outcome: notEntered ? 'unreachable' : 'failed', error: e.message, failure: e.reason };
  }
  if (e instanceof PrivilegeError) return { reachable: true, outcome: 'failed', error: e.message, failure: 'auth-failed' };
  return { reachable: true, outcome: 'failed', error: `${name}: ${(e as Error).message}` };
}

/** Worth another attempt (--retries): the host did not answer in time. Never a refused key or login. */
export function retryable(r: Pick<HostResult, 'outcome' | 'failure'>): boolean {
  return r.outcome === 'unreachable' && (r.failure === undefined || r.failure === 'unreachable' || r.failure === 'timeout');
}

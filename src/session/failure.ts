import type { HostResult } from '../core/result.js';
import { PrivilegeError } from '../privilege/sudo.js';
import { TransportError } from '../transport/transport.js';

/**
 * A failure to reach or enter a host, in the one vocabulary every command and report uses
 * (transport.ts's ConnectFailure: unreachable, timeout, host-key-unknown, host-key-changed, auth-failed,
 * protocol, lost), turned into the host's result fields. Whatever stops the tool before it is logged in —
 * no answer, a refused host key, a refused login, no algorithm or certificate in common — means the host was
 * never entered (SPEC): `reachable: false`, outcome `unreachable` (Ansible says UNREACHABLE too), so the error
 * budget, --retry-failed and the reports treat it as a host the tool could not enter; `failure` says which,
 * and only a host that did not answer is retried. Once `entered` (logged in), a timeout or a lost connection
 * is a failure on a host that was reached: `failed`, never an `unreachable` a retry would start again.
 */
export function failureOf(e: unknown, name: string, entered = false): Pick<HostResult, 'reachable' | 'outcome' | 'error' | 'failure'> {
  if (e instanceof TransportError) {
    return { reachable: entered, outcome: entered ? 'failed' : 'unreachable', error: e.message, failure: e.reason };
  }
  // sudo refused after a login that worked: the host was entered.
  if (e instanceof PrivilegeError) return { reachable: true, outcome: 'failed', error: e.message, failure: 'auth-failed' };
  return { reachable: entered, outcome: 'failed', error: `${name}: ${(e as Error).message}` };
}

/** Worth another attempt (--retries): the host did not answer in time. Never a refused key or login. */
export function retryable(r: Pick<HostResult, 'outcome' | 'failure'>): boolean {
  return r.outcome === 'unreachable' && (r.failure === undefined || r.failure === 'unreachable' || r.failure === 'timeout');
}

import { describe, expect, it } from 'vitest';
import { PrivilegeError } from '../../../src/privilege/sudo.js';
import { failureOf, retryable } from '../../../src/session/failure.js';
import { TransportError } from '../../../src/transport/transport.js';

/** One vocabulary for every command and report: what a connection or login failure makes of a host's result. */
describe('failureOf', () => {
  it('a host that was never entered is unreachable: no answer, a timeout, or a host key refused', () => {
    for (const reason of ['unreachable', 'timeout', 'host-key-unknown', 'host-key-changed'] as const) {
      expect(failureOf(new TransportError(reason, `h1: ${reason}`), 'h1'), reason).toEqual({ reachable: false, outcome: 'unreachable', error: `h1: ${reason}`, failure: reason });
    }
  });

  it('a host that answered and said no (login, sudo) failed; it was reached', () => {
    expect(failureOf(new TransportError('auth-failed', 'h1: authentication failed'), 'h1')).toMatchObject({ reachable: true, outcome: 'failed', failure: 'auth-failed' });
    expect(failureOf(new PrivilegeError('sudo-auth-failed', 'h1: sudo rejected the password'), 'h1')).toMatchObject({ reachable: true, outcome: 'failed', failure: 'auth-failed' });
    expect(failureOf(new Error('boom'), 'h1')).toEqual({ reachable: true, outcome: 'failed', error: 'h1: boom' });
  });

  it('only a host that did not answer is worth another attempt: never a refused key or login', () => {
    expect(retryable({ outcome: 'unreachable', failure: 'unreachable' })).toBe(true);
    expect(retryable({ outcome: 'unreachable', failure: 'timeout' })).toBe(true);
    expect(retryable({ outcome: 'unreachable', failure: 'host-key-changed' })).toBe(false);
    expect(retryable({ outcome: 'failed', failure: 'auth-failed' })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { PrivilegeError } from '../../../src/privilege/sudo.js';
import { failureOf, retryable } from '../../../src/session/failure.js';
import { TransportError } from '../../../src/transport/transport.js';

/** One vocabulary for every command and report: what a connection or login failure makes of a host's result. */
describe('failureOf', () => {
  it('a host that was never entered is unreachable: no answer, a timeout, a host key or a login refused, nothing in common', () => {
    for (const reason of ['unreachable', 'timeout', 'host-key-unknown', 'host-key-changed', 'auth-failed', 'protocol', 'lost'] as const) {
      expect(failureOf(new TransportError(reason, `h1: ${reason}`), 'h1'), reason).toEqual({ reachable: false, outcome: 'unreachable', error: `h1: ${reason}`, failure: reason });
    }
  });

  it('once logged in, a timeout or a lost connection is a failure on a host that was reached, never unreachable', () => {
    for (const reason of ['timeout', 'lost', 'protocol'] as const) {
      expect(failureOf(new TransportError(reason, `h1: ${reason}`), 'h1', true), reason).toEqual({ reachable: true, outcome: 'failed', error: `h1: ${reason}`, failure: reason });
    }
    expect(failureOf(new Error('boom'), 'h1', true)).toEqual({ reachable: true, outcome: 'failed', error: 'h1: boom' });
  });

  it('sudo that says no after a login that worked: failed, reached', () => {
    expect(failureOf(new PrivilegeError('sudo-auth-failed', 'h1: sudo rejected the password'), 'h1')).toMatchObject({ reachable: true, outcome: 'failed', failure: 'auth-failed' });
  });

  it('only a host that did not answer is worth another attempt: never a refused key or login', () => {
    expect(retryable({ outcome: 'unreachable', failure: 'unreachable' })).toBe(true);
    expect(retryable({ outcome: 'unreachable', failure: 'timeout' })).toBe(true);
    expect(retryable({ outcome: 'unreachable', failure: 'host-key-changed' })).toBe(false);
    expect(retryable({ outcome: 'unreachable', failure: 'auth-failed' })).toBe(false);
    expect(retryable({ outcome: 'unreachable', failure: 'protocol' })).toBe(false);
    expect(retryable({ outcome: 'failed', failure: 'timeout' })).toBe(false);
  });
});

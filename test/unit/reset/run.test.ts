import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Target } from '../../../src/inventory/target.js';
import type { PasswordSet } from '../../../src/platform/platform.js';
import { TransportError } from '../../../src/transport/transport.js';

/**
 * One host's online reset (resetHost), its decisions read as a specification: what counts as proof, what a
 * failure means once the host may be changing, and what the vault says of the host afterwards. The session
 * layer is replaced by a scripted one: these are the decisions, not the transport (the lab proves that).
 */
const script = {
  open: null as null | Error,
  set: async (_a: string, _p: string): Promise<PasswordSet> => ({ ok: true, hash: 'match' }),
  logins: new Map<string, boolean | null>(),
  events: [] as string[],
};
vi.mock('../../../src/session/open.js', () => ({
  openSession: async () => {
    if (script.open) throw script.open;
    return {
      platform: { passwordReset: { defaultAccount: 'root', set: (_s: unknown, a: string, p: string) => (script.events.push(`set ${a}`), script.set(a, p)) }, passwordRules: { name: 'Linux', specials: '!@%-_=+[]:./^,{}?', noUserRuns: false, noLeadingSlash: false }, defaultUser: 'root' },
      close: async () => undefined,
    };
  },
  passwordLogin: async (_t: unknown, _o: unknown, _k: unknown, user: string, pw: string) => {
    script.events.push(`login ${user}`);
    return script.logins.has(pw) ? script.logins.get(pw)! : null;
  },
}));
const { resetHost } = await import('../../../src/reset/run.js');
const { KnownHosts } = await import('../../../src/transport/known-hosts.js');

const target = (o: Partial<Target> = {}): Target =>
  ({ name: 'web-1', host: '192.0.2.10', port: 22, connection: 'ssh', os: 'linux', vars: {}, user: 'deploy', password: 'Old-Login-Pass1', ...o }) as Target;
const options = (o: Record<string, unknown> = {}) => ({ dryRun: false, runId: 'r1', concurrency: 1, ...o }) as Parameters<typeof resetHost>[2];
const kh = new KnownHosts('/nonexistent/known_hosts');
const NEW = 'New-Pass-2026.x';

function vault(fail?: 'mark') {
  const calls: string[] = [];
  return {
    calls,
    v: {
      put: async (e: { host: string; password: string }) => void calls.push(`put ${e.host} ${e.password === NEW ? 'NEW' : 'other'}`) ?? script.events.push('put'),
      mark: async (host: string, state: string) => {
        if (fail === 'mark') throw new Error('disk full');
        calls.push(`mark ${host} ${state}`);
      },
    },
  };
}

beforeEach(() => {
  script.open = null;
  script.set = async () => ({ ok: true, hash: 'match' });
  script.logins = new Map();
  script.events = [];
});

describe('resetHost', () => {
  it('--dry-run: the host reached and logged in to, nothing set (skipped)', async () => {
    const r = await resetHost(target(), NEW, options({ dryRun: true }), kh);
    expect(r).toMatchObject({ outcome: 'skipped', reachable: true, reset: { account: 'root', verifiedBy: null } });
    expect(script.events).toEqual([]);
  });

  it('proven by the stored hash where a fresh login is refused (password logins off for root)', async () => {
    script.logins.set(NEW, false);
    const r = await resetHost(target(), NEW, options(), kh);
    expect(r).toMatchObject({ outcome: 'reset', reset: { account: 'root', verifiedBy: 'hash' } });
  });

  it('proven by a fresh login; the login user\'s old password checked and refused', async () => {
    script.logins.set(NEW, true).set('Old-Login-Pass1', false);
    const r = await resetHost(target(), NEW, options({ account: 'deploy' }), kh);
    expect(r).toMatchObject({ outcome: 'reset', reset: { account: 'deploy', verifiedBy: 'login', oldPasswordRefused: true } });
  });

  it('the old password still logging in after the reset is a failure, whatever the new one does', async () => {
    script.logins.set(NEW, true).set('Old-Login-Pass1', true);
    const r = await resetHost(target(), NEW, options({ account: 'deploy' }), kh);
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/the old password of deploy still logs in after the reset/);
  });

  it('set, but neither a login nor the hash proves it: failed, saying what was tried', async () => {
    script.set = async () => ({ ok: true, hash: 'unknown' });
    script.logins.set(NEW, false);
    const r = await resetHost(target(), NEW, options(), kh);
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/was set but could not be proven: a fresh login with it was refused .*; the host could not check its stored password/);
  });

  it('the connection lost while setting: failed "may or may not have changed" — never unreachable (a retry would set another password)', async () => {
    script.set = async () => {
      throw new TransportError('unreachable', 'web-1: connection lost');
    };
    const r = await resetHost(target(), NEW, options(), kh);
    expect(r).toMatchObject({ outcome: 'failed', reachable: true });
    expect(r.error).toMatch(/the password may or may not have changed/);
  });

  it('a host that cannot be reached is unreachable, and nothing is recorded for it', async () => {
    script.open = new TransportError('unreachable', 'web-1: connection refused');
    const { v, calls } = vault();
    const r = await resetHost(target(), null, options({ generate: { vault: v, recipients: [], onSecret: () => undefined } }), kh);
    expect(r.outcome).toBe('unreachable');
    expect(calls).toEqual([]);
  });

  it('--generate: the password learnt by the redactor, then durable in the vault, then set; marked applied once proven', async () => {
    const secrets: string[] = [];
    const { v, calls } = vault();
    const r = await resetHost(target(), null, options({ generate: { vault: v, recipients: [], onSecret: (s: string) => (secrets.push(s), script.events.push('secret')) } }), kh);
    expect(r.outcome).toBe('reset');
    expect(script.events.slice(0, 3)).toEqual(['secret', 'put', 'set root']);
    expect(secrets).toHaveLength(1);
    expect(calls).toEqual(['put web-1 other', 'mark web-1 applied']);
  });

  it('--generate: a host that refused the password is marked failed (the old one holds); one that may have taken it stays pending', async () => {
    script.set = async () => ({ ok: false, why: 'chpasswd: BAD PASSWORD', unchanged: true });
    const refused = vault();
    await resetHost(target(), null, options({ generate: { vault: refused.v, recipients: [], onSecret: () => undefined } }), kh);
    expect(refused.calls.at(-1)).toBe('mark web-1 failed');
    script.set = async () => {
      throw new TransportError('timeout', 'web-1: no answer');
    };
    const unknown = vault();
    await resetHost(target(), null, options({ generate: { vault: unknown.v, recipients: [], onSecret: () => undefined } }), kh);
    expect(unknown.calls).toEqual(['put web-1 other']);
  });

  it('--generate: a vault that cannot be marked leaves the host reset, and says the file is behind', async () => {
    const { v } = vault('mark');
    const r = await resetHost(target(), null, options({ generate: { vault: v, recipients: [], onSecret: () => undefined } }), kh);
    expect(r.outcome).toBe('reset');
    expect(r.error).toMatch(/the passwords file still says pending for this host: disk full/);
  });
});

import { describe, expect, it } from 'vitest';
import { connectOptionsOf, type TargetCliOptions } from '../../../src/cli/target-options.js';
import { UsageError } from '../../../src/errors.js';

const base: TargetCliOptions = { knownHosts: '/dev/null', concurrency: 50, timeout: 120 };

describe('connection options', () => {
  it('connecting is limited by the smaller of --timeout and 30 s unless --connect-timeout says otherwise', async () => {
    expect((await connectOptionsOf(base, [])).connectTimeoutMs).toBe(30_000);
    expect((await connectOptionsOf({ ...base, timeout: 10 }, [])).connectTimeoutMs).toBe(10_000);
    expect((await connectOptionsOf({ ...base, connectTimeout: 90 }, [])).connectTimeoutMs).toBe(90_000);
  });

  it('--insecure is off unless given; an unreadable --winrm-ca is a usage error naming the file', async () => {
    expect((await connectOptionsOf(base, [])).winrmInsecure).toBe(false);
    expect((await connectOptionsOf({ ...base, insecure: true }, [])).winrmInsecure).toBe(true);
    const e = await connectOptionsOf({ ...base, winrmCa: '/nonexistent/ca.pem' }, []).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^--winrm-ca \/nonexistent\/ca.pem: cannot read that file/);
  });
});

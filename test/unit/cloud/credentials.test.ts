import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveCredentials } from '../../../src/cloud/credentials.js';
import { UsageError } from '../../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'creds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode = 0o600) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
const env = { HUAWEICLOUD_SDK_AK: 'AKENVAKENV01', HUAWEICLOUD_SDK_SK: 'sk-from-env', HUAWEICLOUD_SDK_PROJECT_ID: 'p0123456789abcdef' };

describe('cloud credentials', () => {
  it('come from the SDK\'s own environment variable names, with the security token', () => {
    expect(resolveCredentials({ env: { ...env, HUAWEICLOUD_SDK_SECURITY_TOKEN: 'tok' } })).toEqual({ ak: 'AKENVAKENV01', sk: 'sk-from-env', projectId: 'p0123456789abcdef', securityToken: 'tok' });
  });
  it('come from a mode-600 file (key = value), which wins over the environment; --project-id wins over both', () => {
    const f = file('c', '# mine\nak = AKFILEAKFILE\nsk = "sk-file"\nproject_id = pfile\n');
    expect(resolveCredentials({ credentialsFile: f, env })).toEqual({ ak: 'AKFILEAKFILE', sk: 'sk-file', projectId: 'pfile' });
    expect(resolveCredentials({ credentialsFile: f, projectId: 'popt', env }).projectId).toBe('popt');
  });
  it('read the credentials.csv the console hands out', () => {
    const f = file('credentials.csv', 'User Name,Access Key Id,Secret Access Key\r\nops,AKCSVAKCSV01,sk-csv\r\n');
    expect(resolveCredentials({ credentialsFile: f, env: { HUAWEICLOUD_SDK_PROJECT_ID: 'p1' } })).toMatchObject({ ak: 'AKCSVAKCSV01', sk: 'sk-csv' });
  });
  it('refuse a file other users can read, a symbolic link, and a missing file, naming the fix', () => {
    const open = file('open', 'ak=AKFILEAKFILE\nsk=s\n', 0o644);
    expect(() => resolveCredentials({ credentialsFile: open, env })).toThrow(/mode 644 lets other users read the secret key; chmod 600/);
    const link = path.join(dir, 'link');
    symlinkSync(file('real', 'ak=AKFILEAKFILE\nsk=s\n'), link);
    expect(() => resolveCredentials({ credentialsFile: link, env })).toThrow(/symbolic link/);
    expect(() => resolveCredentials({ credentialsFile: path.join(dir, 'none'), env })).toThrow(/no such file/);
  });
  it('never quote a line of the file in an error (it may be the secret key)', () => {
    const f = file('bad', 'ak=AKFILEAKFILE\nthis-is-the-secret-key-by-mistake\n');
    try {
      resolveCredentials({ credentialsFile: f, env });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(/line 2 is not "key = value"/);
      expect((e as Error).message).not.toContain('this-is-the-secret');
    }
  });
  it('are required, with the project, each missing one named with its fix', () => {
    expect(() => resolveCredentials({ env: {} })).toThrow(/export HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or give --cloud-credentials FILE/);
    expect(() => resolveCredentials({ env: { ...env, HUAWEICLOUD_SDK_PROJECT_ID: undefined } })).toThrow(/give --project-id ID or export HUAWEICLOUD_SDK_PROJECT_ID/);
  });
});

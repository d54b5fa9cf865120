import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptVault, type VaultSecret } from '../../../src/inventory/vault.js';

/** Ansible Vault files as ansible-vault itself writes them (1.1, and 1.2 with a vault id), opened by our reader. */
let tmp: string;
const secret = (label: string, pw: string): VaultSecret => ({ label, password: Buffer.from(pw), source: `${label}-file` });
function encrypt(plain: string, args: string[]): string {
  const f = path.join(tmp, `f${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(f, plain);
  const r = spawnSync('ansible-vault', ['encrypt', ...args, f], { cwd: tmp, env: { PATH: process.env.PATH, HOME: tmp, ANSIBLE_LOCAL_TEMP: path.join(tmp, '.t') }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return readFileSync(f, 'utf8');
}
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
  writeFileSync(path.join(tmp, 'dev'), 'Dev-Pass-1\n', { mode: 0o600 });
  writeFileSync(path.join(tmp, 'prod'), 'Prod-Pass-2\n', { mode: 0o600 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('decryptVault', () => {
  it('opens format 1.1 (no vault id) with its password', () => {
    const text = encrypt('secret: one\n', ['--vault-password-file', 'dev']);
    expect(text.startsWith('$ANSIBLE_VAULT;1.1;AES256\n')).toBe(true);
    expect(decryptVault(text, [secret('default', 'Dev-Pass-1')], 'f')).toBe('secret: one\n');
  });

  it('opens format 1.2 with the secret of its vault id, trying that one first, whatever the order given', () => {
    const text = encrypt('secret: two\n', ['--vault-id', 'prod@prod']);
    expect(text.startsWith('$ANSIBLE_VAULT;1.2;AES256;prod\n')).toBe(true);
    expect(decryptVault(text, [secret('dev', 'Dev-Pass-1'), secret('prod', 'Prod-Pass-2')], 'f')).toBe('secret: two\n');
    // A label that does not match is still tried (as Ansible does by default).
    expect(decryptVault(text, [secret('other', 'Prod-Pass-2')], 'f')).toBe('secret: two\n');
  });

  it('a wrong password, a tampered payload, an unknown format: one line naming the file and the sources tried, never a password', () => {
    const text = encrypt('secret: three\n', ['--vault-password-file', 'dev']);
    const e = (() => {
      try {
        decryptVault(text, [secret('default', 'Not-It'), secret('ops', 'Also-Not')], 'group_vars/web/vault.yml');
      } catch (x) {
        return x as Error;
      }
      throw new Error('opened');
    })();
    expect(e.message).toBe('group_vars/web/vault.yml: no vault password given opens it (tried default-file, ops@ops-file): the password is wrong or the file was altered');
    const lines = text.split('\n');
    lines[2] = lines[2]!.slice(0, -1) + (lines[2]!.endsWith('0') ? '1' : '0');
    expect(() => decryptVault(lines.join('\n'), [secret('default', 'Dev-Pass-1')], 'x')).toThrow(/x: (no vault password given opens it|the Ansible Vault payload is damaged)/);
    expect(() => decryptVault('$ANSIBLE_VAULT;1.1;AES256\nzz\n', [secret('default', 'Dev-Pass-1')], 'x')).toThrow(/x: the Ansible Vault payload is damaged/);
    expect(() => decryptVault('$ANSIBLE_VAULT;2.0;AES512\n00\n', [secret('default', 'a')], 'x')).toThrow(/x: an Ansible Vault of format 2\.0 AES512, which this tool does not read/);
    expect(() => decryptVault(text, [], 'x')).toThrow(/x is encrypted with Ansible Vault: give --vault-password-file FILE/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PasswordVault, parseRecipients } from '../../../src/reset/vault.js';

/** The generated-passwords file, opened by the reference `age` (not the library that wrote it). */
const hasAge = spawnSync('sh', ['-c', 'command -v age && command -v age-keygen']).status === 0;
let dir: string;
let key: string;
let recipient: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
  key = path.join(dir, 'key.txt');
  if (hasAge) {
    spawnSync('age-keygen', ['-o', key]);
    recipient = spawnSync('age-keygen', ['-y', key], { encoding: 'utf8' }).stdout.trim();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const open = (file: string) => JSON.parse(spawnSync('age', ['-d', '-i', key, file], { encoding: 'utf8' }).stdout) as { run: string; hosts: { host: string; password: string; state: string; error?: string }[] };

describe('the passwords vault', () => {
  it('is installed where the tests run (CI installs age)', () => {
    expect(hasAge || !process.env.CI).toBe(true);
  });

  it.runIf(hasAge)('holds each host\'s entry, readable with age -d, from before the host is changed; marks it after', async () => {
    const file = path.join(dir, 'p.age');
    const v = await PasswordVault.create(file, [recipient], { run: 'r1' });
    expect(open(file)).toMatchObject({ run: 'r1', hosts: [] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await v.put({ host: 'web-1', address: '192.0.2.1', account: 'root', password: 'Gen-Pass-0001!' });
    expect(open(file).hosts).toMatchObject([{ host: 'web-1', password: 'Gen-Pass-0001!', state: 'pending' }]);
    await v.mark('web-1', 'applied');
    await v.put({ host: 'web-2', address: '192.0.2.2', account: 'root', password: 'Gen-Pass-0002!' });
    await v.mark('web-2', 'failed', 'no account root');
    expect(open(file).hosts.map((h) => [h.host, h.state, h.error ?? null])).toEqual([['web-1', 'applied', null], ['web-2', 'failed', 'no account root']]);
    expect(readFileSync(file, 'utf8')).not.toContain('Gen-Pass');
  });

  it.runIf(hasAge)('groups the writes of hosts waiting at the same time, and every one of them is durable when it returns', async () => {
    const file = path.join(dir, 'many.age');
    const v = await PasswordVault.create(file, [recipient], { run: 'r2' });
    // Each put, the moment it resolves, must find its own entry in the file on disk.
    const seen: boolean[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        v.put({ host: `h${i}`, address: '192.0.2.9', account: 'root', password: `P-${i}-xxxxxxxx` }).then(() => seen.push(open(file).hosts.some((h) => h.host === `h${i}`))),
      ),
    );
    expect(seen).toEqual(Array(20).fill(true));
  });

  it.runIf(hasAge)('keeps every attempt at a host: a second password does not replace the first, which may hold', async () => {
    const file = path.join(dir, 'twice.age');
    const v = await PasswordVault.create(file, [recipient], { run: 'r3' });
    await v.put({ host: 'web-1', address: '192.0.2.1', account: 'root', password: 'First-Try-0001!' });
    await v.put({ host: 'web-1', address: '192.0.2.1', account: 'root', password: 'Second-Try-0002!' });
    await v.mark('web-1', 'applied');
    expect(open(file).hosts.map((h) => [h.password, h.state])).toEqual([['First-Try-0001!', 'pending'], ['Second-Try-0002!', 'applied']]);
  });

  it.runIf(hasAge)('never overwrites a file (it may hold passwords) nor writes through a symbolic link', async () => {
    const existing = path.join(dir, 'old.age');
    writeFileSync(existing, 'x');
    await expect(PasswordVault.create(existing, [recipient], {})).rejects.toThrow(/the file exists; it may hold passwords: give another path/);
    const link = path.join(dir, 'link.age');
    symlinkSync(path.join(dir, 'elsewhere'), link);
    await expect(PasswordVault.create(link, [recipient], {})).rejects.toThrow(/symbolic link/);
  });

  it('takes only age recipients, and at least one', async () => {
    await expect(parseRecipients(['ssh-ed25519 AAAA…'])).rejects.toThrow(/is not an age recipient; give the public key age-keygen printed/);
    await expect(parseRecipients([])).rejects.toThrow(/give --encrypt-to age1… or --recipients-file FILE/);
    expect(await parseRecipients([], { name: 'r.txt', text: '# ops\nage1ftjw3cfjgf6zc388tuajqy8zyajkdsut239rhny3cdgc2vch5stqfzewke\n' })).toHaveLength(1);
  });
});

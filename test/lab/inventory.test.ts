import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli-run.js';
import { labDown, labUp, repo, type LabDoc } from './helpers.js';

/**
 * An inventory as an Ansible user keeps it, on a real host: the sudo-only host's line names neither password;
 * both come only from group_vars/<group>/vault.yml, encrypted by ansible-vault itself. The audit logs in and
 * becomes root with them; no password (nor the vault's) appears in any output, log or command line.
 */
const bin = path.join(repo, 'dist/cli/main.js');
let doc: LabDoc;
let work: string;
const VAULT_PW = 'Lab-Vault-Pass-7';

beforeAll(() => {
  doc = labUp(path.join(repo, 'test/lab/scenarios/inventory.lab'));
  work = mkdtempSync(path.join(os.tmpdir(), 'inventory-lab-'));
  const line = readFileSync(doc.inventory, 'utf8').split('\n').find((l) => l.startsWith('inv-sudo '))!;
  // The lab's own line, its passwords taken out: they go to the vault.
  const bare = line.replace(/\s+ansible_(?:password|become_password)=\S+/g, '');
  expect(bare).not.toContain(doc.password);
  mkdirSync(path.join(work, 'prod', 'group_vars', 'sudoers'), { recursive: true });
  writeFileSync(path.join(work, 'prod', 'hosts'), `[sudoers]\n${bare}\n`);
  writeFileSync(path.join(work, 'prod', 'group_vars', 'sudoers', 'main.yml'), 'ansible_become: yes\n');
  writeFileSync(path.join(work, 'prod', 'group_vars', 'sudoers', 'vault.yml'), `ansible_password: ${doc.password}\nansible_become_password: ${doc.password}\n`);
  writeFileSync(path.join(work, 'vault-pass'), `${VAULT_PW}\n`, { mode: 0o600 });
  const r = spawnSync('ansible-vault', ['encrypt', '--vault-password-file', 'vault-pass', 'prod/group_vars/sudoers/vault.yml'], { cwd: work, env: { PATH: process.env.PATH, HOME: work, ANSIBLE_LOCAL_TEMP: path.join(work, '.ansible-tmp') }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}, 600_000);
afterAll(() => {
  labDown();
  if (work) rmSync(work, { recursive: true, force: true });
}, 600_000);

describe('an Ansible inventory folder with a vault, on the lab', () => {
  it('audits the sudo-only host with its passwords from the vault-encrypted group_vars file; no secret anywhere', async () => {
    expect(readFileSync(path.join(work, 'prod', 'group_vars', 'sudoers', 'vault.yml'), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256/);
    const log = path.join(work, 'audit.log');
    const seen: string[] = [];
    const r = await runCli(bin, ['audit', '-i', path.join(work, 'prod'), '--vault-password-file', path.join(work, 'vault-pass'), '--known-hosts', doc.knownHosts, '--json', '--log', log, '-v'], {
      env: { ...process.env, XDG_STATE_HOME: path.join(work, 'state') }, sample: (ps) => seen.push(ps),
    });
    const h = (JSON.parse(r.stdout) as { hosts: { name: string; reachable: boolean; outcome: string; error: string | null; checks: { id: string; status: string }[] }[] }).hosts[0]!;
    expect(h, r.stderr).toMatchObject({ name: 'inv-sudo', reachable: true, error: null });
    // Root's view of the host (root-writable needs root): sudo worked with the vault's password.
    expect(h.checks.find((c) => c.id === 'root-writable')?.status).toBe('pass');
    for (const text of [r.stdout, r.stderr, readFileSync(log, 'utf8'), ...seen]) {
      expect(text).not.toContain(doc.password);
      expect(text).not.toContain(VAULT_PW);
    }
  });

  it('without the vault password: exit 2, naming the encrypted file and the options, nothing contacted', async () => {
    const r = await runCli(bin, ['audit', '-i', path.join(work, 'prod'), '--known-hosts', doc.knownHosts], { env: { ...process.env, XDG_STATE_HOME: path.join(work, 'state') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/group_vars\/sudoers\/vault\.yml is encrypted with Ansible Vault: give --vault-password-file FILE/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTargets } from '../../../src/inventory/load.js';
import { stringVars } from '../../../src/inventory/precedence.js';
import type { VaultSecret } from '../../../src/inventory/vault.js';

/**
 * Inventories as Ansible users keep them — a folder of INI and YAML files, group_vars/ and host_vars/ as files and
 * folders, nested groups, group priorities, Vault-encrypted files and `!vault` values, several -i sources, a
 * dynamic inventory script — loaded by us and by Ansible itself (Debian's ansible-core: `ansible-vault` makes the
 * encrypted files, `ansible-inventory --list` says what every host's variables are). Ours must be Ansible's.
 */
let tmp: string;
let env: NodeJS.ProcessEnv;
const VAULT_PW = 'Parity-Vault-Pass-1';
const secrets = (): VaultSecret[] => [{ label: 'default', password: Buffer.from(VAULT_PW), source: 'test' }];

function w(rel: string, text: string, mode = 0o644): string {
  const f = path.join(tmp, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}
function ansible(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: tmp, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function ansibleDecrypt(sealed: string): string {
  const f = w('sealed.txt', sealed);
  const r = spawnSync('ansible-vault', ['decrypt', '--vault-password-file', 'vault-pass', '--output', '-', f], { cwd: tmp, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ansible-vault decrypt: ${r.stderr}`);
  return r.stdout;
}
/** Ansible's answer: every host's merged variables and groups, from `ansible-inventory --list`. */
function ansibleView(sources: string[], extra: string[] = []) {
  // Integers past 2^53 kept as their digits (JSON.parse would round them; Python prints them exactly).
  const text = ansible('ansible-inventory', [...sources.flatMap((s) => ['-i', s]), '--list', '--vault-password-file', path.join(tmp, 'vault-pass'), ...extra]).replace(/(:\s*)(-?\d{16,})(?=\s*[,}\n])/g, '$1"$2"');
  const out = JSON.parse(text) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
  const groupsOf = new Map<string, Set<string>>();
  const walk = (g: string, lineage: string[]) => {
    for (const h of out[g]?.hosts ?? []) for (const x of [...lineage, g]) (groupsOf.get(h) ?? groupsOf.set(h, new Set()).get(h)!).add(x);
    for (const c of out[g]?.children ?? []) walk(c, [...lineage, g]);
  };
  walk('all', []);
  // ansible-inventory leaves a `!vault` value sealed in its output ({"__ansible_vault": "..."}); what Ansible
  // uses is its plaintext, which ansible-vault itself gives.
  for (const vars of Object.values(out._meta.hostvars)) {
    for (const [k, v] of Object.entries(vars)) {
      const sealed = (v as { __ansible_vault?: string } | null)?.__ansible_vault;
      if (typeof sealed === 'string') vars[k] = ansibleDecrypt(sealed);
    }
  }
  return { vars: out._meta.hostvars, groupsOf };
}
/** Ours, in the same shape. */
function ourView(sources: string[], o: { playbookDir?: string } = {}) {
  const targets = resolveTargets({ inventory: sources, vault: secrets(), ...o });
  // Distinct addresses are not the point here; every host is kept (ansible_host differs per host in the fixture).
  return new Map(targets.map((t) => [t.name, t]));
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ansible-parity-'));
  // Ansible's own files (its temp folder, its config search) stay in this folder.
  env = { PATH: process.env.PATH, HOME: tmp, ANSIBLE_LOCAL_TEMP: path.join(tmp, '.ansible-tmp'), ANSIBLE_NOCOLOR: '1', LANG: 'C.UTF-8' };
  w('vault-pass', `${VAULT_PW}\n`, 0o600);
  const vaultString = (name: string, value: string) => ansible('ansible-vault', ['encrypt_string', '--vault-password-file', 'vault-pass', value, '--name', name]);

  // An inventory folder: an INI file without extension, a YAML file, and files Ansible skips.
  w('prod/hosts', [
    'lone ansible_host=10.1.0.1',
    '[web]',
    'web[1:3] tier=inline',
    '[db]',
    'db1 ansible_host=10.1.2.1 ansible_port=2222',
    '[edge]',
    'web1',
    '[prod:children]',
    'web',
    'db',
    '[europe:children]',
    'prod',
    '[prod:vars]',
    'tier=prod-inline',
    'region=eu',
    'ansible_group_priority=5',
    '[edge:vars]',
    'tier=edge-inline',
    '[all:vars]',
    'ansible_user=deploy',
    'tier=all-inline',
    '',
  ].join('\n'));
  w('prod/cloud.yml', [
    'all:',
    '  children:',
    '    web:',
    '      hosts:',
    '        web4:',
    '          ansible_host: 10.1.1.4',
    '          count: 3',
    '      vars:',
    '        flavour: yaml',
    '    batch:',
    '      hosts:',
    '        job1:',
    '          ansible_host: 10.1.3.1',
    `${vaultString('api_token', 'Vaulted-Inline-Token').split('\n').map((l) => `          ${l}`).join('\n')}`,
    '',
  ].join('\n'));
  w('prod/notes.txt', 'not an inventory\n');
  w('prod/old.ini', '[web]\nghost ansible_host=10.9.9.9\n');
  // group_vars: a file per group, a folder for a group (sorted, recursive), no extension, JSON, a vaulted file.
  w('prod/group_vars/all.yml', 'tier: all-file\nntp: pool.example\nflags: {a: 1, b: [x, y]}\nnothing: ~\n');
  w('prod/group_vars/prod', 'tier: prod-file\nregion: eu-file\n');
  w('prod/group_vars/web/00-main.yml', 'tier: web-file\nhttp_port: 8080\n');
  w('prod/group_vars/web/sub/10-more.yaml', 'http_port: 8081\n');
  w('prod/group_vars/web/vault.yml', 'ansible_become_password: Vaulted-Sudo-Pass\n');
  ansible('ansible-vault', ['encrypt', '--vault-password-file', 'vault-pass', 'prod/group_vars/web/vault.yml']);
  w('prod/group_vars/db.json', '{"tier": "db-json", "backup": true}\n');
  w('prod/group_vars/edge.yml', 'tier: edge-file\n');
  w('prod/group_vars/europe.yml', 'tier: europe-file\ncontinent: eu\n');
  w('prod/host_vars/web1.yml', 'tier: web1-file\n');
  w('prod/host_vars/db1/a.yml', 'role: primary\n');
  w('prod/host_vars/db1/b.yml', 'role: primary-b\n');
  // A second source, a file elsewhere with its own group_vars, and a playbook folder's vars.
  w('extra/more.yml', 'all:\n  hosts:\n    web2:\n      extra: yes\n    solo:\n      ansible_host: 10.2.0.1\n');
  w('extra/group_vars/web.yml', 'tier: extra-web-file\nfrom_extra: 1\n');
  w('play/group_vars/all.yml', 'play_all: 1\ntier: play-all\n');
  w('play/host_vars/solo.yml', 'play_host: 1\n');
  // A dynamic inventory script, with _meta and without (then --host per host).
  w('dyn/meta.py', `#!/usr/bin/env python3
import json, sys
if sys.argv[1:] == ['--list']:
    print(json.dumps({'app': {'hosts': ['app1', 'app2'], 'vars': {'tier': 'app'}, 'children': ['appdb']}, 'appdb': ['adb1'],
                      '_meta': {'hostvars': {'app1': {'ansible_host': '10.3.0.1'}, 'app2': {'ansible_host': '10.3.0.2', 'n': 2}, 'adb1': {'ansible_host': '10.3.0.3'}}}}))
`, 0o755);
  w('dyn/nometa.sh', `#!/bin/sh
case "$1" in
  --list) echo '{"grp": {"hosts": ["n1", "n2"], "vars": {"v": "g"}}}';;
  --host) echo "{\\"ansible_host\\": \\"10.4.0.$(echo $2 | tr -d n)\\", \\"who\\": \\"$2\\"}";;
esac
`, 0o755);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectSame(sources: string[], extra: string[] = [], o: { playbookDir?: string } = {}) {
  const theirs = ansibleView(sources.map((s) => path.join(tmp, s)), extra);
  const ours = ourView(sources.map((s) => path.join(tmp, s)), o);
  expect([...ours.keys()].sort()).toEqual(Object.keys(theirs.vars).sort());
  for (const [name, vars] of Object.entries(theirs.vars)) {
    const t = ours.get(name)!;
    expect(t.vars, `variables of ${name}`).toEqual(stringVars(vars));
    expect(new Set(t.groups.filter((g) => g !== 'all')), `groups of ${name}`).toEqual(new Set([...(theirs.groupsOf.get(name) ?? [])].filter((g) => g !== 'all')));
  }
  return ours;
}

describe('an inventory as Ansible loads it, judged by ansible-inventory', () => {
  it('a folder: INI and YAML files, skipped extensions, nested groups, priorities, group_vars/host_vars files and folders, vault', () => {
    const ours = expectSame(['prod']);
    // What the merge decided, spelled out for the reader (Ansible agreed above):
    expect(ours.get('web1')!.vars.tier).toBe('web1-file'); // host_vars beat every group
    expect(ours.get('web4')!.vars.tier).toBe('web-file'); // a deeper group's file beats prod's, europe's and edge's
    expect(ours.get('db1')!.vars.region).toBe('eu-file'); // group_vars files beat the inventory's own group vars
    expect(ours.get('web3')!.vars.http_port).toBe('8081'); // a group's folder: files in sorted order, sub-folders too
    expect(ours.get('web1')!.becomePassword).toBe('Vaulted-Sudo-Pass'); // from a vault-encrypted group_vars file
    expect(ours.get('job1')!.vars.api_token).toBe('Vaulted-Inline-Token'); // a !vault value
    expect(ours.has('ghost')).toBe(false); // old.ini: a folder's .ini files are skipped, as Ansible does
  });

  it('several -i sources are one inventory, each with its own group_vars; --playbook-dir adds its own above them', () => {
    expectSame(['prod', 'extra/more.yml']);
    const ours = expectSame(['prod', 'extra/more.yml'], ['--playbook-dir', path.join(tmp, 'play')], { playbookDir: path.join(tmp, 'play') });
    expect(ours.get('solo')!.vars).toMatchObject({ play_all: '1', play_host: '1' });
  });

  it('a dynamic inventory script, with _meta and without it (then asked --host per host)', () => {
    expectSame(['dyn/meta.py']);
    expectSame(['dyn/nometa.sh']);
  });

  it('YAML as PyYAML reads it (anchors, aliases, merge keys, scalars that only look like numbers, duplicate keys), host:port, a YAML file without extension, JSON in the YAML shape', () => {
    w('details/hosts', [
      '---',
      '# a YAML inventory with no extension, starting with ---',
      'all:',
      '  vars:',
      '    common: &common {ansible_user: deploy, tier: anchored}',
      '    user_alias: &u ops',
      '  hosts:',
      '    a1:2222:',
      '      ansible_host: 10.5.0.1',
      '      <<: *common',
      '      login: *u',
      '      sci: 123e4567',
      '      lead: 09',
      '      clock: 08:00',
      '      clock2: 8:00',
      '      exp: 1.5e+3',
      '      noexp: 1e3',
      '      big: 123456789012345678901',
      '      yn: y',
      '      dup: first',
      '      dup: second',
      '    "[2001:db8::5]:2200":',
      '      tier: v6',
      '',
    ].join('\n'));
    w('details/more.json', JSON.stringify({ all: { children: { jweb: { hosts: { j1: { ansible_host: '10.5.1.1', n: 1 } }, vars: { from: 'json' } } } } }));
    w('details/legacy', '[old]\nlegacy1:2201 ansible_host=10.5.2.1\n');
    expectSame(['details']);
  });

  it('INI values as Ansible reads them: split as a shell would (quotes, escapes, # comments), then Python literals', () => {
    w('inival/hosts', [
      `i1 ansible_host=10.7.0.1 esc="P@ss\\\\w0rd" dq="a\\"b" sq='x y' cut=pa#ss`,
      'i2 ansible_host=10.7.0.2 n=None t=True hex=0x10 under=1_000 plus=+5 exp=1e3 lead=09 quoted="\'007\'" neg=-3',
      '[g:vars]',
      'v = "v" # a comment after a literal',
      'w = hello # not a literal: kept whole',
      'x=  12  ',
      '[g]',
      'i1',
      'i2',
      '',
    ].join('\n'));
    const ours = expectSame(['inival/hosts']);
    expect(ours.get('i1')!.vars).toMatchObject({ esc: 'P@ss\\w0rd', dq: 'a"b', sq: 'x y', cut: 'pa', v: 'v', w: 'hello # not a literal: kept whole' });
  });

  it('a folder named twice among several sources applies again where it is named (a, b, a)', () => {
    w('ra/h1', 'r1 ansible_host=10.6.0.1\n[g]\nr1\n');
    w('ra/h3', '[g]\nr1\n');
    w('ra/group_vars/g.yml', 'w: A\n');
    w('rb/h2', '[g]\nr1\n');
    w('rb/group_vars/g.yml', 'w: B\n');
    const ours = expectSame(['ra/h1', 'rb/h2', 'ra/h3']);
    expect(ours.get('r1')!.vars.w).toBe('A');
  });

  it('the JSON ansible-inventory --list writes, read directly, gives the same hosts and variables', () => {
    const listed = ansible('ansible-inventory', ['-i', path.join(tmp, 'prod'), '--list', '--vault-password-file', 'vault-pass']);
    const file = w('listed.json', listed);
    const theirs = ansibleView([path.join(tmp, 'prod')]);
    const ours = ourView([file]);
    for (const [name, vars] of Object.entries(theirs.vars)) expect(ours.get(name)!.vars, name).toEqual(stringVars(vars));
    // The listing keeps a !vault value sealed ({"__ansible_vault": …}); read back, it is opened with the vault password.
    expect(readFileSync(file, 'utf8')).toContain('__ansible_vault');
    expect(ours.get('job1')!.vars.api_token).toBe('Vaulted-Inline-Token');
  });
});

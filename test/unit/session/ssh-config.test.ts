import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTargets } from '../../../src/inventory/load.js';
import { SshConfig, SshConfigError, withSshConfig } from '../../../src/session/ssh-config.js';

/**
 * The operator's OpenSSH client configuration, as `ssh` reads it: `-H web-1` reaches what `ssh web-1` reaches,
 * and whatever the inventory (or the command line) says wins over the file.
 */
let dir: string;
let cfg: SshConfig;
const key = () => path.join(dir, 'id_web');

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ssh-config-'));
  writeFileSync(key(), 'not read here');
  writeFileSync(path.join(dir, 'id_bastion'), 'not read here');
  mkdirSync(path.join(dir, 'conf.d'));
  writeFileSync(path.join(dir, 'conf.d', '10-db.conf'), 'Host db-*\n  HostName %h.db.internal\n  User dba\n');
  writeFileSync(
    path.join(dir, 'config'),
    [
      `Include ${path.join(dir, 'conf.d')}/*.conf`,
      'Host web-1',
      '  HostName 10.0.1.5',
      '  Port 2222',
      '  User ops',
      `  IdentityFile ${path.join(dir, 'missing_key')}`,
      `  IdentityFile ${key()}`,
      '  ProxyJump bastion',
      `  UserKnownHostsFile ${path.join(dir, 'known_%n')}`,
      '  StrictHostKeyChecking accept-new',
      '  KexAlgorithms +diffie-hellman-group14-sha1',
      'Host web-*',
      '  HostName ignored.example', // first value wins: web-1 keeps 10.0.1.5
      '  User webuser',
      'Host bastion',
      '  HostName 192.0.2.1',
      '  User jump',
      '  Port 2200',
      `  IdentityFile ${path.join(dir, 'id_bastion')}`,
      'Match exec "touch /tmp/should-never-run"',
      '  User fromexec',
      'Host *',
      '  User fallback',
      '',
    ].join('\n'),
  );
  cfg = SshConfig.load(path.join(dir, 'config'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const target = (spec: string, inv?: string) => resolveTargets(inv ? { inventory: [inv] } : { hosts: [spec] })[0]!;

describe('SshConfig', () => {
  it('gives an alias its HostName, Port, User, the first IdentityFile that exists, ProxyJump and known_hosts, first value winning', () => {
    const t = withSshConfig(target('web-1'), cfg);
    expect(t).toMatchObject({ name: 'web-1', host: '10.0.1.5', port: 2222, user: 'ops', keyFile: key(), knownHostsFile: path.join(dir, 'known_web-1'), hostKeyPolicy: 'accept-new' });
    // The jump host is an alias of the file too: its address, user, port and key.
    expect(t.jump).toBe('jump@192.0.2.1:2200');
    expect(t.jumpKeyFile).toBe(path.join(dir, 'id_bastion'));
    expect(t.sshAlgorithms).toEqual({ kex: '+diffie-hellman-group14-sha1' });
  });

  it('applies wildcard blocks, Include files and %h tokens; never runs Match exec', () => {
    expect(withSshConfig(target('web-9'), cfg)).toMatchObject({ host: 'ignored.example', user: 'webuser' });
    expect(withSshConfig(target('db-3'), cfg)).toMatchObject({ host: 'db-3.db.internal', user: 'dba' });
    expect(withSshConfig(target('other'), cfg)).toMatchObject({ host: 'other', user: 'fallback' });
  });

  it('the inventory wins over the file, and so does the command line (-u, --known-hosts)', () => {
    const inv = path.join(dir, 'inv.ini');
    writeFileSync(inv, 'web-1 ansible_host=10.9.9.9 ansible_port=22 ansible_user=admin\n');
    expect(withSshConfig(target('', inv), cfg)).toMatchObject({ host: '10.9.9.9', port: 22, user: 'admin' });
    expect(withSshConfig(target('web-1'), cfg, { user: 'cliuser' }).user).not.toBe('ops');
    expect(withSshConfig(target('web-1'), cfg, { knownHostsGiven: true }).knownHostsFile).toBeUndefined();
    // -H host:port names the port: the file's Port does not replace it.
    expect(withSshConfig(target('web-1:2022'), cfg).port).toBe(2022);
  });

  it('-F none, or no ~/.ssh/config, changes nothing; a -F file that cannot be read is a usage error naming it', () => {
    const t = target('web-1');
    expect(withSshConfig(t, SshConfig.load('none'))).toEqual(t);
    expect(() => SshConfig.load(path.join(dir, 'nope'))).toThrow(SshConfigError);
    expect(() => SshConfig.load(path.join(dir, 'nope'))).toThrow(/-F .*nope: cannot read that OpenSSH client configuration \(ENOENT\); give a readable file, or -F none/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finishTargets, type TargetCliOptions } from '../../../src/cli/target-options.js';
import { UsageError } from '../../../src/errors.js';
import { resolveTargets } from '../../../src/inventory/load.js';
import type { ConnectOptions } from '../../../src/session/options.js';
import { SshConfig, withSshConfig } from '../../../src/session/ssh-config.js';
import { jumpOf, sshTargetOf } from '../../../src/session/ssh.js';

/**
 * Where the operator's OpenSSH client configuration stands among the other sources, as `ssh` has it: the
 * command line (`ssh -i KEY`, `ssh -J HOST`) beats the file, the inventory beats both; a jump host named on the
 * command line is an alias of the file (as `ssh -J NAME`); patterns see the name and the address; Match host /
 * Match user; and no command of the file is ever run.
 */
let dir: string;
let cfgFile: string;
const f = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ssh-config-precedence-'));
  for (const k of ['cli', 'inv', 'web', 'bastion', 'net', 'deploy']) writeFileSync(f(`id_${k}`), `key ${k}`);
  cfgFile = f('config');
  mkdirSync(f('conf.d'));
  writeFileSync(f('conf.d/10-hops.conf'), ['# second hop', 'Host inc-chain', '  ProxyJump x,y', 'Host via-hop', '  ProxyJump hop', 'Host hop', '  HostName 10.9.0.1', '  ProxyJump outer', ''].join('\n'));
  writeFileSync(
    cfgFile,
    [
      'Host web-1', //                                             line 1
      '  HostName 10.0.1.5',
      `  IdentityFile ${f('id_web')}`,
      '  ProxyJump bastion',
      'Host bastion', //                                           line 5
      '  HostName 192.0.2.1',
      '  User jump',
      '  Port 2200',
      `  IdentityFile ${f('id_bastion')}`,
      'Host chain-*', //                                           line 10
      '  ProxyJump hop1,hop2',
      'Host nojump-*',
      '  ProxyJump none',
      'Host 10.20.* !10.20.0.9',
      '  User netops', //                                          line 15
      `  IdentityFile ${f('id_net')}`,
      'Host web-2',
      '  User byname', // after the address's block: its User comes second
      '  Port 2202',
      'Host canon-*', //                                           line 20
      '  CanonicalizeHostName yes',
      '  CanonicalDomains example.com example.org',
      '  User canon',
      'Host mh-1',
      '  HostName 10.30.0.7', //                                   line 25
      'Match host 10.30.*',
      '  Port 2230',
      'Match originalhost mh-*',
      '  User mhuser',
      'Match user deploy', //                                      line 30
      `  IdentityFile ${f('id_deploy')}`,
      'Match user root host mu-*',
      '  Port 2299',
      'Match !host mu-* originalhost mu-*',
      '  User never', //                                           line 35
      'match HOST case-*',
      '  hostname lower.example',
      '  PORT 2244',
      `Match exec "touch ${f('exec-ran')}"`,
      '  User fromexec', //                                        line 40
      'Host anything nojump-*',
      '  ProxyJump bastion',
      `Include ${f('conf.d')}/*.conf`,
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEFAULT_KNOWN_HOSTS = path.join(os.homedir(), '.ssh', 'known_hosts');

/** The targets as a run reaches them: the inventory or -H, the command line, the ssh config; the login and jump. */
function reach(o: { host?: string[]; inventory?: string; user?: string; key?: string; jump?: string; sshConfig?: string }) {
  const cli: TargetCliOptions = { knownHosts: DEFAULT_KNOWN_HOSTS, concurrency: 1, timeout: 60, maxOutput: 64, sshConfig: o.sshConfig ?? cfgFile, host: o.host, user: o.user, key: o.key, jump: o.jump };
  let inventory: string[] | undefined;
  if (o.inventory !== undefined) {
    writeFileSync(f('inv.ini'), `${o.inventory}\n`);
    inventory = [f('inv.ini')];
  }
  const targets = finishTargets(cli, resolveTargets({ inventory, hosts: o.host, user: o.user }));
  const co = { user: o.user, keyFile: o.key, jump: o.jump } as ConnectOptions;
  return targets.map((t) => {
    const login = sshTargetOf(t, co, t.user ?? o.user ?? 'root');
    const jump = jumpOf(t, co);
    return {
      t,
      login: { host: login.host, port: login.port, user: login.user, key: login.privateKey?.toString() },
      jump: jump && { host: jump.host, port: jump.port, user: jump.user, key: jump.privateKey?.toString() },
    };
  });
}
const one = (o: Parameters<typeof reach>[0]) => reach(o)[0]!;
const refusal = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('not refused');
};

describe('the command line beats the ssh config; the inventory beats both', () => {
  it('--key beats IdentityFile (as ssh -i KEY); the inventory key beats --key; without --key the file\'s key is used', () => {
    expect(one({ host: ['web-1'], key: f('id_cli') }).login.key).toBe('key cli');
    expect(one({ host: ['web-1'] }).login.key).toBe('key web');
    expect(one({ inventory: `web-1 ansible_ssh_private_key_file=${f('id_inv')}`, key: f('id_cli') }).login.key).toBe('key inv');
  });

  it('--jump beats ProxyJump (as ssh -J HOST); the inventory ProxyJump beats --jump', () => {
    expect(one({ host: ['web-1'], jump: 'ops@10.1.1.1:2201' }).jump).toMatchObject({ host: '10.1.1.1', port: 2201, user: 'ops' });
    expect(one({ host: ['web-1'] }).jump).toMatchObject({ host: '192.0.2.1', port: 2200, user: 'jump' });
    expect(one({ inventory: "web-1 ansible_ssh_common_args='-o ProxyJump=inv@10.3.3.3'", jump: 'ops@10.1.1.1' }).jump).toMatchObject({ host: '10.3.3.3', user: 'inv' });
  });

  it('--jump none (and an inventory ProxyJump=none) means no jump host, whatever the file says', () => {
    expect(one({ host: ['web-1'], jump: 'none' }).jump).toBeUndefined();
    expect(one({ inventory: "web-1 ansible_ssh_common_args='-o ProxyJump=none'", jump: 'ops@10.1.1.1' }).jump).toBeUndefined();
  });
});

describe('a jump host named on the command line', () => {
  it('is an alias of the file, as ssh -J NAME: its HostName, Port, User and IdentityFile', () => {
    const r = one({ host: ['plain'], jump: 'bastion', key: f('id_cli') });
    expect(r.jump).toEqual({ host: '192.0.2.1', port: 2200, user: 'jump', key: 'key bastion' });
    // The target keeps --key: -i is the target's key, not the bastion's.
    expect(r.login.key).toBe('key cli');
    // A user or port in the spec wins over the file's.
    expect(one({ host: ['plain'], jump: 'ops@bastion:2022' }).jump).toMatchObject({ host: '192.0.2.1', port: 2022, user: 'ops' });
  });

  it('is taken as it is (user -u, else root) when the file says nothing of it, or with -F none', () => {
    expect(one({ host: ['plain'], jump: 'bastion', sshConfig: 'none' }).jump).toMatchObject({ host: 'bastion', port: 22, user: 'root' });
    expect(one({ host: ['plain'], jump: 'other.example', user: 'me' }).jump).toMatchObject({ host: 'other.example', port: 22, user: 'me' });
  });
});

describe('ProxyJump', () => {
  it('a chain (a,b) in the file is refused, naming the file and line: one jump host is supported', () => {
    const e = refusal(() => reach({ host: ['chain-1'] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe(`${cfgFile}:11: ProxyJump hop1,hop2 (for host chain-1): a chain of jump hosts is not supported; give one jump host ([user@]host[:port]), or none`);
  });

  it('a chain in --jump or in the inventory is refused too, naming where it was given', () => {
    const e = refusal(() => reach({ host: ['plain'], jump: 'hop1,hop2' }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('--jump hop1,hop2: a chain of jump hosts is not supported; give one jump host ([user@]host[:port])');
    const i = refusal(() => reach({ inventory: "web-1 ansible_ssh_common_args='-o ProxyJump=hop1,hop2'" }));
    expect(i).toBeInstanceOf(UsageError);
    expect(i.message).toMatch(/inv\.ini:1: host web-1: ProxyJump hop1,hop2 in ansible_ssh_common_args: a chain of jump hosts is not supported; give one jump host/);
    // Not with -F none either: the chain is the inventory's.
    expect(() => reach({ inventory: "web-1 ansible_ssh_common_args='-J hop1,hop2'", sshConfig: 'none' })).toThrow(/a chain of jump hosts is not supported/);
  });

  it('a chain in an Include file names that file and line; a jump host whose own ProxyJump names another host is a chain too', () => {
    expect(refusal(() => reach({ host: ['inc-chain'] })).message).toMatch(new RegExp(`^${f('conf.d/10-hops.conf')}:3: ProxyJump x,y \\(for host inc-chain\\): a chain`));
    const e = refusal(() => reach({ host: ['via-hop'] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe(`${f('conf.d/10-hops.conf')}:8: ProxyJump outer (for jump host hop of host via-hop): a chain of jump hosts is not supported; give the jump host ProxyJump none, or leave it out of that block (e.g. Host * !hop)`);
    expect(() => reach({ host: ['plain'], jump: 'hop' })).toThrow(/ProxyJump outer \(for jump host hop of host plain\)/);
  });

  it('a jump host that is not [user@]host[:port] is refused before any connection, naming where it was given', () => {
    expect(refusal(() => reach({ host: ['plain'], jump: 'ops@' })).message).toBe('--jump ops@: "ops@" is not [user@]host[:port]');
  });

  it('ProxyJump none means no jump host, and (first value winning) a later block\'s ProxyJump does not apply', () => {
    expect(one({ host: ['nojump-1'] }).jump).toBeUndefined();
    expect(one({ host: ['anything'] }).jump).toMatchObject({ host: '192.0.2.1' });
  });
});

describe('Host patterns see the name and the address', () => {
  it('a block for the address (ansible_host) applies, as ssh 10.20.0.5 (Ansible) would apply it; first value wins', () => {
    const r = one({ inventory: 'web-2 ansible_host=10.20.0.5' });
    // Host 10.20.* comes before Host web-2: its User wins; web-2's Port (said only there) applies too.
    expect(r.login).toEqual({ host: '10.20.0.5', port: 2202, user: 'netops', key: 'key net' });
  });

  it('-H host:port is the name given to ssh with -p: its blocks, HostName included, apply', () => {
    expect(one({ host: ['web-1:2022'] }).login).toMatchObject({ host: '10.0.1.5', port: 2022, key: 'key web' });
  });

  it('a negated pattern that matches the name or the address keeps the block out', () => {
    expect(one({ inventory: 'web-9 ansible_host=10.20.0.9' }).login.user).toBe('root');
  });

  it('Match host sees the HostName, else the name and the address', () => {
    expect(one({ host: ['mh-1'] }).login).toMatchObject({ host: '10.30.0.7', port: 2230, user: 'mhuser' });
    expect(one({ inventory: 'db-1 ansible_host=10.30.0.8' }).login).toMatchObject({ host: '10.30.0.8', port: 2230 });
    expect(one({ host: ['10.30.0.9'] }).login).toMatchObject({ host: '10.30.0.9', port: 2230 });
  });

  it('Match user sees the login user: the inventory\'s, -u, the file\'s User so far, else root', () => {
    // No user given: root logs in, so "Match user root host mu-*" applies; "Match user deploy" does not.
    expect(one({ host: ['mu-1'] }).login).toEqual({ host: 'mu-1', port: 2299, user: 'root', key: undefined });
    // -u deploy: the deploy block applies (its key), the root one does not.
    expect(one({ host: ['mu-1'], user: 'deploy' }).login).toMatchObject({ port: 22, user: 'deploy', key: 'key deploy' });
    expect(one({ inventory: 'mu-2 ansible_user=deploy' }).login).toMatchObject({ port: 22, user: 'deploy', key: 'key deploy' });
    // --key beats the file's IdentityFile, whatever block gave it.
    expect(one({ host: ['mu-1'], user: 'deploy', key: f('id_cli') }).login.key).toBe('key cli');
  });

  it('negated Match criteria, and keywords in any case', () => {
    expect(one({ host: ['mu-1'] }).login.user).not.toBe('never');
    expect(one({ host: ['case-1'] }).login).toMatchObject({ host: 'lower.example', port: 2244 });
  });
});

describe('no command of the file is ever run', () => {
  it('CanonicalizeHostName with CanonicalDomains does not run nslookup; Match exec does not run its command', () => {
    const bin = f('bin');
    mkdirSync(bin, { recursive: true });
    const marker = f('nslookup-ran');
    writeFileSync(path.join(bin, 'nslookup'), `#!/bin/sh\necho "$@" >> '${marker}'\nexit 0\n`);
    chmodSync(path.join(bin, 'nslookup'), 0o755);
    const PATH = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${PATH ?? ''}`;
    try {
      const cfg = SshConfig.load(cfgFile);
      const t = withSshConfig(resolveTargets({ hosts: ['canon-1'] })[0]!, cfg);
      expect(t.user).toBe('canon');
      expect(cfg.values('canon-2').user).toBe('canon');
    } finally {
      process.env.PATH = PATH;
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(f('exec-ran'))).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAnsibleIni } from '../../../src/inventory/ansible-ini.js';
import { parseAnsibleYaml } from '../../../src/inventory/ansible-yaml.js';
import { parseHostList, parseHostSpec } from '../../../src/inventory/host-list.js';
import { applyLimit } from '../../../src/inventory/limit.js';
import { loadInventoryFile, resolveTargets } from '../../../src/inventory/load.js';
import { InventoryError, expandRange } from '../../../src/inventory/target.js';

const INI = `
# fleet
[web]
web[01:03] ansible_user=deploy
db1 ansible_host=10.0.0.9 ansible_port=2200 eip=198.51.100.9

[db]
db1

[linux:children]
web
db

[linux:vars]
ansible_become=true

[all:vars]
ansible_user=root
`;

describe('Ansible INI', () => {
  it('expands ranges, merges group vars (all < parent < group < host) and children', () => {
    const t = parseAnsibleIni(INI, 'hosts.ini');
    expect(t.map((x) => x.name)).toEqual(['web01', 'web02', 'web03', 'db1']);
    expect(t[0]).toMatchObject({ host: 'web01', port: 22, user: 'deploy', become: true });
    expect(t[0]!.groups).toEqual(expect.arrayContaining(['all', 'web', 'linux']));
    expect(t[3]).toMatchObject({ host: '10.0.0.9', port: 2200, user: 'root', eip: '198.51.100.9' });
    expect(t[3]!.groups).toEqual(expect.arrayContaining(['web', 'db', 'linux']));
  });

  it('finds a ProxyJump in ansible_ssh_common_args', () => {
    const t = parseAnsibleIni(`h1 ansible_ssh_common_args='-o ProxyJump=ops@bastion:2222'\n`, 'x.ini');
    expect(t[0]!.jump).toBe('ops@bastion:2222');
  });

  it('names the file and line of a bad entry', () => {
    expect(() => parseAnsibleIni('[web]\nh1 ansible_port=http\n', 'bad.ini')).toThrow(/bad\.ini:2: host h1: ansible_port="http" is not valid/);
    expect(() => parseAnsibleIni('[web\n', 'bad.ini')).toThrow(/bad\.ini:1: bad section header/);
    expect(() => parseAnsibleIni('h1 junk\n', 'bad.ini')).toThrow(/bad\.ini:1:4: expected key=value after the host name \(a value with spaces needs quotes\)/);
    expect(() => parseAnsibleIni('[a:children]\nnope\n', 'bad.ini')).toThrow(/child group nope, which is not defined/);
  });
});

describe('ranges', () => {
  it('pads numbers, steps, and does letters', () => {
    expect(expandRange('n[08:10]')).toEqual(['n08', 'n09', 'n10']);
    expect(expandRange('n[0:6:3].lab')).toEqual(['n0.lab', 'n3.lab', 'n6.lab']);
    expect(expandRange('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
  });
});

describe('Ansible YAML', () => {
  it('reads all/hosts/vars/children with inherited vars', () => {
    const t = parseAnsibleYaml(
      `all:\n  vars:\n    ansible_user: root\n  children:\n    web:\n      vars: { ansible_port: 2222 }\n      hosts:\n        w[1:2]:\n        w3: { ansible_host: 10.0.0.3 }\n`,
      'inv.yml',
    );
    expect(t.map((x) => [x.name, x.host, x.port, x.user])).toEqual([
      ['w1', 'w1', 2222, 'root'],
      ['w2', 'w2', 2222, 'root'],
      ['w3', '10.0.0.3', 2222, 'root'],
    ]);
    expect(t[0]!.groups).toEqual(['all', 'web']);
  });
  it('rejects broken YAML with the file and line', () => {
    expect(() => parseAnsibleYaml('all:\n  hosts: [\n', 'bad.yml')).toThrow(/bad\.yml:\d+: not valid YAML/);
  });
});

describe('host_list.txt and host specs', () => {
  it('reads IP and IP,\'password\' lines and a [user] header', () => {
    const t = parseHostList(`192.0.2.1\n192.0.2.2,'pa,ss w0rd'\n[fspuser]\n192.0.2.3,"x"\n`, 'host_list.txt');
    expect(t.map((x) => [x.host, x.user, x.password])).toEqual([
      ['192.0.2.1', undefined, undefined],
      ['192.0.2.2', undefined, 'pa,ss w0rd'],
      ['192.0.2.3', 'fspuser', 'x'],
    ]);
  });
  it('parses [user@]host[:port] and refuses bad ports', () => {
    expect(parseHostSpec('ops@10.0.0.1:2222')).toEqual({ user: 'ops', host: '10.0.0.1', port: 2222 });
    expect(parseHostSpec('[fe80::1]:22')).toEqual({ host: 'fe80::1', port: 22 });
    expect(() => parseHostSpec('h:70000')).toThrow(/out of range/);
  });
  it('recognises each format from the file itself', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inv-'));
    const w = (n: string, s: string) => (writeFileSync(path.join(dir, n), s), path.join(dir, n));
    expect(loadInventoryFile(w('host_list.txt', "192.0.2.1,'pw'\n"))[0]!.password).toBe('pw');
    expect(loadInventoryFile(w('hosts', INI)).length).toBe(4);
    expect(loadInventoryFile(w('inv', 'all:\n  hosts:\n    a:\n'))[0]!.name).toBe('a');
    expect(loadInventoryFile(w('list', 'root@a:2222\nb\n')).map((t) => [t.host, t.port])).toEqual([['a', 2222], ['b', 22]]);
    expect(() => loadInventoryFile(path.join(dir, 'missing'))).toThrow(/cannot read inventory .*missing: no such file/);
  });
});

describe('--limit', () => {
  const t = parseAnsibleIni(INI, 'hosts.ini');
  const names = (p: string) => applyLimit(t, p).map((x) => x.name);
  it('unions, intersects, excludes and globs like Ansible', () => {
    expect(names('db')).toEqual(['db1']);
    expect(names('web01:db1')).toEqual(['web01', 'db1']);
    expect(names('linux:!db')).toEqual(['web01', 'web02', 'web03']);
    expect(names('web:&db')).toEqual(['db1']);
    expect(names('web0*')).toEqual(['web01', 'web02', 'web03']);
  });
  it('says so when nothing matches', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inv-'));
    writeFileSync(path.join(dir, 'h.ini'), INI);
    expect(() => resolveTargets({ inventory: [path.join(dir, 'h.ini')], limit: 'nosuch' })).toThrow(InventoryError);
    expect(() => resolveTargets({})).toThrow(/no targets: give -i INVENTORY or -H/);
  });
});

describe('Windows hosts in an inventory', () => {
  const ini = `
[linux]
lin1 ansible_host=10.0.0.1

[win]
w1 ansible_host=10.0.1.1
w2 ansible_host=10.0.1.2 ansible_port=5985 ansible_winrm_transport=basic
w3 ansible_host=10.0.1.3 ansible_winrm_server_cert_validation=ignore ansible_winrm_ca_trust_path=/etc/ca.pem
[win:vars]
ansible_connection=winrm

[winssh]
s1 ansible_host=10.0.2.1 ansible_shell_type=powershell
s2 ansible_host=10.0.2.2 windows=true
`;

  it('mixes Linux, WinRM and SSH-to-Windows hosts in one inventory', () => {
    const t = Object.fromEntries(parseAnsibleIni(ini, 'hosts.ini').map((x) => [x.name, x]));
    expect(t.lin1).toMatchObject({ os: 'linux', connection: 'ssh', port: 22, winrm: undefined });
    // As Ansible: WinRM on 5986 over HTTPS with NTLM unless told otherwise; 5985 means plain HTTP.
    expect(t.w1).toMatchObject({ os: 'windows', connection: 'winrm', port: 5986, winrm: { scheme: 'https', auth: 'ntlm', insecure: false } });
    expect(t.w2).toMatchObject({ os: 'windows', port: 5985, winrm: { scheme: 'http', auth: 'basic' } });
    expect(t.w3!.winrm).toMatchObject({ insecure: true, caFile: '/etc/ca.pem' });
    expect(t.s1).toMatchObject({ os: 'windows', connection: 'ssh', port: 22, winrm: undefined });
    expect(t.s2).toMatchObject({ os: 'windows', connection: 'ssh' });
  });

  it('refuses WinRM transports it cannot speak, naming the host and what is supported', () => {
    expect(() => parseAnsibleIni('w ansible_connection=winrm ansible_winrm_transport=kerberos', 'hosts.ini')).toThrow(
      /host w: ansible_winrm_transport="kerberos" is not valid \(supported: basic, ntlm/,
    );
  });
});

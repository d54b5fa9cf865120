import { describe, expect, it } from 'vitest';
import { InventoryError, parseHostVars, toTarget } from '../../../src/inventory/target.js';

/** The host variables this tool reads: each one's accepted forms, and the one-line error for the rest. */
const bad = (vars: Record<string, string>) => () => toTarget('h1', vars, ['all'], 'inv.ini:3');

describe('host variables', () => {
  it('parses what it knows and keeps every variable as given', () => {
    const t = toTarget('h1', { ansible_host: '192.0.2.7', ansible_port: ' 2222 ', ansible_become: 'Yes', eip: '203.0.113.5', custom: 'x' }, ['web'], 'inv.ini:3');
    expect(t).toMatchObject({ host: '192.0.2.7', port: 2222, become: true, eip: '203.0.113.5', os: 'linux', connection: 'ssh', groups: ['web'] });
    expect(t.vars.custom).toBe('x');
  });

  it('booleans: true/yes/1 and false/no/0, any case', () => {
    for (const [v, want] of [['TRUE', true], ['yes', true], ['1', true], ['False', false], ['no', false], ['0', false]] as const) {
      expect(parseHostVars({ ansible_become: v }, 'inv', 'h1').ansible_become).toBe(want);
    }
    expect(bad({ ansible_become: 'sometimes' })).toThrow('inv.ini:3: host h1: ansible_become="sometimes" is not valid (true or false (yes/no, 1/0))');
  });

  it('ports: whole numbers 1 to 65535 only', () => {
    for (const p of ['0', '65536', '22.5', '0x16', '', 'ssh']) expect(bad({ ansible_port: p })).toThrow(InventoryError);
    expect(bad({ ansible_port: '70000' })).toThrow('ansible_port="70000" is not valid (a port number, 1 to 65535)');
  });

  it('names, users and key files must not be empty; passwords may be', () => {
    expect(bad({ ansible_user: '' })).toThrow('ansible_user="" is not valid (must not be empty)');
    expect(parseHostVars({ ansible_password: '' }, 'inv', 'h1').ansible_password).toBe('');
  });

  it('choices name what is accepted', () => {
    expect(bad({ ansible_connection: 'docker' })).toThrow('ansible_connection="docker" is not valid (one of: ssh, winrm, paramiko, smart)');
    expect(bad({ ansible_winrm_transport: 'credssp' })).toThrow('(supported: basic, ntlm (kerberos and credssp are not))');
  });

  it('ansible_winrm_message_encryption: auto (the default), always or never, as pywinrm; anything else names the three', () => {
    const winrm = (extra: Record<string, string> = {}) => toTarget('w1', { ansible_connection: 'winrm', ansible_port: '5985', ...extra }, ['all'], 'inv.ini:3').winrm;
    expect(winrm()).toMatchObject({ scheme: 'http', auth: 'ntlm', messageEncryption: 'auto' });
    for (const v of ['auto', 'always', 'never'] as const) expect(winrm({ ansible_winrm_message_encryption: v })!.messageEncryption).toBe(v);
    for (const v of ['Never', 'yes', '', 'off']) expect(bad({ ansible_connection: 'winrm', ansible_winrm_message_encryption: v })).toThrow(InventoryError);
    expect(bad({ ansible_winrm_message_encryption: 'sometimes' })).toThrow(
      'inv.ini:3: host h1: ansible_winrm_message_encryption="sometimes" is not valid (one of: auto, always, never (as pywinrm))',
    );
  });

  it('eip must be an IPv4 address', () => {
    expect(bad({ eip: '203.0.113.300' })).toThrow('eip="203.0.113.300" is not valid (an IPv4 address)');
    expect(bad({ eip: '2001:db8::1' })).toThrow(InventoryError);
  });

  it('the first variable that is not valid is the one named', () => {
    expect(bad({ ansible_port: 'x', eip: 'y' })).toThrow(/ansible_port="x"/);
  });
});

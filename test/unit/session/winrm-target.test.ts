import { describe, expect, it } from 'vitest';
import { parseAnsibleIni } from '../../../src/inventory/ansible-ini.js';
import type { ConnectOptions } from '../../../src/session/options.js';
import { winrmTargetOf } from '../../../src/session/winrm.js';

/** What the inventory says about WinRM message encryption reaches the transport as it is. */
describe('winrmTargetOf: ansible_winrm_message_encryption', () => {
  const o = { connectTimeoutMs: 5_000, password: 'x' } as ConnectOptions;
  const targetOf = (extra: string) => winrmTargetOf(parseAnsibleIni(`w1 ansible_host=192.0.2.10 ansible_connection=winrm ${extra}`, 'hosts.ini')[0]!, o, 'Administrator');

  it('the out-of-the-box line (5985, NTLM) is http with NTLM and encryption auto: the transport seals', () => {
    expect(targetOf('ansible_port=5985 ansible_winrm_transport=ntlm')).toMatchObject({ scheme: 'http', port: 5985, auth: 'ntlm', messageEncryption: 'auto' });
  });

  it('never and always are passed on; https stays auto unless told', () => {
    expect(targetOf('ansible_port=5985 ansible_winrm_message_encryption=never').messageEncryption).toBe('never');
    expect(targetOf('ansible_winrm_message_encryption=always')).toMatchObject({ scheme: 'https', messageEncryption: 'always' });
    expect(targetOf('')).toMatchObject({ scheme: 'https', port: 5986, messageEncryption: 'auto' });
  });
});

/**
 * NTLM tokens for WinRM's `Negotiate` scheme, built by httpntlm's message functions (NTLMv2 when the
 * server's challenge carries target info, as every supported Windows does). No cryptography of our own:
 * httpntlm hashes with js-md4, which also works where OpenSSL 3 has dropped MD4 (Node 17+).
 *
 * WinRM accepts a raw NTLMSSP token under `Negotiate` (SPNEGO lets the server tell NTLM from Kerberos by
 * the token's signature), which is what pywinrm and Ansible send.
 */
import ntlm from 'httpntlm/ntlm.js';

export interface NtlmUser {
  /** Domain (NetBIOS or DNS name) or '' for a local account. */
  domain: string;
  username: string;
}

/** `DOMAIN\user` → domain + user; `user@domain.example` (UPN) and plain names go as they are. */
export function splitUser(user: string): NtlmUser {
  const i = user.indexOf('\\');
  return i > 0 ? { domain: user.slice(0, i), username: user.slice(i + 1) } : { domain: '', username: user };
}

const tokenOf = (header: string) => header.replace(/^NTLM /, '');

/** Type 1 (negotiate) token, base64. */
export function negotiateToken(u: NtlmUser, workstation = ''): string {
  return tokenOf(ntlm.createType1Message({ domain: u.domain, workstation }));
}

/** Type 3 (authenticate) token answering the server's Type 2 challenge, base64. */
export function authenticateToken(challenge: string, u: NtlmUser, password: string, workstation = ''): string {
  let failure: Error | undefined;
  const msg2 = ntlm.parseType2Message(`NTLM ${challenge}`, (e) => (failure = e));
  if (!msg2) throw new Error(`the server's NTLM challenge is not valid (${failure?.message ?? 'unreadable'})`);
  return tokenOf(ntlm.createType3Message(msg2, { username: u.username, password, domain: u.domain, workstation }));
}

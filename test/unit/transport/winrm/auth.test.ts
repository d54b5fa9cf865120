import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md4 } from '../../../support/wsman-peer-ntlm.js';
import { makeTestPki, type TestPki } from '../../../support/wsman-peer-tls.js';
import { WinRmTransport } from '../../../../src/transport/winrm/index.js';
import { connect, rejection, targetFor, usePeers } from './helpers.js';

const startPeer = usePeers();

describe('Basic authentication', () => {
  it('over plain http is refused before a byte is sent unless the operator opted in (the password would cross in clear)', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { auth: 'basic', cleartextBasic: false }));
    expect(e.reason).toBe('protocol');
    expect(e.message).toBe(
      `win1 (127.0.0.1:${peer.port}): WinRM Basic over http would send the password in clear text with every request; use https (ansible_winrm_scheme=https, port 5986) or NTLM over https, or if this network is trusted opt in with winrm_cleartext_basic=true for the host or --winrm-cleartext-basic`,
    );
    expect(peer.requests).toHaveLength(0);
  });

  it('logs in on every request with the user and password', async () => {
    const peer = await startPeer();
    const t = await connect(peer, { auth: 'basic' });
    expect((await t.exec('echo ok')).stdout).toBe('ok\r\n');
    await t.close();
    expect(new Set(peer.requests.map((r) => r.auth))).toEqual(new Set(['basic']));
  });

  it('a wrong password fails at connect as auth-failed, naming the user and the method, never the password', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { auth: 'basic', password: 'wrong-Secret-123' }));
    expect(e.reason).toBe('auth-failed');
    expect(e.message).toBe(`win1 (127.0.0.1:${peer.port}): WinRM refused the login of user Administrator with Basic authentication (HTTP 401); check the user name and password`);
    expect(e.message).not.toContain('wrong-Secret-123');
    expect(peer.shellsCreated).toBe(0);
  });

  it('a host without Basic enabled says which methods it offers', async () => {
    const peer = await startPeer({ schemes: ['ntlm'] });
    const e = await rejection(connect(peer, { auth: 'basic' }));
    expect(e.reason).toBe('auth-failed');
    expect(e.message).toContain('the host offers only negotiate');
  });

  it('the 401 looks like Windows: WWW-Authenticate Negotiate and Basic realm="WSMAN", Server Microsoft-HTTPAPI/2.0', async () => {
    const peer = await startPeer();
    const res = await fetch(peer.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/soap+xml;charset=UTF-8' }, body: '' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Negotiate, Basic realm="WSMAN"');
    expect(res.headers.get('server')).toBe('Microsoft-HTTPAPI/2.0');
    expect(await res.text()).toBe('');
  });

  it('a 401 in the middle of a session (password changed) fails the command as auth-failed', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    peer.inject({ kind: 'status401', on: 'Command' });
    const e = await rejection(t.exec('echo x'));
    expect(e.reason).toBe('auth-failed');
    await t.close();
  });
});

describe('NTLM authentication', () => {
  it('the peer\'s own MD4 is right (RFC 1320 vectors and the NT hash of "password")', () => {
    expect(md4(Buffer.from('')).toString('hex')).toBe('31d6cfe0d16ae931b73c59d7e0c089c0');
    expect(md4(Buffer.from('abc')).toString('hex')).toBe('a448017aaf21d8525fc10ae87aa6729d');
    expect(md4(Buffer.from('12345678901234567890123456789012345678901234567890123456789012345678901234567890')).toString('hex')).toBe('e33b4ddc9c38f2199c3e7b164fcc0536');
    expect(md4(Buffer.from('password', 'utf16le')).toString('hex')).toBe('8846f7eaee8fb117ad06bdd830b7586c');
  });

  it('logs in once per connection (Negotiate: Type 1, challenge, NTLMv2 Type 3, each with an empty body as pywinrm) and reuses it', async () => {
    const peer = await startPeer();
    const t = await connect(peer, { auth: 'ntlm', messageEncryption: 'never' });
    for (let i = 0; i < 3; i++) expect((await t.exec(`echo ${i}`)).stdout).toBe(`${i}\r\n`);
    await t.close();
    const auth = peer.requests.map((r) => r.auth);
    expect(auth.slice(0, 2)).toEqual(['ntlm-type1', 'ntlm-type3']);
    expect(peer.requests.slice(0, 2).map((r) => r.bytes)).toEqual([0, 0]);
    expect(new Set(auth.slice(2))).toEqual(new Set(['ntlm-session']));
    expect(peer.connections).toBe(1);
  });

  it('accepts DOMAIN\\user', async () => {
    const peer = await startPeer();
    const t = await connect(peer, { auth: 'ntlm', messageEncryption: 'never', user: 'WINHOST\\Administrator' });
    expect((await t.exec('echo ok')).code).toBe(0);
    await t.close();
  });

  it('logs in again on a new connection after the host closed the old one', async () => {
    const peer = await startPeer();
    const t = await connect(peer, { auth: 'ntlm', messageEncryption: 'never' });
    await t.exec('echo 1');
    peer.resetConnections();
    await new Promise((r) => setTimeout(r, 200)); // the client sees the close, as it would an idle timeout long before the next command
    expect((await t.exec('echo 2')).stdout).toBe('2\r\n');
    await t.close();
    expect(peer.requests.filter((r) => r.auth === 'ntlm-type3')).toHaveLength(2);
  });

  it('a wrong password fails at connect as auth-failed, naming the user and NTLM, never the password', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { auth: 'ntlm', messageEncryption: 'never', password: 'not-the-Pa55' }));
    expect(e.reason).toBe('auth-failed');
    expect(e.message).toBe(`win1 (127.0.0.1:${peer.port}): WinRM refused the login of user Administrator with NTLM (Negotiate) authentication (HTTP 401); check the user name and password`);
    expect(e.message).not.toContain('not-the-Pa55');
  });

  it('a host with only Basic enabled gives no challenge: auth-failed saying what it offers', async () => {
    const peer = await startPeer({ schemes: ['basic'] });
    const e = await rejection(connect(peer, { auth: 'ntlm', messageEncryption: 'never' }));
    expect(e.reason).toBe('auth-failed');
    expect(e.message).toContain('the host offers only basic');
  });

  it('over http seals every message by default (message encryption auto, as pywinrm): no AllowUnencrypted needed', async () => {
    const peer = await startPeer({ requireEncryption: true });
    const t = await WinRmTransport.connect(targetFor(peer, { auth: 'ntlm' }));
    expect((await t.exec('echo sealed')).stdout).toBe('sealed\r\n');
    await t.close();
    const soap = peer.requests.filter((r) => r.op);
    expect(soap.length).toBeGreaterThan(0);
    expect(soap.every((r) => r.sealed)).toBe(true);
    expect(peer.requests.map((r) => r.auth).slice(0, 2)).toEqual(['ntlm-type1', 'ntlm-type3']);
  });
});

describe('HTTPS', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => pki.remove());

  it('verifies the certificate against the CA file given', async () => {
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert } });
    const t = await connect(peer, { caFile: pki.caFile });
    expect((await t.exec('echo tls')).stdout).toBe('tls\r\n');
    await t.close();
  });

  it('NTLM over https needs no AllowUnencrypted', async () => {
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert } });
    const t = await connect(peer, { auth: 'ntlm', caFile: pki.caFile });
    expect((await t.exec('echo ntlm')).stdout).toBe('ntlm\r\n');
    await t.close();
  });

  it('without the CA file (or with the wrong one) fails clearly, saying to pass the CA file or --insecure', async () => {
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert } });
    for (const caFile of [undefined, pki.otherCaFile]) {
      const e = await rejection(connect(peer, { caFile }));
      expect(e.reason).toBe('protocol');
      expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): TLS: its certificate could not be verified \(\w+\); pass the CA file that signed the host's WinRM certificate \(ansible_winrm_ca_trust_path\), or --insecure/);
    }
    expect(peer.requests).toHaveLength(0);
  });

  it('checks the name too: a certificate from the right CA for another name is refused', async () => {
    const peer = await startPeer({ tls: { key: pki.otherNameKey, cert: pki.otherNameCert } });
    const e = await rejection(connect(peer, { caFile: pki.caFile }));
    expect(e.reason).toBe('protocol');
    expect(e.message).toContain('TLS: its certificate does not name 127.0.0.1; pass the CA file');
  });

  it('connectTimeoutMs bounds connecting only, not a command that takes longer', async () => {
    const slow = () => new Promise<{ stdout: string; exitCode: number }>((r) => setTimeout(() => r({ stdout: 'x', exitCode: 0 }), 800));
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert }, handler: slow });
    const t = await connect(peer, { caFile: pki.caFile, connectTimeoutMs: 200 });
    expect((await t.exec('slow')).stdout).toBe('x');
    await t.close();
  });

  it('insecure: true skips verification, only when set', async () => {
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert } });
    const t = await connect(peer, { insecure: true });
    expect((await t.exec('echo any')).code).toBe(0);
    await t.close();
  });

  it('an unreadable CA file is reported as such', async () => {
    const peer = await startPeer({ tls: { key: pki.key, cert: pki.cert } });
    const e = await rejection(connect(peer, { caFile: '/nonexistent/ca.pem' }));
    expect(e.message).toContain('cannot read the CA file /nonexistent/ca.pem (ENOENT)');
  });

  it('https to a plain-http listener fails as a protocol error naming TLS', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { scheme: 'https' }));
    expect(e.reason).toBe('protocol');
    expect(e.message).toContain('TLS handshake failed');
  });
});

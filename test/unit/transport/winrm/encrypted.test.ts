/**
 * WinRM as Windows servers are configured out of the box: NTLM over http (5985) with every message sealed
 * (AllowUnencrypted=false), and NTLM over https with channel binding (CbtHardeningLevel=Strict). The peer
 * demands what such a host demands, and its sealing is not ours: every request is unsealed and every reply
 * sealed by Debian's ntlm-auth and pywinrm (test/support/ntlm-judge.py --serve) with the session key the
 * peer derived from the login it verified (MIC checked); channel binding tokens are requests-ntlm's.
 */
import http from 'node:http';
import https from 'node:https';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAnsibleIni } from '../../../../src/inventory/ansible-ini.js';
import { winrmTargetOf } from '../../../../src/session/winrm.js';
import type { ConnectOptions } from '../../../../src/session/options.js';
import { gatherWindowsFacts, windowsShell } from '../../../../src/platform/windows/shell.js';
import { WinRmTransport } from '../../../../src/transport/winrm/index.js';
import { ENCRYPTED_CONTENT_TYPE, wrap } from '../../../../src/transport/winrm/encryption.js';
import { channelBindingToken } from '../../../../src/transport/winrm/channel-binding.js';
import { authenticateMessage, negotiateMessage, ntHash } from '../../../../src/transport/winrm/ntlm-messages.js';
import { NtlmSession } from '../../../../src/transport/winrm/ntlm-session.js';
import { SimulatedWindowsHost } from '../../../support/windows-host.js';
import { simulatedHostHandler } from '../../../support/windows-peer-host.js';
import { rc4 } from '../../../support/wsman-peer-ntlm.js';
import { makeTestPki, type TestPki } from '../../../support/wsman-peer-tls.js';
import type { WsmanPeer } from '../../../support/wsman-peer.js';
import { FAULT_FIXTURES } from '../../../support/wsman-peer.js';
import { connect, rejection, usePeers } from './helpers.js';
import { judge } from './ntlm-judge.js';

const startPeer = usePeers();
const PASSWORD = 'Pa55w0rd!';

/**
 * A text as it would show in a clear envelope: as it is, and base64-encoded at each of the three alignments
 * (stdin and output travel base64 in rsp:Stream, cut anywhere).
 */
function clearForms(text: string): string[] {
  const forms = [text];
  for (let pad = 0; pad < 3; pad++) {
    const b = Buffer.concat([Buffer.alloc(pad), Buffer.from(text, 'utf8')]).toString('base64');
    // Drop the characters the padding or the cut-off end touch.
    forms.push(b.slice(Math.ceil((pad * 4) / 3) + 1, Math.floor(((pad + Buffer.byteLength(text)) * 4) / 3) - 1));
  }
  return forms.filter((f) => f.length >= 8);
}

/** Every request after the login (and every reply to it) crossed the wire sealed: nothing of the SOAP is readable. */
function expectSealedWire(peer: WsmanPeer, secrets: string[]): void {
  const soap = peer.wire.filter((w) => w.body.length > 0);
  expect(soap.length).toBeGreaterThan(0);
  for (const w of soap) {
    expect(w.contentType, `${w.dir} Content-Type`).toBe(ENCRYPTED_CONTENT_TYPE);
    const text = w.body.toString('latin1');
    for (const s of ['Envelope', 'http://schemas.microsoft.com/wbem/wsman', 'powershell', ...secrets.flatMap(clearForms)]) {
      expect(text.toLowerCase().includes(s.toLowerCase()), `${w.dir} shows "${s}"`).toBe(false);
    }
  }
}

/** Requests that carried SOAP were all sealed, and so unsealed by the judge. */
function expectAllSealed(peer: WsmanPeer): void {
  const withSoap = peer.requests.filter((r) => r.op !== undefined);
  expect(withSoap.length).toBeGreaterThan(0);
  expect(withSoap.filter((r) => !r.sealed)).toEqual([]);
}

describe('NTLM over http (5985) to a host that allows no unencrypted traffic', () => {
  it('the Ansible inventory line works unchanged: facts as audit gathers them, every message sealed', async () => {
    const host = new SimulatedWindowsHost();
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true, recordWire: true, handler: simulatedHostHandler(host) });
    const [t] = parseAnsibleIni(
      `win1 ansible_host=127.0.0.1 ansible_connection=winrm ansible_port=5985 ansible_winrm_transport=ntlm ansible_user=Administrator ansible_password=${PASSWORD}`,
      'hosts.ini',
    );
    expect(t!.winrm).toMatchObject({ scheme: 'http', auth: 'ntlm', messageEncryption: 'auto' });
    // 5985 itself cannot be bound here: the same target, sent to the peer's port.
    const target = { ...winrmTargetOf(t!, { connectTimeoutMs: 5_000 } as ConnectOptions, 'Administrator'), port: peer.port };
    const transport = await WinRmTransport.connect(target);
    const facts = await gatherWindowsFacts(windowsShell(transport));
    await transport.close();
    expect(facts.complete).toBe(true);
    expect(facts.os).toMatchObject({ version: '10.0.17763', build: 17763, productType: 3 });
    expect(host.received.map((r) => r.kind)).toContain('facts');
    expectAllSealed(peer);
    expect(peer.requests.filter((r) => r.auth === 'ntlm-type3')).toHaveLength(1);
    expectSealedWire(peer, ['Win32_OperatingSystem', '10.0.17763', PASSWORD]);
  });

  it('commands, stdin and concurrent execs over one sealed connection; a fault reply (TimedOut) is sealed too', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const t = await connect(peer, { auth: 'ntlm' });
    expect((await t.exec('echo sealed')).stdout).toBe('sealed\r\n');
    peer.inject({ kind: 'soap-fault', on: 'Receive', fixture: FAULT_FIXTURES.timedOut, times: 2 });
    expect((await t.exec('exit /b 7')).code).toBe(7);
    const many = await Promise.all([1, 2, 3, 4, 5].map((i) => t.exec(`echo ${i}`)));
    expect(many.map((r) => r.stdout)).toEqual(['1\r\n', '2\r\n', '3\r\n', '4\r\n', '5\r\n']);
    await t.close();
    expectAllSealed(peer);
    expect(peer.requests.filter((r) => r.op === 'Receive' && r.status === 500)).toHaveLength(2);
    expect(peer.connections).toBe(1);
  });

  it('a 3 MB upload arrives intact, and 5 MB of output comes back whole, sealed', async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const out = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < out.length; i++) out[i] = 0x41 + (i % 26);
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const big = peer.handler;
    peer.handler = async (line, stdin) => (line === 'type big.txt' ? { stdout: out, exitCode: 0 } : big(line, stdin));
    mkdirSync(path.join(peer.root, 'C', 'pkg'), { recursive: true });
    const t = await connect(peer, { auth: 'ntlm' });
    await t.put(content, 'C:\\pkg\\agent.zip');
    expect(readFileSync(path.join(peer.root, 'C', 'pkg', 'agent.zip')).equals(content)).toBe(true);
    const r = await t.exec('type big.txt');
    expect(r.stdout.length).toBe(out.length);
    expect(r.stdout === out.toString('latin1')).toBe(true);
    await t.close();
    expectAllSealed(peer);
    expect(peer.requests.filter((x) => x.op === 'Send').length).toBeGreaterThan(20);
    expect(peer.requests.filter((x) => x.op === 'Receive').length).toBeGreaterThan(30);
  });

  it('a reply altered on the way is refused (its NTLM signature), the connection dropped, and the next request logs in afresh', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const t = await connect(peer, { auth: 'ntlm' });
    peer.inject({ kind: 'tamper-reply', on: 'Command' });
    const e = await rejection(t.exec('echo x'));
    expect(e.reason).toBe('protocol');
    expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): a reply failed its NTLM signature check: NTLM message signature does not match \(sequence number 1\)/);
    expect((await t.exec('echo again')).stdout).toBe('again\r\n');
    await t.close();
    expect(peer.requests.filter((r) => r.auth === 'ntlm-type3')).toHaveLength(2);
    expect(peer.connections).toBe(2);
    expectAllSealed(peer);
  });

  it('logs in again with a new session after the host closed the connection', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const t = await connect(peer, { auth: 'ntlm' });
    await t.exec('echo 1');
    peer.resetConnections();
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.exec('echo 2')).stdout).toBe('2\r\n');
    await t.close();
    expect(peer.requests.filter((r) => r.auth === 'ntlm-type3')).toHaveLength(2);
    expectAllSealed(peer);
  });

  it('a wrong password fails cleanly: auth-failed, the user and NTLM named, never the password', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const e = await rejection(connect(peer, { auth: 'ntlm', password: 'Wr0ng-Secret!' }));
    expect(e.reason).toBe('auth-failed');
    expect(e.message).toBe(`win1 (127.0.0.1:${peer.port}): WinRM refused the login of user Administrator with NTLM (Negotiate) authentication (HTTP 401); check the user name and password`);
    expect(e.message).not.toContain('Wr0ng-Secret!');
    expect(peer.shellsCreated).toBe(0);
  });

  for (const status of [500, 401] as const) {
    it(`message_encryption=never against it: "the server requires message encryption" (the host refuses clear SOAP with HTTP ${status})`, async () => {
      const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true, unencryptedStatus: status });
      const e = await rejection(connect(peer, { auth: 'ntlm', messageEncryption: 'never' }));
      expect(e.reason).toBe('protocol');
      expect(e.message).toBe(
        `win1 (127.0.0.1:${peer.port}): the server requires message encryption (its WinRM service has AllowUnencrypted=false): it accepted the NTLM login of user Administrator and refused the unencrypted request (HTTP ${status}); remove ansible_winrm_message_encryption=never for this host (auto encrypts NTLM over http)`,
      );
      expect(e.message).not.toContain(PASSWORD);
      expect(peer.requests.map((r) => r.auth)).toEqual(['ntlm-type1', 'ntlm-type3', 'unencrypted-refused']);
      expect(peer.shellsCreated).toBe(0);
    });
  }

  it('the peer really checks: a body sealed with another key fails pywinrm\'s unsealing and is refused', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const login = await rawLogin(peer);
    expect(login.status).toBe(200);
    const wrong = new NtlmSession({ flags: login.flags, exportedSessionKey: randomBytes(16) });
    const body = wrap(wrong, '<s:Envelope/>');
    const r = await login.post({ 'Content-Type': body.contentType }, body.body);
    login.close();
    expect(r.status).toBe(400);
    startPeer.release(peer);
    expect(peer.violations.join('\n')).toMatch(/the sealed request failed pywinrm's check: .*signature/i);
    await peer.close();
  });

  it('the peer derives the session key itself and checks the MIC with it: its RC4 is RFC 6229\'s; an altered MIC is refused', async () => {
    expect(rc4(Buffer.from('0102030405', 'hex'), Buffer.alloc(16)).toString('hex')).toBe('b2396305f03dc027ccc3524a0a1118a8');
    const peer = await startPeer({ schemes: ['ntlm'], requireEncryption: true });
    const fine = await rawLogin(peer);
    const altered = await rawLogin(peer, { alter: (m) => Buffer.concat([m.subarray(0, 80), Buffer.from(m.subarray(80, 81).map((b) => b ^ 1)), m.subarray(81)]) });
    for (const l of [fine, altered]) l.close();
    expect([fine.status, altered.status]).toEqual([200, 401]);
    startPeer.release(peer);
    expect(peer.violations).toEqual(['NTLM Type 3: its MIC does not match HMAC-MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE)']);
    await peer.close();
  });

  it('Basic cannot seal: message_encryption=always with Basic is refused before anything is sent', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { auth: 'basic', messageEncryption: 'always' }));
    expect(e.reason).toBe('protocol');
    expect(e.message).toContain('ansible_winrm_message_encryption=always needs a login that can seal messages, and Basic cannot');
    expect(peer.requests).toHaveLength(0);
  });
});

describe('NTLM over https', () => {
  let pki: TestPki;
  let tokenOfServerCert: string;
  beforeAll(() => {
    pki = makeTestPki();
    const der = new X509Certificate(pki.cert).raw;
    tokenOfServerCert = judge<{ results: Array<{ token: string }> }>({ op: 'cbt', certs: [der.toString('base64')] }).results[0]!.token;
  });
  afterAll(() => pki.remove());

  it('auto: TLS protects the messages (none sealed); the login carries the channel binding of the certificate received', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert } });
    const t = await connect(peer, { auth: 'ntlm', caFile: pki.caFile });
    expect((await t.exec('echo tls')).stdout).toBe('tls\r\n');
    await t.close();
    expect(peer.requests.filter((r) => r.sealed)).toEqual([]);
    expect(peer.requests.find((r) => r.auth === 'ntlm-type3')!.channelBindings).toBe(tokenOfServerCert);
  });

  it('a host that enforces channel binding (CbtHardeningLevel=Strict) accepts our login', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert }, channelBinding: 'strict' });
    const t = await connect(peer, { auth: 'ntlm', caFile: pki.caFile });
    expect((await t.exec('echo bound')).stdout).toBe('bound\r\n');
    await t.close();
    expect(peer.requests.find((r) => r.auth === 'ntlm-type3')!.channelBindings).toBe(tokenOfServerCert);
  });

  it('the strict peer really checks: a login without the binding, or with another certificate\'s, is refused; with the right one accepted', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert }, channelBinding: 'strict' });
    const ca = readFileSync(pki.caFile);
    const none = await rawLogin(peer, { ca });
    const other = await rawLogin(peer, { ca, channelBindings: channelBindingToken(new X509Certificate(pki.otherNameCert).raw) });
    const right = await rawLogin(peer, { ca, channelBindings: Buffer.from(tokenOfServerCert, 'hex') });
    for (const l of [none, other, right]) l.close();
    expect([none.status, other.status, right.status]).toEqual([401, 401, 200]);
  });

  it('refused when the binding is not to the certificate the host expects: the error names channel binding and the certificate received', async () => {
    // A peer that computes its token from another certificate, as a host behind a TLS-terminating proxy would.
    const peer = await startPeer({ schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert }, channelBinding: 'strict', bindingCert: pki.otherNameCert });
    const e = await rejection(connect(peer, { auth: 'ntlm', caFile: pki.caFile }));
    expect(e.reason).toBe('auth-failed');
    const thumbprint = new X509Certificate(pki.cert).fingerprint.replace(/:/g, '');
    expect(e.message).toBe(
      `win1 (127.0.0.1:${peer.port}): WinRM refused the login of user Administrator with NTLM (Negotiate) authentication (HTTP 401); check the user name and password; if they are right, the server requires channel binding (CbtHardeningLevel=Strict) and refused the binding to the certificate this connection received (thumbprint ${thumbprint}): something between this machine and the host (a TLS-inspecting proxy or load balancer) presents another certificate than its WinRM listener's`,
    );
    expect(e.message).not.toContain(PASSWORD);
    expect(peer.shellsCreated).toBe(0);
  });

  it('message_encryption=always seals over TLS too, with channel binding', async () => {
    const peer = await startPeer({ schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert }, channelBinding: 'strict', recordWire: true });
    const t = await connect(peer, { auth: 'ntlm', caFile: pki.caFile, messageEncryption: 'always' });
    expect((await t.exec('echo both')).stdout).toBe('both\r\n');
    await t.close();
    expectAllSealed(peer);
    expectSealedWire(peer, []);
  });
});

interface RawLogin {
  status: number;
  flags: number;
  post(headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>;
  close(): void;
}

/**
 * An NTLM login by hand on one keep-alive connection (Type 1, then Type 3 with an empty body), with the
 * channel binding given or none, to show what the peer accepts and refuses.
 */
async function rawLogin(peer: WsmanPeer, o: { ca?: Buffer; channelBindings?: Buffer; alter?: (type3: Buffer) => Buffer } = {}): Promise<RawLogin> {
  const url = new URL(peer.endpoint);
  const secure = url.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(o.ca ? { ca: o.ca } : {}) }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post: RawLogin['post'] = (headers, body) =>
    new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        { agent, hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'Content-Type': 'application/soap+xml;charset=UTF-8', ...headers, 'Content-Length': String(body.length) } },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const negotiate = negotiateMessage();
  const r1 = await post({ Authorization: `Negotiate ${negotiate.toString('base64')}` }, Buffer.alloc(0));
  const challenge = Buffer.from(/^Negotiate (\S+)$/.exec(String(r1.headers['www-authenticate']))![1]!, 'base64');
  const a = authenticateMessage({ negotiate, challenge, user: peer.user, domain: '', ntHash: await ntHash(peer.password), channelBindings: o.channelBindings });
  const type3 = o.alter ? o.alter(a.message) : a.message;
  const r2 = await post({ Authorization: `Negotiate ${type3.toString('base64')}` }, Buffer.alloc(0));
  return { status: r2.status, flags: a.flags, post, close: () => agent.destroy() };
}

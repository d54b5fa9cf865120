/**
 * NTLM session security and the login messages it starts from: MS-NLMP 4.2.4's NTLMv2 example byte for
 * byte, RC4 and MD4 against their RFCs, then ntlm-auth (Debian's python3-ntlm-auth, run by
 * test/support/ntlm-judge.py) as an independent judge: it unseals what we seal, we unseal what it seals,
 * its AUTHENTICATE message equals ours for the same inputs, and tampering is caught.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Rc4, rc4k } from '../../../../src/transport/winrm/rc4.js';
import {
  AvId,
  CLIENT_FLAGS,
  NtlmFlag,
  authenticateMessage,
  encodeAvPairs,
  lmv2Response,
  negotiateMessage,
  ntHash,
  ntlmv2Response,
  ntowfv2,
  parseChallenge,
  requireSealing,
} from '../../../../src/transport/winrm/ntlm-messages.js';
import { NtlmIntegrityError, NtlmSession, sealKey, signKey } from '../../../../src/transport/winrm/ntlm-session.js';
import { gssChannelBindings } from '../../../../src/transport/winrm/channel-binding.js';
import { makeChallenge, parseAuthenticate, verifyAuthenticate } from '../../../support/wsman-peer-ntlm.js';
import { b64, hex, judge, unb64 } from './ntlm-judge.js';

// MS-NLMP 4.2.1 common values and 4.2.4 (NTLMv2).
const SPEC = {
  user: 'User',
  domain: 'Domain',
  password: 'Password',
  workstation: 'COMPUTER',
  randomSessionKey: Buffer.alloc(16, 0x55),
  time: Buffer.alloc(8),
  clientChallenge: Buffer.alloc(8, 0xaa),
  serverChallenge: hex('0123456789abcdef'),
  /** 4.2.4.3 CHALLENGE_MESSAGE. */
  challenge: hex(`4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef
    00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e
    0001000c0053006500720076006500720000000000`),
  flags: 0xe28a8233,
  /** 4.2.4.1.3 temp's ServerName: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL. */
  serverName: hex('02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000'),
  ntHash: 'a4f49c406510bdcab6824ee7c30fd852', // 4.2.2.1.2 NTOWFv1("Password")
  responseKeyNT: '0c868a403bfd7a93a3001ef22ef02e3f', // 4.2.4.1.1
  sessionBaseKey: '8de40ccadbc14a82f15cb0ad0de95ca3', // 4.2.4.1.2
  temp: `01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000
    02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000 00000000`, // 4.2.4.1.3
  lmv2: '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa', // 4.2.4.2.1
  ntProofStr: '68cd0ab851e51c96aabc927bebef6a1c', // 4.2.4.2.2
  encryptedSessionKey: 'c5dad2544fc9799094ce1ce90bc9d03e', // 4.2.4.2.3
  sealKey: '59f600973cc4960a25480a7c196e4c58', // 4.2.4.4 (client to server)
  signKey: '4788dc861b4782f35d43fd98fe1a2d39',
  plaintext: Buffer.from('Plaintext', 'utf16le'),
  sealed: '54e50165bf1936dc996020c1811b0f06fb5f', // 4.2.4.4 GSS_WrapEx output data
  signature: '010000007fb38ec5c55d497600000000', // 4.2.4.4 signature
};
const h = (b: Buffer) => b.toString('hex');
const norm = (s: string) => s.replace(/\s+/g, '');

/** Reads the (len, maxlen, offset) field of an AUTHENTICATE message. */
const fieldOf = (msg: Buffer, at: number) => msg.subarray(msg.readUInt32LE(at + 4), msg.readUInt32LE(at + 4) + msg.readUInt16LE(at));

describe('RC4 and MD4, the two primitives OpenSSL 3 leaves out', () => {
  it('RC4 gives RFC 6229 and the classic vectors, and a handle continues its keystream across calls', () => {
    expect(h(rc4k(hex('0102030405'), Buffer.alloc(16)))).toBe('b2396305f03dc027ccc3524a0a1118a8'); // RFC 6229, 40-bit key, offset 0
    expect(h(rc4k(Buffer.from('Key'), Buffer.from('Plaintext')))).toBe('bbf316e8d940af0ad3');
    expect(h(rc4k(Buffer.from('Wiki'), Buffer.from('pedia')))).toBe('1021bf0420');
    expect(h(rc4k(Buffer.from('Secret'), Buffer.from('Attack at dawn')))).toBe('45a01f645fc35b383552544b9bf5');
    const data = randomBytes(5000);
    const handle = new Rc4(Buffer.from('k'));
    const pieces = [handle.update(data.subarray(0, 1)), handle.update(data.subarray(1, 1234)), handle.update(data.subarray(1234))];
    expect(Buffer.concat(pieces).equals(rc4k(Buffer.from('k'), data))).toBe(true);
    expect(() => new Rc4(Buffer.alloc(0))).toThrow(/RC4 key of 0 bytes/);
  });

  it('RC4 equals python-cryptography ARC4 (the judge) over long streams, in uneven pieces', () => {
    // The key sizes python-cryptography accepts that matter here: NTLM's 40-, 56- and 128-bit keys, and 256 bits.
    for (const keyLen of [5, 7, 16, 32]) {
      const key = randomBytes(keyLen);
      const chunks = [randomBytes(1), randomBytes(0), randomBytes(70_001), randomBytes(16)];
      const theirs = judge<{ chunks: string[] }>({ op: 'rc4', key: h(key), chunks: chunks.map(b64) }).chunks.map(unb64);
      const ours = new Rc4(key);
      chunks.forEach((c, i) => expect(ours.update(c).equals(theirs[i]!), `key ${keyLen} bytes, chunk ${i}`).toBe(true));
    }
  });

  it('the NT hash is MS-NLMP 4.2.2.1.2 NTOWFv1("Password") and equals the openssl CLI\'s MD4 for any password', async () => {
    expect(h(await ntHash(SPEC.password))).toBe(SPEC.ntHash);
    for (const pw of ['', 'a', 'Pässwörd€😀', 'x'.repeat(200)]) {
      const openssl = execFileSync('openssl', ['dgst', '-md4', '-binary', '-provider', 'legacy', '-provider', 'default'], { input: Buffer.from(pw, 'utf16le') });
      expect(h(await ntHash(pw)), JSON.stringify(pw)).toBe(h(openssl));
    }
  });
});

describe('MS-NLMP 4.2.4 NTLMv2 example, byte for byte', () => {
  it('ResponseKeyNT (NTOWFv2), LMv2 response, NTProofStr, temp and SessionBaseKey', async () => {
    const key = ntowfv2(await ntHash(SPEC.password), SPEC.user, SPEC.domain);
    expect(h(key)).toBe(SPEC.responseKeyNT);
    expect(h(lmv2Response(key, SPEC.serverChallenge, SPEC.clientChallenge))).toBe(SPEC.lmv2);
    const nt = ntlmv2Response(key, SPEC.serverChallenge, SPEC.clientChallenge, SPEC.time, SPEC.serverName);
    expect(h(nt.ntProofStr)).toBe(SPEC.ntProofStr);
    expect(h(nt.response)).toBe(SPEC.ntProofStr + norm(SPEC.temp));
    expect(h(nt.sessionBaseKey)).toBe(SPEC.sessionBaseKey);
    // Key exchange: KeyExchangeKey = SessionBaseKey for NTLMv2; the random session key goes RC4-encrypted.
    expect(h(rc4k(nt.sessionBaseKey, SPEC.randomSessionKey))).toBe(SPEC.encryptedSessionKey);
  });

  it('the AUTHENTICATE message for the 4.2.4.3 CHALLENGE carries those values and the negotiated flags', async () => {
    const ch = parseChallenge(SPEC.challenge);
    expect(ch.flags).toBe(SPEC.flags);
    expect(h(ch.serverChallenge)).toBe(h(SPEC.serverChallenge));
    expect(ch.targetName.toString('utf16le')).toBe('Server');
    expect(h(encodeAvPairs(ch.targetInfo))).toBe(h(SPEC.serverName));
    const a = authenticateMessage({
      negotiate: negotiateMessage(),
      challenge: SPEC.challenge,
      user: SPEC.user,
      domain: SPEC.domain,
      workstation: SPEC.workstation,
      ntHash: await ntHash(SPEC.password),
      clientChallenge: SPEC.clientChallenge,
      exportedSessionKey: SPEC.randomSessionKey,
      timestamp: SPEC.time,
    });
    const m = a.message;
    expect(m.readUInt32LE(8)).toBe(3);
    expect(h(fieldOf(m, 12))).toBe(SPEC.lmv2);
    expect(h(fieldOf(m, 20))).toBe(SPEC.ntProofStr + norm(SPEC.temp));
    expect(fieldOf(m, 28).toString('utf16le')).toBe('Domain');
    expect(fieldOf(m, 36).toString('utf16le')).toBe('User');
    expect(fieldOf(m, 44).toString('utf16le')).toBe('COMPUTER');
    expect(h(fieldOf(m, 52))).toBe(SPEC.encryptedSessionKey);
    // 0xE28A8233 less OEM (Unicode is agreed): what the 4.2.4.3 AUTHENTICATE_MESSAGE's flags keep too.
    expect(m.readUInt32LE(60)).toBe((SPEC.flags & ~NtlmFlag.OEM) >>> 0);
    expect(a.flags).toBe(m.readUInt32LE(60));
    expect(h(a.sessionBaseKey)).toBe(SPEC.sessionBaseKey);
    expect(h(a.exportedSessionKey)).toBe(h(SPEC.randomSessionKey));
    expect(a.mic).toBeUndefined(); // no MsvAvTimestamp in this challenge: no MIC
    expect(() => requireSealing(a.flags)).not.toThrow();
  });

  it('SIGNKEY and SEALKEY, and GSS_WrapEx of "Plaintext": the sealed data and signature of 4.2.4.4', () => {
    expect(h(signKey(SPEC.randomSessionKey, 'client'))).toBe(SPEC.signKey);
    expect(h(sealKey(SPEC.flags, SPEC.randomSessionKey, 'client'))).toBe(SPEC.sealKey);
    const client = new NtlmSession({ flags: SPEC.flags, exportedSessionKey: SPEC.randomSessionKey });
    const { sealed, signature } = client.seal(SPEC.plaintext);
    expect(h(sealed)).toBe(SPEC.sealed);
    expect(h(signature)).toBe(SPEC.signature);
    expect(client.sendSequence).toBe(1);
    // The server end unseals it with the same keys.
    const server = new NtlmSession({ flags: SPEC.flags, exportedSessionKey: SPEC.randomSessionKey, side: 'server' });
    expect(server.unseal(hex(SPEC.sealed), hex(SPEC.signature)).toString('utf16le')).toBe('Plaintext');
    expect(server.receiveSequence).toBe(1);
  });
});

describe('the NEGOTIATE message and flag checks', () => {
  it('asks for key exchange, extended session security, sign, seal, 128 and 56 bits (all ntlm-auth asks for, and more)', () => {
    const m = negotiateMessage();
    expect(m.length).toBe(40);
    expect(m.subarray(0, 12).toString('latin1')).toBe('NTLMSSP\0\x01\0\0\0');
    const flags = m.readUInt32LE(12);
    expect(flags).toBe(CLIENT_FLAGS);
    expect(flags >>> 0).toBe(0xe2888237);
    // ntlm-auth 1.4's NtlmContext at its default level 3 (see its ntlm.py): every one of its flags is ours.
    const ntlmAuth = 0xe2888032;
    expect((flags & ntlmAuth) >>> 0).toBe(ntlmAuth);
  });

  it('refuses challenges it cannot answer, and flags that cannot seal, naming what is missing', () => {
    expect(() => parseChallenge(Buffer.from('not ntlm at all, not ntlm at all, not ntlm at all'))).toThrow(/not an NTLMSSP message/);
    const noEss = Buffer.from(SPEC.challenge);
    noEss.writeUInt32LE((SPEC.flags & ~NtlmFlag.EXTENDED_SESSIONSECURITY) >>> 0, 20);
    expect(() => authenticateMessage({ negotiate: negotiateMessage(), challenge: noEss, user: 'u', domain: '', ntHash: Buffer.alloc(16) })).toThrow(/extended session security/);
    const cut = Buffer.from(SPEC.challenge.subarray(0, SPEC.challenge.length - 10));
    expect(() => parseChallenge(cut)).toThrow(/target info lies outside the message/);
    expect(() => requireSealing((SPEC.flags & ~NtlmFlag.KEY_EXCH & ~NtlmFlag.SEAL) >>> 0)).toThrow(/NTLMSSP_NEGOTIATE_KEY_EXCH, NTLMSSP_NEGOTIATE_SEAL/);
    expect(() => new NtlmSession({ flags: (SPEC.flags & ~NtlmFlag.SEAL) >>> 0, exportedSessionKey: SPEC.randomSessionKey })).toThrow(/NTLMSSP_NEGOTIATE_SEAL/);
    expect(() => new NtlmSession({ flags: (SPEC.flags & ~NtlmFlag.EXTENDED_SESSIONSECURITY) >>> 0, exportedSessionKey: SPEC.randomSessionKey })).toThrow(
      /extended session security/,
    );
  });

  it('the existing test peer verifies our NTLMv2 response (its own MS-NLMP check, not ours)', async () => {
    const c = makeChallenge('WIN1');
    const a = authenticateMessage({
      negotiate: negotiateMessage(),
      challenge: Buffer.from(c.token, 'base64'),
      user: 'Administrator',
      domain: 'WIN1',
      ntHash: await ntHash('Sekrit!1'),
    });
    const parsed = parseAuthenticate(a.message)!;
    expect(parsed.user).toBe('Administrator');
    expect(verifyAuthenticate(parsed, c, 'Sekrit!1')).toBe(true);
    expect(verifyAuthenticate(parsed, c, 'wrong')).toBe(false);
    // Its challenge has MsvAvTimestamp: our answer has a MIC and an all-zero LM response, as Windows expects.
    expect(a.mic).toHaveLength(16);
    expect(h(fieldOf(a.message, 12))).toBe('00'.repeat(24));
  });
});

/**
 * A challenge as Windows Server sends one: sign/seal/key exchange, target info with a timestamp. OEM is set
 * beside UNICODE (as in MS-NLMP 4.2.4.3): ntlm-auth 1.4 subtracts OEM from the flags whenever UNICODE is
 * set, which garbles them when OEM is absent; with it present both answer alike.
 */
function windowsChallenge(opts: { flags?: number; avFlags?: number } = {}): Buffer {
  const flags = opts.flags ?? 0xe28a8237;
  const name = Buffer.from('WIN-7QR1', 'utf16le');
  const pairs = [
    { id: AvId.NB_DOMAIN_NAME, value: name },
    { id: AvId.NB_COMPUTER_NAME, value: name },
    { id: AvId.DNS_DOMAIN_NAME, value: Buffer.from('win-7qr1', 'utf16le') },
    { id: AvId.DNS_COMPUTER_NAME, value: Buffer.from('win-7qr1', 'utf16le') },
    ...(opts.avFlags !== undefined ? [{ id: AvId.FLAGS, value: Buffer.from([opts.avFlags, 0, 0, 0]) }] : []),
    { id: AvId.TIMESTAMP, value: hex('b8e7a3c44a2fd901') },
  ];
  const info = encodeAvPairs(pairs);
  const head = Buffer.alloc(56);
  head.write('NTLMSSP\0', 0, 'latin1');
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(name.length, 12);
  head.writeUInt16LE(name.length, 14);
  head.writeUInt32LE(56, 16);
  head.writeUInt32LE(flags >>> 0, 20);
  hex('1122334455667788').copy(head, 24);
  head.writeUInt16LE(info.length, 40);
  head.writeUInt16LE(info.length, 42);
  head.writeUInt32LE(56 + name.length, 44);
  hex('0a0063450000000f').copy(head, 48);
  return Buffer.concat([head, name, info]);
}

describe('AUTHENTICATE judged by ntlm-auth: the same inputs give the same message, byte for byte', () => {
  const cases: Array<{ name: string; challenge: () => Buffer; password: string; cbt?: Buffer; timestamp?: Buffer }> = [
    { name: 'the MS-NLMP 4.2.4.3 challenge (no timestamp: LMv2, no MIC)', challenge: () => SPEC.challenge, password: 'Password', timestamp: SPEC.time },
    { name: 'a Windows challenge with MsvAvTimestamp (MIC, Z(24) LM response)', challenge: () => windowsChallenge(), password: 'Pässwörd€😀' },
    {
      name: 'the same with channel binding (MsvAvChannelBindings after MsvAvFlags)',
      challenge: () => windowsChallenge(),
      password: 'P@ss',
      cbt: Buffer.concat([Buffer.from('tls-server-end-point:'), randomBytes(32)]),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const negotiate = negotiateMessage();
      const clientChallenge = randomBytes(8);
      const exportedSessionKey = randomBytes(16);
      const timestamp = c.timestamp ?? hex('0011223344556677');
      const channelBindings = c.cbt ? createHash('md5').update(gssChannelBindings(c.cbt)).digest() : undefined;
      const ours = authenticateMessage({
        negotiate,
        challenge: c.challenge(),
        user: 'Administrator',
        domain: 'WIN-7QR1',
        workstation: 'CONTROLLER',
        ntHash: await ntHash(c.password),
        channelBindings,
        clientChallenge,
        exportedSessionKey,
        timestamp,
      });
      const theirs = judge<{ message: string; exportedSessionKey: string; flags: number }>({
        op: 'authenticate',
        user: 'Administrator',
        domain: 'WIN-7QR1',
        workstation: 'CONTROLLER',
        password: c.password,
        negotiate: b64(negotiate),
        challenge: b64(c.challenge()),
        clientChallenge: h(clientChallenge),
        exportedSessionKey: h(exportedSessionKey),
        timestamp: h(timestamp),
        cbtApplicationData: c.cbt ? b64(c.cbt) : null,
      });
      expect(h(ours.message)).toBe(h(unb64(theirs.message)));
      expect(ours.flags).toBe(theirs.flags);
      expect(h(ours.exportedSessionKey)).toBe(theirs.exportedSessionKey);
    });
  }

  it('an MsvAvFlags the server already sent keeps its bits and gains MIC_PROVIDED', async () => {
    const a = authenticateMessage({ negotiate: negotiateMessage(), challenge: windowsChallenge({ avFlags: 0x1 }), user: 'u', domain: '', ntHash: await ntHash('p') });
    const blob = fieldOf(a.message, 20).subarray(16 + 28);
    expect(blob.includes(hex('0600040003000000'))).toBe(true);
  });
});

describe('sealing judged by ntlm-auth SessionSecurity, both directions', () => {
  type Sealed = { sealed: string; signature: string };
  const FLAG_SETS: Array<[string, number]> = [
    ['Windows default: KEY_EXCH, 128, 56', 0xe28a8235],
    ['without KEY_EXCH (checksum not RC4-encrypted)', (0xe28a8235 & ~NtlmFlag.KEY_EXCH) >>> 0],
    ['56-bit sealing key', (0xe28a8235 & ~NtlmFlag.KEY_128) >>> 0],
    ['40-bit sealing key', (0xe28a8235 & ~NtlmFlag.KEY_128 & ~NtlmFlag.KEY_56) >>> 0],
  ];
  const messages = () => [Buffer.alloc(0), Buffer.from('<s:Envelope/>'), randomBytes(1), randomBytes(70_000), Buffer.from('ünïcødé ✓', 'utf8')];

  for (const [name, flags] of FLAG_SETS) {
    it(`${name}: our seal equals theirs, they unseal ours, we unseal theirs`, () => {
      const key = randomBytes(16);
      const plain = messages();
      const ours = new NtlmSession({ flags, exportedSessionKey: key });
      const sealed = plain.map((m) => ours.seal(m));
      const same = judge<{ sealed: Sealed[] }>({ op: 'seal', flags, key: h(key), side: 'client', messages: plain.map(b64) }).sealed;
      sealed.forEach((s, i) => {
        expect(h(s.signature)).toBe(h(unb64(same[i]!.signature)));
        expect(s.sealed.equals(unb64(same[i]!.sealed))).toBe(true);
      });
      const atServer = judge<{ results: Array<{ plaintext?: string; error?: string }> }>({
        op: 'unseal',
        flags,
        key: h(key),
        side: 'server',
        sealed: sealed.map((s) => ({ sealed: b64(s.sealed), signature: b64(s.signature) })),
      }).results;
      atServer.forEach((r, i) => expect(r.error ?? unb64(r.plaintext!).equals(plain[i]!)).toBe(true));
      const replies = messages();
      const fromServer = judge<{ sealed: Sealed[] }>({ op: 'seal', flags, key: h(key), side: 'server', messages: replies.map(b64) }).sealed;
      fromServer.forEach((s, i) => expect(ours.unseal(unb64(s.sealed), unb64(s.signature)).equals(replies[i]!)).toBe(true));
      expect(ours.receiveSequence).toBe(replies.length);
    });
  }

  it('a tampered byte, a tampered signature, a replayed or skipped message are refused, and the session stays closed after', () => {
    const key = randomBytes(16);
    const flags = 0xe28a8235;
    const replies = [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')];
    const theirs = () => judge<{ sealed: Sealed[] }>({ op: 'seal', flags, key: h(key), side: 'server', messages: replies.map(b64) }).sealed.map((s) => ({ sealed: unb64(s.sealed), signature: unb64(s.signature) }));

    const s1 = theirs();
    const flipped = Buffer.from(s1[0]!.sealed);
    flipped[1]! ^= 0x01;
    const a = new NtlmSession({ flags, exportedSessionKey: key });
    expect(() => a.unseal(flipped, s1[0]!.signature)).toThrow(NtlmIntegrityError);
    expect(() => a.unseal(s1[1]!.sealed, s1[1]!.signature)).toThrow(/no longer accepts messages: NTLM message signature does not match/);

    const s2 = theirs();
    const sig = Buffer.from(s2[0]!.signature);
    sig[6]! ^= 0x80;
    expect(() => new NtlmSession({ flags, exportedSessionKey: key }).unseal(s2[0]!.sealed, sig)).toThrow(/signature does not match \(sequence number 0\): the message was altered/);

    const s3 = theirs();
    const skip = new NtlmSession({ flags, exportedSessionKey: key });
    expect(() => skip.unseal(s3[1]!.sealed, s3[1]!.signature)).toThrow(/sequence number 1 where 0 was due/);

    const s4 = theirs();
    const replay = new NtlmSession({ flags, exportedSessionKey: key });
    expect(replay.unseal(s4[0]!.sealed, s4[0]!.signature).toString()).toBe('one');
    expect(() => replay.unseal(s4[0]!.sealed, s4[0]!.signature)).toThrow(/sequence number 0 where 1 was due/);

    expect(() => new NtlmSession({ flags, exportedSessionKey: key }).unseal(s4[0]!.sealed, s4[0]!.signature.subarray(0, 15))).toThrow(/signature of 15 bytes/);
    // And the judge refuses what we tampered with, too.
    const ours = new NtlmSession({ flags, exportedSessionKey: key }).seal(Buffer.from('<s:Envelope/>'));
    ours.sealed[0]! ^= 0xff;
    const r = judge<{ results: Array<{ error?: string }> }>({
      op: 'unseal',
      flags,
      key: h(key),
      side: 'server',
      sealed: [{ sealed: b64(ours.sealed), signature: b64(ours.signature) }],
    }).results;
    expect(r[0]!.error).toMatch(/signature checksum does not match/);
  });
});

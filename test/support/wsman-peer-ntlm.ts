/**
 * The server side of NTLM for the WS-Management test peer: a Type 2 challenge with target info, and a
 * check of the client's Type 3 NTLMv2 response (MS-NLMP 3.3.2) computed here independently of the client's
 * library: HMAC-MD5 from node:crypto and a small MD4 (RFC 1320) and RC4 of our own, since OpenSSL 3 no
 * longer offers either to Node. From a verified login it derives what the server end of message sealing
 * needs (MS-NLMP 3.2.5.1.2): the session base key, the exported session key (the client's random key,
 * RC4-decrypted, under key exchange), and checks the MIC with it; the sealing itself is the NTLM judge's
 * (wsman-peer-seal.ts). Test code only.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** MD4 (RFC 1320), enough for NTOWF: the hash of the UTF-16LE password. */
export function md4(input: Buffer): Buffer {
  const bitLen = input.length * 8;
  const padLen = (input.length % 64 < 56 ? 56 : 120) - (input.length % 64);
  const msg = Buffer.alloc(input.length + padLen + 8);
  input.copy(msg);
  msg[input.length] = 0x80;
  msg.writeUInt32LE(bitLen >>> 0, msg.length - 8);
  msg.writeUInt32LE(Math.floor(bitLen / 2 ** 32), msg.length - 4);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
  const F = (x: number, y: number, z: number) => (x & y) | (~x & z);
  const G = (x: number, y: number, z: number) => (x & y) | (x & z) | (y & z);
  const H = (x: number, y: number, z: number) => x ^ y ^ z;
  const X = new Array<number>(16);
  for (let off = 0; off < msg.length; off += 64) {
    for (let i = 0; i < 16; i++) X[i] = msg.readUInt32LE(off + i * 4);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const r1 = (p: number, q: number, r: number, s: number, k: number, n: number) => rotl((p + F(q, r, s) + X[k]!) >>> 0, n);
    const r2 = (p: number, q: number, r: number, s: number, k: number, n: number) => rotl((p + G(q, r, s) + X[k]! + 0x5a827999) >>> 0, n);
    const r3 = (p: number, q: number, r: number, s: number, k: number, n: number) => rotl((p + H(q, r, s) + X[k]! + 0x6ed9eba1) >>> 0, n);
    for (const k of [0, 4, 8, 12]) {
      a = r1(a, b, c, d, k, 3);
      d = r1(d, a, b, c, k + 1, 7);
      c = r1(c, d, a, b, k + 2, 11);
      b = r1(b, c, d, a, k + 3, 19);
    }
    for (const k of [0, 1, 2, 3]) {
      a = r2(a, b, c, d, k, 3);
      d = r2(d, a, b, c, k + 4, 5);
      c = r2(c, d, a, b, k + 8, 9);
      b = r2(b, c, d, a, k + 12, 13);
    }
    for (const k of [0, 2, 1, 3]) {
      a = r3(a, b, c, d, k, 3);
      d = r3(d, a, b, c, k + 8, 9);
      c = r3(c, d, a, b, k + 4, 11);
      b = r3(b, c, d, a, k + 12, 15);
    }
    a = (a + aa) >>> 0;
    b = (b + bb) >>> 0;
    c = (c + cc) >>> 0;
    d = (d + dd) >>> 0;
  }
  const out = Buffer.alloc(16);
  [a, b, c, d].forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

/** RC4 (the keystream XORed over `data`), enough for the key exchange's 16 bytes. */
export function rc4(key: Buffer, data: Buffer): Buffer {
  const S = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + S[i]! + key[i % key.length]!) & 0xff;
    [S[i], S[j]] = [S[j]!, S[i]!];
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + S[i]!) & 0xff;
    [S[i], S[j]] = [S[j]!, S[i]!];
    out[n] = data[n]! ^ S[(S[i]! + S[j]!) & 0xff]!;
  }
  return out;
}

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const FLAG = {
  UNICODE: 0x00000001,
  REQUEST_TARGET: 0x00000004,
  SIGN: 0x00000010,
  SEAL: 0x00000020,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_SERVER: 0x00020000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  N128: 0x20000000,
  KEY_EXCH: 0x40000000,
  N56: 0x80000000,
};
/** What a Windows server grants when the client's NEGOTIATE asks for it: signing, sealing, key exchange. */
const GRANTED_ON_REQUEST = FLAG.SIGN | FLAG.SEAL | FLAG.KEY_EXCH;

export interface Challenge {
  serverChallenge: Buffer;
  targetInfo: Buffer;
  /** The Type 2 message, base64, for `WWW-Authenticate: Negotiate <token>`. */
  token: string;
  /** The Type 2 message (for the MIC). */
  raw: Buffer;
  /** The client's Type 1 message it answers, when known (for the MIC). */
  negotiate?: Buffer;
}

function avPair(id: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, value]);
}

/** Reads a Type 1 token; returns undefined when it is not one. */
export function isNegotiate(token: Buffer): boolean {
  return token.length >= 16 && token.subarray(0, 8).equals(SIGNATURE) && token.readUInt32LE(8) === 1;
}

/**
 * A Type 2 message as a Windows Server would send it: Unicode, NTLMv2-capable, with target info; signing,
 * sealing and key exchange granted when the client's Type 1 (`negotiate`) asks for them.
 */
export function makeChallenge(computer: string, negotiate?: Buffer): Challenge {
  const serverChallenge = randomBytes(8);
  const name = Buffer.from(computer.toUpperCase(), 'utf16le');
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64LE((BigInt(Date.now()) + 11644473600000n) * 10000n);
  const targetInfo = Buffer.concat([
    avPair(2, name),
    avPair(1, name),
    avPair(4, Buffer.from(computer.toLowerCase(), 'utf16le')),
    avPair(3, Buffer.from(computer.toLowerCase(), 'utf16le')),
    avPair(7, stamp),
    avPair(0, Buffer.alloc(0)),
  ]);
  const asked = negotiate && negotiate.length >= 16 ? negotiate.readUInt32LE(12) : 0;
  const flags =
    FLAG.UNICODE | FLAG.REQUEST_TARGET | FLAG.NTLM | FLAG.ALWAYS_SIGN | FLAG.TARGET_TYPE_SERVER | FLAG.EXTENDED_SESSIONSECURITY | FLAG.TARGET_INFO | FLAG.VERSION | FLAG.N128 | FLAG.N56 | (asked & GRANTED_ON_REQUEST);
  const head = Buffer.alloc(56);
  SIGNATURE.copy(head, 0);
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(name.length, 12);
  head.writeUInt16LE(name.length, 14);
  head.writeUInt32LE(56, 16);
  head.writeUInt32LE(flags >>> 0, 20);
  serverChallenge.copy(head, 24);
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(56 + name.length, 44);
  // Version: 10.0 build 17763 (Server 2019), NTLM revision 15.
  head.writeUInt8(10, 48);
  head.writeUInt8(0, 49);
  head.writeUInt16LE(17763, 50);
  head.writeUInt8(15, 55);
  const raw = Buffer.concat([head, name, targetInfo]);
  return { serverChallenge, targetInfo, token: raw.toString('base64'), raw, ...(negotiate ? { negotiate: Buffer.from(negotiate) } : {}) };
}

export interface Authenticate {
  user: string;
  domain: string;
  workstation: string;
  lm: Buffer;
  nt: Buffer;
  /** The negotiated flags (0 when the message has none). */
  flags: number;
  encryptedRandomSessionKey: Buffer;
  /** The message as received. */
  raw: Buffer;
}

/** AV_PAIR ids the peer reads from the client's NTLMv2 blob. */
const AV = { EOL: 0, FLAGS: 6, CHANNEL_BINDINGS: 10 };
const AV_FLAG_MIC = 0x2;

function field(msg: Buffer, at: number): Buffer {
  const len = msg.readUInt16LE(at);
  const off = msg.readUInt32LE(at + 4);
  if (off + len > msg.length) throw new Error('Type 3 field outside the message');
  return msg.subarray(off, off + len);
}

export function parseAuthenticate(token: Buffer): Authenticate | undefined {
  if (token.length < 52 || !token.subarray(0, 8).equals(SIGNATURE) || token.readUInt32LE(8) !== 3) return undefined;
  const flags = token.length >= 64 ? token.readUInt32LE(60) : FLAG.UNICODE;
  const str = (b: Buffer) => b.toString(flags & FLAG.UNICODE ? 'utf16le' : 'latin1');
  return {
    lm: field(token, 12),
    nt: field(token, 20),
    domain: str(field(token, 28)),
    user: str(field(token, 36)),
    workstation: str(field(token, 44)),
    flags: token.length >= 64 ? token.readUInt32LE(60) : 0,
    encryptedRandomSessionKey: token.length >= 60 ? Buffer.from(field(token, 52)) : Buffer.alloc(0),
    raw: Buffer.from(token),
  };
}

/** The AV pairs of the client's NTLMv2 blob (after NTProofStr, RespType, reserved, time and client challenge). */
export function clientAvPairs(a: Authenticate): Map<number, Buffer> {
  const pairs = new Map<number, Buffer>();
  let at = 16 + 28;
  while (at + 4 <= a.nt.length) {
    const id = a.nt.readUInt16LE(at);
    const len = a.nt.readUInt16LE(at + 2);
    if (id === AV.EOL || at + 4 + len > a.nt.length) break;
    pairs.set(id, a.nt.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return pairs;
}

/** MsvAvChannelBindings of the client's blob, or undefined when it sent none (or sent all zeros: "none" too, to Windows). */
export function clientChannelBindings(a: Authenticate): Buffer | undefined {
  const cb = clientAvPairs(a).get(AV.CHANNEL_BINDINGS);
  return cb && cb.some((b) => b !== 0) ? cb : undefined;
}

export interface ServerSessionKeys {
  sessionBaseKey: Buffer;
  /** The key sealing derives from: the client's random session key under KEY_EXCH, else the session base key. */
  exportedSessionKey: Buffer;
}

/**
 * The server's side of MS-NLMP 3.2.5.1.2 for a response `verifyAuthenticate` accepted: SessionBaseKey =
 * HMAC-MD5(NTOWFv2, NTProofStr); KeyExchangeKey = SessionBaseKey (NTLMv2); under KEY_EXCH the exported key is
 * RC4(KeyExchangeKey, EncryptedRandomSessionKey).
 */
export function serverSessionKeys(a: Authenticate, password: string): ServerSessionKeys {
  const key = hmacMd5(md4(Buffer.from(password, 'utf16le')), Buffer.from(a.user.toUpperCase() + a.domain, 'utf16le'));
  const sessionBaseKey = hmacMd5(key, a.nt.subarray(0, 16));
  const exportedSessionKey = a.flags & FLAG.KEY_EXCH ? rc4(sessionBaseKey, a.encryptedRandomSessionKey) : sessionBaseKey;
  return { sessionBaseKey, exportedSessionKey };
}

/**
 * The MIC check (MS-NLMP 3.2.5.1.2): when the client's MsvAvFlags says it sent one, the 16 bytes after
 * VERSION must be HMAC-MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with the MIC zeroed).
 * 'absent' when the client claims none; false for a wrong or missing one.
 */
export function checkMic(a: Authenticate, c: Challenge, exportedSessionKey: Buffer): boolean | 'absent' {
  const avFlags = clientAvPairs(a).get(AV.FLAGS);
  if (!avFlags || avFlags.length !== 4 || !(avFlags.readUInt32LE(0) & AV_FLAG_MIC)) return 'absent';
  if (!c.negotiate || a.raw.length < 88) return false;
  const zeroed = Buffer.from(a.raw);
  zeroed.fill(0, 72, 88);
  const expected = createHmac('md5', exportedSessionKey).update(c.negotiate).update(c.raw).update(zeroed).digest();
  return timingSafeEqual(expected, a.raw.subarray(72, 88));
}

const hmacMd5 = (key: Buffer, data: Buffer) => createHmac('md5', key).update(data).digest();

/**
 * Checks an NTLMv2 response: NTProofStr = HMAC-MD5(NTOWFv2, serverChallenge ‖ blob), with
 * NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) ‖ domain)). NTLMv1 answers (24 bytes)
 * are refused, as Windows does at its default LmCompatibilityLevel since Server 2008 R2. The blob must
 * carry the target info we sent.
 */
export function verifyAuthenticate(a: Authenticate, c: Challenge, password: string): boolean {
  if (a.nt.length <= 24) return false;
  const proof = a.nt.subarray(0, 16);
  const blob = a.nt.subarray(16);
  if (!blob.includes(c.targetInfo.subarray(0, c.targetInfo.length - 4))) return false;
  const key = hmacMd5(md4(Buffer.from(password, 'utf16le')), Buffer.from(a.user.toUpperCase() + a.domain, 'utf16le'));
  const expected = hmacMd5(key, Buffer.concat([c.serverChallenge, blob]));
  return timingSafeEqual(proof, expected);
}

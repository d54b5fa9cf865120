/**
 * WinRM message encryption (MS-WSMV 2.2.9.1.1): the multipart/encrypted framing of a sealed SOAP envelope,
 * judged by pywinrm's own winrm/encryption.py (Debian's python3-winrm, over ntlm-auth's SessionSecurity,
 * run by test/support/ntlm-judge.py): its request bodies equal ours byte for byte, it reads ours, we read
 * its, and a body altered in transit is refused.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_CONTENT_TYPE, EncryptedMessageError, isEncrypted, unwrap, wrap } from '../../../../src/transport/winrm/encryption.js';
import { NtlmIntegrityError, NtlmSession } from '../../../../src/transport/winrm/ntlm-session.js';
import { b64, hex, judge, unb64 } from './ntlm-judge.js';

const FLAGS = 0xe28a8235; // a Windows server's answer: KEY_EXCH, 128, 56, ESS, SEAL, SIGN, ...
type Body = { contentType: string; body: string };

const envelope = (n: number) =>
  Buffer.from(
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rsp:Stream Name="stdin">${'QUJD'.repeat(n)}</rsp:Stream>` +
      `<p>ünïcødé — ✓</p></s:Body></s:Envelope>`,
    'utf8',
  );

describe('wrap: the layout pywinrm sends', () => {
  it('boundary, protocol part with the plaintext length, octet-stream part with signature length 16, signature, sealed data, closing boundary', () => {
    const key = Buffer.alloc(16, 0x55);
    const soap = Buffer.from('Plaintext', 'utf16le');
    const { contentType, body } = wrap(new NtlmSession({ flags: 0xe28a8233, exportedSessionKey: key }), soap);
    expect(contentType).toBe('multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"');
    expect(contentType).toBe(ENCRYPTED_CONTENT_TYPE);
    const expected = Buffer.concat([
      Buffer.from(
        '--Encrypted Boundary\r\n' +
          '\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n' +
          '\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=18\r\n' +
          '--Encrypted Boundary\r\n' +
          '\tContent-Type: application/octet-stream\r\n',
        'latin1',
      ),
      hex('10000000'),
      hex('010000007fb38ec5c55d497600000000'), // MS-NLMP 4.2.4.4's signature of "Plaintext"
      hex('54e50165bf1936dc996020c1811b0f06fb5f'), // and its sealed data
      Buffer.from('--Encrypted Boundary--\r\n', 'latin1'),
    ]);
    expect(body.toString('hex')).toBe(expected.toString('hex'));
  });

  it('equals pywinrm\'s prepare_encrypted_request byte for byte, message after message, a 300 KB envelope as one part', () => {
    const key = randomBytes(16);
    const soaps = [envelope(1), envelope(100_000), envelope(3), Buffer.alloc(0)];
    const ours = new NtlmSession({ flags: FLAGS, exportedSessionKey: key });
    const theirs = judge<{ bodies: Body[] }>({ op: 'wrap', flags: FLAGS, key: key.toString('hex'), side: 'client', messages: soaps.map(b64) }).bodies;
    soaps.forEach((s, i) => {
      const w = wrap(ours, s);
      expect(w.contentType).toBe(theirs[i]!.contentType);
      expect(w.body.equals(unb64(theirs[i]!.body)), `message ${i}`).toBe(true);
    });
    // NTLM is never split (pywinrm splits at 16 KiB only for CredSSP): one OriginalContent, one octet-stream part.
    const big = unb64(theirs[1]!.body).toString('latin1');
    expect(big.split('OriginalContent:').length).toBe(2);
    expect(big).toContain(`Length=${soaps[1]!.length}\r\n`);
  });
});

describe('both directions through pywinrm', () => {
  it('pywinrm (as the server) unwraps what we wrap', () => {
    const key = randomBytes(16);
    const soaps = [envelope(10), envelope(50_000), envelope(0)];
    const client = new NtlmSession({ flags: FLAGS, exportedSessionKey: key });
    const bodies = soaps.map((s) => wrap(client, s));
    const r = judge<{ results: Array<{ plaintext?: string; error?: string }> }>({
      op: 'unwrap',
      flags: FLAGS,
      key: key.toString('hex'),
      side: 'server',
      bodies: bodies.map((b) => ({ contentType: b.contentType, body: b64(b.body) })),
    }).results;
    r.forEach((x, i) => {
      expect(x.error).toBeUndefined();
      expect(unb64(x.plaintext!).equals(soaps[i]!)).toBe(true);
    });
  });

  it('we unwrap what pywinrm (as the server) wraps', () => {
    const key = randomBytes(16);
    const replies = [envelope(7), envelope(80_000), envelope(1)];
    const theirs = judge<{ bodies: Body[] }>({ op: 'wrap', flags: FLAGS, key: key.toString('hex'), side: 'server', messages: replies.map(b64) }).bodies;
    const client = new NtlmSession({ flags: FLAGS, exportedSessionKey: key });
    theirs.forEach((b, i) => {
      expect(isEncrypted(b.contentType)).toBe(true);
      expect(unwrap(client, b.contentType, unb64(b.body)).equals(replies[i]!)).toBe(true);
    });
  });

  it('a multi-part reply is read part after part, as pywinrm reads one', () => {
    const key = randomBytes(16);
    const server = new NtlmSession({ flags: FLAGS, exportedSessionKey: key, side: 'server' });
    const parts = [envelope(2), envelope(5_000)];
    const closing = Buffer.from('--Encrypted Boundary--\r\n', 'latin1');
    const first = wrap(server, parts[0]!).body;
    const body = Buffer.concat([first.subarray(0, first.length - closing.length), wrap(server, parts[1]!).body]);
    const contentType = 'multipart/x-multi-encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"';
    const expected = Buffer.concat(parts);
    expect(unwrap(new NtlmSession({ flags: FLAGS, exportedSessionKey: key }), contentType, body).equals(expected)).toBe(true);
    const r = judge<{ results: Array<{ plaintext?: string }> }>({ op: 'unwrap', flags: FLAGS, key: key.toString('hex'), side: 'client', bodies: [{ contentType, body: b64(body) }] });
    expect(unb64(r.results[0]!.plaintext!).equals(expected)).toBe(true);
  });
});

describe('unwrap refuses what was altered, cut or is not encrypted', () => {
  const key = randomBytes(16);
  const reply = envelope(20);
  let sample: Body;
  let dataStart: number;
  beforeAll(() => {
    sample = judge<{ bodies: Body[] }>({ op: 'wrap', flags: FLAGS, key: key.toString('hex'), side: 'server', messages: [b64(reply)] }).bodies[0]!;
    dataStart = body().indexOf('application/octet-stream\r\n') + 'application/octet-stream\r\n'.length + 4 + 16;
  });
  const body = () => Buffer.from(unb64(sample.body));
  const client = () => new NtlmSession({ flags: FLAGS, exportedSessionKey: key });

  it('the untouched reply unwraps', () => {
    expect(unwrap(client(), sample.contentType, body()).equals(reply)).toBe(true);
  });

  it('one flipped byte of the sealed envelope, or of the signature: the signature check fails', () => {
    for (const at of [dataStart, dataStart + 17, body().length - 30, dataStart - 5]) {
      const b = body();
      b[at]! ^= 0x20;
      expect(() => unwrap(client(), sample.contentType, b), `byte ${at}`).toThrow(NtlmIntegrityError);
    }
  });

  it('a cut, a padded body, or a changed Length: the declared length does not match', () => {
    const b = body();
    const cut = Buffer.concat([b.subarray(0, dataStart + 10), b.subarray(dataStart + 11)]);
    expect(() => unwrap(client(), sample.contentType, cut)).toThrow(/not the \d+ bytes its OriginalContent declares/);
    const padded = Buffer.concat([b.subarray(0, dataStart + 10), Buffer.from('x'), b.subarray(dataStart + 10)]);
    expect(() => unwrap(client(), sample.contentType, padded)).toThrow(EncryptedMessageError);
    const relabelled = Buffer.from(b.toString('latin1').replace(`Length=${reply.length}`, `Length=${reply.length - 1}`), 'latin1');
    expect(() => unwrap(client(), sample.contentType, relabelled)).toThrow(/OriginalContent declares/);
    expect(() => unwrap(client(), sample.contentType, b.subarray(0, 100))).toThrow(EncryptedMessageError);
  });

  it('a wrong signature length, a missing part header, or a reply that is not encrypted', () => {
    const b = body();
    b.writeUInt32LE(12, dataStart - 20);
    expect(() => unwrap(client(), sample.contentType, b)).toThrow(/signature length 12/);
    const noOriginal = Buffer.from(body().toString('latin1').replace('OriginalContent', 'X-Other'), 'latin1');
    expect(() => unwrap(client(), sample.contentType, noOriginal)).toThrow(/no OriginalContent/);
    expect(() => unwrap(client(), 'application/soap+xml;charset=UTF-8', body())).toThrow(/not NTLM-encrypted/);
    expect(isEncrypted('application/soap+xml;charset=UTF-8')).toBe(false);
    expect(isEncrypted('multipart/encrypted;protocol="application/HTTP-CredSSP-session-encrypted";boundary="Encrypted Boundary"')).toBe(false);
  });
});

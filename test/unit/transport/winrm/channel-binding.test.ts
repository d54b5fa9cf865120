/**
 * Channel binding (RFC 5929 tls-server-end-point, MS-NLMP MsvAvChannelBindings) for certificates of every
 * common kind, made here with the openssl CLI, judged by requests-ntlm's `_get_certificate_hash` and
 * ntlm-auth's GssChannelBindingsStruct (Debian's python3-requests-ntlm / python3-ntlm-auth, run by
 * test/support/ntlm-judge.py). requests-ntlm 1.1 (with Debian 12's python-cryptography) finds no hash in
 * an RSA-PSS certificate, so for those the openssl CLI judges: its own reading of the PSS hash and its digest.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelBindingToken, endPointHashAlgorithm, gssChannelBindings, tlsServerEndPoint } from '../../../../src/transport/winrm/channel-binding.js';
import { judge } from './ntlm-judge.js';

interface Case {
  name: string;
  key: string;
  args: string[];
  /** The hash tls-server-end-point must use (RFC 5929 4.1). */
  hash: string;
  pss?: boolean;
}

const CASES: Case[] = [
  { name: 'RSA with SHA-1 (weak: SHA-256 instead)', key: 'rsa', args: ['-sha1'], hash: 'sha256' },
  { name: 'RSA with SHA-224', key: 'rsa', args: ['-sha224'], hash: 'sha224' },
  { name: 'RSA with SHA-256', key: 'rsa', args: ['-sha256'], hash: 'sha256' },
  { name: 'RSA with SHA-384', key: 'rsa', args: ['-sha384'], hash: 'sha384' },
  { name: 'RSA with SHA-512', key: 'rsa', args: ['-sha512'], hash: 'sha512' },
  { name: 'RSA-PSS with SHA-256', key: 'rsa', args: ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'], hash: 'sha256', pss: true },
  { name: 'RSA-PSS with SHA-384', key: 'rsa', args: ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'], hash: 'sha384', pss: true },
  { name: 'ECDSA P-256 with SHA-1 (weak: SHA-256 instead)', key: 'ec256', args: ['-sha1'], hash: 'sha256' },
  { name: 'ECDSA P-256 with SHA-256', key: 'ec256', args: ['-sha256'], hash: 'sha256' },
  { name: 'ECDSA P-384 with SHA-384', key: 'ec384', args: ['-sha384'], hash: 'sha384' },
  { name: 'ECDSA P-384 with SHA-512', key: 'ec384', args: ['-sha512'], hash: 'sha512' },
];

let dir: string;
const certs = new Map<string, Buffer>();
let ed25519: Buffer;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cbt-certs-'));
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec256.key']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'ec384.key']);
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', 'ed.key']);
  const make = (file: string, key: string, args: string[]) => {
    openssl(['req', '-x509', '-key', `${key}.key`, '-subj', '/CN=win1.example', '-days', '2', '-outform', 'DER', '-out', file, ...args]);
    return readFileSync(path.join(dir, file));
  };
  CASES.forEach((c, i) => certs.set(c.name, make(`c${i}.der`, c.key, c.args)));
  ed25519 = make('ed.der', 'ed', []);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tls-server-end-point and MsvAvChannelBindings', () => {
  it('the gss_channel_bindings_struct: four empty address fields, the application data length, the data', () => {
    const s = gssChannelBindings(Buffer.from('tls-server-end-point:abc'));
    expect(s.toString('hex')).toBe('00'.repeat(16) + '18000000' + Buffer.from('tls-server-end-point:abc').toString('hex'));
  });

  it('picks the hash RFC 5929 names for each kind of certificate, and hashes the DER with it', () => {
    for (const c of CASES) {
      const der = certs.get(c.name)!;
      expect(endPointHashAlgorithm(der), c.name).toBe(c.hash);
      expect(tlsServerEndPoint(der).toString('hex'), c.name).toBe(createHash(c.hash).update(der).digest('hex'));
    }
  });

  it('equals requests-ntlm\'s certificate hash and ntlm-auth\'s channel binding token (RSA, ECDSA)', () => {
    const judged = CASES.filter((c) => !c.pss);
    const theirs = judge<{ results: Array<{ hash?: string; token?: string; error?: string }> }>({
      op: 'cbt',
      certs: judged.map((c) => certs.get(c.name)!.toString('base64')),
    }).results;
    judged.forEach((c, i) => {
      const der = certs.get(c.name)!;
      expect(theirs[i]!.error, c.name).toBeUndefined();
      expect(tlsServerEndPoint(der).toString('hex'), c.name).toBe(theirs[i]!.hash);
      expect(channelBindingToken(der).toString('hex'), c.name).toBe(theirs[i]!.token);
    });
  });

  it('RSA-PSS: the hash the openssl CLI reads from the PSS parameters, its digest, and ntlm-auth\'s token of it', () => {
    const pss = CASES.filter((c) => c.pss);
    const digests = pss.map((c, i) => {
      const file = `c${CASES.indexOf(c)}.der`;
      const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-text'], { cwd: dir, encoding: 'utf8' });
      const hashName = /Hash Algorithm:\s*(sha\d+)/.exec(text)?.[1];
      expect(hashName, `${c.name} (${i})`).toBe(c.hash);
      return execFileSync('openssl', ['dgst', `-${hashName!}`, '-binary', file], { cwd: dir });
    });
    const tokens = judge<{ tokens: string[] }>({
      op: 'gss',
      applicationData: digests.map((d) => Buffer.concat([Buffer.from('tls-server-end-point:'), d]).toString('base64')),
    }).tokens;
    pss.forEach((c, i) => {
      const der = certs.get(c.name)!;
      expect(tlsServerEndPoint(der).toString('hex'), c.name).toBe(digests[i]!.toString('hex'));
      expect(channelBindingToken(der).toString('hex'), c.name).toBe(tokens[i]);
    });
  });

  it('refuses, with a reason, a certificate whose signature names no hash (Ed25519) or that is not DER', () => {
    expect(() => channelBindingToken(ed25519)).toThrow(/signature algorithm \(1\.3\.101\.112\) names no hash RFC 5929 could bind to/);
    const der = certs.get(CASES[2]!.name)!;
    expect(() => channelBindingToken(der.subarray(0, 40))).toThrow(/not valid DER/);
    expect(() => channelBindingToken(Buffer.from('-----BEGIN CERTIFICATE-----'))).toThrow(/not valid DER/);
  });
});

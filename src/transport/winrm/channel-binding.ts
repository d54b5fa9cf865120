/**
 * Channel binding for NTLM over HTTPS (what a WinRM listener with CbtHardeningLevel=Strict demands): the
 * `tls-server-end-point` binding of RFC 5929 4.1 — a hash of the server's certificate — in a
 * gss_channel_bindings_struct (RFC 2744 3.11, all addresses empty), whose MD5 goes into the NTLMv2
 * response as MsvAvChannelBindings (MS-NLMP 2.2.2.1; `authenticateMessage`'s `channelBindings`).
 *
 * The hash is the certificate signature's own hash function, except that MD5 and SHA-1 become SHA-256
 * (RFC 5929 4.1; as Windows, requests-ntlm and pyspnego do). It is read from the certificate's
 * signatureAlgorithm with a few lines of DER, since Node 20's X509Certificate does not expose it.
 * Proven against requests-ntlm's `_get_certificate_hash` and ntlm-auth's GssChannelBindingsStruct for
 * RSA, RSA-PSS and ECDSA certificates with each hash (channel-binding.test.ts, the NTLM judge).
 */
import { createHash } from 'node:crypto';

const HASH_OIDS: Record<string, string> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithm OID → the hash it signs with. */
const SIGNATURE_OIDS: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.3.14.3.2.29': 'sha1', // sha1WithRSA (OIW)
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

interface Tlv {
  tag: number;
  /** First content byte. */
  start: number;
  /** One past the last content byte. */
  end: number;
}

function tlv(der: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('the server certificate is not valid DER (truncated)');
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('the server certificate is not valid DER (length)');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > limit) throw new Error('the server certificate is not valid DER (truncated)');
  return { tag, start, end: start + len };
}

function oidAt(der: Buffer, t: Tlv): string {
  if (t.tag !== 0x06 || t.end === t.start) throw new Error('the server certificate is not valid DER (expected an OID)');
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (der[i]! & 0x7f);
    if (!(der[i]! & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

/** The certificate's signatureAlgorithm: its OID and, for RSASSA-PSS, the hash in its parameters. */
function signatureHash(der: Buffer): { oid: string; hash: string | undefined } {
  const cert = tlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new Error('the server certificate is not valid DER (expected a SEQUENCE)');
  const tbs = tlv(der, cert.start, cert.end);
  const alg = tlv(der, tbs.end, cert.end);
  if (tbs.tag !== 0x30 || alg.tag !== 0x30) throw new Error('the server certificate is not valid DER (expected tbsCertificate, signatureAlgorithm)');
  const oidTlv = tlv(der, alg.start, alg.end);
  const oid = oidAt(der, oidTlv);
  if (oid !== RSASSA_PSS) return { oid, hash: SIGNATURE_OIDS[oid] };
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... } (RFC 4055)
  if (oidTlv.end >= alg.end) return { oid, hash: 'sha1' };
  const params = tlv(der, oidTlv.end, alg.end);
  if (params.tag !== 0x30 || params.start === params.end) return { oid, hash: 'sha1' };
  const first = tlv(der, params.start, params.end);
  if (first.tag !== 0xa0) return { oid, hash: 'sha1' };
  const hashAlg = tlv(der, first.start, first.end);
  return { oid, hash: HASH_OIDS[oidAt(der, tlv(der, hashAlg.start, hashAlg.end))] };
}

/** The hash function `tls-server-end-point` uses for this certificate (DER): 'sha256', 'sha384', …. */
export function endPointHashAlgorithm(certDer: Buffer): string {
  const { oid, hash } = signatureHash(certDer);
  if (!hash) throw new Error(`the server certificate's signature algorithm (${oid}) names no hash RFC 5929 could bind to: no channel binding is possible`);
  return hash === 'md5' || hash === 'sha1' ? 'sha256' : hash;
}

/** RFC 5929 4.1 `tls-server-end-point`: the hash of the server certificate (DER). */
export function tlsServerEndPoint(certDer: Buffer): Buffer {
  return createHash(endPointHashAlgorithm(certDer)).update(certDer).digest();
}

/** gss_channel_bindings_struct as Windows hashes it: five little-endian 32-bit fields, no addresses, then the application data. */
export function gssChannelBindings(applicationData: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(applicationData.length, 16);
  return Buffer.concat([head, applicationData]);
}

/** MsvAvChannelBindings for an HTTPS connection: MD5 of the bindings struct of "tls-server-end-point:" ‖ hash. 16 bytes. */
export function channelBindingToken(certDer: Buffer): Buffer {
  const data = Buffer.concat([Buffer.from('tls-server-end-point:', 'latin1'), tlsServerEndPoint(certDer)]);
  return createHash('md5').update(gssChannelBindings(data)).digest();
}

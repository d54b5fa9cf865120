/**
 * WinRM message encryption over plain HTTP (MS-WSMV 2.2.9.1.1, "Negotiate"/SPNEGO with NTLM): the SOAP
 * envelope travels sealed by the NTLM session (ntlm-session.ts) in a `multipart/encrypted` body, laid out
 * byte for byte as pywinrm's winrm/encryption.py (and Windows) lay it out:
 *
 *   --Encrypted Boundary\r\n
 *   \tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n
 *   \tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plaintext bytes>\r\n
 *   --Encrypted Boundary\r\n
 *   \tContent-Type: application/octet-stream\r\n
 *   <signature length, uint32 LE = 16><NTLM signature><sealed envelope>--Encrypted Boundary--\r\n
 *
 * A request is never split: pywinrm splits at 16 KiB only for CredSSP (`multipart/x-multi-encrypted`,
 * whose TLS records cap the size), and sends NTLM-sealed bodies of any size as one part, as here. Replies
 * are read part by part, so a multi-part reply is accepted too. Proven against pywinrm's Encryption class
 * in both directions (encryption.test.ts with test/support/ntlm-judge.py).
 */
import type { MessageSealer } from './ntlm-session.js';

export const ENCRYPTED_BOUNDARY = 'Encrypted Boundary';
export const SPNEGO_ENCRYPTED = 'application/HTTP-SPNEGO-session-encrypted';
/** The Content-Type header of an encrypted request. */
export const ENCRYPTED_CONTENT_TYPE = `multipart/encrypted;protocol="${SPNEGO_ENCRYPTED}";boundary="${ENCRYPTED_BOUNDARY}"`;
const SIGNATURE_LENGTH = 16;

/** An encrypted body that cannot be taken apart, or whose declared length is not the sealed data's. */
export class EncryptedMessageError extends Error {
  override name = 'EncryptedMessageError';
}

export interface EncryptedBody {
  contentType: string;
  body: Buffer;
}

/** Seals one SOAP envelope (the next message of the session) and frames it. */
export function wrap(session: MessageSealer, soap: Buffer | string): EncryptedBody {
  const plain = typeof soap === 'string' ? Buffer.from(soap, 'utf8') : soap;
  const { signature, sealed } = session.seal(plain);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(signature.length, 0);
  const head =
    `--${ENCRYPTED_BOUNDARY}\r\n` +
    `\tContent-Type: ${SPNEGO_ENCRYPTED}\r\n` +
    `\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=${plain.length}\r\n` +
    `--${ENCRYPTED_BOUNDARY}\r\n` +
    `\tContent-Type: application/octet-stream\r\n`;
  const body = Buffer.concat([Buffer.from(head, 'latin1'), length, signature, sealed, Buffer.from(`--${ENCRYPTED_BOUNDARY}--\r\n`, 'latin1')]);
  return { contentType: ENCRYPTED_CONTENT_TYPE, body };
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function parseContentType(value: string): ContentType {
  const [type = '', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    params.set(p.slice(0, eq).trim().toLowerCase(), v);
  }
  return { type: type.trim().toLowerCase(), params };
}

/** True when a reply's Content-Type says its body is NTLM/Kerberos-sealed (MS-WSMV 2.2.9.1.1). */
export function isEncrypted(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const ct = parseContentType(contentType);
  return (ct.type === 'multipart/encrypted' || ct.type === 'multipart/x-multi-encrypted') && ct.params.get('protocol')?.toLowerCase() === SPNEGO_ENCRYPTED.toLowerCase();
}

/** Unseals a reply body: the SOAP envelope, after every part's signature and declared length are checked. */
export function unwrap(session: MessageSealer, contentType: string, body: Buffer): Buffer {
  if (!isEncrypted(contentType)) throw new EncryptedMessageError(`the reply is not NTLM-encrypted (Content-Type: ${contentType})`);
  const boundary = parseContentType(contentType).params.get('boundary') || ENCRYPTED_BOUNDARY;
  const dashes = Buffer.from(`--${boundary}`, 'latin1');
  const crlf = Buffer.from('\r\n', 'latin1');
  function bad(why: string): never {
    throw new EncryptedMessageError(`the encrypted reply is malformed: ${why}`);
  }
  function line(at: number): { text: string; next: number } {
    const end = body.indexOf(crlf, at);
    if (end < 0) bad('a header line has no end');
    return { text: body.subarray(at, end).toString('latin1'), next: end + 2 };
  }
  function header(text: string): [string, string] | undefined {
    const m = /^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$/.exec(text);
    return m ? [m[1]!.toLowerCase(), m[2]!] : undefined;
  }

  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    // First part: the protocol and the original content's length.
    let l = line(at);
    if (l.text !== `--${boundary}`) bad(`expected the boundary "--${boundary}"`);
    let length: number | undefined;
    let protocol: string | undefined;
    for (;;) {
      l = line(l.next);
      if (l.text === `--${boundary}`) break;
      const h = header(l.text);
      if (!h) bad(`unexpected line "${l.text.slice(0, 80)}"`);
      else if (h[0] === 'content-type') protocol = h[1];
      else if (h[0] === 'originalcontent') {
        const m = /(?:^|;)\s*length\s*=\s*(\d+)\s*(?:;|$)/i.exec(h[1]);
        if (!m) bad('OriginalContent has no Length');
        else length = Number(m[1]);
      }
    }
    if (protocol?.toLowerCase() !== SPNEGO_ENCRYPTED.toLowerCase()) bad(`the first part is ${protocol ?? 'untyped'}, not ${SPNEGO_ENCRYPTED}`);
    if (length === undefined) bad('no OriginalContent header');
    // Second part: one header line, then the signature length, the signature and the sealed envelope.
    l = line(l.next);
    const h = header(l.text);
    if (!h || h[0] !== 'content-type' || h[1].toLowerCase() !== 'application/octet-stream') bad('the second part is not application/octet-stream');
    at = l.next;
    if (at + 4 > body.length) bad('it ends before the signature');
    const sigLen = body.readUInt32LE(at);
    if (sigLen !== SIGNATURE_LENGTH) bad(`signature length ${sigLen} (an NTLM signature is ${SIGNATURE_LENGTH})`);
    const signature = body.subarray(at + 4, at + 4 + sigLen);
    const dataStart = at + 4 + sigLen;
    const dataEnd = dataStart + length;
    // The sealed envelope must be exactly Length bytes: the closing boundary follows it (after an
    // optional CRLF), or the data was cut or padded on the way.
    let next = dataEnd;
    if (body.subarray(next, next + 2).equals(crlf) && body.subarray(next + 2, next + 2 + dashes.length).equals(dashes)) next += 2;
    if (dataEnd > body.length || !body.subarray(next, next + dashes.length).equals(dashes)) {
      throw new EncryptedMessageError(`the encrypted reply's sealed data is not the ${length} bytes its OriginalContent declares: truncated or altered in transit`);
    }
    const plain = session.unseal(body.subarray(dataStart, dataEnd), signature);
    if (plain.length !== length) bad(`unsealed ${plain.length} bytes where ${length} were declared`);
    out.push(plain);
    next += dashes.length;
    if (body.subarray(next, next + 2).toString('latin1') === '--') {
      if (body.subarray(next + 2).toString('latin1').trim() !== '') bad('data after the closing boundary');
      return Buffer.concat(out);
    }
    if (!body.subarray(next, next + 2).equals(crlf)) bad('the boundary after the sealed data is not followed by a line end');
    at = next - dashes.length; // the next part starts with this boundary line
  }
}

/**
 * An independent verifier of Huawei Cloud API Gateway "SDK-HMAC-SHA256" AK/SK signatures, written from the
 * published scheme (the "API Request Signing Guide", AK/SK Signing and Authentication Algorithm):
 *
 *   https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-002.html  (canonical request)
 *   https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-003.html  (string to sign)
 *   https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-004.html  (signature)
 *   https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-005.html  (Authorization header)
 *   https://support.huaweicloud.com/en-us/devg-apisign/api-sign-exclude-body.html        (X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD)
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HexEncode(SHA256(body))
 *   StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n HexEncode(SHA256(CanonicalRequest))
 *   Signature        = HexEncode(HMAC-SHA256(SK, StringToSign))
 *   Authorization    = "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>"
 *
 * It deliberately shares nothing with the official SDK's signer nor with src/: it is the other side of the
 * handshake, so a bug in one cannot hide the same bug in the other.
 *
 * Error codes and messages (the gateway answers 401 with `{ error_code, error_msg, request_id }`):
 *   - APIGW.0301 "Incorrect IAM authentication information." 401 — error-code table,
 *     https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-errorcode.html
 *   - "Incorrect IAM authentication information: verify aksk signature fail" and
 *     "Incorrect IAM authentication information: Get secretKey failed,ak:******,err:ak not exist" —
 *     https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-0001.html (and the APIG FAQ apig-faq-0003)
 *   - "Unauthorized" (no Authorization at all) is not in the docs; it is the detail seen in public reports of
 *     requests without credentials.
 *   - The 15-minute window is from api-sign-algorithm-002 ("if the time difference exceeds 15 minutes, API
 *     Gateway rejects the request"); the "signature expired, signature time:…,server time:…" wording is borrowed
 *     from the documented app-auth message (APIG.0303, apig-faq-0009), as the IAM variant's text is not published.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const ALGORITHM = 'SDK-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
const IAM_PREFIX = 'Incorrect IAM authentication information: ';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~ is encoded (UTF-8, upper-case hex). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Each path segment URI-encoded (after undoing the wire encoding), always ending with '/'. */
export function canonicalUri(path: string): string {
  const p = path.startsWith('/') ? path : `/${path}`;
  const encoded = p
    .split('/')
    .map((seg) => rfc3986(decode(seg)))
    .join('/');
  return encoded.endsWith('/') ? encoded : `${encoded}/`;
}

/** Query pairs from a raw query string (no leading '?'); '+' is taken literally, as RFC 3986 does. */
export function parseQuery(raw: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of raw.replace(/^\?/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([decode(k), decode(v)]);
  }
  return out;
}

/** Parameters sorted by encoded name (then encoded value), each `rfc3986(name)=rfc3986(value)`, joined by '&'. */
export function canonicalQueryString(query: URLSearchParams | string): string {
  const pairs: [string, string][] = typeof query === 'string' ? parseQuery(query) : [...query.entries()];
  const enc = pairs.map(([k, v]) => [rfc3986(k), rfc3986(v)] as const);
  enc.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return enc.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerLookup(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function normalizedSignedHeaders(signedHeaders: string[]): string[] {
  return [...new Set(signedHeaders.map((h) => h.trim().toLowerCase()).filter(Boolean))].sort();
}

/**
 * The canonical request. `headers` are looked up case-insensitively; a signed header that is absent counts as
 * empty (verifyRequest refuses such requests before getting here). The payload hash is the SHA-256 of the body,
 * or the literal UNSIGNED-PAYLOAD when the signed X-Sdk-Content-Sha256 header says so.
 */
export function canonicalRequest(
  method: string,
  path: string,
  query: URLSearchParams | string,
  headers: Record<string, string>,
  signedHeaders: string[],
  body: Buffer,
): string {
  const names = normalizedSignedHeaders(signedHeaders);
  const canonicalHeaders = names.map((n) => `${n}:${(headerLookup(headers, n) ?? '').trim()}\n`).join('');
  const contentSha = headerLookup(headers, 'x-sdk-content-sha256');
  const payloadHash =
    names.includes('x-sdk-content-sha256') && contentSha?.trim() === UNSIGNED_PAYLOAD ? UNSIGNED_PAYLOAD : sha256Hex(body);
  return [method.toUpperCase(), canonicalUri(path), canonicalQueryString(query), canonicalHeaders, names.join(';'), payloadHash].join('\n');
}

export function stringToSign(canonical: string, sdkDate: string): string {
  return `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

export function signature(sk: string, toSign: string): string {
  return createHmac('sha256', sk).update(toSign).digest('hex');
}

export function authorizationHeader(ak: string, signedHeaders: string[], sig: string): string {
  return `${ALGORITHM} Access=${ak}, SignedHeaders=${normalizedSignedHeaders(signedHeaders).join(';')}, Signature=${sig}`;
}

export interface ParsedAuthorization {
  ak: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex"; undefined when malformed. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const m = /^SDK-HMAC-SHA256 Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!m) return undefined;
  const signedHeaders = m[2]!.split(';');
  if (signedHeaders.some((h) => !/^[a-z0-9-]+$/.test(h))) return undefined;
  return { ak: m[1]!, signedHeaders, signature: m[3]!.toLowerCase() };
}

/** X-Sdk-Date (YYYYMMDDTHHMMSSZ, UTC) as a Date; undefined when not of that form or not a real instant. */
export function parseSdkDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || t.getUTCHours() !== h || t.getUTCMinutes() !== mi || t.getUTCSeconds() !== s) {
    return undefined;
  }
  return t;
}

export function formatSdkDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export type RejectReason =
  | 'missing-authorization'
  | 'malformed-authorization'
  | 'unknown-ak'
  | 'missing-date'
  | 'malformed-date'
  | 'stale'
  | 'required-header-unsigned'
  | 'signed-header-missing'
  | 'missing-token'
  | 'token-unsigned'
  | 'token-mismatch'
  | 'unexpected-token'
  | 'signature-mismatch';

export type VerifyResult = { ok: true } | { ok: false; code: string; msg: string; reason: RejectReason };

export interface VerifiableRequest {
  method: string;
  /** Path and query as on the request line. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Credentials {
  ak: string;
  sk: string;
  /** Set for temporary credentials: the request must carry (and sign) this X-Security-Token. */
  securityToken?: string;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function reject(reason: RejectReason, detail: string): VerifyResult {
  return { ok: false, code: 'APIGW.0301', msg: IAM_PREFIX + detail, reason };
}

export function verifyRequest(req: VerifiableRequest, creds: Credentials, now: Date, maxSkewMs = DEFAULT_MAX_SKEW_MS): VerifyResult {
  const headers = flatHeaders(req.headers);
  const authorization = headers.authorization;
  if (!authorization) return reject('missing-authorization', 'Unauthorized');
  const auth = parseAuthorization(authorization);
  if (!auth) return reject('malformed-authorization', 'verify aksk signature fail, malformed Authorization header');
  if (!safeEqual(auth.ak, creds.ak)) return reject('unknown-ak', `Get secretKey failed,ak:${auth.ak},err:ak not exist`);

  const sdkDate = headers['x-sdk-date'];
  if (!sdkDate) return reject('missing-date', 'verify aksk signature fail, X-Sdk-Date header is missing');
  const signedAt = parseSdkDate(sdkDate);
  if (!signedAt) return reject('malformed-date', `verify aksk signature fail, X-Sdk-Date [${sdkDate}] is not of the form YYYYMMDDTHHMMSSZ`);
  if (Math.abs(now.getTime() - signedAt.getTime()) > maxSkewMs) {
    return reject('stale', `verify aksk signature fail, signature expired, signature time:${sdkDate},server time:${formatSdkDate(now)}`);
  }

  const signed = normalizedSignedHeaders(auth.signedHeaders);
  for (const required of ['host', 'x-sdk-date']) {
    if (!signed.includes(required)) return reject('required-header-unsigned', `verify aksk signature fail, ${required} is not in SignedHeaders`);
  }
  for (const name of signed) {
    if (headers[name] === undefined) return reject('signed-header-missing', `verify aksk signature fail, signed header ${name} is not in the request`);
  }

  const token = headers['x-security-token'];
  if (creds.securityToken !== undefined) {
    if (token === undefined) return reject('missing-token', 'verify aksk signature fail, X-Security-Token is required for temporary credentials');
    if (!signed.includes('x-security-token')) return reject('token-unsigned', 'verify aksk signature fail, X-Security-Token is not in SignedHeaders');
    if (!safeEqual(token, creds.securityToken)) return reject('token-mismatch', 'verify aksk signature fail, X-Security-Token does not match the access key');
  } else if (token !== undefined) {
    return reject('unexpected-token', 'verify aksk signature fail, X-Security-Token sent with a permanent access key');
  }

  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  const canonical = canonicalRequest(req.method, path, query, headers, signed, req.body);
  const expected = signature(creds.sk, stringToSign(canonical, sdkDate));
  if (!safeEqual(expected, auth.signature)) return reject('signature-mismatch', 'verify aksk signature fail');
  return { ok: true };
}

import { describe, expect, it } from 'vitest';
import {
  authorizationHeader,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  formatSdkDate,
  parseSdkDate,
  sha256Hex,
  signature,
  stringToSign,
  verifyRequest,
  type VerifiableRequest,
} from '../../support/apig-signature.js';

/**
 * The test peer's own AK/SK signature verifier (test/support/apig-signature.ts), checked against the published
 * examples of the "SDK-HMAC-SHA256" scheme before it is trusted to judge the official SDK's requests.
 */

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Vector 1 — the worked example of Huawei's "API Request Signing Guide" (a VPC list request):
 *   canonical request:  https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-002.html
 *   string to sign:     https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-003.html
 *                       ("SDK-HMAC-SHA256\n20191115T033655Z\nb25362e6…bcd7a")
 *   signature:          https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-004.html
 *                       (SK MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc → 7be66680…6ebe)
 *   Authorization:      https://support.huaweicloud.com/devg-apisign/api-sign-algorithm-005.html
 * The same AK/SK/date/signature is asserted by the official Java SDK's test
 *   huaweicloud/huaweicloud-sdk-java-v3: core/src/test/java/com/huaweicloud/sdk/core/TestAKSKSigner.java
 */
const DOC = {
  ak: 'QTWAOYTTINDUT2QVKYUC',
  sk: 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc',
  date: '20191115T033655Z',
  method: 'GET',
  path: '/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs',
  query: 'limit=2&marker=13551d6b-755d-4757-b956-536f674975c0',
  headers: { 'Content-Type': 'application/json', Host: 'service.region.example.com', 'X-Sdk-Date': '20191115T033655Z' },
  signedHeaders: ['content-type', 'host', 'x-sdk-date'],
  canonicalHash: 'b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a',
  signature: '7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe',
};

/**
 * Vectors 2 and 3 — the official Go SDK's signer test, which fixes AK "AccessKey", SK "SecretKey",
 * X-Sdk-Date 20060102T150405Z and signs only x-sdk-date (its signer leaves out headers with '_' and,
 * in these cases, Content-Type and Host):
 *   huaweicloud/huaweicloud-sdk-go-v3: core/auth/signer/signer_test.go (TestSigner_Sign)
 * The POST body is TestBody{Name: "test", Id: 1} as the Go SDK serializes it: a json.Encoder, which ends the
 * document with a newline — the vector only reproduces with that byte, which shows the whole body is hashed.
 * Vector 4 — the same file's TestSigner_canonicalQueryString (encoding of a query with UTF-8 and reserved characters).
 */
const GO = { ak: 'AccessKey', sk: 'SecretKey', date: '20060102T150405Z' };

function signedRequest(o: {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  ak?: string;
  sk?: string;
  date?: string;
  signed?: string[];
}): VerifiableRequest {
  const date = o.date ?? formatSdkDate(new Date('2026-01-01T00:00:00Z'));
  const headers: Record<string, string> = { host: 'peer.example:443', 'x-sdk-date': date, ...(o.headers ?? {}) };
  const signed = o.signed ?? Object.keys(headers);
  const body = Buffer.from(o.body ?? '');
  const q = o.url.indexOf('?');
  const canonical = canonicalRequest(o.method ?? 'GET', q < 0 ? o.url : o.url.slice(0, q), q < 0 ? '' : o.url.slice(q + 1), headers, signed, body);
  const sig = signature(o.sk ?? 'sk-secret', stringToSign(canonical, date));
  return { method: o.method ?? 'GET', url: o.url, body, headers: { ...headers, authorization: authorizationHeader(o.ak ?? 'AK-TEST', signed, sig) } };
}

const CREDS = { ak: 'AK-TEST', sk: 'sk-secret' };
const NOW = new Date('2026-01-01T00:00:00Z');

describe('the canonical request', () => {
  it('of the signing guide\'s VPC example hashes to the published HashedCanonicalRequest', () => {
    const c = canonicalRequest(DOC.method, DOC.path, DOC.query, DOC.headers, DOC.signedHeaders, Buffer.alloc(0));
    expect(c).toBe(
      [
        'GET',
        '/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/',
        'limit=2&marker=13551d6b-755d-4757-b956-536f674975c0',
        'content-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n',
        'content-type;host;x-sdk-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    expect(sha256Hex(c)).toBe(DOC.canonicalHash);
  });

  it('always ends the canonical URI with "/" and URI-encodes each path segment', () => {
    expect(canonicalUri('/v1/p/vpcs')).toBe('/v1/p/vpcs/');
    expect(canonicalUri('/v1/p/vpcs/')).toBe('/v1/p/vpcs/');
    expect(canonicalUri('/v1/a%20b/c*d')).toBe('/v1/a%20b/c%2Ad/');
  });

  it('sorts the query by parameter name whatever order it was sent in, and encodes names and values per RFC 3986', () => {
    expect(canonicalQueryString('marker=13551d6b-755d-4757-b956-536f674975c0&limit=2')).toBe(DOC.query);
    // huaweicloud-sdk-go-v3 core/auth/signer/signer_test.go TestSigner_canonicalQueryString
    const q = new URLSearchParams();
    q.append('limit', '1');
    q.append('enable', 'true');
    q.append('test', '一 (&=?!#%.*)');
    q.append('path', '/tmp/123');
    for (const v of ['1', '2', '3']) q.append('multi', v);
    expect(canonicalQueryString(q)).toBe(
      'enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29',
    );
  });

  it('lowercases and trims the signed headers, and uses UNSIGNED-PAYLOAD in place of the body hash only when that header is signed', () => {
    const h = { 'X-Sdk-Content-Sha256': 'UNSIGNED-PAYLOAD', Host: '  h  ', 'X-Sdk-Date': GO.date };
    const unsignedBody = canonicalRequest('put', '/x', '', h, ['Host', 'X-Sdk-Date', 'X-Sdk-Content-Sha256'], Buffer.from('{}'));
    expect(unsignedBody.split('\n')).toEqual(['PUT', '/x/', '', 'host:h', 'x-sdk-content-sha256:UNSIGNED-PAYLOAD', `x-sdk-date:${GO.date}`, '', 'host;x-sdk-content-sha256;x-sdk-date', 'UNSIGNED-PAYLOAD']);
    const hashed = canonicalRequest('PUT', '/x', '', h, ['host', 'x-sdk-date'], Buffer.from('{}'));
    expect(hashed.endsWith(`\n${sha256Hex('{}')}`)).toBe(true);
  });
});

describe('the string to sign and the signature', () => {
  it('reproduce the signing guide\'s published string to sign and signature', () => {
    const c = canonicalRequest(DOC.method, DOC.path, DOC.query, DOC.headers, DOC.signedHeaders, Buffer.alloc(0));
    const s = stringToSign(c, DOC.date);
    expect(s).toBe(`SDK-HMAC-SHA256\n20191115T033655Z\n${DOC.canonicalHash}`);
    expect(signature(DOC.sk, s)).toBe(DOC.signature);
    expect(authorizationHeader(DOC.ak, DOC.signedHeaders, signature(DOC.sk, s))).toBe(
      `SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=${DOC.signature}`,
    );
  });

  it('reproduce the Go SDK\'s GET vector (query limit=1, only x-sdk-date signed)', () => {
    const c = canonicalRequest('GET', '/path', 'limit=1', { 'X-Sdk-Date': GO.date, TEST_UNDERSCORE: 'TEST_VALUE' }, ['x-sdk-date'], Buffer.alloc(0));
    expect(signature(GO.sk, stringToSign(c, GO.date))).toBe('5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624');
  });

  it('reproduce the Go SDK\'s POST vector (JSON body hashed into the signature)', () => {
    const body = Buffer.from(`${JSON.stringify({ Name: 'test', Id: 1 })}\n`);
    const c = canonicalRequest('POST', '/path', 'key=value', { 'X-Sdk-Date': GO.date, 'Content-Type': 'application/json' }, ['x-sdk-date'], body);
    expect(signature(GO.sk, stringToSign(c, GO.date))).toBe('cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59');
  });
});

describe('X-Sdk-Date', () => {
  it('is read only in the basic ISO 8601 UTC form YYYYMMDDTHHMMSSZ, and only when it names a real instant', () => {
    expect(parseSdkDate('20191115T033655Z')?.toISOString()).toBe('2019-11-15T03:36:55.000Z');
    for (const bad of ['2019-11-15T03:36:55Z', '20191115T033655', '20191315T033655Z', '20190230T000000Z', '20191115T246000Z', '']) {
      expect(parseSdkDate(bad), bad).toBeUndefined();
    }
    expect(formatSdkDate(new Date('2019-11-15T03:36:55.789Z'))).toBe('20191115T033655Z');
  });
});

describe('verifyRequest', () => {
  it('accepts the signing guide\'s example request at its own date', () => {
    const req: VerifiableRequest = {
      method: 'GET',
      url: `${DOC.path}?${DOC.query}`,
      body: Buffer.alloc(0),
      headers: {
        'content-type': 'application/json',
        host: 'service.region.example.com',
        'x-sdk-date': DOC.date,
        authorization: `SDK-HMAC-SHA256 Access=${DOC.ak}, SignedHeaders=content-type;host;x-sdk-date, Signature=${DOC.signature}`,
      },
    };
    expect(verifyRequest(req, { ak: DOC.ak, sk: DOC.sk }, new Date('2019-11-15T03:40:00Z'))).toEqual({ ok: true });
  });

  it('accepts a well-signed request with a body and query, whatever the order of the query on the wire', () => {
    const req = signedRequest({ method: 'PUT', url: '/v1/p/things?b=2&a=1&a=0', body: '{"x":1}', headers: { 'content-type': 'application/json' } });
    expect(verifyRequest(req, CREDS, NOW)).toEqual({ ok: true });
  });

  it('rejects a tampered body as APIGW.0301 "verify aksk signature fail"', () => {
    const req = signedRequest({ method: 'PUT', url: '/v1/p/things', body: '{"new_password":"Aa1!aaaa"}' });
    const r = verifyRequest({ ...req, body: Buffer.from('{"new_password":"Bb2!bbbb"}') }, CREDS, NOW);
    expect(r).toMatchObject({ ok: false, code: 'APIGW.0301', reason: 'signature-mismatch', msg: 'Incorrect IAM authentication information: verify aksk signature fail' });
  });

  it('rejects a tampered query and a tampered path', () => {
    const req = signedRequest({ url: '/v1/p/cloudservers/detail?limit=25&offset=1' });
    expect(verifyRequest({ ...req, url: '/v1/p/cloudservers/detail?limit=25&offset=2' }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(verifyRequest({ ...req, url: '/v1/q/cloudservers/detail?limit=25&offset=1' }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  it('rejects a tampered signed header, but not a changed unsigned one', () => {
    const req = signedRequest({ url: '/v1/p/x', headers: { 'x-project-id': 'p' }, signed: ['host', 'x-sdk-date', 'x-project-id'] });
    expect(verifyRequest({ ...req, headers: { ...req.headers, 'x-project-id': 'q' } }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(verifyRequest({ ...req, headers: { ...req.headers, 'user-agent': 'anything' } }, CREDS, NOW)).toEqual({ ok: true });
  });

  it('rejects a signature made with the wrong SK, and an AK it does not know', () => {
    expect(verifyRequest(signedRequest({ url: '/v1/p/x', sk: 'not-the-secret' }), CREDS, NOW)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(verifyRequest(signedRequest({ url: '/v1/p/x', ak: 'AK-OTHER' }), CREDS, NOW)).toMatchObject({
      ok: false,
      code: 'APIGW.0301',
      reason: 'unknown-ak',
      msg: 'Incorrect IAM authentication information: Get secretKey failed,ak:AK-OTHER,err:ak not exist',
    });
  });

  it('rejects a signature older or newer than 15 minutes, and accepts one just inside the window', () => {
    const req = signedRequest({ url: '/v1/p/x', date: '20260101T000000Z' });
    expect(verifyRequest(req, CREDS, new Date('2026-01-01T00:15:00Z'))).toEqual({ ok: true });
    expect(verifyRequest(req, CREDS, new Date('2025-12-31T23:45:00Z'))).toEqual({ ok: true });
    const late = verifyRequest(req, CREDS, new Date('2026-01-01T00:15:01Z'));
    expect(late).toMatchObject({ ok: false, code: 'APIGW.0301', reason: 'stale' });
    expect(!late.ok && late.msg).toContain('signature time:20260101T000000Z,server time:20260101T001501Z');
    expect(verifyRequest(req, CREDS, new Date('2025-12-31T23:44:59Z'))).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('rejects a missing or malformed X-Sdk-Date', () => {
    const req = signedRequest({ url: '/v1/p/x' });
    const { 'x-sdk-date': _, ...noDate } = req.headers;
    expect(verifyRequest({ ...req, headers: noDate }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'missing-date' });
    expect(verifyRequest({ ...req, headers: { ...req.headers, 'x-sdk-date': '2026-01-01T00:00:00Z' } }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'malformed-date' });
  });

  it('rejects a missing or malformed Authorization header', () => {
    const req = signedRequest({ url: '/v1/p/x' });
    const { authorization, ...noAuth } = req.headers;
    expect(verifyRequest({ ...req, headers: noAuth }, CREDS, NOW)).toMatchObject({ ok: false, code: 'APIGW.0301', reason: 'missing-authorization' });
    const auth = String(authorization);
    for (const bad of [
      auth.replace('SDK-HMAC-SHA256', 'AWS4-HMAC-SHA256'),
      auth.replace('Access=', 'Credential='),
      auth.replace(', SignedHeaders=', ' SignedHeaders='),
      auth.slice(0, -1),
      auth.replace('SignedHeaders=host', 'SignedHeaders=Host'),
    ]) {
      expect(verifyRequest({ ...req, headers: { ...req.headers, authorization: bad } }, CREDS, NOW), bad).toMatchObject({ ok: false, reason: 'malformed-authorization' });
    }
  });

  it('rejects a signature that does not cover host and x-sdk-date, or names a header the request lacks', () => {
    expect(verifyRequest(signedRequest({ url: '/v1/p/x', signed: ['x-sdk-date'] }), CREDS, NOW)).toMatchObject({ ok: false, reason: 'required-header-unsigned' });
    expect(verifyRequest(signedRequest({ url: '/v1/p/x', signed: ['host'] }), CREDS, NOW)).toMatchObject({ ok: false, reason: 'required-header-unsigned' });
    const req = signedRequest({ url: '/v1/p/x', headers: { 'x-project-id': 'p' } });
    const { 'x-project-id': _, ...lacking } = req.headers;
    expect(verifyRequest({ ...req, headers: lacking }, CREDS, NOW)).toMatchObject({ ok: false, reason: 'signed-header-missing' });
  });

  describe('with temporary credentials (a security token configured)', () => {
    const TEMP = { ...CREDS, securityToken: 'token-123' };

    it('accepts a request that signs the matching X-Security-Token', () => {
      expect(verifyRequest(signedRequest({ url: '/v1/p/x', headers: { 'x-security-token': 'token-123' } }), TEMP, NOW)).toEqual({ ok: true });
    });

    it('rejects a request without the token, with another token, or with the token left out of the signature', () => {
      expect(verifyRequest(signedRequest({ url: '/v1/p/x' }), TEMP, NOW)).toMatchObject({ ok: false, code: 'APIGW.0301', reason: 'missing-token' });
      expect(verifyRequest(signedRequest({ url: '/v1/p/x', headers: { 'x-security-token': 'token-999' } }), TEMP, NOW)).toMatchObject({ ok: false, reason: 'token-mismatch' });
      const unsigned = signedRequest({ url: '/v1/p/x', headers: { 'x-security-token': 'token-123' }, signed: ['host', 'x-sdk-date'] });
      expect(verifyRequest(unsigned, TEMP, NOW)).toMatchObject({ ok: false, reason: 'token-unsigned' });
    });

    it('rejects a token sent with a permanent access key', () => {
      expect(verifyRequest(signedRequest({ url: '/v1/p/x', headers: { 'x-security-token': 'token-123' } }), CREDS, NOW)).toMatchObject({ ok: false, reason: 'unexpected-token' });
    });
  });
});

/**
 * RC4, which NTLM's key exchange and message sealing use (MS-NLMP 3.4.3, 3.1.5.1.2 RC4K). OpenSSL 3 has
 * moved it to the legacy provider, which Node does not load, and no maintained npm package offers it
 * (see docs/DEPENDENCIES.md), so it is these few lines: the key schedule and the keystream of the original
 * algorithm, proven byte for byte against RFC 6229's vectors and MS-NLMP 4.2.4's (rc4.test.ts,
 * ntlm-session.test.ts) and against python-cryptography's ARC4 over long streams (the NTLM judge).
 *
 * A handle keeps its keystream position across calls: NTLM seals every message of one direction, and
 * encrypts every checksum, with one handle that is never reset.
 */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 256) throw new RangeError(`RC4 key of ${key.length} bytes (1 to 256 allowed)`);
    const s = this.s;
    for (let n = 0; n < 256; n++) s[n] = n;
    for (let n = 0, j = 0; n < 256; n++) {
      j = (j + s[n]! + key[n % key.length]!) & 0xff;
      const t = s[n]!;
      s[n] = s[j]!;
      s[j] = t;
    }
  }

  /** Encrypts or decrypts (the same operation), continuing the keystream; returns a new buffer. */
  update(data: Uint8Array): Buffer {
    const s = this.s;
    const out = Buffer.allocUnsafe(data.length);
    let { i, j } = this;
    for (let n = 0; n < data.length; n++) {
      i = (i + 1) & 0xff;
      j = (j + s[i]!) & 0xff;
      const t = s[i]!;
      s[i] = s[j]!;
      s[j] = t;
      out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }
}

/** RC4K(key, data) of MS-NLMP: a fresh handle used once. */
export function rc4k(key: Uint8Array, data: Uint8Array): Buffer {
  return new Rc4(key).update(data);
}

/**
 * NTLM session security (MS-NLMP 3.4): after an NTLMv2 login with extended session security, every
 * message is sealed with RC4 and signed with HMAC-MD5, each direction with its own keys, its own RC4
 * handle and its own sequence number, all derived from the exported session key (`authenticateMessage` in
 * ntlm-messages.ts gives it, with the negotiated flags). encryption.ts frames the result for WinRM.
 *
 *   SIGNKEY = MD5(ExportedSessionKey ‖ "session key to {client-to-server|server-to-client} signing key magic constant\0")
 *   SEALKEY = MD5(ExportedSessionKey[0..16 | 0..7 | 0..5 for 128 / 56 / 40 bits] ‖ "… sealing key magic constant\0")
 *   seal:   sealed = RC4(handle, message);
 *           checksum = HMAC-MD5(SIGNKEY, seq ‖ message)[0..8], then RC4(handle, checksum) when KEY_EXCH;
 *           signature = 01 00 00 00 ‖ checksum ‖ seq (little-endian); seq += 1
 *
 * Proven by MS-NLMP 4.2.4.4's sealed "Plaintext" and signature, and against ntlm-auth's SessionSecurity in
 * both directions (ntlm-session.test.ts with test/support/ntlm-judge.py). Only extended session security
 * is implemented: NTLMv1-style signatures (CRC32) are refused.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NtlmFlag } from './ntlm-messages.js';
import { Rc4 } from './rc4.js';

const MAGIC = {
  clientSign: 'session key to client-to-server signing key magic constant\0',
  serverSign: 'session key to server-to-client signing key magic constant\0',
  clientSeal: 'session key to client-to-server sealing key magic constant\0',
  serverSeal: 'session key to server-to-client sealing key magic constant\0',
};

/** Who sealed a message: the client's messages go client-to-server. */
export type NtlmSide = 'client' | 'server';

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** SIGNKEY (MS-NLMP 3.4.5.2), with extended session security. */
export function signKey(exportedSessionKey: Buffer, side: NtlmSide): Buffer {
  return md5(exportedSessionKey, Buffer.from(side === 'client' ? MAGIC.clientSign : MAGIC.serverSign, 'latin1'));
}

/** SEALKEY (MS-NLMP 3.4.5.3), with extended session security: the key is cut to 56 or 40 bits unless 128 is negotiated. */
export function sealKey(flags: number, exportedSessionKey: Buffer, side: NtlmSide): Buffer {
  const bytes = flags & NtlmFlag.KEY_128 ? 16 : flags & NtlmFlag.KEY_56 ? 7 : 5;
  return md5(exportedSessionKey.subarray(0, bytes), Buffer.from(side === 'client' ? MAGIC.clientSeal : MAGIC.serverSeal, 'latin1'));
}

/** A message that fails its check: altered, replayed, out of order, or sealed with another key. */
export class NtlmIntegrityError extends Error {
  override name = 'NtlmIntegrityError';
}

export interface SealedMessage {
  /** NTLMSSP_MESSAGE_SIGNATURE, 16 bytes. */
  signature: Buffer;
  /** The message encrypted, as long as the message. */
  sealed: Buffer;
}

/** What encryption.ts needs of a session. */
export interface MessageSealer {
  seal(message: Buffer): SealedMessage;
  unseal(sealed: Buffer, signature: Buffer): Buffer;
}

export interface NtlmSessionOptions {
  /** The negotiated flags (the AUTHENTICATE message's). */
  flags: number;
  exportedSessionKey: Buffer;
  /** Which end this is; 'server' is for test peers. Default 'client'. */
  side?: NtlmSide;
}

interface Direction {
  signKey: Buffer;
  handle: Rc4;
  seq: number;
}

/**
 * Both directions of one authenticated connection. A message that fails its check leaves the receiving
 * RC4 handle out of step with the sender's, so the session refuses all further messages after it (the
 * connection must log in again).
 */
export class NtlmSession implements MessageSealer {
  private readonly flags: number;
  private readonly out: Direction;
  private readonly in: Direction;
  private failure: string | undefined;

  constructor(opts: NtlmSessionOptions) {
    const { flags, exportedSessionKey } = opts;
    if (exportedSessionKey.length !== 16) throw new RangeError(`the NTLM exported session key must be 16 bytes, not ${exportedSessionKey.length}`);
    if (!(flags & NtlmFlag.EXTENDED_SESSIONSECURITY)) {
      throw new Error('NTLM message sealing needs extended session security (NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY); NTLMv1-style signatures are not supported');
    }
    if (!(flags & NtlmFlag.SEAL) || !(flags & NtlmFlag.SIGN)) {
      throw new Error('NTLM message sealing needs NTLMSSP_NEGOTIATE_SEAL and NTLMSSP_NEGOTIATE_SIGN, which the login did not negotiate');
    }
    this.flags = flags >>> 0;
    const side = opts.side ?? 'client';
    const other: NtlmSide = side === 'client' ? 'server' : 'client';
    const direction = (from: NtlmSide): Direction => ({
      signKey: signKey(exportedSessionKey, from),
      handle: new Rc4(sealKey(flags, exportedSessionKey, from)),
      seq: 0,
    });
    this.out = direction(side);
    this.in = direction(other);
  }

  /** Sequence number the next sealed message will carry. */
  get sendSequence(): number {
    return this.out.seq;
  }

  /** Sequence number the next message to unseal must carry. */
  get receiveSequence(): number {
    return this.in.seq;
  }

  /** GSS_WrapEx (MS-NLMP 3.4.6): seals the next outgoing message. */
  seal(message: Buffer): SealedMessage {
    const sealed = this.out.handle.update(message);
    const signature = this.sign(this.out, message);
    this.out.seq = (this.out.seq + 1) >>> 0;
    return { signature, sealed };
  }

  /** GSS_UnwrapEx (MS-NLMP 3.4.7): unseals the next incoming message and checks its signature. */
  unseal(sealed: Buffer, signature: Buffer): Buffer {
    if (this.failure) throw new NtlmIntegrityError(`the NTLM session no longer accepts messages: ${this.failure}`);
    const fail = (why: string): never => {
      this.failure = why;
      throw new NtlmIntegrityError(why);
    };
    if (signature.length !== 16) fail(`NTLM message signature of ${signature.length} bytes (16 expected)`);
    if (signature.readUInt32LE(0) !== 1) fail(`NTLM message signature version ${signature.readUInt32LE(0)} (1 expected)`);
    const expectedSeq = this.in.seq;
    const message = this.in.handle.update(sealed);
    const expected = this.sign(this.in, message);
    const seq = signature.readUInt32LE(12);
    if (seq !== expectedSeq) {
      fail(`NTLM message with sequence number ${seq} where ${expectedSeq} was due: a message was replayed, lost or reordered`);
    }
    if (!timingSafeEqual(signature.subarray(4, 12), expected.subarray(4, 12))) {
      fail(`NTLM message signature does not match (sequence number ${seq}): the message was altered in transit or sealed with another key`);
    }
    this.in.seq = (this.in.seq + 1) >>> 0;
    return message;
  }

  /** MAC (MS-NLMP 3.4.4.2), advancing the direction's RC4 handle when KEY_EXCH is negotiated. */
  private sign(d: Direction, message: Buffer): Buffer {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(d.seq, 0);
    let checksum: Buffer = createHmac('md5', d.signKey).update(seq).update(message).digest().subarray(0, 8);
    if (this.flags & NtlmFlag.KEY_EXCH) checksum = d.handle.update(checksum);
    return Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seq]);
  }
}

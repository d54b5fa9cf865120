/** Shared set-up for the WinRM transport specs: a target pointing at a test peer. */
import { WinRmTransport, type WinRmOptions, type WinRmTarget } from '../../../../src/transport/winrm/index.js';
import type { WsmanPeer } from '../../../support/wsman-peer.js';

export function targetFor(peer: WsmanPeer, over: Partial<WinRmTarget> = {}): WinRmTarget {
  const url = new URL(peer.endpoint);
  return {
    name: 'win1',
    host: url.hostname,
    port: Number(url.port),
    scheme: url.protocol === 'https:' ? 'https' : 'http',
    user: peer.user,
    password: peer.password,
    auth: 'basic',
    connectTimeoutMs: 5_000,
    operationTimeoutSec: 5,
    ...over,
  };
}

export function connect(peer: WsmanPeer, over: Partial<WinRmTarget> = {}, opts: WinRmOptions = {}): Promise<WinRmTransport> {
  return WinRmTransport.connect(targetFor(peer, over), opts);
}

/** The rejection of a promise (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { reason?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { reason?: string };
  }
  throw new Error('expected a rejection');
}

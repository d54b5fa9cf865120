/** Shared set-up for the WinRM transport specs: a target pointing at a test peer. */
import { afterEach, expect } from 'vitest';
import { WinRmTransport, type WinRmOptions, type WinRmTarget } from '../../../../src/transport/winrm/index.js';
import { WsmanPeer, type PeerOptions } from '../../../support/wsman-peer.js';

/**
 * Peers for one spec file, started on demand. Every spec ends with no request a Windows host would refuse,
 * and no shell left open; the peers are closed after each spec.
 */
export interface PeerPool {
  (opts?: PeerOptions): Promise<WsmanPeer>;
  /** Takes a peer out of the after-spec checks (a spec that closed it on purpose). */
  release(p: WsmanPeer): void;
}
export function usePeers(): PeerPool {
  const peers: WsmanPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) {
      expect(p.violations).toEqual([]);
      expect(p.openShells()).toEqual([]);
      await p.close();
    }
  });
  const start = async (opts: PeerOptions = {}) => {
    const p = await WsmanPeer.start(opts);
    peers.push(p);
    return p;
  };
  return Object.assign(start, { release: (p: WsmanPeer) => void peers.splice(peers.indexOf(p), 1) });
}

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
    // The peers listen on loopback over http: the specs opt in to Basic over http, as an operator must.
    cleartextBasic: true,
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

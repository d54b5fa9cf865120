import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInventoryFile } from '../../../src/inventory/load.js';
import { passwordLogin } from '../../../src/session/open.js';
import { KnownHosts } from '../../../src/transport/known-hosts.js';
import { makeTestPki, type TestPki } from '../../support/wsman-peer-tls.js';
import { WsmanPeer } from '../../support/wsman-peer.js';

/**
 * The fresh login that proves a reset password, over WinRM: opening a shell with the password alone is the
 * login; the host's answer says whether it holds. Never tried over plain http (the password would cross in clear).
 */
let pki: TestPki;
let peer: WsmanPeer;
let dir: string;
let current = 'Before-Reset-2026!';

beforeAll(async () => {
  pki = makeTestPki();
  dir = mkdtempSync(path.join(os.tmpdir(), 'session-open-'));
  peer = await WsmanPeer.start({ user: 'Administrator', password: () => current, schemes: ['ntlm'], tls: { key: pki.key, cert: pki.cert } });
});
afterAll(async () => {
  await peer.close();
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

const target = (line: string) => {
  const f = path.join(dir, 'inv.ini');
  writeFileSync(f, `${line}\n`);
  return loadInventoryFile(f)[0]!;
};
const conn = { connectTimeoutMs: 5_000 } as Parameters<typeof passwordLogin>[1];

describe('passwordLogin over WinRM', () => {
  it('HTTPS with NTLM: true with the password the host holds, false with any other; no shell left open', async () => {
    const t = target(`win1 ansible_host=127.0.0.1 ansible_port=${peer.port} ansible_connection=winrm ansible_winrm_scheme=https ansible_winrm_transport=ntlm ansible_winrm_ca_trust_path=${pki.caFile} ansible_user=Administrator ansible_password=${current}`);
    const kh = new KnownHosts(path.join(dir, 'known_hosts'));
    expect(await passwordLogin(t, conn, kh, 'Administrator', current)).toBe(true);
    current = 'After-Reset-2026!';
    expect(await passwordLogin(t, conn, kh, 'Administrator', 'After-Reset-2026!')).toBe(true);
    expect(await passwordLogin(t, conn, kh, 'Administrator', 'Before-Reset-2026!')).toBe(false);
    expect(peer.openShells()).toEqual([]);
    expect(peer.violations).toEqual([]);
  });

  it('plain http: not tried (null), nothing sent', async () => {
    const before = peer.connections;
    const t = target(`win2 ansible_host=127.0.0.1 ansible_port=${peer.port} ansible_connection=winrm ansible_winrm_scheme=http ansible_winrm_transport=basic winrm_cleartext_basic=true ansible_user=Administrator ansible_password=x`);
    expect(await passwordLogin(t, conn, new KnownHosts(path.join(dir, 'known_hosts')), 'Administrator', current)).toBe(null);
    expect(peer.connections).toBe(before);
  });
});

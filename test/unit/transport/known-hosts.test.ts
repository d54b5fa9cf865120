import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KnownHosts, fingerprint, hostsFieldMatches, preferPinned } from '../../../src/transport/known-hosts.js';

const keyA = Buffer.from('0000000b7373682d6564323535313900000020' + 'aa'.repeat(32), 'hex');
const keyB = Buffer.from('0000000b7373682d6564323535313900000020' + 'bb'.repeat(32), 'hex');
const file = (text: string) => {
  const p = path.join(mkdtempSync(path.join(os.tmpdir(), 'kh-')), 'known_hosts');
  writeFileSync(p, text);
  return p;
};
const hashed = (token: string, salt = Buffer.alloc(20, 7)) =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(token).digest('base64')}`;

describe('known_hosts', () => {
  it('matches plain names, [host]:port, comma lists and hashed entries', () => {
    const kh = new KnownHosts(
      file(`web1,10.0.0.1 ssh-ed25519 ${keyA.toString('base64')}\n[10.0.0.2]:2222 ssh-ed25519 ${keyA.toString('base64')}\n${hashed('10.0.0.3')} ssh-ed25519 ${keyA.toString('base64')}\n`),
    );
    expect(kh.verify('10.0.0.1', 22, 'ssh-ed25519', keyA).status).toBe('match');
    expect(kh.verify('10.0.0.2', 2222, 'ssh-ed25519', keyA).status).toBe('match');
    expect(kh.verify('10.0.0.2', 22, 'ssh-ed25519', keyA).status).toBe('unknown');
    expect(kh.verify('10.0.0.3', 22, 'ssh-ed25519', keyA).status).toBe('match');
    expect(kh.verify('10.0.0.9', 22, 'ssh-ed25519', keyA, 'web1').status).toBe('match');
  });

  it('reports a changed key with the fingerprints known, and never matches a negated name', () => {
    const p = file(`10.0.0.1 ssh-ed25519 ${keyA.toString('base64')}\n*.lab,!evil.lab ssh-ed25519 ${keyA.toString('base64')}\n`);
    const v = new KnownHosts(p).verify('10.0.0.1', 22, 'ssh-ed25519', keyB);
    expect(v).toEqual({ status: 'changed', expected: [fingerprint(keyA.toString('base64'))], file: p, lines: [1], knownTypes: ['ssh-ed25519'] });
    expect(hostsFieldMatches('*.lab,!evil.lab', ['good.lab'])).toBe(true);
    expect(hostsFieldMatches('*.lab,!evil.lab', ['evil.lab'])).toBe(false);
  });

  it('refuses a key marked @revoked; a known host offering a key of a type never pinned for it has changed (it was "unknown", and --accept-new recorded it)', () => {
    const p = file(`@revoked * ssh-ed25519 ${keyB.toString('base64')}\n10.0.0.1 ecdsa-sha2-nistp256 AAAA\n`);
    const kh = new KnownHosts(p);
    expect(kh.verify('10.0.0.1', 22, 'ssh-ed25519', keyB).status).toBe('revoked');
    expect(kh.verify('10.0.0.1', 22, 'ssh-ed25519', keyA)).toEqual({ status: 'changed', expected: [fingerprint('AAAA')], file: p, lines: [2], knownTypes: ['ecdsa-sha2-nistp256'] });
    expect(kh.verify('10.0.0.2', 22, 'ssh-ed25519', keyA).status).toBe('unknown');
  });

  it('a host vouched for only by a @cert-authority line is ca-only: no plain key is trusted on first use in its place', () => {
    const p = file(`@cert-authority *.lab ssh-ed25519 ${keyB.toString('base64')}\n`);
    expect(new KnownHosts(p).verify('10.0.0.7', 22, 'ssh-ed25519', keyA, 'web.lab')).toEqual({ status: 'ca-only', file: p, lines: [1] });
    expect(new KnownHosts(p).verify('10.0.0.7', 22, 'ssh-ed25519', keyA, 'web.other').status).toBe('unknown');
  });

  it('asks for the pinned key types first, as OpenSSH orders HostKeyAlgorithms (an RSA key serves the rsa-sha2 algorithms)', () => {
    const kh = new KnownHosts(file(`10.0.0.1 ssh-rsa AAAA\n10.0.0.2 ecdsa-sha2-nistp256 AAAA\n`));
    const list = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    expect(preferPinned(list, kh.pinnedTypes('10.0.0.1', 22))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(preferPinned(list, kh.pinnedTypes('10.0.0.2', 22))).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(preferPinned(list, kh.pinnedTypes('10.0.0.3', 22))).toEqual(list);
  });

  it('records a first-seen key hashed (no host names in the file), and then matches it', () => {
    const p = file('');
    const kh = new KnownHosts(p);
    kh.add('10.0.0.5', 2222, 'ssh-ed25519', keyA);
    const text = readFileSync(p, 'utf8');
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(text).not.toContain('10.0.0.5');
    expect(new KnownHosts(p).verify('10.0.0.5', 2222, 'ssh-ed25519', keyA).status).toBe('match');
  });

  it('fingerprints as OpenSSH prints them (SHA256:, base64 without padding)', () => {
    expect(fingerprint(keyA.toString('base64'))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

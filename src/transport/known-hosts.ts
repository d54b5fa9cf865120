import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * OpenSSH known_hosts: plain and hashed (|1|salt|hmac) host entries, [host]:port, comma lists, wildcard
 * patterns and negations, @revoked and @cert-authority markers. Keys are compared as their wire blobs.
 */
export interface KnownHostEntry {
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  hosts: string; // as written (may be hashed)
  keyType: string;
  keyBase64: string;
}

export type HostKeyVerdict =
  | { status: 'match' }
  | { status: 'unknown' }
  | { status: 'changed'; expected: string[]; file: string; lines: number[]; knownTypes: string[] }
  | { status: 'revoked'; file: string; line: number }
  /** No key pinned, but a @cert-authority line vouches for the host: only a host certificate may be trusted. */
  | { status: 'ca-only'; file: string; lines: number[] };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, keyBase64] = parts;
    if (!hosts || !keyType || !keyBase64) return; // malformed: OpenSSH skips it too
    out.push({ line: i + 1, marker, hosts, keyType, keyBase64 });
  });
  return out;
}

/** The name OpenSSH looks up: "host" for port 22, "[host]:port" otherwise. */
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(s);
}

/** Does a known_hosts host field name this host? Hashed fields are HMAC-SHA1(salt, token). */
export function hostsFieldMatches(field: string, tokens: string[]): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const key = Buffer.from(salt, 'base64');
    return tokens.some((t) => createHmac('sha1', key).update(t).digest('base64') === hash);
  }
  let matched = false;
  for (const pat of field.split(',')) {
    const negated = pat.startsWith('!');
    const p = negated ? pat.slice(1) : pat;
    if (tokens.some((t) => globMatch(p, t))) {
      if (negated) return false; // a matching negation overrides everything on the line
      matched = true;
    }
  }
  return matched;
}

export function fingerprint(keyBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Verifies a presented host key (its wire blob) for host:port against one known_hosts file. A host may
 * have several keys of several types; a listed key that matches is a match. A host with any key pinned that
 * presents another key — of the same type or of a type never pinned for it — is a changed key: the client
 * asks for the pinned types first (preferPinned), so a server that still has its pinned key shows it, and a
 * man-in-the-middle offering only a type of its choosing is refused, not recorded by --accept-new. A host
 * with no key but a @cert-authority line is `ca-only`: the operator trusts certificates there, and a plain
 * key must not be trusted on first use in their place. A key marked @revoked is refused everywhere.
 */
export class KnownHosts {
  private entries: KnownHostEntry[];

  constructor(readonly file: string) {
    this.entries = existsSync(file) ? parseKnownHosts(readFileSync(file, 'utf8')) : [];
  }

  verify(host: string, port: number, keyType: string, keyBlob: Buffer, alias?: string): HostKeyVerdict {
    const presented = keyBlob.toString('base64');
    const mine = this.linesFor(host, port, alias);
    const revoked = this.entries.find((e) => e.marker === '@revoked' && e.keyBase64 === presented);
    if (revoked) return { status: 'revoked', file: this.file, line: revoked.line };
    const plain = mine.filter((e) => e.marker === '');
    if (plain.some((e) => e.keyType === keyType && e.keyBase64 === presented)) return { status: 'match' };
    if (plain.length > 0) {
      // The keys it was pinned with: those of the offered type when there are some, else all of them.
      const sameType = plain.filter((e) => e.keyType === keyType);
      const known = sameType.length > 0 ? sameType : plain;
      return {
        status: 'changed',
        expected: known.map((e) => fingerprint(e.keyBase64)),
        file: this.file,
        lines: known.map((e) => e.line),
        knownTypes: [...new Set(plain.map((e) => e.keyType))],
      };
    }
    const cas = mine.filter((e) => e.marker === '@cert-authority');
    if (cas.length > 0) return { status: 'ca-only', file: this.file, lines: cas.map((e) => e.line) };
    return { status: 'unknown' };
  }

  /** The key types pinned for a host (plain lines naming it), to ask the server for those first. */
  pinnedTypes(host: string, port: number, alias?: string): string[] {
    return [...new Set(this.linesFor(host, port, alias).filter((e) => e.marker === '').map((e) => e.keyType))];
  }

  /** The lines naming host:port (or the inventory alias it was given as). */
  private linesFor(host: string, port: number, alias?: string): KnownHostEntry[] {
    const tokens = [hostToken(host, port)];
    if (alias && alias !== host) tokens.push(hostToken(alias, port));
    return this.entries.filter((e) => hostsFieldMatches(e.hosts, tokens));
  }

  /** Records a key first seen (--accept-new), hashed like `HashKnownHosts yes` so the file leaks no names. */
  add(host: string, port: number, keyType: string, keyBlob: Buffer): void {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(hostToken(host, port)).digest('base64');
    const line = `|1|${salt.toString('base64')}|${hash} ${keyType} ${keyBlob.toString('base64')}\n`;
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    appendFileSync(this.file, line, { mode: 0o600 });
    this.entries.push(...parseKnownHosts(line).map((e) => ({ ...e, line: this.entries.length + 1 })));
  }
}

/** The key type a host key algorithm signs with (an RSA key serves ssh-rsa and both rsa-sha2 algorithms). */
function keyTypeOfAlgorithm(a: string): string {
  return a === 'rsa-sha2-256' || a === 'rsa-sha2-512' ? 'ssh-rsa' : a;
}

/**
 * The host key algorithms to offer, those of the host's pinned key types first (in the list's own order),
 * as OpenSSH orders HostKeyAlgorithms from known_hosts: the server then shows the key the operator pinned,
 * even when it also has one of a type the client would otherwise prefer.
 */
export function preferPinned(algorithms: string[], pinnedTypes: string[]): string[] {
  if (pinnedTypes.length === 0) return algorithms;
  const pinned = new Set(pinnedTypes);
  const first = algorithms.filter((a) => pinned.has(keyTypeOfAlgorithm(a)));
  return [...first, ...algorithms.filter((a) => !pinned.has(keyTypeOfAlgorithm(a)))];
}

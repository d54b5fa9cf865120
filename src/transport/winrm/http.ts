/**
 * POSTs SOAP envelopes to one host's /wsman over node:http or node:https, with Basic or NTLM login, and
 * turns every way that can fail into a TransportError with the per-host reason.
 *
 * One keep-alive agent per host with a single socket: requests of one transport go one at a time (the
 * shell protocol is request/response anyway), and NTLM authenticates a connection, not a request, so the
 * Type 1 → challenge → Type 3 exchange must happen on one socket and later requests ride on it without
 * credentials. A request that finds its socket no longer authenticated (401) logs in again.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TransportError } from '../transport.js';
import { authenticateToken, negotiateToken, splitUser, type NtlmUser } from './ntlm.js';

export const SOAP_CONTENT_TYPE = 'application/soap+xml;charset=UTF-8';
const USER_AGENT = 'resetpwd-fleet WinRM client';

export interface HttpSettings {
  url: URL;
  auth: 'basic' | 'ntlm';
  user: string;
  password: string;
  caFile?: string | undefined;
  insecure?: boolean | undefined;
  /** `name (host:port)`, the prefix of every message. */
  where: string;
  connectTimeoutMs: number;
  /** Largest response body accepted, so a broken peer cannot make us buffer without end. */
  maxResponseBytes: number;
}

export interface HttpReply {
  status: number;
  body: string;
}

interface RawReply extends HttpReply {
  authenticate: string[];
  socket: Socket;
}

/** What to send once the socket is known: NTLM decides per socket whether to log in first. */
interface Choice {
  authorization?: string | undefined;
  /** false: send an empty body (NTLM's Type 1 step, whose reply is always 401). */
  withBody: boolean;
}

/** Certificate problems that mean "we could not verify who this is", as opposed to a broken handshake. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT']);
const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

export class WsmanHttp {
  private readonly agent: http.Agent;
  private readonly secure: boolean;
  private readonly authed = new WeakSet<Socket>();
  private readonly ntlmUser: NtlmUser;
  private queue: Promise<unknown> = Promise.resolve();
  /** After the first answer, a refused or reset connection means the host went away ('lost'), not 'unreachable'. */
  private answered = false;

  constructor(private readonly s: HttpSettings) {
    this.secure = s.url.protocol === 'https:';
    this.ntlmUser = splitUser(s.user);
    // Free sockets are closed after 30 s, well before HTTP.sys drops idle connections (120 s), so a reused
    // socket is not one the server has already closed.
    const common = { keepAlive: true, maxSockets: 1, timeout: 30_000 };
    if (this.secure) {
      let ca: Buffer | undefined;
      if (s.caFile) {
        try {
          ca = readFileSync(s.caFile);
        } catch (e) {
          throw new TransportError('protocol', `${s.where}: cannot read the CA file ${s.caFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
      }
      // Certificates are verified unless the target explicitly says insecure; a CA file replaces the
      // system's trusted roots for this host (the usual case: an internal CA that signed WinRM's cert).
      this.agent = new https.Agent({ ...common, ...(ca ? { ca } : {}), rejectUnauthorized: s.insecure !== true });
    } else {
      this.agent = new http.Agent(common);
    }
  }

  /** Sends one envelope and returns the reply of status 200 or 500 (a SOAP fault); anything else throws. */
  post(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpReply> {
    const run = this.queue.then(() => this.postNow(xml, timeoutMs, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the sockets; a request still in flight fails. */
  destroy(): void {
    this.agent.destroy();
  }

  private async postNow(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpReply> {
    const r = this.s.auth === 'basic' ? await this.postBasic(xml, timeoutMs, signal) : await this.postNtlm(xml, timeoutMs, signal);
    if (r.status === 200 || (r.status === 500 && r.body.includes('Envelope'))) return { status: r.status, body: r.body };
    throw new TransportError('protocol', `${this.s.where}: WinRM answered HTTP ${r.status}${r.body ? ` (${r.body.replace(/\s+/g, ' ').slice(0, 200)})` : ''}`);
  }

  private async postBasic(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<RawReply> {
    const token = Buffer.from(`${this.s.user}:${this.s.password}`, 'utf8').toString('base64');
    const r = await this.roundTrip(xml, () => ({ authorization: `Basic ${token}`, withBody: true }), timeoutMs, signal);
    if (r.status === 401) throw this.authFailed(r.authenticate);
    return r;
  }

  private async postNtlm(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<RawReply> {
    // Two rounds at most: a socket we believed logged in may have been reset by the server.
    for (let round = 0; round < 2; round++) {
      let handshake: Socket | undefined;
      const r = await this.roundTrip(
        xml,
        (sock) => {
          if (this.authed.has(sock)) return { withBody: true };
          handshake = sock;
          return { authorization: `Negotiate ${negotiateToken(this.ntlmUser)}`, withBody: false };
        },
        timeoutMs,
        signal,
      );
      if (!handshake) {
        if (r.status !== 401) return r;
        this.authed.delete(r.socket);
        continue;
      }
      const challenge = r.status === 401 ? challengeOf(r.authenticate) : undefined;
      if (!challenge) {
        if (r.status === 401) throw this.authFailed(r.authenticate);
        throw new TransportError('protocol', `${this.s.where}: expected an NTLM challenge, got HTTP ${r.status}`);
      }
      let type3: string;
      try {
        type3 = authenticateToken(challenge, this.ntlmUser, this.s.password);
      } catch (e) {
        throw new TransportError('protocol', `${this.s.where}: ${(e as Error).message}`);
      }
      const first = handshake;
      const r2 = await this.roundTrip(
        xml,
        (sock) => {
          if (sock !== first) throw new TransportError('protocol', `${this.s.where}: the host closed the connection in the middle of the NTLM login`);
          return { authorization: `Negotiate ${type3}`, withBody: true };
        },
        timeoutMs,
        signal,
      );
      if (r2.status === 401) throw this.authFailed(r2.authenticate);
      this.authed.add(first);
      return r2;
    }
    throw this.authFailed([]);
  }

  private authFailed(offered: string[]): TransportError {
    const method = this.s.auth === 'basic' ? 'Basic' : 'NTLM (Negotiate)';
    const wanted = this.s.auth === 'basic' ? 'basic' : 'negotiate';
    const schemes = [...new Set(offered.map((h) => h.split(/\s/)[0]!.toLowerCase()).filter(Boolean))];
    const hint =
      schemes.length && !schemes.includes(wanted)
        ? `; the host offers only ${schemes.join(', ')}, enable ${method} in winrm/config/service/auth or choose another ansible_winrm_transport`
        : '; check the user name and password';
    return new TransportError('auth-failed', `${this.s.where}: WinRM refused the login of user ${this.s.user} with ${method} authentication (HTTP 401)${hint}`);
  }

  private classify(err: NodeJS.ErrnoException): TransportError {
    const where = this.s.where;
    const code = err.code ?? '';
    if (err instanceof TransportError) return err;
    if (CERT_CODES.has(code)) {
      const what = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `its certificate does not name ${this.s.url.hostname}` : `its certificate could not be verified (${code})`;
      return new TransportError(
        'protocol',
        `${where}: TLS: ${what}; pass the CA file that signed the host's WinRM certificate (ansible_winrm_ca_trust_path), or --insecure (ansible_winrm_server_cert_validation=ignore) to skip verification`,
      );
    }
    if (UNREACHABLE_CODES.has(code)) {
      const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host name not found' : err.message;
      return new TransportError(this.answered ? 'lost' : 'unreachable', `${where}: ${what}`);
    }
    if (DROPPED_CODES.has(code) || err.message === 'socket hang up') {
      return this.answered
        ? new TransportError('lost', `${where}: the connection was lost (${code || err.message})`)
        : new TransportError('unreachable', `${where}: the connection was closed before WinRM answered (${code || err.message})`);
    }
    if (code === 'EPROTO' || code.startsWith('ERR_SSL') || /SSL|TLS/.test(err.message)) {
      return new TransportError('protocol', `${where}: TLS handshake failed (${err.message.split('\n')[0]}); is this an HTTPS listener (5986) and the scheme right?`);
    }
    return new TransportError('protocol', `${where}: ${err.message}`);
  }

  /**
   * One HTTP exchange. Headers are decided once the agent has handed over the socket (before anything is
   * written), which is how NTLM knows whether this connection is already logged in.
   */
  private roundTrip(xml: string, choose: (sock: Socket) => Choice, timeoutMs: number, signal?: AbortSignal): Promise<RawReply> {
    const { url, where } = this.s;
    return new Promise<RawReply>((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        settled = true;
        clearTimeout(total);
        if (connectTimer) clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: TransportError): void => {
        if (settled) return;
        finish();
        req.destroy();
        reject(e);
      };
      const onAbort = (): void => {
        const r: unknown = signal?.reason;
        fail(r instanceof TransportError ? r : new TransportError('timeout', `${where}: request aborted`));
      };
      const total = setTimeout(() => fail(new TransportError('timeout', `${where}: WinRM did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const mod = this.secure ? https : http;
      const req = mod.request({
        agent: this.agent,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'Content-Type': SOAP_CONTENT_TYPE, 'User-Agent': USER_AGENT },
      });
      req.on('error', (e) => fail(this.classify(e)));
      req.on('socket', (sock: Socket) => {
        if (settled) return;
        if (sock.connecting) {
          connectTimer = setTimeout(
            () => fail(new TransportError(this.answered ? 'lost' : 'unreachable', `${where}: could not connect within ${Math.round(this.s.connectTimeoutMs / 1000)} s`)),
            this.s.connectTimeoutMs,
          );
          sock.once('connect', () => connectTimer && clearTimeout(connectTimer));
        }
        let choice: Choice;
        try {
          choice = choose(sock);
        } catch (e) {
          fail(e instanceof TransportError ? e : new TransportError('protocol', `${where}: ${(e as Error).message}`));
          return;
        }
        const payload = choice.withBody ? Buffer.from(xml, 'utf8') : Buffer.alloc(0);
        if (choice.authorization) req.setHeader('Authorization', choice.authorization);
        req.setHeader('Content-Length', payload.length);
        req.end(payload);
      });
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > this.s.maxResponseBytes) fail(new TransportError('protocol', `${where}: WinRM reply larger than ${this.s.maxResponseBytes} bytes`));
          else parts.push(d);
        });
        res.on('error', (e) => fail(this.classify(e)));
        res.on('close', () => {
          if (!res.complete) fail(this.classify(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
        });
        res.on('end', () => {
          if (settled) return;
          finish();
          this.answered = true;
          const authenticate: string[] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            if (res.rawHeaders[i]!.toLowerCase() === 'www-authenticate') authenticate.push(res.rawHeaders[i + 1]!);
          }
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), authenticate, socket: req.socket as Socket });
        });
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The NTLM challenge from `WWW-Authenticate: Negotiate <base64>` (or the older `NTLM <base64>`). */
function challengeOf(headers: string[]): string | undefined {
  for (const h of headers) {
    const m = /^(?:Negotiate|NTLM)\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(h.trim());
    if (m) return m[1];
  }
  return undefined;
}

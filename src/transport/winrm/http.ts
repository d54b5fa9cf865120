/**
 * POSTs SOAP envelopes to one host's /wsman over node:http or node:https, with Basic or NTLM login, WinRM
 * message encryption for NTLM, and turns every way that can fail into a TransportError with the per-host
 * reason.
 *
 * One keep-alive agent per host with a single socket: requests of one transport go one at a time (the
 * shell protocol is request/response anyway), and NTLM authenticates a connection, not a request. The login
 * is pywinrm's: Type 1 → challenge → Type 3, each with an empty body, on one socket; then the request rides on
 * the authenticated socket without credentials, sealed by that connection's NtlmSession when messages are
 * encrypted (MS-WSMV 2.2.9.1.1; ntlm-session.ts, encryption.ts) and its reply unsealed. A request that finds
 * its socket no longer authenticated (401) logs in again, with a new session.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TransportError } from '../transport.js';
import { channelBindingToken } from './channel-binding.js';
import { EncryptedMessageError, isEncrypted, unwrap, wrap } from './encryption.js';
import { authenticateMessage, negotiateMessage, ntHash, requireSealing } from './ntlm-messages.js';
import { NtlmIntegrityError, NtlmSession } from './ntlm-session.js';

export const SOAP_CONTENT_TYPE = 'application/soap+xml;charset=UTF-8';
const USER_AGENT = 'resetpwd-fleet WinRM client';
const EMPTY = Buffer.alloc(0);

/**
 * ansible_winrm_message_encryption, as pywinrm reads it: `auto` seals NTLM over http and not over https,
 * `always` over https too, `never` sends the SOAP as it is (the host must have AllowUnencrypted=true on http).
 */
export type MessageEncryption = 'auto' | 'always' | 'never';

export interface HttpSettings {
  url: URL;
  auth: 'basic' | 'ntlm';
  user: string;
  password: string;
  caFile?: string | undefined;
  insecure?: boolean | undefined;
  /** Default 'auto'. Only NTLM can seal; the transport refuses `always` with Basic before this is built. */
  messageEncryption?: MessageEncryption | undefined;
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

interface RawReply {
  status: number;
  contentType: string;
  body: Buffer;
  authenticate: string[];
  socket: Socket;
}

/** What to send once the socket is known: NTLM decides per socket whether to log in first. */
interface Choice {
  authorization?: string | undefined;
  contentType: string;
  body: Buffer;
}

/** An authenticated NTLM connection: its sealing session when messages are encrypted. */
interface Connection {
  seal?: NtlmSession | undefined;
}

/** What the Type 3 carried about channel binding, for the message when the host refuses the login. */
interface BindingNote {
  /** SHA-1 thumbprint of the certificate the token was made from (what `winrm enumerate winrm/config/listener` shows). */
  thumbprint?: string;
  /** Why no token could be made for this certificate. */
  none?: string;
}

/** `DOMAIN\user` → domain + user; `user@domain.example` (UPN) and plain names go as they are. */
export function splitUser(user: string): { domain: string; username: string } {
  const i = user.indexOf('\\');
  return i > 0 ? { domain: user.slice(0, i), username: user.slice(i + 1) } : { domain: '', username: user };
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
  /** Authenticated NTLM sockets; a socket not here logs in first. */
  private readonly connections = new WeakMap<Socket, Connection>();
  private readonly ntlmUser: { domain: string; username: string };
  /** NTLM seals every request and reply (MS-WSMV message encryption). */
  readonly encrypts: boolean;
  private ntHashOf: Promise<Buffer> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** After the first answer, a refused or reset connection means the host went away ('lost'), not 'unreachable'. */
  private answered = false;

  constructor(private readonly s: HttpSettings) {
    this.secure = s.url.protocol === 'https:';
    this.ntlmUser = splitUser(s.user);
    const mode = s.messageEncryption ?? 'auto';
    this.encrypts = s.auth === 'ntlm' && (mode === 'always' || (mode === 'auto' && !this.secure));
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
    if (r.status === 200 || (r.status === 500 && r.body.includes('Envelope'))) return r;
    throw new TransportError('protocol', `${this.s.where}: WinRM answered HTTP ${r.status}${r.body ? ` (${r.body.replace(/\s+/g, ' ').slice(0, 200)})` : ''}`);
  }

  private async postBasic(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpReply> {
    const token = Buffer.from(`${this.s.user}:${this.s.password}`, 'utf8').toString('base64');
    const r = await this.roundTrip(() => ({ authorization: `Basic ${token}`, contentType: SOAP_CONTENT_TYPE, body: Buffer.from(xml, 'utf8') }), timeoutMs, signal);
    if (r.status === 401) throw this.authFailed(r.authenticate);
    return this.opened(r, undefined);
  }

  /**
   * The request on an authenticated socket; on a socket that is not, the login first (Type 1 now, Type 3 in
   * `login`), then the request on it. A 401 on a socket we believed logged in (the host reset its context)
   * logs in again; a refusal right after a login that succeeded is the host refusing the request itself.
   */
  private async postNtlm(xml: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpReply> {
    let logins = 0;
    let justLoggedIn: Socket | undefined;
    for (;;) {
      let loginOn: Socket | undefined;
      let conn: Connection | undefined;
      const negotiate = negotiateMessage();
      const r = await this.roundTrip(
        (sock) => {
          conn = this.connections.get(sock);
          if (conn) return this.request(conn, xml);
          loginOn = sock;
          return { authorization: `Negotiate ${negotiate.toString('base64')}`, contentType: SOAP_CONTENT_TYPE, body: EMPTY };
        },
        timeoutMs,
        signal,
      );
      if (loginOn) {
        if (++logins > 2) throw new TransportError('protocol', `${this.s.where}: the host closed the connection after each NTLM login`);
        await this.login(loginOn, negotiate, r, timeoutMs, signal);
        justLoggedIn = loginOn;
        continue;
      }
      if (r.socket === justLoggedIn && (r.status === 401 || (r.status === 500 && r.body.length === 0))) throw this.refusedAfterLogin(r);
      if (r.status === 401) {
        this.connections.delete(r.socket);
        if (logins >= 2) throw this.authFailed(r.authenticate);
        continue;
      }
      return this.opened(r, conn);
    }
  }

  /** The body of a request on an authenticated connection: sealed when messages are encrypted. */
  private request(conn: Connection, xml: string): Choice {
    if (!conn.seal) return { contentType: SOAP_CONTENT_TYPE, body: Buffer.from(xml, 'utf8') };
    const w = wrap(conn.seal, xml);
    return { contentType: w.contentType, body: w.body };
  }

  /**
   * Type 3 answering the challenge in `first` (the 401 to our Type 1), on the same socket, with an empty
   * body as pywinrm sends it; over https it carries the channel binding token of the certificate this very
   * socket received. A 200 means the connection is logged in: it gets its sealing session.
   */
  private async login(sock: Socket, negotiate: Buffer, first: RawReply, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const where = this.s.where;
    const challenge = first.status === 401 ? challengeOf(first.authenticate) : undefined;
    if (!challenge) {
      if (first.status === 401) throw this.authFailed(first.authenticate);
      throw new TransportError('protocol', `${where}: expected an NTLM challenge, got HTTP ${first.status}`);
    }
    const binding: BindingNote = {};
    let channelBindings: Buffer | undefined;
    if (this.secure) {
      try {
        const der = (sock as TLSSocket).getPeerCertificate(true).raw as Buffer | undefined;
        if (!der) throw new Error('the host presented no certificate');
        binding.thumbprint = new X509Certificate(der).fingerprint.replace(/:/g, '');
        channelBindings = channelBindingToken(der);
      } catch (e) {
        binding.none = (e as Error).message;
      }
    }
    this.ntHashOf ??= ntHash(this.s.password);
    let type3: Buffer;
    let seal: NtlmSession | undefined;
    try {
      const a = authenticateMessage({
        negotiate,
        challenge: Buffer.from(challenge, 'base64'),
        user: this.ntlmUser.username,
        domain: this.ntlmUser.domain,
        ntHash: await this.ntHashOf,
        channelBindings,
      });
      if (this.encrypts) {
        requireSealing(a.flags);
        seal = new NtlmSession({ flags: a.flags, exportedSessionKey: a.exportedSessionKey });
      }
      type3 = a.message;
    } catch (e) {
      throw new TransportError('protocol', `${where}: ${(e as Error).message}`);
    }
    const r = await this.roundTrip(
      (s) => {
        if (s !== sock) throw new TransportError('protocol', `${where}: the host closed the connection in the middle of the NTLM login`);
        return { authorization: `Negotiate ${type3.toString('base64')}`, contentType: SOAP_CONTENT_TYPE, body: EMPTY };
      },
      timeoutMs,
      signal,
    );
    if (r.status === 401) throw this.authFailed(r.authenticate, this.secure ? binding : undefined);
    if (r.status !== 200) {
      const text = r.body.toString('utf8').replace(/\s+/g, ' ').slice(0, 200);
      throw new TransportError('protocol', `${where}: WinRM answered the NTLM login with HTTP ${r.status}${text ? ` (${text})` : ''}`);
    }
    this.connections.set(sock, { seal });
  }

  /** A reply to a request: unsealed when the request was sealed; a reply that fails its check ends the connection. */
  private opened(r: RawReply, conn: Connection | undefined): HttpReply {
    const where = this.s.where;
    const sealed = isEncrypted(r.contentType);
    if (!conn?.seal) {
      if (sealed) throw new TransportError('protocol', `${where}: WinRM answered an unencrypted request with an encrypted body (HTTP ${r.status})`);
      return { status: r.status, body: r.body.toString('utf8') };
    }
    if (!sealed) {
      // A readable answer to a sealed request is not from the host we logged in to (or it was altered on the way).
      if (r.body.length === 0) return { status: r.status, body: '' };
      r.socket.destroy();
      throw new TransportError('protocol', `${where}: WinRM answered an encrypted request in clear text (HTTP ${r.status}, Content-Type ${r.contentType || 'none'}); refused`);
    }
    try {
      return { status: r.status, body: unwrap(conn.seal, r.contentType, r.body).toString('utf8') };
    } catch (e) {
      // The session's RC4 state is out of step with the host's now: this connection cannot be used again.
      r.socket.destroy();
      if (e instanceof NtlmIntegrityError) throw new TransportError('protocol', `${where}: a reply failed its NTLM signature check: ${e.message}`);
      if (e instanceof EncryptedMessageError) throw new TransportError('protocol', `${where}: an encrypted reply could not be read: ${e.message}`);
      throw e;
    }
  }

  /**
   * The host let the login in and then refused the request (HTTP 401, or 500 with no SOAP fault). Over http
   * with the SOAP in clear that is Windows refusing unencrypted traffic (AllowUnencrypted=false).
   */
  private refusedAfterLogin(r: RawReply): TransportError {
    const where = this.s.where;
    if (!this.secure && !this.encrypts) {
      return new TransportError(
        'protocol',
        `${where}: the server requires message encryption (its WinRM service has AllowUnencrypted=false): it accepted the NTLM login of user ${this.s.user} and refused the unencrypted request (HTTP ${r.status}); remove ansible_winrm_message_encryption=never for this host (auto encrypts NTLM over http)`,
      );
    }
    if (r.status === 401) {
      return new TransportError('auth-failed', `${where}: WinRM accepted the NTLM login of user ${this.s.user} and then refused the request (HTTP 401); is the user allowed to use WinRM (an administrator, or in Remote Management Users)?`);
    }
    return new TransportError('protocol', `${where}: WinRM accepted the NTLM login of user ${this.s.user} and then answered HTTP ${r.status} with no SOAP fault`);
  }

  private authFailed(offered: string[], binding?: BindingNote): TransportError {
    const method = this.s.auth === 'basic' ? 'Basic' : 'NTLM (Negotiate)';
    const wanted = this.s.auth === 'basic' ? 'basic' : 'negotiate';
    const schemes = [...new Set(offered.map((h) => h.split(/\s/)[0]!.toLowerCase()).filter(Boolean))];
    let hint =
      schemes.length && !schemes.includes(wanted)
        ? `; the host offers only ${schemes.join(', ')}, enable ${method} in winrm/config/service/auth or choose another ansible_winrm_transport`
        : '; check the user name and password';
    // Windows refuses a channel binding it does not accept exactly as it refuses a wrong password (401): both are said.
    if (binding?.thumbprint && !binding.none) {
      hint += `; if they are right, the server requires channel binding (CbtHardeningLevel=Strict) and refused the binding to the certificate this connection received (thumbprint ${binding.thumbprint}): something between this machine and the host (a TLS-inspecting proxy or load balancer) presents another certificate than its WinRM listener's`;
    } else if (binding?.none) {
      hint += `; if they are right, the server may require channel binding (CbtHardeningLevel=Strict), which cannot be offered for its certificate (${binding.none})`;
    }
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
   * One HTTP exchange. Headers and body are decided once the agent has handed over the socket (before
   * anything is written), which is how NTLM knows whether this connection is already logged in, and which
   * connection's session seals the body.
   */
  private roundTrip(choose: (sock: Socket) => Choice, timeoutMs: number, signal?: AbortSignal): Promise<RawReply> {
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
        headers: { 'User-Agent': USER_AGENT },
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
        if (choice.authorization) req.setHeader('Authorization', choice.authorization);
        req.setHeader('Content-Type', choice.contentType);
        req.setHeader('Content-Length', choice.body.length);
        req.end(choice.body);
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
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(parts), authenticate, socket: req.socket as Socket });
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

/**
 * An in-process WS-Management peer that stands in for a Windows WinRM service in tests: HTTP or HTTPS on
 * 127.0.0.1 (random port), Basic and NTLM login, the cmd shell's Create/Command/Send/Receive/Signal/Delete.
 *
 * - Every request is checked (wsman-peer-schema.ts) and each problem lands in `violations`, so a test can
 *   assert the client never sent anything a Windows host would refuse.
 * - Replies are the recorded Windows responses from test/fixtures/winrm with RelatesTo, MessageID, ShellId,
 *   CommandId and the stream content put in; `replay` serves a whole recorded scenario instead.
 * - Commands run through a pluggable handler `(commandLine, stdin) => { stdout, stderr, exitCode }`; the
 *   default one understands the transport's upload (the streaming command line; script, data marker, base64
 *   lines on stdin) and really writes the file under `root`, decoding the lines itself.
 * - Faults can be injected: 401, SOAP faults from the fixtures, a connection dropped mid-reply, a reply
 *   held past the client's patience, stdin corrupted in transit.
 * - Open shells are tracked, so a test can assert every shell was deleted.
 * - Message encryption (MS-WSMV 2.2.9.1.1): a sealed request on an NTLM-authenticated connection is unsealed,
 *   and its reply sealed, by the NTLM judge (wsman-peer-seal.ts: Debian's ntlm-auth and pywinrm, not our
 *   code) with the session key the peer derived from the login it verified (MIC checked). `requireEncryption`
 *   refuses plain SOAP on http as a host with AllowUnencrypted=false does; `channelBinding: 'strict'` refuses
 *   an https login whose MsvAvChannelBindings is not its certificate's (CbtHardeningLevel=Strict).
 */
import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser, XMLSerializer, type Document, type Element, type Node as XmlNode } from '@xmldom/xmldom';
import { PS_DATA_MARKER, PS_STDIN_COMMAND, PS_STDIN_STREAM_COMMAND } from '../../src/dialect/powershell.js';
import { URI, checkRequest, type Op, type ParsedRequest } from './wsman-peer-schema.js';
import { checkMic, clientChannelBindings, isNegotiate, makeChallenge, parseAuthenticate, serverSessionKeys, verifyAuthenticate, type Challenge } from './wsman-peer-ntlm.js';
import { SealingJudge } from './wsman-peer-seal.js';

export type { Op } from './wsman-peer-schema.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/winrm/', import.meta.url));

export function fixture(rel: string): string {
  return readFileSync(path.join(FIXTURES, rel), 'utf8');
}

export interface HandlerResult {
  stdout: string | Buffer;
  stderr?: string | Buffer;
  exitCode: number;
}

/** Runs one command: the command line as the client sent it (cmd.exe /c would run it) and all of its stdin. */
export type CommandHandler = (commandLine: string, stdin: Buffer) => Promise<HandlerResult>;

export type PeerFault =
  /** Answer 401 (as for a password changed mid-run), whatever the credentials. */
  | { kind: 'status401'; on: Op; times?: number }
  /** Answer HTTP 500 with this recorded fault (path under test/fixtures/winrm). */
  | { kind: 'soap-fault'; on: Op; fixture: string; times?: number }
  /** Send the status line and part of the reply, then reset the TCP connection. */
  | { kind: 'drop'; on: Op; times?: number }
  /** Hold the reply this long before answering normally. */
  | { kind: 'delay'; on: Op; ms: number; times?: number }
  /** Change one base64 character of the stdin a command receives (the first one after the data marker line). */
  | { kind: 'corrupt-stdin'; times?: number }
  /** Flip one bit of the sealed data of an encrypted reply (after the judge sealed it), as an attacker on the path would. */
  | { kind: 'tamper-reply'; on: Op; times?: number };

export interface PeerOptions {
  /** Serve HTTPS with this key and certificate (see wsman-peer-tls.ts). */
  tls?: { key: Buffer; cert: Buffer };
  user?: string;
  /** The user's password; a function: asked at each login (a host whose password a test's run changes). */
  password?: string | (() => string);
  /** Login methods the "service" has enabled; both by default. */
  schemes?: Array<'basic' | 'ntlm'>;
  /** NetBIOS name in NTLM's challenge and the accepted NTLM domain besides ''. */
  computerName?: string;
  handler?: CommandHandler;
  /** Where the default handler keeps the "C:" drive; a new temp dir when absent. */
  root?: string;
  /** Raw bytes per rsp:Stream piece in Receive replies. */
  pieceBytes?: number;
  /** Serve this recorded scenario (a folder under test/fixtures/winrm, e.g. 'pypsrp/winrs-stderr-rc'). */
  replay?: string;
  /**
   * AllowUnencrypted=false, what `winrm quickconfig` leaves (http only): a request in clear is refused —
   * after an NTLM login with HTTP 500 and no body (`unencryptedStatus`, default), or 401 — and only sealed
   * bodies are served. Without it sealed bodies are served too, and clear ones as well.
   */
  requireEncryption?: boolean;
  unencryptedStatus?: 401 | 500;
  /** Keep every request and reply body as it crossed the wire (`wire`), to show what an observer would read. */
  recordWire?: boolean;
  /**
   * CbtHardeningLevel=Strict (https only): an NTLM login must carry MsvAvChannelBindings equal to the token
   * of the listener's certificate — or of `bindingCert` (PEM), a peer that computes it from another
   * certificate (as a host behind a TLS-terminating proxy would) — else it is refused with 401, as Windows
   * refuses it. The token is the judge's (requests-ntlm's certificate hash, ntlm-auth's bindings struct).
   */
  channelBinding?: 'strict';
  bindingCert?: Buffer;
}

export interface RecordedRequest {
  op?: Op | undefined;
  status: number;
  bytes: number;
  /**
   * How this request was let in: 'basic', 'ntlm-type1', 'ntlm-type3', 'ntlm-session' (an authenticated
   * connection), 'denied', 'unencrypted-refused' (clear SOAP where encryption is required).
   */
  auth: string;
  parsed?: ParsedRequest;
  /** The body was sealed (and unsealed by the judge); its reply was sealed too. */
  sealed?: boolean;
  /** On an NTLM Type 3: the MsvAvChannelBindings it carried (hex), or null for none. */
  channelBindings?: string | null;
  /** Content-Type header as sent. */
  contentType?: string;
}

/** The server end of one authenticated NTLM connection. */
interface PeerNtlmSession {
  flags: number;
  exportedSessionKey: Buffer;
  /** The judge's session, opened on the first sealed request. */
  judgeId?: Promise<string>;
}

/** The Content-Type of a sealed body, as pywinrm and Windows write it. */
const SEALED_CONTENT_TYPE = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"';
const isSealedType = (ct: string) => /^multipart\/(x-multi-)?encrypted\s*;/i.test(ct) && /protocol="?application\/HTTP-SPNEGO-session-encrypted/i.test(ct);

interface Piece {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

interface PeerCommand {
  id: string;
  shellId: string;
  commandLine: string;
  stdin: Buffer[];
  state: 'stdin' | 'running' | 'done';
  queue: Piece[];
  exitCode: number;
  wake: Set<() => void>;
  /** Recorded Receive replies still to serve (replay mode). */
  replay?: ReplayStep[];
  /** Started with WINRS_CONSOLEMODE_STDIN=TRUE (the default when the option is absent). */
  consoleMode: boolean;
}

interface ReplayStep {
  file: string;
  status: number;
}

const DEFAULT_TEMPLATES: Record<Op, string> = {
  Create: 'pypsrp/winrs-standard/01-create-shell.response.xml',
  Command: 'pypsrp/winrs-standard/02-command.response.xml',
  Receive: 'pypsrp/winrs-standard/03-receive-done-exit0.response.xml',
  Send: 'pypsrp/winrs-send/03-send-stdin.response.xml',
  Signal: 'pypsrp/winrs-standard/04-signal-ctrl-c.response.xml',
  Delete: 'pypsrp/winrs-standard/05-delete-shell.response.xml',
};
export const FAULT_FIXTURES = {
  timedOut: 'pypsrp/winrs-operation-timeout/04-receive-fault-timedout.response.xml',
  invalidSelectors: 'pypsrp/winrs-bad-cmd-id/03-receive-fault-invalidselectors.response.xml',
  quotaLimit: 'winrb/stubs/fault-quotalimit-shells.response.xml',
  commandTooLong: 'masterzen/command-fault-internalerror-too-long.response.xml',
} as const;

const STEP_OP: Array<[RegExp, Op]> = [
  [/^\d+-create-shell/, 'Create'],
  [/^\d+-command/, 'Command'],
  [/^\d+-receive/, 'Receive'],
  [/^\d+-send-stdin/, 'Send'],
  [/^\d+-signal/, 'Signal'],
  [/^\d+-delete-shell/, 'Delete'],
];

/** http_status per fixture file, from the copied index.json. */
const STATUS: Map<string, number> = new Map(
  (JSON.parse(readFileSync(path.join(FIXTURES, 'index.json'), 'utf8')) as Array<{ file: string; http_status?: number }>).map((e) => [e.file, e.http_status ?? 200]),
);

const upperUuid = () => randomUUID().toUpperCase();

function first(doc: Document, ns: string, local: string): Element | undefined {
  return Array.from(doc.getElementsByTagNameNS(ns, local))[0];
}

export class WsmanPeer {
  readonly violations: string[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Commands run, in order, with what the handler answered. */
  readonly commands: Array<{ commandLine: string; stdin: Buffer; exitCode?: number }> = [];
  /** Signal codes received, with the command they named. */
  readonly signals: Array<{ commandId: string; code: string }> = [];
  /** Bodies as they crossed the wire, with their Content-Type (only with `recordWire`). */
  readonly wire: Array<{ dir: 'request' | 'reply'; contentType: string; body: Buffer }> = [];
  shellsCreated = 0;
  /** TCP connections accepted. */
  connections = 0;
  readonly root: string;
  readonly user: string;
  private readonly passwordOf: () => string;
  handler: CommandHandler;

  private readonly shells = new Map<string, Map<string, PeerCommand>>();
  private readonly seenMessageIds = new Set<string>();
  private readonly faults: Array<PeerFault & { left: number }> = [];
  private readonly challenges = new WeakMap<Socket, Challenge>();
  private readonly ntlmSessions = new WeakMap<Socket, PeerNtlmSession>();
  /** The judge's session id sealing each request's reply. */
  private readonly sealFor = new WeakMap<RecordedRequest, string>();
  private readonly judge = new SealingJudge();
  private readonly watched = new WeakSet<Socket>();
  private expectedBinding: Promise<Buffer> | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly replaySteps = new Map<Op, ReplayStep[]>();
  private readonly recordedIds = { shell: '', command: '' };
  private url = '';

  /** The password a login must give now. */
  get password(): string {
    return this.passwordOf();
  }

  private constructor(
    private readonly server: http.Server,
    private readonly opts: PeerOptions,
  ) {
    this.user = opts.user ?? 'Administrator';
    const pw = opts.password ?? 'Pa55w0rd!';
    this.passwordOf = typeof pw === 'function' ? pw : () => pw;
    this.root = opts.root ?? mkdtempSync(path.join(os.tmpdir(), 'wsman-peer-'));
    this.handler = opts.handler ?? defaultHandler(this.root);
    if (opts.replay) this.loadReplay(opts.replay);
  }

  static async start(opts: PeerOptions = {}): Promise<WsmanPeer> {
    const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }) : http.createServer();
    const peer = new WsmanPeer(server, opts);
    server.on('connection', (s: Socket) => {
      peer.connections++;
      peer.sockets.add(s);
      s.on('close', () => peer.sockets.delete(s));
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        peer.handle(req, res, Buffer.concat(parts)).catch((e: Error) => {
          peer.violations.push(`peer error: ${e.stack ?? e.message}`);
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    peer.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/wsman`;
    return peer;
  }

  get endpoint(): string {
    return this.url;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Ids of shells created and not yet deleted. */
  openShells(): string[] {
    return [...this.shells.keys()];
  }

  inject(f: PeerFault): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  /** Closes every open connection (as an HTTP.sys idle timeout or a restart would); shells stay. */
  resetConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Stops listening and drops every connection (and pending delayed replies). */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.judge.stop();
    if (!this.opts.root) rmSync(this.root, { recursive: true, force: true });
  }

  /** Forgets a connection's NTLM session (a closed socket, or a new login on it). */
  private endSession(sock: Socket): void {
    const s = this.ntlmSessions.get(sock);
    this.ntlmSessions.delete(sock);
    s?.judgeId?.then((id) => this.judge.close(id)).catch(() => undefined);
  }

  /** The judge's session for a connection, opened with the key the peer derived from its login. */
  private judgeSession(s: PeerNtlmSession): Promise<string> {
    s.judgeId ??= (async () => {
      const id = this.judge.newSessionId();
      await this.judge.open(id, s.flags, s.exportedSessionKey);
      return id;
    })();
    return s.judgeId;
  }

  private takeFault<K extends PeerFault['kind']>(kind: K, op?: Op): Extract<PeerFault, { kind: K }> | undefined {
    const f = this.faults.find((x) => x.kind === kind && x.left > 0 && (!('on' in x) || x.on === op));
    if (!f) return undefined;
    f.left--;
    return f as unknown as Extract<PeerFault, { kind: K }>;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  // ---- HTTP and login -------------------------------------------------------------------------------

  private deny(res: http.ServerResponse, rec: RecordedRequest): void {
    rec.status = 401;
    rec.auth = 'denied';
    const schemes = this.opts.schemes ?? ['basic', 'ntlm'];
    const offered: string[] = [];
    if (schemes.includes('ntlm')) offered.push('Negotiate');
    if (schemes.includes('basic')) offered.push('Basic realm="WSMAN"');
    res.writeHead(401, { 'WWW-Authenticate': offered, Server: 'Microsoft-HTTPAPI/2.0', 'Content-Length': '0' });
    res.end();
  }

  /** Returns true when the request may proceed; otherwise it has been answered. */
  private async login(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest, body: Buffer): Promise<boolean> {
    const schemes = this.opts.schemes ?? ['basic', 'ntlm'];
    const sock = req.socket;
    const h = req.headers.authorization;
    if (!h) {
      if (this.ntlmSessions.has(sock)) {
        rec.auth = 'ntlm-session';
        return true;
      }
      this.deny(res, rec);
      return false;
    }
    const m = /^(\S+)\s+(\S+)$/.exec(h);
    const scheme = m?.[1]?.toLowerCase();
    const token = Buffer.from(m?.[2] ?? '', 'base64');
    if (scheme === 'basic' && schemes.includes('basic')) {
      const [u, ...rest] = token.toString('utf8').split(':');
      if (u === this.user && rest.join(':') === this.password) {
        rec.auth = 'basic';
        return true;
      }
    } else if ((scheme === 'negotiate' || scheme === 'ntlm') && schemes.includes('ntlm')) {
      if (isNegotiate(token)) {
        if (body.length) this.violations.push('NTLM Type 1 request carried a body (it is sent again after the challenge)');
        // A new login on this connection: its old context is gone, as on Windows.
        this.endSession(sock);
        const ch = makeChallenge(this.opts.computerName ?? 'WINHOST', token);
        this.challenges.set(sock, ch);
        rec.status = 401;
        rec.auth = 'ntlm-type1';
        res.writeHead(401, { 'WWW-Authenticate': `Negotiate ${ch.token}`, Server: 'Microsoft-HTTPAPI/2.0', 'Content-Length': '0' });
        res.end();
        return false;
      }
      const a = parseAuthenticate(token);
      const ch = this.challenges.get(sock);
      this.challenges.delete(sock);
      if (!ch && a) this.violations.push('NTLM Type 3 on a connection that got no challenge');
      const computer = (this.opts.computerName ?? 'WINHOST').toUpperCase();
      const password = this.password;
      if (a && ch && a.user.toLowerCase() === this.user.toLowerCase() && ['', computer].includes(a.domain.toUpperCase()) && verifyAuthenticate(a, ch, password)) {
        const keys = serverSessionKeys(a, password);
        // Windows refuses an AUTHENTICATE whose MIC does not match (it would mean the messages were altered).
        if (checkMic(a, ch, keys.exportedSessionKey) === false) {
          this.violations.push('NTLM Type 3: its MIC does not match HMAC-MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE)');
          this.deny(res, rec);
          return false;
        }
        const bindings = clientChannelBindings(a);
        rec.channelBindings = bindings ? bindings.toString('hex') : null;
        if (this.opts.tls && this.opts.channelBinding === 'strict') {
          this.expectedBinding ??= this.judge.channelBindingToken(new X509Certificate(this.opts.bindingCert ?? this.opts.tls.cert).raw);
          const expected = await this.expectedBinding;
          if (!bindings || !bindings.equals(expected)) {
            this.deny(res, rec);
            return false;
          }
        }
        this.ntlmSessions.set(sock, { flags: a.flags, exportedSessionKey: keys.exportedSessionKey });
        if (!this.watched.has(sock)) {
          this.watched.add(sock);
          sock.once('close', () => this.endSession(sock));
        }
        rec.auth = 'ntlm-type3';
        return true;
      }
    }
    this.deny(res, rec);
    return false;
  }

  /**
   * The SOAP of a request: a sealed body unsealed by the judge with its connection's session, a clear one as
   * it came — or undefined when the request has been answered here (refused, or pywinrm's empty login POST).
   */
  private async soapOf(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest, body: Buffer, n: number): Promise<Buffer | undefined> {
    const ctHeader = req.headers['content-type'] ?? '';
    const session = rec.auth.startsWith('ntlm') ? this.ntlmSessions.get(req.socket) : undefined;
    if (isSealedType(ctHeader)) {
      if (ctHeader !== SEALED_CONTENT_TYPE) this.violations.push(`#${n}: sealed request's Content-Type "${ctHeader}", expected ${SEALED_CONTENT_TYPE}`);
      if (!session) {
        this.violations.push(`#${n}: a sealed body on a connection with no NTLM session (${rec.auth})`);
        this.refuse(res, rec, 400);
        return undefined;
      }
      const id = await this.judgeSession(session);
      const r = await this.judge.unwrap(id, ctHeader, body);
      if ('error' in r) {
        // The session is out of step now: Windows drops such a connection.
        this.violations.push(`#${n}: the sealed request failed pywinrm's check: ${r.error}`);
        this.refuse(res, rec, 400);
        req.socket.destroy();
        return undefined;
      }
      rec.sealed = true;
      this.sealFor.set(rec, id);
      return r.plaintext;
    }
    const ct = ctHeader.replace(/\s+/g, '').toLowerCase();
    if (ct !== 'application/soap+xml;charset=utf-8') this.violations.push(`#${n}: Content-Type "${ctHeader}"`);
    if (body.length === 0 && session) {
      // pywinrm logs in with an empty POST before it seals anything; Windows answers it 200 with no body.
      rec.status = 200;
      res.writeHead(200, { Server: 'Microsoft-HTTPAPI/2.0', 'Content-Length': '0' });
      res.end();
      return undefined;
    }
    if (this.opts.requireEncryption && !this.opts.tls) {
      const status = this.opts.unencryptedStatus ?? 500;
      if (status === 401) this.deny(res, rec);
      else this.refuse(res, rec, 500);
      rec.auth = 'unencrypted-refused';
      return undefined;
    }
    return body;
  }

  /** An answer with no body, as HTTP.sys gives it. */
  private refuse(res: http.ServerResponse, rec: RecordedRequest, status: number): void {
    rec.status = status;
    res.writeHead(status, { Server: 'Microsoft-HTTPAPI/2.0', 'Content-Length': '0' });
    res.end();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const rec: RecordedRequest = { status: 200, bytes: body.length, auth: '', contentType: req.headers['content-type'] ?? '' };
    if (this.opts.recordWire) this.wire.push({ dir: 'request', contentType: rec.contentType!, body });
    this.requests.push(rec);
    const n = this.requests.length;
    if (req.method !== 'POST') this.violations.push(`#${n}: method ${req.method}, expected POST`);
    if (req.url !== '/wsman') this.violations.push(`#${n}: path ${req.url}, expected /wsman`);
    if (!(await this.login(req, res, rec, body))) {
      const ct = (req.headers['content-type'] ?? '').replace(/\s+/g, '').toLowerCase();
      if (!isSealedType(req.headers['content-type'] ?? '') && ct !== 'application/soap+xml;charset=utf-8') this.violations.push(`#${n}: Content-Type "${req.headers['content-type']}"`);
      return;
    }
    const soap = await this.soapOf(req, res, rec, body, n);
    if (!soap) return;

    const { parsed, violations } = checkRequest(soap.toString('utf8'), { url: this.url, seenMessageIds: this.seenMessageIds, bodyBytes: soap.length });
    rec.op = parsed.op;
    rec.parsed = parsed;
    for (const v of violations) this.violations.push(`#${n} ${parsed.op ?? '?'}: ${v}`);
    if (!parsed.op || !parsed.messageId) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    const op = parsed.op;
    const delay = this.takeFault('delay', op);
    if (delay) await this.sleep(delay.ms);
    if (res.destroyed || req.socket.destroyed) return;
    if (this.takeFault('status401', op)) return this.deny(res, rec);
    const drop = this.takeFault('drop', op);
    if (drop) {
      const text = this.build(DEFAULT_TEMPLATES.Receive, parsed);
      res.writeHead(200, { 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)), Server: 'Microsoft-HTTPAPI/2.0' });
      res.write(text.slice(0, 200));
      rec.status = -1;
      setImmediate(() => req.socket.destroy());
      return;
    }
    const sf = this.takeFault('soap-fault', op);
    if (sf) return this.reply(res, rec, 500, this.build(sf.fixture, parsed));

    switch (op) {
      case 'Create':
        return this.create(res, rec, parsed);
      case 'Command':
        return this.command(res, rec, parsed, n);
      case 'Send':
        return this.send(res, rec, parsed, n);
      case 'Receive':
        return this.receive(req, res, rec, parsed, n);
      case 'Signal':
        return this.signal(res, rec, parsed, n);
      case 'Delete':
        return this.deleteShell(res, rec, parsed, n);
    }
  }

  /** Answers a request; the reply to a sealed request is sealed by the judge with the connection's session. */
  private async reply(res: http.ServerResponse, rec: RecordedRequest, status: number, xml: string): Promise<void> {
    rec.status = status;
    const max = rec.parsed?.maxEnvelopeSize;
    if (max && Buffer.byteLength(xml) > max) this.violations.push(`peer error: a ${rec.op} reply of ${Buffer.byteLength(xml)} bytes exceeds the client's MaxEnvelopeSize ${max}`);
    if (res.destroyed) return;
    const sealWith = this.sealFor.get(rec);
    if (sealWith) {
      const sealed = await this.judge.wrap(sealWith, Buffer.from(xml, 'utf8'));
      let body = sealed.body;
      if (this.takeFault('tamper-reply', rec.op)) {
        // The last byte of the sealed envelope, just before the closing boundary.
        body = Buffer.from(body);
        const at = body.lastIndexOf('--Encrypted Boundary--') - 1;
        body[at] = body[at]! ^ 0x01;
      }
      if (res.destroyed) return;
      if (this.opts.recordWire) this.wire.push({ dir: 'reply', contentType: sealed.contentType, body });
      res.writeHead(status, { 'Content-Type': sealed.contentType, 'Content-Length': String(body.length), Server: 'Microsoft-HTTPAPI/2.0' });
      res.end(body);
      return;
    }
    if (this.opts.recordWire) this.wire.push({ dir: 'reply', contentType: 'application/soap+xml;charset=UTF-8', body: Buffer.from(xml, 'utf8') });
    res.writeHead(status, { 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': String(Buffer.byteLength(xml)), Server: 'Microsoft-HTTPAPI/2.0' });
    res.end(xml);
  }

  // ---- building replies from the recordings ---------------------------------------------------------

  /**
   * A recorded reply with this request's ids put in: a fresh MessageID, RelatesTo = the request's MessageID
   * (added when the recording has none), recorded ShellId/CommandId replaced by ours, then `edit`.
   */
  private build(file: string, req: ParsedRequest, ids: Record<string, string> = {}, edit?: (doc: Document) => void): string {
    const doc = new DOMParser().parseFromString(fixture(file), 'text/xml');
    const mid = first(doc, URI.wsa, 'MessageID');
    if (mid) mid.textContent = `uuid:${upperUuid()}`;
    let rel = first(doc, URI.wsa, 'RelatesTo');
    if (!rel) {
      const to = first(doc, URI.wsa, 'To');
      rel = doc.createElementNS(URI.wsa, `${to?.prefix ?? 'a'}:RelatesTo`);
      to?.parentNode?.insertBefore(rel, to.nextSibling);
    }
    rel.textContent = req.messageId ?? '';
    const swap = Object.entries(ids).filter(([from]) => from);
    if (swap.length) {
      const walk = (n: XmlNode): void => {
        if (n.nodeType === 3) {
          const t = (n.nodeValue ?? '').trim();
          for (const [from, to] of swap) if (t.toUpperCase() === from.toUpperCase()) n.nodeValue = to;
        }
        if (n.nodeType === 1) {
          for (const a of Array.from((n as Element).attributes)) for (const [from, to] of swap) if (a.value.toUpperCase() === from.toUpperCase()) a.value = to;
        }
        for (let c = n.firstChild; c; c = c.nextSibling) walk(c);
      };
      walk(doc.documentElement!);
    }
    edit?.(doc);
    return new XMLSerializer().serializeToString(doc);
  }

  private template(op: Op): ReplayStep {
    const steps = this.replaySteps.get(op);
    if (steps && steps.length) return steps.length > 1 ? steps.shift()! : steps[0]!;
    return { file: DEFAULT_TEMPLATES[op], status: 200 };
  }

  private loadReplay(dir: string): void {
    for (const f of readdirSorted(path.join(FIXTURES, dir))) {
      if (!f.endsWith('.response.xml')) continue;
      const op = STEP_OP.find(([re]) => re.test(f))?.[1];
      if (!op) continue;
      const file = `${dir}/${f}`;
      const list = this.replaySteps.get(op) ?? [];
      list.push({ file, status: STATUS.get(file) ?? 200 });
      this.replaySteps.set(op, list);
    }
    const create = this.replaySteps.get('Create')?.[0];
    const command = this.replaySteps.get('Command')?.[0];
    if (create) {
      const doc = new DOMParser().parseFromString(fixture(create.file), 'text/xml');
      this.recordedIds.shell = Array.from(doc.getElementsByTagNameNS(URI.wsman, 'Selector')).find((s) => s.getAttribute('Name') === 'ShellId')?.textContent?.trim() ?? '';
    }
    if (command) {
      const doc = new DOMParser().parseFromString(fixture(command.file), 'text/xml');
      this.recordedIds.command = first(doc, URI.rsp, 'CommandId')?.textContent?.trim() ?? '';
    }
  }

  private idsFor(shellId: string, commandId?: string): Record<string, string> {
    const recordedShell = this.recordedIds.shell || '4283CBDC-3706-415B-88BD-B385F3E51A53';
    const recordedCommand = this.recordedIds.command || 'CF84C20A-0A35-43FA-AF78-0B4711DA5F30';
    return commandId ? { [recordedShell]: shellId, [recordedCommand]: commandId } : { [recordedShell]: shellId };
  }

  // ---- the shell operations -------------------------------------------------------------------------

  private lookup(parsed: ParsedRequest, n: number, needCommand: boolean): PeerCommand | Map<string, PeerCommand> | undefined {
    const shell = parsed.shellId ? this.shells.get(parsed.shellId.toUpperCase()) : undefined;
    if (!shell) {
      this.violations.push(`#${n} ${parsed.op}: ShellId ${parsed.shellId} is not an open shell`);
      return undefined;
    }
    if (!needCommand) return shell;
    const cmd = parsed.commandId ? shell.get(parsed.commandId.toUpperCase()) : undefined;
    if (!cmd) this.violations.push(`#${n} ${parsed.op}: CommandId ${parsed.commandId} is not a command of shell ${parsed.shellId}`);
    return cmd;
  }

  private create(res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest): Promise<void> {
    const id = upperUuid();
    this.shells.set(id, new Map());
    this.shellsCreated++;
    const t = this.template('Create');
    return this.reply(res, rec, t.status, this.build(t.file, parsed, this.idsFor(id), (doc) => {
      const addr = Array.from(doc.getElementsByTagNameNS(URI.wsa, 'Address'))[0];
      if (addr) addr.textContent = this.url;
      const owner = first(doc, URI.rsp, 'Owner');
      if (owner) owner.textContent = this.user;
      const ip = first(doc, URI.rsp, 'ClientIP');
      if (ip) ip.textContent = '127.0.0.1';
    }));
  }

  private command(res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest, n: number): Promise<void> {
    const shell = this.lookup(parsed, n, false) as Map<string, PeerCommand> | undefined;
    if (!shell) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    const id = upperUuid();
    const consoleMode = (parsed.options.WINRS_CONSOLEMODE_STDIN ?? 'TRUE').toUpperCase() !== 'FALSE';
    const cmd: PeerCommand = { id, shellId: parsed.shellId!.toUpperCase(), commandLine: parsed.commandLine ?? '', stdin: [], state: 'stdin', queue: [], exitCode: 0, wake: new Set(), consoleMode };
    const receives = this.replaySteps.get('Receive');
    if (receives) cmd.replay = [...receives];
    shell.set(id, cmd);
    const t = this.template('Command');
    return this.reply(res, rec, t.status, this.build(t.file, parsed, this.idsFor(cmd.shellId, id)));
  }

  private send(res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest, n: number): Promise<void> {
    const cmd = this.lookup(parsed, n, true) as PeerCommand | undefined;
    if (!cmd) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    if (cmd.state !== 'stdin') this.violations.push(`#${n} Send: stdin sent after it was closed`);
    else if (parsed.stdin && cmd.consoleMode && parsed.stdin.data.length > 0) {
      // A real shell gives a console-mode command its stdin as console input: the End flag is no end of file to
      // the process, so a script that reads stdin to its end ([Console]::In.ReadToEnd()) never returns. Ansible
      // sends WINRS_CONSOLEMODE_STDIN=FALSE whenever it sends stdin. The command is never started here either.
      this.violations.push(`#${n} Send: stdin sent to a command started with WINRS_CONSOLEMODE_STDIN=TRUE: the process gets console input with no end of file, and a script reading stdin to its end never returns; start the command with FALSE`);
      cmd.stdin.push(parsed.stdin.data);
    } else if (parsed.stdin) {
      cmd.stdin.push(parsed.stdin.data);
      if (parsed.stdin.end) this.start(cmd);
    }
    const t = this.template('Send');
    return this.reply(res, rec, t.status, this.build(t.file, parsed, this.idsFor(cmd.shellId, cmd.id)));
  }

  /** Runs the handler once stdin is complete and queues its output in pieces, stdout and stderr interleaved. */
  private start(cmd: PeerCommand): void {
    if (cmd.state !== 'stdin') return;
    cmd.state = 'running';
    let stdin: Buffer = Buffer.concat(cmd.stdin);
    if (this.takeFault('corrupt-stdin')) stdin = corrupt(stdin);
    const entry: { commandLine: string; stdin: Buffer; exitCode?: number } = { commandLine: cmd.commandLine, stdin };
    this.commands.push(entry);
    if (cmd.replay) return; // the recording provides the output
    const size = this.opts.pieceBytes ?? 16 * 1024;
    this.handler(cmd.commandLine, stdin)
      .catch((e: Error) => ({ stdout: '', stderr: `handler failed: ${e.message}\r\n`, exitCode: 1 }) as HandlerResult)
      .then((r) => {
        const split = (stream: Piece['stream'], b: Buffer): Piece[] => {
          const out: Piece[] = [];
          for (let i = 0; i < b.length; i += size) out.push({ stream, data: b.subarray(i, i + size) });
          return out;
        };
        const o = split('stdout', Buffer.from(r.stdout));
        const e = split('stderr', Buffer.from(r.stderr ?? ''));
        for (let i = 0; i < Math.max(o.length, e.length); i++) {
          if (o[i]) cmd.queue.push(o[i]!);
          if (e[i]) cmd.queue.push(e[i]!);
        }
        cmd.exitCode = r.exitCode;
        entry.exitCode = r.exitCode;
        cmd.state = 'done';
        for (const w of cmd.wake) w();
      });
  }

  private async receive(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest, n: number): Promise<void> {
    const cmd = this.lookup(parsed, n, true) as PeerCommand | undefined;
    if (!cmd) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    // A client that never closes stdin still gets its process started, as the process runs regardless.
    if (cmd.state === 'stdin') this.start(cmd);
    if (cmd.replay?.length) {
      const step = cmd.replay.shift()!;
      return this.reply(res, rec, step.status, this.build(step.file, parsed, this.idsFor(cmd.shellId, cmd.id)));
    }
    if (!cmd.queue.length && cmd.state !== 'done') {
      // Hold the request until there is output, the command ends, or OperationTimeout passes (then TimedOut).
      const waited = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => done(false), parsed.operationTimeoutMs ?? 60_000);
        this.timers.add(t);
        const done = (ok: boolean) => {
          clearTimeout(t);
          this.timers.delete(t);
          cmd.wake.delete(wake);
          req.socket.off('close', gone);
          resolve(ok);
        };
        const wake = () => done(true);
        const gone = () => done(false);
        cmd.wake.add(wake);
        req.socket.once('close', gone);
      });
      if (req.socket.destroyed) return;
      if (!waited) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.timedOut, parsed));
    }
    // What fits in the client's MaxEnvelopeSize: each piece costs its base64 plus its rsp:Stream element,
    // and the rest of the envelope needs room too (Windows never answers with more than the client allows).
    const budget = (parsed.maxEnvelopeSize ?? 153_600) - 3072;
    const cost = (p: Piece) => Math.ceil(p.data.length / 3) * 4 + 160;
    const take: Piece[] = [];
    let used = 0;
    const head = cmd.queue[0];
    if (head && cost(head) > budget) {
      // A piece bigger than this client's envelope allows is split to fit.
      const fit = Math.floor((budget - 160) / 4) * 3;
      cmd.queue.splice(0, 1, { stream: head.stream, data: head.data.subarray(0, fit) }, { stream: head.stream, data: head.data.subarray(fit) });
    }
    while (cmd.queue.length && used + cost(cmd.queue[0]!) <= budget) {
      const p = cmd.queue.shift()!;
      used += cost(p);
      take.push(p);
    }
    const done = cmd.state === 'done' && cmd.queue.length === 0;
    const t = this.template('Receive');
    return this.reply(res, rec, 200, this.build(t.file, parsed, {}, (doc) => {
      const rr = first(doc, URI.rsp, 'ReceiveResponse')!;
      const pfx = rr.prefix ?? 'rsp';
      while (rr.firstChild) rr.removeChild(rr.firstChild);
      const stream = (name: string, data: Buffer | null) => {
        const s = doc.createElementNS(URI.rsp, `${pfx}:Stream`);
        s.setAttribute('Name', name);
        s.setAttribute('CommandId', cmd.id);
        if (data) s.appendChild(doc.createTextNode(data.toString('base64')));
        else s.setAttribute('End', 'true');
        rr.appendChild(s);
      };
      for (const p of take) stream(p.stream, p.data);
      if (done) {
        stream('stdout', null);
        stream('stderr', null);
      }
      const st = doc.createElementNS(URI.rsp, `${pfx}:CommandState`);
      st.setAttribute('CommandId', cmd.id);
      st.setAttribute('State', `${URI.rsp}/CommandState/${done ? 'Done' : 'Running'}`);
      if (done) {
        const ec = doc.createElementNS(URI.rsp, `${pfx}:ExitCode`);
        ec.appendChild(doc.createTextNode(String(cmd.exitCode)));
        st.appendChild(ec);
      }
      rr.appendChild(st);
    }));
  }

  private signal(res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest, n: number): Promise<void> {
    const cmd = this.lookup(parsed, n, true) as PeerCommand | undefined;
    if (!cmd) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    this.signals.push({ commandId: cmd.id, code: parsed.signal ?? '' });
    this.shells.get(cmd.shellId)?.delete(cmd.id);
    const t = this.template('Signal');
    return this.reply(res, rec, t.status, this.build(t.file, parsed, this.idsFor(cmd.shellId, cmd.id)));
  }

  private deleteShell(res: http.ServerResponse, rec: RecordedRequest, parsed: ParsedRequest, n: number): Promise<void> {
    const shell = this.lookup(parsed, n, false);
    if (!shell) return this.reply(res, rec, 500, this.build(FAULT_FIXTURES.invalidSelectors, parsed));
    this.shells.delete(parsed.shellId!.toUpperCase());
    const t = this.template('Delete');
    return this.reply(res, rec, t.status, this.build(t.file, parsed, this.idsFor(parsed.shellId!)));
  }
}

function readdirSorted(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Flips one base64 character of the upload data (the first after the data marker line; else one byte of other stdin). */
function corrupt(stdin: Buffer): Buffer {
  const out = Buffer.from(stdin);
  const mark = `\n${PS_DATA_MARKER}\n`;
  const at = out.indexOf(mark);
  const i = at >= 0 ? at + mark.length : out.length >> 1;
  if (i < out.length) out[i] = out[i] === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B'
  return out;
}

// ---- the default command handler ----------------------------------------------------------------------

/** Where a Windows path lives under the peer's root: C:\a\b → <root>/C/a/b. */
export function localPath(root: string, winPath: string): string {
  const m = /^([A-Za-z]):\\(.*)$/.exec(winPath);
  if (m) return path.join(root, m[1]!.toUpperCase(), ...m[2]!.split('\\').filter(Boolean));
  const unc = /^\\\\(.*)$/.exec(winPath);
  if (unc) return path.join(root, 'UNC', ...unc[1]!.split('\\').filter(Boolean));
  throw new Error(`not an absolute Windows path: ${winPath}`);
}

/** `$name = '<literal>'` and `$name = 123` lines of a script built by psScript. */
export function scriptParams(script: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of script.split('\n')) {
    const m = /^\$([A-Za-z_]\w*) = (?:'((?:[^'\u2018\u2019\u201A\u201B]|(['\u2018\u2019\u201A\u201B])\3)*)'|(-?\d+))$/.exec(line);
    if (m) out[m[1]!] = m[2] !== undefined ? m[2].replace(/(['\u2018\u2019\u201A\u201B])\1/g, '$1') : m[4]!;
  }
  return out;
}

/**
 * The stdin of PS_STDIN_STREAM_COMMAND taken apart as its bootstrap does: lines up to the first one that is
 * exactly the data marker are the script (each ended with a newline); everything after that line is left to
 * the script, here returned as its lines. Undefined when no line is the marker (the bootstrap exits 1).
 */
export function splitStreamStdin(stdin: Buffer): { script: string; lines: string[] } | undefined {
  const text = stdin.toString('utf8');
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start another.
  if (lines[lines.length - 1] === '') lines.pop();
  const at = lines.findIndex((l) => l.replace(/\r$/, '') === PS_DATA_MARKER);
  if (at < 0) return undefined;
  return { script: lines.slice(0, at).map((l) => `${l.replace(/\r$/, '')}\n`).join(''), lines: lines.slice(at + 1).map((l) => l.replace(/\r$/, '')) };
}

/** The upload script, told by what it does rather than by its exact text: the values it needs and a line-by-line read of the rest of stdin. */
export function isUploadScript(script: string): boolean {
  const p = scriptParams(script);
  return Boolean(p.path && p.tmp && p.sha256 && p.size !== undefined) && script.includes('[Console]::In.ReadLine()') && script.includes('[Convert]::FromBase64String(');
}

/**
 * What the upload script does on the host, done on the peer's files: read the base64 lines that follow the
 * marker one at a time, decode each and append it to the temporary file, compare SHA-256, move into place or
 * remove and fail. The script text is what the client really sent; only its effect is simulated here.
 */
export function simulateUpload(root: string, script: string, lines: string[]): HandlerResult {
  const p = scriptParams(script);
  if (!isUploadScript(script)) return { stdout: '', stderr: 'not an upload script\r\n', exitCode: 1 };
  const target = localPath(root, p.path!);
  const tmp = localPath(root, p.tmp!);
  if (!existsSync(path.dirname(tmp))) {
    return { stdout: '', stderr: `Exception calling "Open" with "4" argument(s): "Could not find a part of the path '${p.tmp}'."\r\n`, exitCode: 1 };
  }
  writeFileSync(tmp, Buffer.alloc(0));
  for (const line of lines) {
    const l = line.trim();
    if (!l) continue;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(l) || l.length % 4) {
      unlinkSync(tmp);
      return { stdout: '', stderr: 'Exception calling "FromBase64String": invalid base64\r\n', exitCode: 1 };
    }
    appendFileSync(tmp, Buffer.from(l, 'base64'));
  }
  const got = createHash('sha256').update(readFileSync(tmp)).digest('hex').toUpperCase();
  if (got !== p.sha256!.toUpperCase()) {
    unlinkSync(tmp);
    return { stdout: '', stderr: `SHA-256 mismatch for ${p.path}: expected ${p.sha256}, got ${got} (corrupted in transit); the file was not replaced\r\n`, exitCode: 3 };
  }
  renameSync(tmp, target);
  return { stdout: `uploaded=${p.size}\r\n`, exitCode: 0 };
}

/**
 * A small stand-in for a Windows host: the upload (PS_STDIN_STREAM_COMMAND with the upload script, the data
 * marker and base64 lines on stdin), `echo`, `exit /b N`, and cmd.exe's answer to anything else (exit 9009).
 */
export function defaultHandler(root: string): CommandHandler {
  mkdirSync(path.join(root, 'C'), { recursive: true });
  return async (commandLine, stdin) => {
    if (commandLine === PS_STDIN_STREAM_COMMAND) {
      const parts = splitStreamStdin(stdin);
      if (!parts) return { stdout: '', stderr: 'no data marker on stdin\r\n', exitCode: 1 };
      if (isUploadScript(parts.script)) return simulateUpload(root, parts.script, parts.lines);
      return { stdout: '', stderr: 'wsman-peer: the default handler does not run this script\r\n', exitCode: 1 };
    }
    if (commandLine === PS_STDIN_COMMAND) {
      return { stdout: '', stderr: 'wsman-peer: the default handler does not run this script\r\n', exitCode: 1 };
    }
    const echo = /^echo (.*)$/i.exec(commandLine);
    if (echo) return { stdout: `${echo[1]}\r\n`, exitCode: 0 };
    const exit = /^exit \/b (\d+)$/i.exec(commandLine);
    if (exit) return { stdout: '', exitCode: Number(exit[1]) };
    const name = commandLine.split(' ')[0];
    return { stdout: '', stderr: `'${name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`, exitCode: 9009 };
  };
}

/**
 * The WinRM transport: one cmd shell per host (WS-Management remote shell, as `winrs` uses), commands run
 * in it with Command → Send stdin → Receive until Done → Signal terminate, files uploaded through one
 * PowerShell command (upload.ts), and the shell deleted on close whatever happened before.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Document } from '@xmldom/xmldom';
import { clixmlToText, parseEmitted } from '../../dialect/powershell.js';
import { OutputCap, TransportError, type PutOptions, type ExecOptions, type ExecResult, type Transport } from '../transport.js';
import {
  commandEnvelope,
  createShellEnvelope,
  deleteShellEnvelope,
  maxStdinChunk,
  receiveEnvelope,
  sendEnvelope,
  signalEnvelope,
  type Envelope,
  type EnvelopeContext,
} from './envelope.js';
import { WinRmFault, faultError } from './fault.js';
import { WsmanHttp, type MessageEncryption } from './http.js';
import { RESPONSE_ACTION, type Operation } from './namespaces.js';
import { EnvelopeError, action, parseCommandId, parseFault, parseReceive, parseShellId, parseXml, relatesTo } from './response.js';
import { UPLOAD_COMMAND, isAbsoluteWindowsPath, planUpload, uploadStdin } from './upload.js';
import { cleartextBasicRefused } from './cleartext.js';

/** Where and how to log in to one Windows host. The password arrives resolved (file, env var, prompt), never argv. */
export interface WinRmTarget {
  host: string;
  port: number;
  scheme: 'http' | 'https';
  user: string;
  password: string;
  auth: 'basic' | 'ntlm';
  /** PEM file of the CA that signed the host's HTTPS certificate (replaces the system's roots for this host). */
  caFile?: string | undefined;
  /** Do not verify the HTTPS certificate; only when the inventory says so explicitly. */
  insecure?: boolean | undefined;
  /**
   * WinRM message encryption (ansible_winrm_message_encryption), default `auto`: NTLM seals every request and
   * reply over http (what a host with AllowUnencrypted=false, Windows' default, demands) and not over https,
   * where TLS protects them; `always` seals over https too; `never` sends the SOAP as it is, which over http
   * only a host with AllowUnencrypted=true accepts. Basic cannot seal: `always` with Basic is refused.
   */
  messageEncryption?: MessageEncryption | undefined;
  /**
   * Basic over plain http is allowed: the operator opted in by name (winrm_cleartext_basic=true or
   * --winrm-cleartext-basic). Without it the transport refuses before a byte is sent, because Basic puts the
   * password on the wire (base64 is no encryption) with every request, before the host can even refuse.
   */
  cleartextBasic?: boolean | undefined;
  /** Name in the inventory, used in messages. */
  name: string;
  connectTimeoutMs: number;
  /** w:OperationTimeout: how long the host may hold a Receive before answering TimedOut (Windows allows up to 60). */
  operationTimeoutSec: number;
}

export interface WinRmOptions {
  /** w:MaxEnvelopeSize in bytes; 153,600 (150 KiB) is accepted by every Windows since 2008 R2. */
  maxEnvelopeSize?: number;
  /** How much longer than OperationTimeout to wait for an HTTP reply before giving up (default 10 s). */
  replySlackMs?: number;
  /** xml:lang of w:Locale (default en-US, so fault messages are in English). */
  locale?: string;
  /** Output (stdout + stderr) one command may send before it is stopped (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number | undefined;
}

/** The bounded wait for best-effort clean-up calls (Signal after a failure, Delete on close). */
const CLEANUP_TIMEOUT_MS = 15_000;

interface Session {
  http: WsmanHttp;
  ctx: EnvelopeContext;
  where: string;
  user: string;
  replyTimeoutMs: number;
  /** Output one command may send before it is stopped (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number | undefined;
}

/** Sends one request and returns the reply document; a SOAP fault becomes a WinRmFault. */
async function call(s: Session, op: Operation, env: Envelope, signal?: AbortSignal, timeoutMs = s.replyTimeoutMs): Promise<Document> {
  const reply = await s.http.post(env.xml, timeoutMs, signal);
  let doc: Document;
  try {
    doc = parseXml(reply.body);
  } catch (e) {
    throw new TransportError('protocol', `${s.where}: WinRM ${op} reply is unreadable (${(e as EnvelopeError).message})`);
  }
  const fault = parseFault(doc);
  if (fault) throw faultError(s.where, op, fault, s.user);
  if (reply.status !== 200) throw new TransportError('protocol', `${s.where}: WinRM ${op} answered HTTP ${reply.status} without a fault`);
  const rel = relatesTo(doc);
  if (rel !== undefined && rel.toLowerCase() !== env.messageId.toLowerCase()) {
    throw new TransportError('protocol', `${s.where}: WinRM ${op} reply answers another request (RelatesTo ${rel}, sent ${env.messageId})`);
  }
  const act = action(doc);
  if (act && act !== RESPONSE_ACTION[op]) throw new TransportError('protocol', `${s.where}: WinRM ${op} answered with action ${act}`);
  return doc;
}

export class WinRmTransport implements Transport {
  readonly kind = 'winrm' as const;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Abort handles of commands in progress, so close() can stop them before deleting the shell. */
  private readonly running = new Set<AbortController>();

  private constructor(
    private readonly s: Session,
    /** The host's id for our shell (upper-case GUID). */
    readonly shellId: string,
  ) {}

  get where(): string {
    return this.s.where;
  }

  /**
   * Opens the shell, so a wrong password, a closed port or an untrusted certificate fail here, with the
   * reason the report shows ('auth-failed', 'unreachable', 'protocol', 'timeout').
   */
  static async connect(target: WinRmTarget, opts: WinRmOptions = {}): Promise<WinRmTransport> {
    const where = `${target.name} (${target.host}:${target.port})`;
    if (target.auth === 'basic' && target.messageEncryption === 'always') {
      throw new TransportError(
        'protocol',
        `${where}: ansible_winrm_message_encryption=always needs a login that can seal messages, and Basic cannot; use ansible_winrm_transport=ntlm, or https with message encryption auto`,
      );
    }
    if (target.auth === 'basic' && target.scheme === 'http' && target.cleartextBasic !== true) {
      throw new TransportError('protocol', cleartextBasicRefused(where));
    }
    const hostInUrl = target.host.includes(':') && !target.host.startsWith('[') ? `[${target.host}]` : target.host;
    const url = new URL(`${target.scheme}://${hostInUrl}:${target.port}/wsman`);
    const maxEnvelopeSize = opts.maxEnvelopeSize ?? 153_600;
    const http = new WsmanHttp({
      url,
      auth: target.auth,
      user: target.user,
      password: target.password,
      caFile: target.caFile,
      insecure: target.insecure,
      messageEncryption: target.messageEncryption,
      where,
      connectTimeoutMs: target.connectTimeoutMs,
      maxResponseBytes: Math.max(4 * maxEnvelopeSize, 1 << 20),
    });
    const s: Session = {
      http,
      where,
      user: target.user,
      ctx: { to: url.toString(), maxEnvelopeSize, operationTimeoutSec: target.operationTimeoutSec, locale: opts.locale ?? 'en-US' },
      replyTimeoutMs: target.operationTimeoutSec * 1000 + (opts.replySlackMs ?? 10_000),
      maxOutputBytes: opts.maxOutputBytes,
    };
    try {
      const doc = await call(s, 'Create', createShellEnvelope(s.ctx), undefined, Math.max(s.replyTimeoutMs, target.connectTimeoutMs));
      return new WinRmTransport(s, parseShellId(doc));
    } catch (e) {
      http.destroy();
      if (e instanceof EnvelopeError) throw new TransportError('protocol', `${where}: ${e.message}`);
      throw e;
    }
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = opts.stdin === undefined ? [] : [typeof opts.stdin === 'string' ? Buffer.from(opts.stdin, 'utf8') : opts.stdin];
    return this.run(command, stdin, opts);
  }

  /**
   * Writes `content` to the absolute Windows path `remotePath` through one PowerShell command that checks
   * the SHA-256 on the host before moving the file into place. The stdin (script, marker, base64 lines) is
   * produced lazily and Sent as it comes; the host reads the lines one at a time as they arrive, so neither
   * end holds the file as base64. `mode` has no meaning on Windows: the file takes the ACL of its folder.
   */
  async put(content: Buffer, remotePath: string, _mode?: number, opts: PutOptions = {}): Promise<void> {
    if (!isAbsoluteWindowsPath(remotePath)) throw new Error(`upload target must be an absolute Windows path: ${remotePath}`);
    const plan = planUpload(content, remotePath);
    const r = await this.run(UPLOAD_COMMAND, uploadStdin(plan, content), { timeoutMs: opts.timeoutMs });
    if (r.code !== 0) {
      const why = clixmlToText(r.stderr).trim().split(/\r?\n/)[0] || `exit code ${r.code}`;
      throw new TransportError('protocol', `${this.s.where}: upload to ${remotePath} failed: ${why}`);
    }
    // Exit 0 alone could come from a shell that never ran the script; the script confirms the size it wrote.
    if (parseEmitted(r.stdout).get('uploaded')?.[0] !== String(content.length)) {
      throw new TransportError('protocol', `${this.s.where}: upload to ${remotePath}: the host did not confirm it (no uploaded=${content.length} line in its output)`);
    }
  }

  /** Deletes the shell (and with it anything still running). Idempotent; never throws. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      for (const ac of this.running) ac.abort(new TransportError('lost', `${this.s.where}: the connection was closed while a command ran`));
      try {
        await call(this.s, 'Delete', deleteShellEnvelope(this.s.ctx, this.shellId), undefined, Math.min(this.s.replyTimeoutMs, CLEANUP_TIMEOUT_MS));
      } catch {
        // The host is gone or the shell already is: Windows drops an idle shell by itself (IdleTimeout).
      }
      this.s.http.destroy();
    })();
    return this.closing;
  }

  private async run(commandLine: string, stdin: Iterable<Buffer>, opts: Pick<ExecOptions, 'timeoutMs' | 'onStdout'>): Promise<ExecResult> {
    const s = this.s;
    if (this.closed) throw new TransportError('lost', `${s.where}: the connection was closed`);
    const ac = new AbortController();
    this.running.add(ac);
    const timer = opts.timeoutMs
      ? setTimeout(() => ac.abort(new TransportError('timeout', `${s.where}: command timed out after ${Math.round(opts.timeoutMs! / 1000)} s`)), opts.timeoutMs)
      : undefined;
    let commandId: string | undefined;
    try {
      commandId = parseCommandId(await call(s, 'Command', commandEnvelope(s.ctx, this.shellId, commandLine), ac.signal));
      await this.sendStdin(commandId, stdin, ac.signal);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const decoder = new StringDecoder('utf8');
      // Past the cap the command is stopped (Signal terminate, below) and the step fails.
      const cap = new OutputCap(s.maxOutputBytes);
      let code: number | null = null;
      for (;;) {
        let doc: Document;
        try {
          doc = await call(s, 'Receive', receiveEnvelope(s.ctx, this.shellId, commandId), ac.signal);
        } catch (e) {
          // Nothing happened within OperationTimeout: not an error, ask again (the command's own time
          // limit is the timer above).
          if (e instanceof WinRmFault && e.isReceiveTimeout) continue;
          throw e;
        }
        const r = parseReceive(doc, commandId);
        for (const c of r.chunks) {
          if (cap.add(c.data.length)) throw cap.error(s.where);
          if (c.stream === 'stdout') {
            out.push(c.data);
            const piece = decoder.write(c.data);
            if (piece && opts.onStdout) opts.onStdout(piece);
          } else err.push(c.data);
        }
        if (r.done) {
          const rest = decoder.end();
          if (rest && opts.onStdout) opts.onStdout(rest);
          code = r.exitCode;
          break;
        }
      }
      // Release the finished command on the host, as Windows' own clients do; the result stands either way.
      await call(s, 'Signal', signalEnvelope(s.ctx, this.shellId, commandId), undefined, Math.min(s.replyTimeoutMs, CLEANUP_TIMEOUT_MS)).catch(() => undefined);
      return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    } catch (e) {
      const reason: unknown = ac.signal.aborted ? ac.signal.reason : e;
      // Stop the process on the host (a timed-out command would run on); skipped when the connection is
      // gone or the shell is being deleted anyway.
      if (commandId && !this.closed && !(reason instanceof TransportError && reason.reason === 'lost')) {
        await call(s, 'Signal', signalEnvelope(s.ctx, this.shellId, commandId), undefined, Math.min(s.replyTimeoutMs, CLEANUP_TIMEOUT_MS)).catch(() => undefined);
      }
      if (reason instanceof EnvelopeError) throw new TransportError('protocol', `${s.where}: ${reason.message}`);
      throw reason;
    } finally {
      if (timer) clearTimeout(timer);
      this.running.delete(ac);
    }
  }

  /**
   * Feeds stdin in Send messages that each stay within MaxEnvelopeSize; the last one carries End="true"
   * (an empty one when there is no stdin), so a process reading stdin sees its end as over SSH.
   */
  private async sendStdin(commandId: string, source: Iterable<Buffer>, signal: AbortSignal): Promise<void> {
    const s = this.s;
    const max = maxStdinChunk(s.ctx, this.shellId, commandId);
    const send = (data: Buffer, end: boolean) => call(s, 'Send', sendEnvelope(s.ctx, this.shellId, commandId, data, end), signal);
    let pending: Buffer[] = [];
    let size = 0;
    // A full chunk is held back until we know whether more follows, so End rides on the last data.
    let held: Buffer | undefined;
    for (const piece of source) {
      let p = piece;
      while (p.length) {
        const take = Math.min(max - size, p.length);
        pending.push(p.subarray(0, take));
        size += take;
        p = p.subarray(take);
        if (size === max) {
          if (held) await send(held, false);
          held = Buffer.concat(pending);
          pending = [];
          size = 0;
        }
      }
    }
    if (size > 0) {
      if (held) await send(held, false);
      await send(Buffer.concat(pending), true);
    } else {
      await send(held ?? Buffer.alloc(0), true);
    }
  }
}

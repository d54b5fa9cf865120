import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { Duplex } from 'node:stream';
import { fingerprint, preferPinned, type KnownHosts } from './known-hosts.js';
import type { SshAlgorithmsUsed } from '../core/result.js';
import { algorithmsFor, negotiated, noCommonAlgorithm, type SshAlgorithmLists } from './ssh-algorithms.js';
import { OutputCap, TransportError, type ExecOptions, type ExecResult, type PutOptions, type Transport } from './transport.js';

/** Where and how to log in. Secrets arrive here already resolved (env var, file or prompt), never argv. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Name in the inventory, used as a known_hosts alias and in messages. */
  name?: string;
  privateKey?: Buffer;
  passphrase?: string;
  password?: string;
  /** ssh-agent socket (SSH_AUTH_SOCK) */
  agent?: string;
}

export interface SshOptions {
  knownHosts: KnownHosts;
  /** Trust on first use: record an unknown key instead of refusing. A changed key is refused regardless. */
  acceptNew?: boolean;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Reach the target through this bastion (ProxyJump). */
  jump?: SshTarget;
  /** The algorithms to offer the target (default: ssh-algorithms.ts's defaults, no legacy ones). */
  algorithms?: SshAlgorithmLists;
  /** Output (stdout + stderr) one command may send before it is stopped (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number;
}

function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** Turns ssh2's and the socket's errors into the per-host reasons the report shows. */
function classify(err: Error & { level?: string; code?: string }, where: string, hostKeyError?: TransportError, debug: string[] = []): TransportError {
  if (hostKeyError) return hostKeyError;
  const none = noCommonAlgorithm(err.message, debug);
  if (none) return new TransportError('protocol', `${where}: ${none}`);
  if (err.level === 'client-authentication') {
    return new TransportError('auth-failed', `${where}: authentication failed (${err.message}); check the user, key or password`);
  }
  if (err.level === 'client-timeout') return new TransportError('timeout', `${where}: timed out waiting for the SSH handshake`);
  if (err.code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT'].includes(err.code)) {
    return new TransportError('unreachable', `${where}: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'host name not found' : err.message}`);
  }
  // The server closed the connection before its banner: sshd restarting, MaxStartups full, tcp wrappers. Not
  // a protocol fault of the host: it did not take us in this time, and a later attempt may get through.
  if (/Connection lost before handshake/i.test(err.message)) {
    return new TransportError('unreachable', `${where}: the server closed the connection before the SSH handshake (sshd restarting, MaxStartups full, or tcp wrappers)`);
  }
  return new TransportError('protocol', `${where}: ${err.message}`);
}

function connectClient(target: SshTarget, opts: SshOptions, sock?: Duplex, onAlgorithms?: (a: SshAlgorithmsUsed) => void): Promise<Client> {
  const where = `${target.name ?? target.host} (${target.host}:${target.port})`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyError: TransportError | undefined;
    let settled = false;
    // ssh2's handshake lines (what each side offers), kept until the login, to say why none matched.
    const debug: string[] = [];
    const algorithms = opts.algorithms ?? algorithmsFor(undefined);
    const serverHostKey = preferPinned(algorithms.serverHostKey, opts.knownHosts.pinnedTypes(target.host, target.port, target.name));
    const cfg: ConnectConfig = {
      algorithms: { kex: algorithms.kex as never, serverHostKey: serverHostKey as never, cipher: algorithms.cipher as never, hmac: algorithms.hmac as never },
      debug: (line: string) => {
        if (!settled && /^Handshake: \(remote\)/.test(line) && debug.length < 20) debug.push(line);
      },
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: opts.connectTimeoutMs ?? 20_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      // With a password: also keyboard-interactive, the only way some servers take one (stock SLES and others
      // with PasswordAuthentication no and PAM behind keyboard-interactive), as OpenSSH's client does.
      tryKeyboard: target.password !== undefined,
      hostVerifier: (key: Buffer) => {
        const type = keyTypeOf(key);
        const v = opts.knownHosts.verify(target.host, target.port, type, key, target.name);
        if (v.status === 'match') return true;
        const fp = fingerprint(key.toString('base64'));
        if (v.status === 'unknown') {
          if (opts.acceptNew) {
            opts.knownHosts.add(target.host, target.port, type, key);
            return true;
          }
          hostKeyError = new TransportError(
            'host-key-unknown',
            `${where}: host key ${type} ${fp} is not in ${opts.knownHosts.file}; verify it and add it, or pass --accept-new to trust it on first use`,
          );
          return false;
        }
        if (v.status === 'ca-only') {
          hostKeyError = new TransportError(
            'host-key-unknown',
            `${where}: host key ${type} ${fp} is not pinned, and ${v.file}:${v.lines.join(',')} says a @cert-authority vouches for this host, but host certificates are not checked by this client; pin the host's key in known_hosts (--accept-new does not trust a plain key in place of a certificate)`,
          );
          return false;
        }
        if (v.status === 'revoked') {
          hostKeyError = new TransportError('host-key-changed', `${where}: host key ${fp} is marked @revoked in ${v.file}:${v.line}`);
          return false;
        }
        hostKeyError = new TransportError(
          'host-key-changed',
          `${where}: HOST KEY CHANGED: known ${v.expected.join(', ')} (${v.file}:${v.lines.join(',')}), offered ${type} ${fp}${v.knownTypes.includes(type) ? '' : ` (the host is pinned with ${v.knownTypes.join(', ')} only: a key of another type is not trusted in its place)`}; refusing (possible man-in-the-middle)`,
        );
        return false;
      },
    };
    if (sock) cfg.sock = sock;
    if (target.privateKey) cfg.privateKey = target.privateKey;
    if (target.passphrase) cfg.passphrase = target.passphrase;
    if (target.password !== undefined) cfg.password = target.password;
    if (target.agent) cfg.agent = target.agent;
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      // The login password goes to one hidden prompt that asks for a password, nothing else: any other question
      // (an OTP, a changed-password dialogue) is left unanswered, and the login fails as refused.
      const asks = prompts.length === 1 && !prompts[0]!.echo && /pass(word|wort|wd)|密码|mot de passe|contraseña/i.test(prompts[0]!.prompt);
      finish(asks && target.password !== undefined ? [target.password] : []);
    });
    client.on('handshake', (n) => onAlgorithms?.(negotiated(n)));
    client.on('ready', () => {
      settled = true;
      resolve(client);
    });
    // An 'error' with no listener would crash the process; after connect, errors surface on the operation.
    client.on('error', (err: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(classify(err, where, hostKeyError, debug));
    });
    client.on('close', () => {
      if (settled) return;
      settled = true;
      reject(hostKeyError ?? new TransportError('unreachable', `${where}: connection closed during the handshake`));
    });
    try {
      client.connect(cfg);
    } catch (err) {
      settled = true;
      reject(new TransportError('protocol', `${where}: ${(err as Error).message}`));
    }
  });
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  private constructor(
    private readonly client: Client,
    private readonly jump: Client | undefined,
    readonly where: string,
    private readonly maxOutputBytes?: number,
  ) {
    client.on('error', () => {}); // late errors (keepalive timeout) are reported by the pending operation
    client.on('close', () => {
      this.closed = true;
      // An SFTP write in flight gets no callback when the connection dies: fail it here.
      for (const fail of this.pending) fail(new TransportError('lost', `${this.where}: the connection was lost`));
      this.pending.clear();
    });
  }

  private readonly pending = new Set<(e: Error) => void>();

  /** The connection is gone (peer closed, sshd killed, keepalive timeout): pending commands fail with 'lost'. */
  private closed = false;
  private sftpSession: Promise<SFTPWrapper> | undefined;

  /** The algorithms the handshake with the target settled on. */
  algorithms: SshAlgorithmsUsed | undefined;

  static async connect(target: SshTarget, opts: SshOptions): Promise<SshTransport> {
    const where = `${target.name ?? target.host} (${target.host}:${target.port})`;
    let used: SshAlgorithmsUsed | undefined;
    const record = (a: SshAlgorithmsUsed) => (used = a);
    const done = (t: SshTransport) => {
      t.algorithms = used;
      return t;
    };
    if (!opts.jump) return done(new SshTransport(await connectClient(target, opts, undefined, record), undefined, where, opts.maxOutputBytes));
    // The bastion is the operator's own: it gets the default algorithms, not the target's legacy ones.
    const { algorithms: _target, ...jumpOpts } = opts;
    const jump = await connectClient(opts.jump, jumpOpts);
    jump.on('error', () => {});
    try {
      const sock = await new Promise<ClientChannel>((resolve, reject) =>
        jump.forwardOut('127.0.0.1', 0, target.host, target.port, (err, stream) =>
          err ? reject(new TransportError('unreachable', `${where}: the jump host could not connect to it (${err.message})`)) : resolve(stream),
        ),
      );
      return done(new SshTransport(await connectClient(target, opts, sock, record), jump, where, opts.maxOutputBytes));
    } catch (err) {
      jump.end();
      throw err;
    }
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new TransportError('lost', `${this.where}: the connection was lost`));
      this.client.exec(command, (err, stream) => {
        if (err) {
          return reject(this.closed ? new TransportError('lost', `${this.where}: the connection was lost`) : new TransportError('protocol', `${this.where}: cannot start a command (${err.message})`));
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
          timer = setTimeout(() => {
            stream.signal('KILL');
            stream.close();
            reject(new TransportError('timeout', `${this.where}: command timed out after ${Math.round(opts.timeoutMs! / 1000)} s`));
          }, opts.timeoutMs);
        }
        const cap = new OutputCap(this.maxOutputBytes);
        let stopped = false;
        // Past the cap the command is killed and what it sent is dropped: the step fails, the connection stays.
        const overflow = (n: number): boolean => {
          if (stopped || !cap.add(n)) return stopped;
          stopped = true;
          if (timer) clearTimeout(timer);
          out.length = 0;
          errOut.length = 0;
          stream.signal('KILL');
          stream.close();
          reject(cap.error(this.where));
          return true;
        };
        stream.on('data', (d: Buffer) => {
          if (overflow(d.length)) return;
          out.push(d);
          opts.onStdout?.(d.toString('utf8'));
        });
        stream.stderr.on('data', (d: Buffer) => {
          if (!overflow(d.length)) errOut.push(d);
        });
        stream.on('error', () => {});
        stream.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          // A channel closed without an exit status because the connection died is not a result.
          if (code == null && !signal) {
            setImmediate(() => reject(new TransportError('lost', `${this.where}: the connection was lost while a command ran`)));
            return;
          }
          resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** One SFTP session per connection, opened on the first upload. */
  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          this.sftpSession = undefined;
          reject(this.closed ? new TransportError('lost', `${this.where}: the connection was lost`) : new TransportError('protocol', `${this.where}: SFTP unavailable (${err.message})`));
        } else resolve(sftp);
      });
    });
    return this.sftpSession;
  }

  async put(content: Buffer, remotePath: string, mode = 0o600, opts: PutOptions = {}): Promise<void> {
    if (this.closed) throw new TransportError('lost', `${this.where}: the connection was lost`);
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) => {
      const lost = (e: Error) => reject(e);
      this.pending.add(lost);
      // A stalled upload fails the step; the SFTP session goes with it (its write may still be in flight).
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            this.pending.delete(lost);
            this.sftpSession = undefined;
            sftp.end();
            reject(new TransportError('timeout', `${this.where}: upload to ${remotePath} timed out after ${Math.round(opts.timeoutMs! / 1000)} s`));
          }, opts.timeoutMs)
        : undefined;
      sftp.writeFile(remotePath, content, { mode }, (e) => {
        if (timer) clearTimeout(timer);
        this.pending.delete(lost);
        if (!e) return resolve();
        reject(this.closed ? new TransportError('lost', `${this.where}: the connection was lost during the upload to ${remotePath}`) : new TransportError('protocol', `${this.where}: upload to ${remotePath} failed (${e.message})`));
      });
    });
  }

  async close(): Promise<void> {
    if (this.sftpSession) (await this.sftpSession.catch(() => undefined))?.end();
    this.client.end();
    this.jump?.end();
  }
}

/**
 * The WS-Management test peer's message encryption, done by code that is not ours: test/support/ntlm-judge.py
 * in its --serve mode, a long-running Debian python3 holding the server end of each NTLM session in
 * ntlm-auth's SessionSecurity and framing with pywinrm's Encryption (what Ansible's WinRM connection runs).
 * The peer hands it the exported session key it derived from the login it verified (wsman-peer-ntlm.ts);
 * every sealed request is unsealed there and every reply to one sealed there.
 *
 * The process starts on first use and ends with the peer (`close`), or by itself when its stdin closes
 * (the test process went away). Requests are answered in order, one JSON line each.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Debian's own python3 (its packages live where another python3 on PATH — pyenv's, say — does not look). */
export const JUDGE_PYTHON = '/usr/bin/python3';
export const JUDGE_SCRIPT = fileURLToPath(new URL('./ntlm-judge.py', import.meta.url));
export const JUDGE_INSTALL = 'apt-get install python3-ntlm-auth python3-winrm (scripts/setup does)';
/** The environment the judge runs in: ours, without a PYTHONPATH/PYTHONHOME that would hide Debian's packages. */
export function judgeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return env;
}

type Answer = Record<string, unknown> & { error?: string };

export class SealingJudge {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: Array<{ resolve: (a: Answer) => void; reject: (e: Error) => void }> = [];
  private buffered = '';
  private stderr = '';
  private failure: Error | undefined;
  private nextId = 0;
  private stopped = false;

  /** A fresh id for a session. */
  newSessionId(): string {
    return `s${++this.nextId}`;
  }

  async open(id: string, flags: number, exportedSessionKey: Buffer): Promise<void> {
    const a = await this.ask({ op: 'open', id, flags, key: exportedSessionKey.toString('hex') });
    if (a.error) throw new Error(`ntlm-judge could not open session ${id}: ${a.error}`);
  }

  /** A sealed request → its SOAP, or the reason pywinrm / ntlm-auth refused it. */
  async unwrap(id: string, contentType: string, body: Buffer): Promise<{ plaintext: Buffer } | { error: string }> {
    const a = await this.ask({ op: 'unwrap', id, contentType, body: body.toString('base64') });
    return typeof a.plaintext === 'string' ? { plaintext: Buffer.from(a.plaintext, 'base64') } : { error: a.error ?? 'no answer' };
  }

  /** A reply → its sealed body and Content-Type. */
  async wrap(id: string, message: Buffer): Promise<{ contentType: string; body: Buffer }> {
    const a = await this.ask({ op: 'wrap', id, message: message.toString('base64') });
    if (a.error || typeof a.body !== 'string') throw new Error(`ntlm-judge could not seal a reply: ${a.error ?? 'no body'}`);
    return { contentType: String(a.contentType), body: Buffer.from(a.body, 'base64') };
  }

  async close(id: string): Promise<void> {
    if (this.child) await this.ask({ op: 'close', id });
  }

  /** MsvAvChannelBindings for a certificate (DER), by requests-ntlm's certificate hash and ntlm-auth's bindings struct. */
  async channelBindingToken(certDer: Buffer): Promise<Buffer> {
    const a = await this.ask({ op: 'cbt', certs: [certDer.toString('base64')] });
    const r = (a.results as Array<{ token?: string; error?: string }> | undefined)?.[0];
    if (!r?.token) throw new Error(`ntlm-judge found no channel binding token for the certificate: ${r?.error ?? a.error ?? 'no answer'}`);
    return Buffer.from(r.token, 'hex');
  }

  /** Ends the process (idempotent). */
  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    if (!c) return;
    this.child = undefined;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.stdin.end();
    const t = setTimeout(() => c.kill('SIGKILL'), 2_000);
    await gone;
    clearTimeout(t);
  }

  private start(): ChildProcessWithoutNullStreams {
    if (!existsSync(JUDGE_PYTHON)) throw new Error(`the peer's sealing needs Debian's ${JUDGE_PYTHON} with python3-ntlm-auth and python3-winrm: ${JUDGE_INSTALL}`);
    const c = spawn(JUDGE_PYTHON, [JUDGE_SCRIPT, '--serve'], { env: judgeEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    c.stdout.setEncoding('utf8');
    c.stderr.setEncoding('utf8');
    c.stdout.on('data', (d: string) => {
      this.buffered += d;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        if (!w) continue;
        try {
          w.resolve(JSON.parse(line) as Answer);
        } catch (e) {
          w.reject(new Error(`ntlm-judge answered something that is not JSON: ${line.slice(0, 200)} (${(e as Error).message})`));
        }
      }
    });
    c.stderr.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    c.on('error', (e) => this.fail(e));
    c.on('exit', (code, signal) => {
      const why = code === 3 ? `${this.stderr.trim()} — ${JUDGE_INSTALL}` : `exit ${code ?? signal}: ${this.stderr.trim()}`;
      this.fail(new Error(`ntlm-judge --serve ended (${why})`));
    });
    return c;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  private ask(request: Record<string, unknown>): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.stopped) return Promise.reject(new Error('the peer is closed'));
    this.child ??= this.start();
    const c = this.child;
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      c.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }
}

/**
 * An in-process SSH server (ssh2.Server on 127.0.0.1) that answers exec requests through a handler — the
 * shape of Windows' OpenSSH server, whose exec requests reach a command line and stdin. Used to prove the
 * Windows steps run unchanged over SSH; the lab's real OpenSSH servers are for the Linux side.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;

export type ExecHandler = (command: string, stdin: Buffer) => Promise<{ stdout: string | Buffer; stderr?: string | Buffer; exitCode: number }>;

export interface ExecServer {
  port: number;
  /** A known_hosts line for [127.0.0.1]:port with this server's first key (Ed25519 unless told otherwise). */
  knownHostsLine: string;
  /** A known_hosts line for each of its keys, by type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256). */
  knownHostsLines: Record<string, string>;
  /** Every exec request received, in order. */
  execs: string[];
  close(): Promise<void>;
}

export type HostKeyKind = 'ed25519' | 'rsa' | 'ecdsa';

export async function startExecServer(o: {
  user: string;
  password: string | (() => string);
  handler: ExecHandler;
  hostKeys?: HostKeyKind[];
  /** Passwords only through keyboard-interactive, as PAM asks them (PasswordAuthentication no), with this prompt. */
  keyboardPrompt?: string;
}): Promise<ExecServer> {
  const keys = (o.hostKeys ?? ['ed25519']).map((k) =>
    k === 'rsa' ? utils.generateKeyPairSync('rsa', { bits: 2048 }) : k === 'ecdsa' ? utils.generateKeyPairSync('ecdsa', { bits: 256 }) : utils.generateKeyPairSync('ed25519'),
  );
  const key = keys[0]!;
  const execs: string[] = [];
  const server = new Server({ hostKeys: keys.map((k) => k.private) }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      // A function: the account's password as the host holds it now (a reset changes it).
      const pw = typeof o.password === 'function' ? o.password() : o.password;
      if (o.keyboardPrompt !== undefined) {
        if (ctx.method !== 'keyboard-interactive') return ctx.reject(['keyboard-interactive']);
        return ctx.prompt([{ prompt: o.keyboardPrompt, echo: false }], (answers) => (ctx.username === o.user && answers.length === 1 && answers[0] === pw ? ctx.accept() : ctx.reject(['keyboard-interactive'])));
      }
      if (ctx.method === 'password' && ctx.username === o.user && ctx.password === pw) return ctx.accept();
      return ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          execs.push(info.command);
          const chunks: Buffer[] = [];
          ch.on('data', (d: Buffer) => chunks.push(d));
          ch.on('end', () => {
            o.handler(info.command, Buffer.concat(chunks)).then(
              (r) => {
                ch.write(r.stdout);
                if (r.stderr) ch.stderr.write(r.stderr);
                ch.exit(r.exitCode);
                ch.end();
              },
              (e: Error) => {
                ch.stderr.write(`handler failed: ${e.message}\n`);
                ch.exit(255);
                ch.end();
              },
            );
          });
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const pub = key.public.split(' ').slice(0, 2).join(' ');
  const lines = Object.fromEntries(keys.map((k) => [k.public.split(' ')[0]!, `[127.0.0.1]:${port} ${k.public.split(' ').slice(0, 2).join(' ')}`]));
  return {
    port,
    knownHostsLine: `[127.0.0.1]:${port} ${pub}`,
    knownHostsLines: lines,
    execs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Writes a known_hosts file holding the servers' keys. */
export function writeKnownHosts(file: string, servers: ExecServer[]): string {
  writeFileSync(file, servers.map((s) => s.knownHostsLine).join('\n') + '\n');
  return file;
}

import type { ConnectFailure, SshAlgorithmsUsed } from '../core/result.js';

/**
 * What every transport (SSH today, WinRM later) offers the layers above: run a command, upload a file,
 * close. Nothing above this interface knows ssh2 or WS-Management.
 */
export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: string | Buffer;
  /** Kill the command and fail after this long. */
  timeoutMs?: number;
  /** Called with each piece of stdout as it arrives (pieces may split lines); stdout is still returned whole. */
  onStdout?: (chunk: string) => void;
}

export interface ExecResult {
  code: number | null;
  signal?: string | undefined;
  stdout: string;
  stderr: string;
}

export interface Transport {
  readonly kind: 'ssh' | 'winrm';
  /** SSH: the algorithms the handshake settled on (reported in the result). */
  readonly algorithms?: SshAlgorithmsUsed | undefined;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  put(content: Buffer, remotePath: string, mode?: number): Promise<void>;
  close(): Promise<void>;
}

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly reason: ConnectFailure,
    message: string,
  ) {
    super(message);
  }
}

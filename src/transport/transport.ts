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

export interface PutOptions {
  /** Fail the upload after this long (the connection may still be fine: a host that stalls it). */
  timeoutMs?: number | undefined;
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
  put(content: Buffer, remotePath: string, mode?: number, opts?: PutOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * The time limit of an upload: the step limit plus a second per 64 KiB, so a large package on a slow link
 * is not cut off while a host that stalls an upload cannot hold the run.
 */
export function uploadLimitMs(stepTimeoutMs: number, bytes: number): number {
  return stepTimeoutMs + Math.ceil(bytes / 65_536) * 1000;
}

/**
 * What one command may send back (stdout and stderr together) before it is stopped: a hostile or broken host
 * could otherwise fill the controller's memory, and a run holds hundreds of hosts. Generous: the largest real
 * output (a Windows host's facts) is well under 1 MiB. `--max-output` changes it.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 << 20;

/** Counts a command's output against its cap; `add` says whether the cap is now passed. */
export class OutputCap {
  private seen = 0;
  constructor(readonly max: number = DEFAULT_MAX_OUTPUT_BYTES) {}
  add(bytes: number): boolean {
    this.seen += bytes;
    return this.seen > this.max;
  }
  error(where: string): TransportError {
    return new TransportError('protocol', `${where}: output too large: the command sent more than ${sizeText(this.max)} (--max-output); it was stopped`);
  }
}

function sizeText(n: number): string {
  return n % (1 << 20) === 0 ? `${n >> 20} MiB` : `${n} bytes`;
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

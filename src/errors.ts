/**
 * Typed errors and the one place that maps them to exit codes (SPEC "Exit codes"):
 * 0 every host succeeded; 1 a host failed or missed a prerequisite; 2 usage, inventory or package error
 * (nothing was touched); 3 the run was stopped early.
 */
import { UnsafeFileError } from './files.js';
import { PackageError } from './package/errors.js';

export const ExitCode = { Ok: 0, HostFailed: 1, Usage: 2, Stopped: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad input: a flag, an inventory, a package. The message names the input and the fix. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeOf(err: unknown): ExitCode {
  // A report, journal or log path that is a symbolic link or not a file is bad input too.
  if (err instanceof UsageError || err instanceof PackageError || err instanceof UnsafeFileError) return ExitCode.Usage;
  const code = (err as { code?: unknown } | null)?.code;
  // commander's own parse errors (unknown option, missing argument, excess arguments)
  if (typeof code === 'string' && code.startsWith('commander.')) return ExitCode.Usage;
  return ExitCode.HostFailed;
}

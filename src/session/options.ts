/** How to reach and log in to hosts; secrets are already resolved from env vars, files or a prompt. */
export interface ConnectOptions {
  knownHostsFile: string;
  acceptNew: boolean;
  user?: string | undefined;
  keyFile?: string | undefined;
  keyPassphrase?: string | undefined;
  password?: string | undefined;
  become: boolean;
  becomePassword?: string | undefined;
  jump?: string | undefined;
  /** CA bundle for WinRM HTTPS hosts whose inventory names none. */
  winrmCaFile?: string | undefined;
  /** --insecure: WinRM HTTPS certificates are not verified (an explicit choice, never a fallback). */
  winrmInsecure?: boolean | undefined;
  /** --max-output: what one command on a host may send back before it is stopped and its step fails. */
  maxOutputBytes?: number | undefined;
  /** --winrm-cleartext-basic: WinRM Basic over plain http allowed for every host (the password crosses in clear). */
  winrmCleartextBasic?: boolean | undefined;
  connectTimeoutMs: number;
  stepTimeoutMs: number;
  pull: boolean;
  /** Where hosts download the package from (--pull URL); undefined: it is pushed over the connection. */
  pullUrl?: string | undefined;
}

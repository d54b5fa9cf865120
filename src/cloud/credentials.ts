import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/**
 * The AK/SK a run signs its API calls with, and the project they act in. Read from the SDK's own
 * environment variable names or a credentials file (never argv: `ps` shows argv to every user).
 */
export interface CloudCredentials {
  ak: string;
  sk: string;
  /** With temporary credentials (from IAM's securitytokens): sent as X-Security-Token. */
  securityToken?: string | undefined;
  projectId: string;
}

export const ENV = {
  ak: 'HUAWEICLOUD_SDK_AK',
  sk: 'HUAWEICLOUD_SDK_SK',
  securityToken: 'HUAWEICLOUD_SDK_SECURITY_TOKEN',
  projectId: 'HUAWEICLOUD_SDK_PROJECT_ID',
} as const;

/** The names a credentials file may use for each value: ours, the SDK's environment names, and the console's CSV. */
const FILE_KEYS: Record<string, keyof Omit<CloudCredentials, never>> = {
  ak: 'ak', access_key: 'ak', access_key_id: 'ak', [ENV.ak.toLowerCase()]: 'ak',
  sk: 'sk', secret_key: 'sk', secret_access_key: 'sk', [ENV.sk.toLowerCase()]: 'sk',
  security_token: 'securityToken', [ENV.securityToken.toLowerCase()]: 'securityToken',
  project_id: 'projectId', [ENV.projectId.toLowerCase()]: 'projectId',
};

/**
 * Reads a credentials file: `key = value` lines (ak, sk, security_token, project_id, or the SDK's
 * HUAWEICLOUD_SDK_* names), or the credentials.csv the console hands out ("User Name,Access Key Id,Secret
 * Access Key" and one line of values). Refused unless only its owner can read it, as ssh refuses a key.
 */
export function readCredentialsFile(file: string): Partial<CloudCredentials> {
  const flag = '--cloud-credentials';
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'it is a symbolic link' : code ?? 'cannot open it';
    throw new UsageError(`${flag} ${file}: ${why}; give the credentials file itself (mode 600)`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${flag} ${file}: not a regular file; give the credentials file (mode 600)`);
    if ((st.mode & 0o077) !== 0) {
      throw new UsageError(`${flag} ${file}: mode ${(st.mode & 0o777).toString(8)} lets other users read the secret key; chmod 600 ${file}`);
    }
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new UsageError(`${flag} ${file}: owned by another user (uid ${st.uid}); keep your own copy, mode 600`);
    }
    if (st.size > 64 * 1024) throw new UsageError(`${flag} ${file}: ${st.size} bytes is no credentials file; give the file with ak and sk`);
    return parseCredentials(readFileSync(fd, 'utf8'), file);
  } finally {
    closeSync(fd);
  }
}

export function parseCredentials(text: string, file: string): Partial<CloudCredentials> {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';'));
  const out: Partial<CloudCredentials> = {};
  // The console's CSV: a header naming the columns, then the values.
  if (lines[0] && /access key id/i.test(lines[0]) && lines[0].includes(',')) {
    const head = lines[0].split(',').map((h) => h.trim().toLowerCase());
    const vals = (lines[1] ?? '').split(',').map((v) => v.trim());
    const ai = head.indexOf('access key id');
    const si = head.indexOf('secret access key');
    if (ai >= 0 && vals[ai]) out.ak = vals[ai];
    if (si >= 0 && vals[si]) out.sk = vals[si];
    return out;
  }
  for (const [i, line] of lines.entries()) {
    if (/^\[.*\]$/.test(line)) continue; // an INI section header: one profile per file
    const m = /^([A-Za-z_][\w]*)\s*[=:]\s*(.*)$/.exec(line);
    // The line itself is never shown: it may be the secret key.
    if (!m) throw new UsageError(`--cloud-credentials ${file}: line ${i + 1} is not "key = value"; write ak = …, sk = …, project_id = …`);
    const key = FILE_KEYS[m[1]!.toLowerCase()];
    if (!key) continue;
    out[key] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export interface CredentialSources {
  credentialsFile?: string | undefined;
  projectId?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** The run's credentials: the file, else the environment; the project from --project-id, the file or the environment. */
export function resolveCredentials(o: CredentialSources): CloudCredentials {
  const env = o.env ?? process.env;
  const file = o.credentialsFile ? readCredentialsFile(o.credentialsFile) : {};
  const ak = file.ak ?? env[ENV.ak];
  const sk = file.sk ?? env[ENV.sk];
  const where = o.credentialsFile ? `--cloud-credentials ${o.credentialsFile}` : `${ENV.ak}/${ENV.sk}`;
  if (!ak || !sk) {
    throw new UsageError(`--cloud: no access key (${where} ${o.credentialsFile ? 'has no ak and sk' : 'not set'}); export ${ENV.ak} and ${ENV.sk}, or give --cloud-credentials FILE (mode 600)`);
  }
  if (!/^[A-Za-z0-9]{8,128}$/.test(ak)) throw new UsageError(`--cloud: the access key from ${where} is not an AK (letters and digits); check the credentials`);
  const projectId = o.projectId ?? file.projectId ?? env[ENV.projectId];
  if (!projectId) throw new UsageError(`--cloud: no project; give --project-id ID or export ${ENV.projectId} (the project of the region, from "My Credentials")`);
  if (!/^[A-Za-z0-9-]{1,64}$/.test(projectId)) throw new UsageError(`--project-id ${projectId}: not a project id (32 hex characters); copy it from "My Credentials"`);
  const securityToken = file.securityToken ?? (o.credentialsFile ? undefined : env[ENV.securityToken]);
  return { ak, sk, projectId, ...(securityToken ? { securityToken } : {}) };
}

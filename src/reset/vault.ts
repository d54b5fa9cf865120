import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { checkWritablePath, writeFileAtomic } from '../files.js';

/**
 * Where generated passwords live: one file encrypted to the operator's age recipients (`age -d -i KEY FILE`
 * opens it), the only place they are ever written. Each host's entry is in the file, durable (written whole,
 * fsync'd, renamed), before that host is changed, and marked after: a crash, Ctrl-C or kill -9 never leaves
 * a server whose password nobody can read — at worst its entry says `pending` (set or not; try it).
 * Writes are grouped: hosts waiting at the same time share one write (the file is re-encrypted whole each
 * time, so a batch of thousands does not write it thousands of times over).
 */
/** pending: may be set, try it; applied: proven; requested: the cloud accepted it (--offline), it applies at the next start; failed: refused, the old one holds. */
export type VaultState = 'pending' | 'applied' | 'requested' | 'failed';

// Loaded on first use (--generate): its crypto libraries cost ~150 ms, which no other run should pay at start.
let ageLib: Promise<typeof import('age-encryption')> | undefined;
const age = () => (ageLib ??= import('age-encryption'));

export interface VaultEntry {
  host: string;
  address: string;
  account: string;
  password: string;
  state: VaultState;
  /** Why not applied (failed), as the run reported it. */
  error?: string;
  at: string;
}

/** age recipients (X25519, `age1…`), from --encrypt-to and --recipients-file: each one checked now. */
export async function parseRecipients(given: string[], fileText?: { name: string; text: string }): Promise<string[]> {
  const { Encrypter } = await age();
  const out: string[] = [];
  const check = (r: string, where: string) => {
    try {
      new Encrypter().addRecipient(r);
    } catch {
      throw new UsageError(`${where}: ${JSON.stringify(r.slice(0, 80))} is not an age recipient; give the public key age-keygen printed (age1…)`);
    }
    out.push(r);
  };
  for (const r of given) check(r.trim(), '--encrypt-to');
  if (fileText) {
    fileText.text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (l && !l.startsWith('#')) check(l, `--recipients-file ${fileText.name}:${i + 1}`);
    });
  }
  if (out.length === 0) throw new UsageError('--generate: give --encrypt-to age1… or --recipients-file FILE: the passwords must go where only you can read them');
  return out;
}

export class PasswordVault {
  /** Every attempt, in order: a host tried twice keeps both passwords (the first may hold). */
  private readonly entries: VaultEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  private constructor(
    readonly file: string,
    private readonly recipients: string[],
    private readonly header: Record<string, unknown>,
  ) {}

  /** A new vault file: refused if the path exists (never overwrite somebody's passwords) or is a symbolic link. */
  static async create(file: string, recipients: string[], header: Record<string, unknown>): Promise<PasswordVault> {
    checkWritablePath(file, '--out');
    if (existsSync(file)) throw new UsageError(`--out ${file}: the file exists; it may hold passwords: give another path`);
    const v = new PasswordVault(file, recipients, header);
    await v.flush();
    return v;
  }

  /** Records a host's new password (pending) and returns once that is durable: only then may the host be changed. */
  put(e: Omit<VaultEntry, 'state' | 'at'>): Promise<void> {
    this.entries.push({ ...e, state: 'pending', at: new Date().toISOString() });
    return this.flush();
  }

  /** Marks a host's latest entry applied or failed, durably. */
  mark(host: string, state: Exclude<VaultState, 'pending'>, error?: string): Promise<void> {
    const i = this.entries.findLastIndex((e) => e.host === host);
    if (i < 0) return Promise.resolve();
    this.entries[i] = { ...this.entries[i]!, state, at: new Date().toISOString(), ...(error ? { error } : {}) };
    return this.flush();
  }

  /** Resolves when every change made so far is in the file on disk. */
  flush(): Promise<void> {
    this.dirty = true;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.writing = this.writing.then(() => this.writeIfDirty());
    return p;
  }

  private async writeIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const waiting = this.waiters;
    this.waiters = [];
    try {
      const doc = { ...this.header, written: new Date().toISOString(), hosts: this.entries.map((e) => ({ ...e })) };
      const { Encrypter, armor } = await age();
      const e = new Encrypter();
      for (const r of this.recipients) e.addRecipient(r);
      const sealed = armor.encode(await e.encrypt(`${JSON.stringify(doc, null, 2)}\n`));
      writeFileAtomic(this.file, sealed, '--out');
      for (const w of waiting) w.resolve();
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
  }
}

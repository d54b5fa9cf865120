import { randomInt } from 'node:crypto';

/**
 * The password rules of the cloud's reset pages (../shared/seeds: the FlexusL reset page and the ECS batch
 * reset API), as data: each OS and each route has its own set, and one checker and one generator serve them
 * all. The OS sets live with their platform (platform/<os>/password-rules.ts), the API's with the cloud client.
 */
export interface PasswordRules {
  /** Whose rules, for messages: "Linux", "Windows", "the ECS API (Windows)". */
  readonly name: string;
  /** The special characters allowed; any other character that is not a letter or digit is refused. */
  readonly specials: string;
  /** No run of more than two consecutive characters of the user name (Windows). */
  readonly noUserRuns: boolean;
  /** Not starting with a slash (Windows). */
  readonly noLeadingSlash: boolean;
}

export const MIN_LENGTH = 8;
export const MAX_LENGTH = 26;

const CLASSES = [
  { name: 'upper-case letters', test: (c: string) => c >= 'A' && c <= 'Z' },
  { name: 'lower-case letters', test: (c: string) => c >= 'a' && c <= 'z' },
  { name: 'digits', test: (c: string) => c >= '0' && c <= '9' },
] as const;

/**
 * Every rule the password breaks for this user under these rules, each as a phrase; none: it may be used.
 * A phrase never quotes the password or any part of it (a refused password is still somebody's secret).
 * Names are compared without regard to case, as Windows does and as is safer on Linux.
 */
export function brokenRules(password: string, rules: PasswordRules, user: string): string[] {
  const out: string[] = [];
  const chars = [...password];
  if (chars.length < MIN_LENGTH || chars.length > MAX_LENGTH) out.push(`must be ${MIN_LENGTH} to ${MAX_LENGTH} characters (it has ${chars.length})`);
  const isSpecial = (c: string) => rules.specials.includes(c);
  const kinds = CLASSES.filter((k) => chars.some(k.test)).length + (chars.some(isSpecial) ? 1 : 0);
  if (kinds < 3) out.push(`must mix at least three of upper-case letters, lower-case letters, digits and the special characters ${rules.specials} (it has ${kinds})`);
  if (chars.some((c) => !isSpecial(c) && !CLASSES.some((k) => k.test(c)))) {
    out.push(`may hold only letters, digits and ${rules.specials} (it has another character)`);
  }
  const pw = password.toLowerCase();
  const name = user.toLowerCase();
  if (name) {
    if (pw.includes(name)) out.push(`must not contain the user name ${user}`);
    const reversed = [...name].reverse().join('');
    if (reversed !== name && pw.includes(reversed)) out.push(`must not contain the user name ${user} spelled backwards`);
    if (rules.noUserRuns && runsOf(name).some((r) => pw.includes(r))) {
      out.push(`must not contain more than two consecutive characters of the user name ${user}`);
    }
  }
  if (rules.noLeadingSlash && password.startsWith('/')) out.push('must not start with a slash (/)');
  return out;
}

/** Every run of three consecutive characters of a name. */
function runsOf(name: string): string[] {
  const c = [...name];
  return c.length < 3 ? [] : c.slice(0, -2).map((_, i) => c.slice(i, i + 3).join(''));
}

/**
 * One password for several hosts: every rule it breaks for any of them, each once, naming whose rules (all of
 * them, when several share it). `whose` names a check that is not an account's (the API's refused names).
 */
export function brokenForAll(password: string, targets: { rules: PasswordRules; user: string; whose?: string }[]): string[] {
  const out = new Map<string, Set<string>>();
  for (const t of targets) {
    for (const b of brokenRules(password, t.rules, t.user)) {
      const whose = t.whose ?? `${t.rules.name}, account ${t.user}`;
      out.set(b, (out.get(b) ?? new Set()).add(whose));
    }
  }
  return [...out].map(([b, whose]) => `${b} (${[...whose].join('; ')})`);
}

/**
 * A random password that meets the rules for this user: `length` characters (20 by default) with every
 * class present, drawn with the system's CSPRNG; tried again in the rare case it holds the user name.
 */
export function generatePassword(rules: PasswordRules, user: string, length = 20, random: (max: number) => number = randomInt): string {
  if (length < MIN_LENGTH || length > MAX_LENGTH) throw new RangeError(`password length ${length}: give ${MIN_LENGTH} to ${MAX_LENGTH}`);
  const sets = ['ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz', '0123456789', rules.specials];
  const all = sets.join('');
  for (let attempt = 0; attempt < 1000; attempt++) {
    const chars = sets.map((s) => s[random(s.length)]!);
    while (chars.length < length) chars.push(all[random(all.length)]!);
    // Fisher-Yates, so the guaranteed characters are not always first.
    for (let i = chars.length - 1; i > 0; i--) {
      const j = random(i + 1);
      [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    const pw = chars.join('');
    if (brokenRules(pw, rules, user).length === 0) return pw;
  }
  throw new Error(`cannot make a password for the user name ${user} under ${rules.name}'s rules`);
}

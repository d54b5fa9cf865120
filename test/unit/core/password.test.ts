import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { brokenForAll, brokenRules, generatePassword, type PasswordRules } from '../../../src/core/password.js';
import { LINUX_PASSWORD_RULES } from '../../../src/platform/linux/password-rules.js';
import { WINDOWS_PASSWORD_RULES } from '../../../src/platform/windows/password-rules.js';
import { API_PASSWORD_RULES } from '../../../src/cloud/api.js';

/**
 * The reset pages' password rules (../shared/seeds). An oracle written here from the pages' words, by other
 * means than the module (regular expressions), judges the module's checker and generator on random input.
 */
const escape = (s: string) => s.replace(/[\\\]^-]/g, '\\$&');
function oracle(pw: string, specials: string, windows: boolean, user: string): boolean {
  const cls = [/[A-Z]/, /[a-z]/, /[0-9]/, new RegExp(`[${escape(specials)}]`)].filter((r) => r.test(pw)).length;
  const only = new RegExp(`^[A-Za-z0-9${escape(specials)}]*$`).test(pw);
  const len = [...pw].length;
  const p = pw.toLowerCase();
  const u = user.toLowerCase();
  const rev = u.split('').reverse().join('');
  const triple = windows && u.length >= 3 && Array.from({ length: u.length - 2 }, (_, i) => u.slice(i, i + 3)).some((t) => p.includes(t));
  return len >= 8 && len <= 26 && cls >= 3 && only && !(u && (p.includes(u) || p.includes(rev))) && !triple && !(windows && pw.startsWith('/'));
}
const sets: [PasswordRules, boolean][] = [
  [LINUX_PASSWORD_RULES, false], [WINDOWS_PASSWORD_RULES, true], [API_PASSWORD_RULES.linux, false], [API_PASSWORD_RULES.windows, true],
];
const pwChars = fc.constantFrom(...'AbZaz09!@%-_=+[]:./^,{}?~#&*() é'.split(''), 'ro', 'ot', 'Adm', 'min');
const pwArb = fc.array(pwChars, { minLength: 0, maxLength: 30 }).map((a) => a.join(''));
const userArb = fc.constantFrom('root', 'Administrator', 'ops', 'a', 'labuser', 'ab');

describe('the password policy (exactly the seeds\' rules)', () => {
  it('names the special sets of the pages: Linux, Windows, and the API\'s own', () => {
    expect(LINUX_PASSWORD_RULES.specials).toBe('!@%-_=+[]:./^,{}?');
    expect(WINDOWS_PASSWORD_RULES.specials).toBe('!@%-_=+[]:./?');
    expect(API_PASSWORD_RULES.linux.specials).toBe('!@%-_=+[]:./?');
  });

  it('accepts exactly what the pages allow, for any password and user (property)', () => {
    fc.assert(
      fc.property(pwArb, userArb, fc.constantFrom(...sets), (pw, user, [rules, windows]) => {
        expect(brokenRules(pw, rules, user).length === 0).toBe(oracle(pw, rules.specials, windows, user));
      }),
      { numRuns: 3000 },
    );
  });

  it('never quotes the password in what it says (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 40 }), fc.constantFrom(...sets), (pw, [rules]) => {
        expect(brokenRules(pw, rules, 'ops').join(' ')).not.toContain(pw);
      }),
      { numRuns: 2000 },
    );
  });

  it('names every rule broken, in one message per rule', () => {
    expect(brokenRules('/root', WINDOWS_PASSWORD_RULES, 'root')).toEqual([
      'must be 8 to 26 characters (it has 5)',
      'must mix at least three of upper-case letters, lower-case letters, digits and the special characters !@%-_=+[]:./? (it has 2)',
      'must not contain the user name root',
      'must not contain more than two consecutive characters of the user name root',
      'must not start with a slash (/)',
    ]);
    expect(brokenRules('Good^Pass1234', WINDOWS_PASSWORD_RULES, 'ops')).toEqual(['may hold only letters, digits and !@%-_=+[]:./? (it has another character)']);
    expect(brokenRules('Good^Pass1234', LINUX_PASSWORD_RULES, 'ops')).toEqual([]);
    expect(brokenRules('xTOORx-2024z', LINUX_PASSWORD_RULES, 'root')).toEqual(['must not contain the user name root spelled backwards']);
    expect(brokenRules('Str0ng!Admx', WINDOWS_PASSWORD_RULES, 'Administrator')).toEqual(['must not contain more than two consecutive characters of the user name Administrator']);
  });

  it('holds one password to the rules of every host of a batch, saying whose rule each is', () => {
    const said = brokenForAll('Good^Pass1234', [{ rules: LINUX_PASSWORD_RULES, user: 'root' }, { rules: WINDOWS_PASSWORD_RULES, user: 'Administrator' }]);
    expect(said).toEqual(['may hold only letters, digits and !@%-_=+[]:./? (it has another character) (Windows, account Administrator)']);
  });

  it('generates passwords that meet the rules for any user, all different (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sets), fc.string({ minLength: 0, maxLength: 20 }), fc.integer({ min: 8, max: 26 }), ([rules, windows], user, length) => {
        const pw = generatePassword(rules, user, length);
        expect([...pw]).toHaveLength(length);
        expect(oracle(pw, rules.specials, windows, user)).toBe(true);
        expect(/[A-Z]/.test(pw) && /[a-z]/.test(pw) && /[0-9]/.test(pw)).toBe(true);
      }),
      { numRuns: 500 },
    );
    const many = new Set(Array.from({ length: 200 }, () => generatePassword(WINDOWS_PASSWORD_RULES, 'Administrator')));
    expect(many.size).toBe(200);
  });
});

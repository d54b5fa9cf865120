import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Redactor } from '../../src/log.js';

/**
 * The redactor every output passes through: each secret (and its JSON-escaped form) replaced wherever it
 * appears, in one pass over the text however many secrets a run holds (a generated password per host).
 */
describe('Redactor', () => {
  it('replaces every secret and its JSON-escaped form; leaves other text as it is', () => {
    const r = new Redactor(['Hunter2-Pa55', 'quote"d-Secret', undefined, null, 'ab']);
    expect(r.redact('sudo: Hunter2-Pa55 wrong, Hunter2-Pa55 again')).toBe('sudo: [REDACTED] wrong, [REDACTED] again');
    expect(r.redact(JSON.stringify({ e: 'echoed quote"d-Secret' }))).toBe('{"e":"echoed [REDACTED]"}');
    // Shorter than three characters: not a secret worth scrubbing (it would scrub everything).
    expect(r.redact('ab cd')).toBe('ab cd');
    expect(r.redact('')).toBe('');
  });

  it('overlapping secrets leave no piece of either behind', () => {
    const r = new Redactor(['zzab', 'abc123']);
    // Replaced one after the other, the first replacement would leave a piece of the second readable.
    expect(r.redact('x zzabc123 y')).toBe('x [REDACTED] y');
    expect(r.redact('x abc123zzab y')).toBe('x [REDACTED][REDACTED] y');
  });

  it('secrets learnt during the run count from then on', () => {
    const r = new Redactor([]);
    expect(r.redact('New-Pass-0001')).toBe('New-Pass-0001');
    r.add('New-Pass-0001');
    expect(r.redact('pw New-Pass-0001.')).toBe('pw [REDACTED].');
  });

  it('no secret survives, whatever the text and the secrets (against a plain search)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 3, maxLength: 12 }), { minLength: 1, maxLength: 8 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }), (secrets, filler) => {
        const r = new Redactor(secrets);
        const text = filler.flatMap((f, i) => [f, secrets[i % secrets.length]!]).join('');
        const out = r.redact(text);
        // What is left outside the markers holds no secret.
        for (const piece of out.split('[REDACTED]')) for (const s of secrets) expect(piece.includes(s) && !'[REDACTED]'.includes(s)).toBe(false);
      }),
    );
  });

  it('thousands of secrets: a line is scanned once, not once per secret', () => {
    // As --generate makes them: 20 random characters each.
    const secrets = Array.from({ length: 5000 }, () => randomBytes(15).toString('base64'));
    const r = new Redactor([]);
    for (const s of secrets) r.add(s);
    const line = `[12/5000] host-42 reset ${secrets[4321]} done`.padEnd(160, '.');
    expect(r.redact(line)).toBe(line.replace(secrets[4321]!, '[REDACTED]'));
  });
});

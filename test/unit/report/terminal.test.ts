import { describe, expect, it } from 'vitest';
import type { ChangeDocument } from '../../../src/lifecycle/run.js';
import { renderChange } from '../../../src/report/change.js';
import { renderHuman } from '../../../src/report/human.js';
import { Progress } from '../../../src/report/progress.js';
import { printable } from '../../../src/report/text.js';
import { EVIL, hostileDoc, host, updateDoc } from './sample.js';

/**
 * Text a host controls (os-release fields, stderr quoted in errors, CLIXML decoded to ESC) never reaches the
 * terminal raw: no control character or bidirectional override in any human output, only visible escapes, so
 * a host cannot clear the screen, move the cursor, set the window title or reorder what the operator reads.
 */
// Newline is the summaries' own line break; everything else below 0x20, DEL, C1 and the bidi controls go.
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('human output of host-controlled text', () => {
  it('printable() shows control characters as escapes and keeps line breaks', () => {
    expect(printable('a\u001b[2Jb\u0007c\r\nd\u202ee')).toBe('a\\x1b[2Jb\\x07c\nd\\u202ee');
    expect(printable('over\rwrite')).toBe('over\\x0dwrite');
    expect(printable('tab\there')).toBe('tab here');
  });

  it('the audit summary', () => {
    const text = renderHuman(hostileDoc());
    expect(text).not.toMatch(RAW);
    expect(text).toContain('\\x1b[31m');
  });

  it('the change summary and its "By reason"', () => {
    const d = updateDoc() as ChangeDocument;
    d.hosts[4] = { ...d.hosts[4]!, error: `app-5: setup.sh said ${EVIL}\nsecond line` } as never;
    const text = renderChange(d, false);
    expect(text).not.toMatch(RAW);
  });

  it('the progress: one line per host even when the error holds newlines and escapes', () => {
    const chunks: string[] = [];
    const out = { write: (s: string) => (chunks.push(s), true), columns: 100 } as unknown as NodeJS.WriteStream;
    const p = new Progress(out, false);
    p.start(1, 'update');
    p.reconnect('h\u001b]0;title\u0007', 0, `lost ${EVIL}`);
    p.hostDone(host('h1', 'failed', { error: `boom ${EVIL}\nmore` }));
    p.stop();
    const text = chunks.join('');
    expect(text).not.toMatch(RAW);
    expect(text.trimEnd().split('\n')).toHaveLength(3);
  });
});

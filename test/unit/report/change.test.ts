import { describe, expect, it } from 'vitest';
import type { ChangeDocument } from '../../../src/lifecycle/run.js';
import { renderChange } from '../../../src/report/change.js';
import { updateDoc } from './sample.js';

/** The human summary of a change run: a row per host, then the details an operator acts on. */
describe('renderChange', () => {
  it('says which hosts lost their connection during the change and how often the controller got back in', () => {
    const d = updateDoc() as ChangeDocument;
    d.hosts[0] = { ...d.hosts[0]!, reconnects: 2 };
    d.hosts[3] = { ...d.hosts[3]!, reconnects: 1 };
    const text = renderChange(d, false);
    expect(text).toContain('  app-1: the connection dropped during the change; the controller reconnected 2 times\n');
    expect(text).toContain('  app-4: the connection dropped during the change; the controller reconnected once\n');
    expect(text).not.toMatch(/app-2: the connection dropped/);
  });
});

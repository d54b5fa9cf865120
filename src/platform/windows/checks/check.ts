import type { WindowsFacts } from '../facts.js';
import type { CheckContext, CheckResult } from '../../../core/check.js';

/** A Windows check: a pure function of the host's facts, like the Linux ones, so it is tested on recorded facts. */
export type WindowsCheck = (f: WindowsFacts, ctx: CheckContext) => CheckResult;

/** A section the facts script could not read, as the `error` detail of the checks that needed it. */
export const unreadable = (f: WindowsFacts, section: string): string | null => (f.errors[section] ? `could not be read: ${f.errors[section]}` : null);

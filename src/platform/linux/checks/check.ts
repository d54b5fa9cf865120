import type { CheckContext, CheckResult } from '../../../core/check.js';
import type { LinuxFacts } from '../facts.js';

/** A Linux check is a pure function of facts: no I/O, so it is tested on recorded facts. */
export type LinuxCheck = (f: LinuxFacts, ctx: CheckContext) => CheckResult;

import { linux } from './linux/index.js';
import type { OsFamily } from '../inventory/os-family.js';
import type { Platform } from './platform.js';
import { windows } from './windows/index.js';

/**
 * The registry of platforms: a target's `os` picks its Platform. A new OS is a folder implementing
 * Platform (platform.ts) and one line here.
 */
const PLATFORMS: Readonly<Record<OsFamily, Platform<any>>> = { linux, windows };

export function platformOf(os: OsFamily): Platform<any> {
  return PLATFORMS[os];
}

/** Every check id of every platform, each once, in report order (the first platform's order, then the rest). */
export const CHECK_IDS: readonly string[] = [...new Set(Object.values(PLATFORMS).flatMap((p) => p.checkIds))];

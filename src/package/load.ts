import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PackageError } from './errors.js';
import { linuxTar } from './tar.js';
import { verifyPackage, type PackageInfo } from './verify.js';

/** A verified package, read once: what it is, its bytes (those whose hash was checked), and its Linux tar on demand. */
export interface LoadedPackage {
  info: PackageInfo;
  bytes: Buffer;
  /** The package's Linux folders as a ustar archive, for hosts without unzip (built on first use). */
  tar: () => Buffer;
}

/** Verifies the package and reads it once; the bytes sent are the bytes whose hash was checked. */
export async function loadPackage(zipPath: string, sha256?: string): Promise<LoadedPackage> {
  const info = await verifyPackage(zipPath, sha256 !== undefined ? { sha256 } : {});
  const bytes = readFileSync(zipPath);
  if (createHash('sha256').update(bytes).digest('hex') !== info.sha256) {
    throw new PackageError(`${zipPath}: the file changed while it was being read; run again`);
  }
  let tar: Buffer | undefined;
  return { info, bytes, tar: () => (tar ??= linuxTar(bytes, info)) };
}


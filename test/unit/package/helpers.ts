import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The system Python, not whatever a virtualenv puts first on PATH: the builder needs only its stdlib. */
export const PY = '/usr/bin/python3';
export const LINUX = 'CloudResetPwdAgent/CloudResetPwdAgent.Linux';
export const AGENT = `${LINUX}/CloudrResetPwdAgent`;

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `rpf-${tag}-`));
}

export type FixtureVersion = '1.0.5' | '1.1.2' | '2.1.0';

export interface TestDir {
  dir: string;
  /** The standard fixtures in `dir`, when asked for. */
  zips: Record<FixtureVersion, string>;
}

/** A temp folder for this test file (filled in by beforeAll, removed by afterAll), with the fixtures if asked. */
export function useTestDir(tag: string, opts: { fixtures?: boolean } = {}): TestDir {
  const t = {} as TestDir;
  beforeAll(() => {
    t.dir = tempDir(tag);
    if (opts.fixtures) t.zips = buildFixtures(t.dir);
  });
  afterAll(() => rmSync(t.dir, { recursive: true, force: true }));
  return t;
}

/** The standard fixture set (old/AUTO, current/AUTO, current/PIPE), built fresh by the real builder. */
export function buildFixtures(out: string): Record<FixtureVersion, string> {
  execFileSync(PY, [path.join(REPO, 'scripts/build-fixture-package'), '--defaults', '--out', out]);
  const zip = (v: string) => path.join(out, `CloudResetPwdAgent-${v}.zip`);
  return { '1.0.5': zip('1.0.5'), '1.1.2': zip('1.1.2'), '2.1.0': zip('2.1.0') };
}

export interface ZipSpec {
  name: string;
  data?: string | Buffer;
  /** st_mode, file type bits included (0o100755, 0o040755, 0o120777); absent: Python's default, 0o600 for files. */
  mode?: number;
  stored?: boolean;
}

const PY_ZIP = `
import base64, json, sys, warnings, zipfile
warnings.simplefilter("ignore")  # duplicate names are what some tests want
spec = json.load(sys.stdin)
with zipfile.ZipFile(spec["out"], "w") as z:
    z.comment = spec["comment"].encode()
    for f in spec["files"]:
        zi = zipfile.ZipInfo(f["name"], (2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_STORED if f["stored"] or f["name"].endswith("/") else zipfile.ZIP_DEFLATED
        zi.external_attr = f["mode"] << 16
        z.writestr(zi, base64.b64decode(f["b64"]))
`;

/** Writes a zip with Python's zipfile (an independent writer) and returns its path. */
export function pyZip(out: string, files: ZipSpec[], comment = ''): string {
  const spec = {
    out,
    comment,
    files: files.map((f) => ({
      name: f.name,
      b64: Buffer.from(f.data ?? '').toString('base64'),
      mode: f.mode ?? 0,
      stored: f.stored ?? false,
    })),
  };
  execFileSync(PY, ['-c', PY_ZIP], { input: JSON.stringify(spec) });
  return out;
}

/** The least a zip needs to pass as the plug-in: the Linux setup.sh under the usual top folder. */
export function minimalPackage(...extra: ZipSpec[]): ZipSpec[] {
  return [
    { name: 'CloudResetPwdAgent/', mode: 0o40755 },
    { name: `${LINUX}/`, mode: 0o40755 },
    { name: `${LINUX}/setup.sh`, data: '#!/bin/bash\necho install\n', mode: 0o100644, stored: true },
    ...extra,
  ];
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Writes `<zip>.sha256` as the cloud's bucket does ("<hex>  <file>"), unless other text is given. */
export function writeSha256(zip: string, text = `${sha256(zip)}  ${path.basename(zip)}\n`): string {
  writeFileSync(`${zip}.sha256`, text);
  return zip;
}

/** Where the central directory record of `name` starts (the central copy of a name comes after its local one). */
export function centralRecord(buf: Buffer, name: string): number {
  const p = buf.lastIndexOf(Buffer.from(name)) - 46;
  if (p < 0 || buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`no central record for ${name}`);
  return p;
}

/** Where the data of a stored entry starts (Python writes no local extra field for small files). */
export function localData(buf: Buffer, name: string): number {
  const n = buf.indexOf(Buffer.from(name));
  if (n < 30 || buf.readUInt32LE(n - 30) !== 0x04034b50) throw new Error(`no local header for ${name}`);
  return n + name.length + buf.readUInt16LE(n - 30 + 28);
}

export function flipBits(buf: Buffer, at: number, mask = 0x20): void {
  buf.writeUInt8(buf.readUInt8(at) ^ mask, at);
}

export function patchFile(file: string, patch: (buf: Buffer) => Buffer | void): string {
  const buf = readFileSync(file);
  writeFileSync(file, patch(buf) ?? buf);
  return file;
}

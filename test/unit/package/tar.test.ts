import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackageError } from '../../../src/package/errors.js';
import { linuxTar } from '../../../src/package/tar.js';
import { verifyPackage } from '../../../src/package/verify.js';
import { AGENT, LINUX, centralRecord, patchFile, pyZip, writeSha256, useTestDir } from './helpers.js';

const t = useTestDir('tar', { fixtures: true });

/**
 * One line per path: type, permission bits, mtime in seconds, and the SHA-256 of a file's bytes. Folders the
 * zip only implies get the time of extraction from every tool, so a recent time reads "now".
 */
function snapshot(root: string): string[] {
  const lines: string[] = [];
  const recent = Date.now() - 3600_000;
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = path.join(rel, name);
      const st = lstatSync(path.join(root, p));
      const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'other';
      const hash = st.isFile() ? createHash('sha256').update(readFileSync(path.join(root, p))).digest('hex') : '';
      const mtime = st.mtimeMs > recent ? 'now' : String(Math.floor(st.mtimeMs / 1000));
      lines.push(`${kind} ${(st.mode & 0o7777).toString(8)} ${mtime} ${p} ${hash}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return lines;
}

function fresh(name: string): string {
  const d = path.join(t.dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  return d;
}

/** The Linux part as unzip gives it, and as GNU tar and busybox tar give it from linuxTar's output. */
async function extractAll(zip: string, tag: string): Promise<{ unzip: string[]; gnu: string[]; busybox: string[]; tar: Buffer }> {
  const tar = linuxTar(readFileSync(zip), (await verifyPackage(zip)));
  const [u, g, b] = ['unzip', 'gnu', 'busybox'].map((t) => fresh(`${tag}-${t}`)) as [string, string, string];
  execFileSync('unzip', ['-q', zip, '-d', u, '-x', '*.Windows/*']);
  execFileSync('tar', ['-xf', '-', '-C', g], { input: tar });
  execFileSync('busybox', ['tar', '-xf', '-', '-C', b], { input: tar });
  return { unzip: snapshot(u), gnu: snapshot(g), busybox: snapshot(b), tar };
}

describe('linuxTar', () => {
  it.each(['1.0.5', '1.1.2', '2.1.0'] as const)(
    'extracts %s with GNU tar and busybox tar to exactly what unzip gives: paths, bytes, modes, times',
    async (v) => {
      const r = await extractAll(t.zips[v], `fixture-${v}`);
      expect(r.unzip.length).toBeGreaterThan(20);
      expect(r.gnu).toEqual(r.unzip);
      expect(r.busybox).toEqual(r.unzip);
    },
  );

  it('holds only the Linux folders: the update agent in the old layout, never the Windows parts', async () => {
    const listing = async (zip: string) =>
      execFileSync('tar', ['-tf', '-'], { input: linuxTar(readFileSync(zip), await verifyPackage(zip)), encoding: 'utf8' });
    const old = await listing(t.zips['1.0.5']);
    expect(old).toContain('CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux/setup.sh');
    expect(old).toContain(`${LINUX}/setup.sh`);
    expect(old).not.toMatch(/Windows/);
    expect(await listing(t.zips['2.1.0'])).not.toMatch(/UpdateAgent|Windows/);
  });

  it('keeps names over 100 bytes (ustar prefix or pax record), permission bits, and drops setuid as unzip does', async () => {
    const deep = `${AGENT}/${'deep/'.repeat(20)}file.txt`;
    const long = `${AGENT}/lib/${'x'.repeat(120)}.jar`;
    const deeper = `${AGENT}/${'deeper/'.repeat(40)}end.txt`;
    const zip = pyZip(path.join(t.dir, 'names.zip'), [
      { name: `${LINUX}/setup.sh`, data: 'echo\n', mode: 0o100755 },
      { name: `${AGENT}/private/`, mode: 0o40700 },
      { name: `${AGENT}/private/key`, data: 'k', mode: 0o100600 },
      { name: `${AGENT}/bin/suid`, data: 's', mode: 0o104755 },
      { name: deep, data: 'deep' },
      { name: long, data: 'long' },
      { name: deeper, data: 'deeper' },
      { name: 'CloudResetPwdAgent/CloudResetPwdAgent.Windows/setup.bat', data: 'rem\r\n' },
    ]);
    writeSha256(zip);
    const r = await extractAll(zip, 'names');
    expect(r.gnu).toEqual(r.unzip);
    expect(r.busybox).toEqual(r.unzip);
    expect(r.gnu.find((l) => l.includes('bin/suid'))).toMatch(/^f 755 /);
    expect(r.gnu.find((l) => l.endsWith('/private '))).toMatch(/^d 700 /);
    for (const name of [deep, long, deeper]) expect(r.gnu.some((l) => l.includes(` ${name} `))).toBe(true);
    const pax = (name: string) => r.tar.includes(Buffer.from(`path=${name}\n`));
    expect([pax(deep), pax(long), pax(deeper)]).toEqual([false, true, true]); // deep fits ustar's prefix field
  });

  it('gives 0644 to a file and 0755 to a folder the zip records no unix mode for', async () => {
    const zip = pyZip(path.join(t.dir, 'nomode.zip'), [
      { name: `${LINUX}/`, mode: 0o40755 },
      { name: `${LINUX}/setup.sh`, data: 'echo\n' },
    ]);
    patchFile(zip, (b) => {
      b.writeUInt32LE(0x10, centralRecord(b, `${LINUX}/`) + 38); // MS-DOS folder attribute only
      b.writeUInt32LE(0, centralRecord(b, `${LINUX}/setup.sh`) + 38);
    });
    writeSha256(zip);
    const g = fresh('nomode-gnu');
    execFileSync('tar', ['-xf', '-', '-C', g], { input: linuxTar(readFileSync(zip), (await verifyPackage(zip))) });
    expect(snapshot(g).map((l) => l.split(' ').slice(0, 2).join(' ') + ' ' + l.split(' ')[3])).toEqual([
      'd 755 CloudResetPwdAgent',
      'd 755 CloudResetPwdAgent/CloudResetPwdAgent.Linux',
      'f 644 CloudResetPwdAgent/CloudResetPwdAgent.Linux/setup.sh',
    ]);
  });

  it('refuses zip bytes other than those verified', async () => {
    const info = (await verifyPackage(t.zips['2.1.0']));
    expect(() => linuxTar(readFileSync(t.zips['1.1.2']), info)).toThrow(PackageError);
    expect(() => linuxTar(readFileSync(t.zips['1.1.2']), info)).toThrow(/changed since it was verified/);
  });
});

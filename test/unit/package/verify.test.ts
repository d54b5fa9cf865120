import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackageError, verifyPackage } from '../../../src/package/verify.js';
import { BAD_CASES } from './bad-packages.js';
import { AGENT, LINUX, minimalPackage, pyZip, sha256, writeSha256, useTestDir } from './helpers.js';

const t = useTestDir('verify', { fixtures: true });

async function errorOf(fn: () => unknown): Promise<PackageError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof PackageError) return e;
    throw e;
  }
  throw new Error('expected a PackageError');
}

describe('verifyPackage on the fixture packages', () => {
  it('reads 1.0.5 as the old two-agent layout: log4j 2.8.2, AUTO, Java from the update agent', async () => {
    const p = (await verifyPackage(t.zips['1.0.5']));
    expect(p).toMatchObject({
      fileName: 'CloudResetPwdAgent-1.0.5.zip',
      path: path.resolve(t.zips['1.0.5']),
      sha256: sha256(t.zips['1.0.5']),
      prefix: 'CloudResetPwdAgent/',
      layout: 'old',
      linuxDir: LINUX,
      updateLinuxDir: 'CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux',
      windows: true,
      version: '1.0.5',
      log4j: '2.8.2',
      mode: 'AUTO',
      javaCommand: '/CloudResetPwdUpdateAgent/depend/jre1.8.0_131/bin/java',
    });
  });

  it('reads 1.1.2 as the current layout in AUTO mode with log4j 2.12.1 and its own Java', async () => {
    expect((await verifyPackage(t.zips['1.1.2']))).toMatchObject({
      layout: 'current',
      updateLinuxDir: null,
      version: '1.1.2',
      log4j: '2.12.1',
      mode: 'AUTO',
      javaCommand: '/CloudrResetPwdAgent/depend/jre1.8.0_372/bin/java',
    });
  });

  it('reads 2.1.0 as the current layout in PIPE mode with log4j 2.17.1', async () => {
    expect((await verifyPackage(t.zips['2.1.0']))).toMatchObject({ layout: 'current', version: '2.1.0', log4j: '2.17.1', mode: 'PIPE', windows: true });
  });

  it("gives the size, entry count and unpacked bytes that unzip reports, and the agent jar's SHA-256", async () => {
    const zip = t.zips['2.1.0'];
    const p = (await verifyPackage(zip));
    const listing = execFileSync('unzip', ['-l', zip], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const [bytes, files] = listing.trim().split(/\s+/).map(Number);
    expect([p.unpackedBytes, p.entries]).toEqual([bytes, files]);
    const jar = execFileSync('unzip', ['-p', zip, `${AGENT}/lib/resetpwdagent.jar`]);
    expect(p.agentJarSha256).toBe(createHash('sha256').update(jar).digest('hex'));
  });
});

describe('verifyPackage on other shapes of the plug-in', () => {
  it('accepts the Linux folder at the top level, with an empty prefix', async () => {
    const zip = writeSha256(pyZip(path.join(t.dir, 'flat.zip'), [{ name: 'CloudResetPwdAgent.Linux/setup.sh', data: 'echo\n' }]));
    expect((await verifyPackage(zip))).toMatchObject({ prefix: '', linuxDir: 'CloudResetPwdAgent.Linux', layout: 'current', windows: false });
  });

  it('takes the version from resource.properties when the jar has none, and leaves unknowns null', async () => {
    const zip = writeSha256(
      pyZip(
        path.join(t.dir, 'props.zip'),
        minimalPackage(
          { name: 'CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux/setup.sh', data: 'echo\n' },
          { name: 'CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux/CloudResetPwdUpdateAgent/conf/resource.properties', data: 'intervalTime=21600\nresetPwdAgentVersion = 1.0.3\r\n' },
        ),
      ),
    );
    expect((await verifyPackage(zip))).toMatchObject({
      layout: 'old',
      version: '1.0.3',
      log4j: null,
      mode: null,
      agentJarSha256: null,
      javaCommand: null,
      windows: false,
    });
  });

  it('takes the last wrapper.backend.type, as the wrapper does, and ignores a value that is neither PIPE nor AUTO', async () => {
    const conf = async (text: string, name: string) =>
      (await verifyPackage(writeSha256(pyZip(path.join(t.dir, name), minimalPackage({ name: `${AGENT}/conf/wrapper.conf`, data: text }))))).mode;
    expect(await conf('wrapper.backend.type=AUTO\nwrapper.backend.type=pipe\n', 'twice.zip')).toBe('PIPE');
    expect(await conf('wrapper.backend.type=SOCKET\n', 'odd.zip')).toBeNull();
  });

  it('reads a package whose zip carries a comment', async () => {
    const zip = writeSha256(pyZip(path.join(t.dir, 'comment.zip'), minimalPackage(), 'built by the release job'));
    expect((await verifyPackage(zip)).layout).toBe('current');
  });
});

describe('the checksum', () => {
  it('accepts a .sha256 with upper-case hex and other text around it', async () => {
    const zip = path.join(t.dir, 'upper.zip');
    copyFileSync(t.zips['2.1.0'], zip);
    writeSha256(zip, `SHA256 (CloudResetPwdAgent.zip) = ${sha256(zip).toUpperCase()}\r\nverified by ops\r\n`);
    expect((await verifyPackage(zip)).sha256).toBe(sha256(zip));
  });

  it('takes --sha256 as a file anywhere or as the digest itself, in any case', async () => {
    const zip = t.zips['1.1.2'];
    const elsewhere = path.join(t.dir, 'published.txt');
    writeFileSync(elsewhere, `${sha256(zip)}\n`);
    expect((await verifyPackage(zip, { sha256: elsewhere })).version).toBe('1.1.2');
    expect((await verifyPackage(zip, { sha256: sha256(zip).toUpperCase() })).version).toBe('1.1.2');
  });

  it('reads the spaced hex of older certutil and the UTF-16 text of a PowerShell redirect', async () => {
    const zip = t.zips['1.1.2'];
    const spaced = path.join(t.dir, 'certutil.txt');
    writeFileSync(spaced, `SHA256 hash of CloudResetPwdAgent.zip:\r\n${sha256(zip).replace(/(..)(?!$)/g, '$1 ')}\r\nCertUtil: -hashfile command completed successfully.\r\n`);
    expect((await verifyPackage(zip, { sha256: spaced })).sha256).toBe(sha256(zip));
    const utf16 = path.join(t.dir, 'powershell.txt');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`SHA256  ${sha256(zip).toUpperCase()}  C:\\x.zip\r\n`, 'utf16le')]));
    expect((await verifyPackage(zip, { sha256: utf16 })).sha256).toBe(sha256(zip));
  });

  it('does not take the first half of a longer hex run (a SHA-512) for a SHA-256', async () => {
    const zip = path.join(t.dir, 'sha512.zip');
    copyFileSync(t.zips['2.1.0'], zip);
    writeSha256(zip, `${sha256(zip)}${'0'.repeat(64)}  CloudResetPwdAgent.zip\n`);
    expect((await errorOf(() => verifyPackage(zip))).message).toMatch(/no SHA-256 digest/);
  });

  it('says when a given --sha256 file does not exist', async () => {
    expect((await errorOf(() => verifyPackage(t.zips['2.1.0'], { sha256: path.join(t.dir, 'nope.sha256') }))).message).toMatch(
      /--sha256 .*nope\.sha256: no such file \(give a \.sha256 file or the 64-hex digest\)/,
    );
  });

  it('says when the zip itself does not exist', async () => {
    expect((await errorOf(() => verifyPackage(path.join(t.dir, 'absent.zip')))).message).toMatch(/absent\.zip: no such file/);
  });
});

describe('verifyPackage refuses a package when', () => {
  it.each(BAD_CASES)('$title', async (c) => {
    const { zip, sha256: given } = c.make(t.dir);
    const err = await errorOf(() => verifyPackage(zip, given ? { sha256: given } : {}));
    expect(err.message).toMatch(c.message);
    expect(err.message).toContain(path.basename(zip));
    expect(err.message).not.toContain('\n');
  });
});

import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { AGENT, LINUX, centralRecord, flipBits, localData, minimalPackage, patchFile, pyZip, writeSha256, type ZipSpec } from './helpers.js';

/**
 * Packages verify must refuse, each with the words its message must hold. Shared by the verifyPackage and
 * CLI tests. Each case's .sha256 matches its (bad) bytes unless the case is about the checksum, so the
 * structural check is what speaks.
 */
export interface BadCase {
  title: string;
  /** Builds the case in `dir`; returns the zip and, when the case needs one, the --sha256 argument. */
  make(dir: string): { zip: string; sha256?: string };
  message: RegExp;
}

const zipIn = (dir: string, slug: string, files: ZipSpec[]) => pyZip(path.join(dir, `${slug}.zip`), files);
const withSha = (zip: string) => ({ zip: writeSha256(zip) });

export const BAD_CASES: BadCase[] = [
  {
    title: 'its .sha256 holds another digest',
    make: (d) => ({ zip: writeSha256(zipIn(d, 'wrong-hash', minimalPackage()), `${'ab'.repeat(32)}  CloudResetPwdAgent.zip\n`) }),
    message: /SHA-256 mismatch: the zip is [0-9a-f]{64}, .*wrong-hash\.zip\.sha256 says (ab){32}/,
  },
  {
    title: 'no .sha256 lies beside it and none is given',
    make: (d) => ({ zip: zipIn(d, 'no-sha', minimalPackage()) }),
    message: /no-sha\.zip\.sha256 is missing: .*pass --sha256 FILE\|HEX/,
  },
  {
    title: 'the --sha256 file holds no digest',
    make: (d) => ({ zip: writeSha256(zipIn(d, 'no-digest', minimalPackage()), 'checksum pending\n') }),
    message: /no-digest\.zip\.sha256: no SHA-256 digest \(64 hex digits\)/,
  },
  {
    title: 'it is truncated',
    make: (d) => withSha(patchFile(zipIn(d, 'truncated', minimalPackage()), (b) => b.subarray(0, b.length - 40))),
    message: /truncated\.zip: no end-of-central-directory record: the file is truncated or not a zip/,
  },
  {
    title: 'one byte of an entry is flipped',
    make: (d) =>
      withSha(
        patchFile(zipIn(d, 'flipped', minimalPackage()), (b) => {
          flipBits(b, localData(b, `${LINUX}/setup.sh`) + 3);
        }),
      ),
    message: /flipped\.zip: CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/setup\.sh: CRC-32 mismatch/,
  },
  {
    title: "an entry climbs out with '..'",
    make: (d) => withSha(zipIn(d, 'dotdot', minimalPackage({ name: '../evil', data: 'x' }))),
    message: /dotdot\.zip: entry '\.\.\/evil' has a '\.\.' segment/,
  },
  {
    title: 'an entry has an absolute path',
    make: (d) => withSha(zipIn(d, 'absolute', minimalPackage({ name: '/etc/passwd', data: 'root::0:0::/root:/bin/sh\n' }))),
    message: /absolute\.zip: entry '\/etc\/passwd' is an absolute path/,
  },
  {
    title: 'an entry starts with a drive letter',
    make: (d) => withSha(zipIn(d, 'drive', minimalPackage({ name: 'C:/Windows/evil.bat', data: 'x' }))),
    message: /drive\.zip: entry 'C:\/Windows\/evil\.bat' starts with a drive letter/,
  },
  {
    title: 'an entry name holds a NUL byte',
    make: (d) =>
      withSha(
        patchFile(zipIn(d, 'nul', minimalPackage({ name: `${LINUX}/aXb`, data: 'x' })), (b) => {
          for (let p = b.indexOf('aXb'); p >= 0; p = b.indexOf('aXb', p + 1)) b[p + 1] = 0;
        }),
      ),
    message: /nul\.zip: entry '.*a\\x00b' has a NUL byte in its name/,
  },
  {
    title: 'an entry is a symbolic link',
    make: (d) => withSha(zipIn(d, 'symlink', minimalPackage({ name: `${AGENT}/lib/evil.jar`, data: '/etc/shadow', mode: 0o120777 }))),
    message: /symlink\.zip: entry '.*\/lib\/evil\.jar' is a symbolic link/,
  },
  {
    title: 'two entries share a name',
    make: (d) => withSha(zipIn(d, 'duplicate', minimalPackage({ name: `${LINUX}/setup.sh`, data: 'rm -rf /\n' }))),
    message: /duplicate\.zip: entry 'CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/setup\.sh' appears twice/,
  },
  {
    title: 'two entries differ only in case (one file where names ignore case: the later replaces what was checked)',
    make: (d) => withSha(zipIn(d, 'case', minimalPackage({ name: `${LINUX}/SETUP.SH`, data: 'rm -rf /\n' }))),
    message: /case\.zip: entry 'CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/SETUP\.SH' lands on the same file as 'CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/setup\.sh' where names ignore case or take \\ for \//,
  },
  {
    title: "two entries differ only in '\\' for '/' (one file on Windows)",
    make: (d) => withSha(zipIn(d, 'backslash', minimalPackage({ name: 'CloudResetPwdAgent\\CloudResetPwdAgent.Linux\\setup.sh', data: 'rm -rf /\n' }))),
    message: /backslash\.zip: entry 'CloudResetPwdAgent\\CloudResetPwdAgent\.Linux\\setup\.sh' lands on the same file as 'CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/setup\.sh'/,
  },
  {
    title: "an entry name holds ':' (an NTFS alternate stream on Windows)",
    make: (d) => withSha(zipIn(d, 'colon', minimalPackage({ name: `${LINUX}/setup.sh:hidden`, data: 'x' }))),
    message: /colon\.zip: entry '.*setup\.sh:hidden' has a ':' in 'setup\.sh:hidden' \(a drive or an NTFS alternate stream on Windows\): Windows cannot unpack it as named/,
  },
  {
    title: 'an entry uses a device name Windows reserves',
    make: (d) => withSha(zipIn(d, 'reserved', minimalPackage({ name: `${AGENT}/conf/CON.txt`, data: 'x' }))),
    message: /reserved\.zip: entry '.*\/conf\/CON\.txt' uses 'CON\.txt', a device name Windows reserves/,
  },
  {
    title: 'the Linux setup.sh is missing',
    make: (d) => withSha(zipIn(d, 'no-setup', minimalPackage().filter((f) => !f.name.endsWith('setup.sh')))),
    message: /no-setup\.zip: no CloudResetPwdAgent\/CloudResetPwdAgent\.Linux\/setup\.sh .*not the password-reset plug-in/,
  },
  {
    title: 'an entry declares a zip-bomb ratio',
    make: (d) => {
      const name = `${AGENT}/lib/rt.jar`;
      const zip = zipIn(d, 'bomb', minimalPackage({ name, data: 'A'.repeat(4096) }));
      return withSha(patchFile(zip, (b) => void b.writeUInt32LE(0x40000000, centralRecord(b, name) + 24)));
    },
    message: /bomb\.zip: entry '.*\/lib\/rt\.jar' declares 1073741824 bytes from \d+ compressed \(over 1000:1\): a zip bomb/,
  },
  {
    title: 'its entries declare over 2 GiB in all',
    make: (d) => {
      // Each entry alone is a plausible 800:1; together they claim 2.4 GiB.
      const names = [1, 2, 3].map((i) => `${AGENT}/lib/part${i}.bin`);
      const zip = zipIn(d, 'huge', minimalPackage(...names.map((name) => ({ name, data: randomBytes(1_100_000) }))));
      return withSha(patchFile(zip, (b) => names.forEach((n) => b.writeUInt32LE(800 * 1_100_000, centralRecord(b, n) + 24))));
    },
    message: /huge\.zip: unpacks to over 2147483648 bytes \(2 GiB\)/,
  },
  {
    title: 'it declares more than 20000 entries',
    make: (d) =>
      withSha(
        patchFile(zipIn(d, 'many', minimalPackage()), (b) => {
          b.writeUInt16LE(20001, b.length - 22 + 8); // entries on this disk
          b.writeUInt16LE(20001, b.length - 22 + 10); // entries in all
        }),
      ),
    message: /many\.zip: 20001 entries, more than the 20000/,
  },
];

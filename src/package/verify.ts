import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expectedSha256 } from './checksum.js';
import { PackageError } from './errors.js';
import { LIMITS, checkEntries } from './safety.js';
import { ZipReader, printable } from './zip.js';

export { PackageError } from './errors.js';

export interface PackageInfo {
  path: string;
  fileName: string;
  size: number;
  sha256: string;
  prefix: string; // '' or 'CloudResetPwdAgent/'
  layout: 'current' | 'old';
  linuxDir: string; // e.g. 'CloudResetPwdAgent/CloudResetPwdAgent.Linux'
  updateLinuxDir: string | null; // 'CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux' in the old layout
  windows: boolean;
  version: string | null;
  log4j: string | null;
  mode: 'PIPE' | 'AUTO' | null;
  agentJarSha256: string | null;
  javaCommand: string | null;
  entries: number;
  unpackedBytes: number;
}

export interface VerifyOptions {
  /** A .sha256 file or the 64-hex digest; default `<zip>.sha256`. */
  sha256?: string;
}

const PREFIXES = ['CloudResetPwdAgent/', ''] as const;
/** The main agent's folder in the Linux part; the "Cloudr" typo is the real plug-in's (DOMAIN §2). */
const MAIN_AGENT = 'CloudrResetPwdAgent';
/** Config and manifest reads stay small whatever an entry declares. */
const MAX_TEXT = 1024 ** 2;
/** The agent's jar is tens of KiB; it is the one binary entry read whole. */
const MAX_JAR = 64 * 1024 ** 2;

/**
 * Checks a plug-in package before anything is sent anywhere: its SHA-256 against the published digest, then
 * that it is a sound zip (every entry's CRC), safe to unpack, and the plug-in (the Linux setup.sh is there);
 * then reads what it holds (layout, version, log4j, mode, Java). Throws PackageError on the first problem.
 */
export async function verifyPackage(zipPath: string, opts: VerifyOptions = {}): Promise<PackageInfo> {
  if (!existsSync(zipPath)) throw new PackageError(`${zipPath}: no such file`);
  const st = statSync(zipPath);
  if (!st.isFile()) throw new PackageError(`${zipPath}: not a file`);
  if (st.size > LIMITS.unpackedBytes) throw new PackageError(`${zipPath}: ${st.size} bytes, over 2 GiB: not a plug-in package`);
  const expected = expectedSha256(zipPath, opts.sha256);
  const buf = readFileSync(zipPath);
  const sha256 = sha256Hex(buf);
  if (sha256 !== expected.hex) {
    throw new PackageError(`${zipPath}: SHA-256 mismatch: the zip is ${sha256}, ${expected.source} says ${expected.hex}; download both again`);
  }

  const zip = new ZipReader(buf, zipPath, { maxEntries: LIMITS.entries });
  checkEntries(zipPath, zip.entries);
  // Every entry's size and CRC-32, streamed: a package of 2 GiB unpacked is checked in 64 KiB steps.
  for (const e of zip.entries) if (!e.isDirectory) await zip.checkEntryData(e);

  const prefix = prefixOf(zip);
  const linuxDir = `${prefix}CloudResetPwdAgent.Linux`;
  const updateDir = `${prefix}CloudResetPwdUpdateAgent.Linux`;
  const updateLinuxDir = isFile(zip, `${updateDir}/setup.sh`) ? updateDir : null;
  const agent = `${linuxDir}/${MAIN_AGENT}`;
  const jar = zip.find(`${agent}/lib/resetpwdagent.jar`);
  // The jar is read whole (its manifest is inside it): only one of a plug-in's size.
  if (jar && jar.size > MAX_JAR) throw new PackageError(`${zipPath}: entry '${printable(jar.name)}' is ${jar.size} bytes, too large for the agent's jar`);
  const jarBytes = jar && !jar.isDirectory ? zip.readEntry(jar) : null;
  const wrapperConf = textOf(zip, `${agent}/conf/wrapper.conf`);
  // Without a wrapper.backend.type line the wrapper uses its default, the socket backend (AUTO).
  const mode = wrapperConf === null ? null : (confValue(wrapperConf, 'wrapper.backend.type')?.toUpperCase() ?? 'AUTO');
  return {
    path: path.resolve(zipPath),
    fileName: path.basename(zipPath),
    size: buf.length,
    sha256,
    prefix,
    layout: updateLinuxDir ? 'old' : 'current',
    linuxDir,
    updateLinuxDir,
    windows: isFile(zip, `${prefix}CloudResetPwdAgent.Windows/setup.bat`),
    version: (jarBytes && jarVersion(jarBytes, `${zipPath}: ${jar!.name}`)) ?? propertiesVersion(zip, prefix),
    log4j: log4jOf(zip, `${agent}/lib/`),
    mode: mode === 'PIPE' || mode === 'AUTO' ? mode : null,
    agentJarSha256: jarBytes ? sha256Hex(jarBytes) : null,
    javaCommand: confValue(wrapperConf, 'wrapper.java.command'),
    entries: zip.entries.length,
    unpackedBytes: zip.entries.reduce((n, e) => n + e.size, 0),
  };
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The package's top folder is usually CloudResetPwdAgent/, but a repacked zip may hold the Linux folder at top level. */
function prefixOf(zip: ZipReader): string {
  const found = PREFIXES.filter((p) => isFile(zip, `${p}CloudResetPwdAgent.Linux/setup.sh`));
  if (found.length === 0) {
    throw new PackageError(
      `${zip.label}: no CloudResetPwdAgent/CloudResetPwdAgent.Linux/setup.sh (nor CloudResetPwdAgent.Linux/setup.sh): not the password-reset plug-in package`,
    );
  }
  if (found.length > 1) {
    throw new PackageError(`${zip.label}: holds both CloudResetPwdAgent.Linux/ and CloudResetPwdAgent/CloudResetPwdAgent.Linux/: which one is the plug-in?`);
  }
  return found[0]!;
}

function isFile(zip: ZipReader, name: string): boolean {
  const e = zip.find(name);
  return e !== undefined && !e.isDirectory;
}

function textOf(zip: ZipReader, name: string): string | null {
  const e = zip.find(name);
  if (!e || e.isDirectory) return null;
  if (e.size > MAX_TEXT) throw new PackageError(`${zip.label}: entry '${printable(name)}' is ${e.size} bytes, too large for a config file`);
  return zip.readEntry(e).toString('utf8');
}

/** A value the package declares, kept only if it looks like one: it ends up in reports and on terminals. */
function token(v: string | undefined): string | null {
  const t = v?.trim();
  return t && /^[\w.+\-/:]{1,200}$/.test(t) ? t : null;
}

/** `key=value` lines (wrapper.conf, .properties); the last one wins, as the wrapper reads them. */
function confValue(text: string | null, key: string): string | null {
  if (text === null) return null;
  let value: string | undefined;
  const re = new RegExp(`^[ \\t]*${key.replace(/\./g, '\\.')}[ \\t]*[=:][ \\t]*(.*?)[ \\t]*\\r?$`, 'gm');
  for (const m of text.matchAll(re)) value = m[1];
  return token(value);
}

/** Implementation-Version from the jar's main manifest section (lines may continue with a leading space). */
function jarVersion(jarBytes: Buffer, label: string): string | null {
  const jar = new ZipReader(jarBytes, label, { maxEntries: LIMITS.entries });
  const mf = jar.find('META-INF/MANIFEST.MF');
  if (!mf || mf.isDirectory) return null;
  if (mf.size > MAX_TEXT) throw new PackageError(`${label}: META-INF/MANIFEST.MF is ${mf.size} bytes, too large for a manifest`);
  const main = jar.readEntry(mf).toString('utf8').replace(/\r\n?/g, '\n').split('\n\n')[0]!.replace(/\n /g, '');
  return token(/^Implementation-Version:(.*)$/m.exec(main)?.[1]);
}

/** The update agent's version record, in old packages (DOMAIN §2). */
function propertiesVersion(zip: ZipReader, prefix: string): string | null {
  const files = zip.entries.filter((e) => e.name.startsWith(prefix) && /(^|\/)conf\/resource\.properties$/.test(e.name));
  for (const e of files) {
    const v = confValue(textOf(zip, e.name), 'resetPwdAgentVersion');
    if (v) return v;
  }
  return null;
}

function log4jOf(zip: ZipReader, libDir: string): string | null {
  for (const e of zip.entries) {
    const rest = e.name.startsWith(libDir) ? e.name.slice(libDir.length) : '';
    const v = /^log4j-core-([^/]+)\.jar$/.exec(rest)?.[1];
    if (v) return token(v);
  }
  return null;
}

/**
 * A simulated Windows Server for tests (there is no Windows here). It receives exactly what a real host
 * receives — the fixed PowerShell command line with a script on stdin, and uploads — recognises which of
 * the tool's scripts stdin holds by its exact text (prelude + `$name = '…'` lines + one of the exported
 * bodies), reads the values back from those lines, and answers as that script would print (Emit lines,
 * journal lines), applying the script's effects to a model: OS, C:, adapters, metadata, a case-insensitive
 * file system, services and processes. The detached transaction is the body of txn.ps1 re-enacted step by
 * step (same states, same journal details, same decisions), advancing a few journal lines per follow poll,
 * so the controller really follows it, and can lose its connection or its process half-way.
 *
 * What it cannot prove: that PowerShell, CIM, Win32_Process.Create, Start-Process and the service manager
 * behave as the scripts assume. docs/WINDOWS.md lists those claims and scripts/windows/prove.ps1 checks them
 * on a real server.
 */
import { createHash } from 'node:crypto';
import { PS_DATA_MARKER, PS_PRELUDE, PS_STDIN_COMMAND, PS_STDIN_DATA_COMMAND, decodeCommand, psParams } from '../../src/dialect/powershell.js';
import { PASSWORD_RESET_BODY } from '../../src/platform/windows/password-reset.js';
import { ZipReader } from '../../src/package/zip.js';
import {
  CLEANUP_BODY, FIX_BODY, FOLLOW_BODY, LAUNCH_BODY, PREPARE_BODY, STAGE_BODY, txnCommandArgs,
} from '../../src/platform/windows/change-scripts.js';
import { WINDOWS_FACTS_SCRIPT } from '../../src/platform/windows/facts-script.js';
import { ASIDE_DIR, MAIN_AGENT, STATE_DIR, TXN_FILE, UPDATE_AGENT } from '../../src/platform/windows/paths.js';
import { PS_AGENT_PROCS, PS_STRAYS } from '../../src/platform/windows/ps-functions.js';
import { WINDOWS_TXN_BODY } from '../../src/platform/windows/txn-script.js';
import { TransportError, type ExecOptions, type ExecResult, type Transport } from '../../src/transport/transport.js';

export type StartMode = 'Auto' | 'Manual' | 'Disabled';
type Params = Record<string, string | number | boolean>;

export interface SimAdapter {
  ifIndex: number;
  name: string;
  dhcp: boolean;
  ipv4: string[];
  /** Carries the default route (0.0.0.0/0); the lowest metric wins when several do. */
  defaultRoute?: { metric: number; nextHop: string } | undefined;
}

export interface SimInstall {
  layout: 'old' | 'current';
  version: string;
  log4j: string;
  mode?: 'PIPE' | 'AUTO';
  running?: boolean;
  startMode?: StartMode;
  /** "Automatic (Delayed Start)": the DelayedAutostart value (DWORD 1) of each agent's service key. */
  delayedAutostart?: boolean;
  /** The services' failure actions: the FailureActions value (REG_BINARY, as hex) of each agent's service key. */
  failureActions?: string;
}

export interface SimKnobs {
  /** Services setup.bat installs come up for a moment (setup.bat prints SUCCESS) and never run again. */
  setupServiceNeverRuns: boolean;
  /** A wrapper.exe started by hand from this agent's folder survives the service stop and holds the folder until it is killed. */
  lockedFolder: 'main' | 'update' | null;
  /** UninstallApp-NT.bat never returns (the transaction kills it after its time limit). */
  uninstallHangs: boolean;
  /** The follow poll during which the transaction reaches this state loses its connection (once); the change goes on. */
  dropConnectionAt: string | null;
  /** How many journal lines the detached change writes between two follow polls. */
  linesPerPoll: number;
  /** The transaction's process dies right after writing this state (once). */
  killTransactionAt: string | null;
  /**
   * When the transaction reaches this state (once), a wrapper.exe and its java.exe start by hand from the set-aside
   * copy of the main agent — as an old update agent's watchdog restarting "its" agent would: a process the
   * service manager does not know, whose image holds that folder.
   */
  strayStartsAt: string | null;
  /** The launched change's process writes nothing (no record, no journal) for this many seconds. */
  startDelaySeconds: number;
  /**
   * Process creation through WMI blocked (Defender's attack-surface rule, an EDR): Win32_Process.Create returns
   * this code (2: access denied), or throws with this message. The Task Scheduler still starts processes.
   */
  wmiCreateBlocked: number | string | null;
  /** The transaction's process dies right before it writes this state (once): what it did before that stays done. */
  killTransactionBefore: string | null;
  /**
   * The follow script's read of the journal and of the change record is under way at the moment the transaction
   * writes this state (once). Windows checks each open the transaction makes of those files meanwhile against the
   * sharing the follow script grants (read from FOLLOW_BODY: a FileStream's FileShare; File.ReadAll* grant Read
   * only): without Delete a replace or rename fails, without Write a write fails — a sharing violation. The read
   * ends a moment later (the first refused open ends it).
   */
  followReadsAt: string | null;
  /**
   * A scanner (antivirus) that holds a file for a moment: the next `times` opens of it — reads, writes, replaces and
   * renames, by the transaction or the follow script — fail with a sharing violation. `file` is a leaf name:
   * 'journal' (this change's journal), 'txn', 'state', or a folder's ('CloudResetPwdAgent': a rename of any folder
   * so named). Armed right after the transaction writes the journal line of state `from` (null: from the start).
   */
  antivirus: { file: string; times: number; from: string | null; ops?: Array<'read' | 'write' | 'replace' | 'rename' | 'delete'> } | null;
  /**
   * A WMI that fails for a moment (its repository busy, "Call cancelled", the RPC server unavailable): the next
   * `times` Win32_Process queries of the transaction — the agent processes' listing (AgentProcs, through Strays),
   * the JVM under the service's wrapper (CheckOnce), what runs from a folder (Procs) — throw. Armed right after the
   * transaction writes the journal line of state `from`.
   */
  processQueryFails: { times: number; from: string } | null;
  /**
   * The Task Scheduler starts a task's process this many seconds after Run() (its service busy, a loaded server):
   * the scheduled-task launcher, which waits 5 s for the engine's pid, reports none. A queued instance whose
   * definition is deleted before it starts never starts.
   */
  taskStartSeconds: number;
  /**
   * A busy server reuses pids within seconds: between the listing of the agent processes to stop and their stop
   * (StopProcs), the first listed one ends by itself and Windows gives its pid to an unrelated process (w3wp.exe).
   */
  pidReused: boolean;
  /**
   * Services setup.bat installs hang in StartPending when started (a wrapper whose JVM never reports): setup.bat's
   * `net start` gives up (it prints FAILED), `Start-Service` would wait for ever (the scripts never call it:
   * scripts.test.ts), `WaitForStatus('Running', t)` times out.
   */
  startPendingHangs: boolean;
  /**
   * NoDefaultCurrentDirectoryInExePath is set in the environment: cmd.exe no longer looks in the current folder for
   * a bare command name, so `setup.bat` run from its folder is "not recognized"; `.\setup.bat` or a full path is found.
   */
  noCurrentDirInExePath: boolean;
}

export interface SimulatedWindowsHostOptions {
  os?: Partial<{ caption: string; version: string; build: number; productType: number; arch: string; edition: string; installation: string }>;
  psVersion?: string;
  clrVersion?: string;
  admin?: boolean;
  cFreeBytes?: number;
  cWritable?: boolean;
  adapters?: SimAdapter[];
  metadataReachable?: boolean;
  publicIpv4?: string | null;
  /** The uuid openstack/latest/meta_data.json gives (the cloud's server id); default none. */
  serverId?: string | null;
  /** What is installed before the test (null: a clean host). */
  install?: SimInstall | null;
  /** A state record STATE_DIR\state written by an earlier run. */
  stateRecord?: Record<string, string> | null;
  tools?: Partial<{ getFileHash: boolean; expandArchive: boolean; zipFile: boolean }>;
  /** --pull: what the host downloads from each URL. */
  mirror?: Record<string, Buffer>;
  knobs?: Partial<SimKnobs>;
  /** Local accounts and their passwords (default: Administrator only). */
  accounts?: Record<string, string>;
  /** Whether the LocalAccounts module (Set-LocalUser) exists: Server 2016 and later; else ADSI WinNT://. */
  localAccountsModule?: boolean;
  /** A password policy refusal Windows gives for every new password (e.g. a domain policy's length), or none. */
  passwordPolicyRefusal?: string | null;
  /**
   * The FIPS policy on, with .NET 4.0-4.5.x: `[SHA256]::Create()` gives the managed SHA256Managed, which throws
   * ("not part of the Windows Platform FIPS validated cryptographic algorithms"); the CSP classes work.
   */
  fips?: boolean;
  /**
   * Facts that throw on this host, by agent and part (`main.hash`: the jar is held open by antivirus; `main.service`:
   * the WMI query fails), with the exception's message. What else the throw costs follows from the script the host
   * receives, as PowerShell would run it: the rest of the enclosing `Section { }` (one try/catch) is skipped.
   */
  factFaults?: Partial<Record<`${'main' | 'update'}.${FactPart}` | 'procs', string>>;
  /**
   * PowerShell's language mode (a WDAC/AppLocker policy makes it ConstrainedLanguage): then only the
   * statements that mode allows run; the first .NET method call of a bootstrap dies with CLM_ERROR.
   */
  languageMode?: 'FullLanguage' | 'ConstrainedLanguage' | 'RestrictedLanguage';
}

/** What PowerShell says in ConstrainedLanguage mode at a method call on a type that is not a core type. */
export const CLM_ERROR = 'Cannot invoke method. Method invocation is supported only on core types in this language mode.';

/**
 * A bootstrap run in a restricted language mode, statement by statement as far as that mode lets it: a leading
 * `if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { '<text>' + $ExecutionContext.SessionState.LanguageMode; exit N }`
 * runs (a property read, a string, exit: all allowed); anything else dies at its first .NET call.
 */
export function runRestricted(bootstrap: string, mode: string): { stdout: string; stderr?: string; exitCode: number } {
  const probe = /^if \(\$ExecutionContext\.SessionState\.LanguageMode -ne 'FullLanguage'\) \{ '([^']*)' \+ \$ExecutionContext\.SessionState\.LanguageMode; exit (\d+) \}/.exec(bootstrap);
  if (probe) return { stdout: `${probe[1]}${mode}\r\n`, exitCode: Number(probe[2]) };
  return { stdout: '', stderr: CLM_ERROR, exitCode: 1 };
}

/** The parts of one agent's facts, each found in the facts script by a statement only it has. */
export type FactPart = 'files' | 'hash' | 'acl' | 'service' | 'process';
const FACT_PART_MARKERS: Record<FactPart, string> = {
  files: 'resetPwdAgentVersion',
  hash: '(Sha256 $jar)',
  acl: '(Writers $dir)',
  service: '$ws = Cim Win32_Service',
  process: '(AgentSockets ',
};

/** Where the `{` at `open` closes, skipping PowerShell strings ('…' with '' inside, "…" with backtick escapes) and # comments. */
function closingBrace(script: string, open: number): number {
  let depth = 0;
  for (let i = open; i < script.length; i++) {
    const c = script[i];
    if (c === "'") { for (i++; i < script.length; i++) if (script[i] === "'") { if (script[i + 1] === "'") i++; else break; } }
    else if (c === '"') { for (i++; i < script.length && script[i] !== '"'; i++) if (script[i] === '`') i++; }
    else if (c === '#') { while (i < script.length && script[i] !== '\n') i++; }
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return script.length;
}

/**
 * The name of the innermost `Section NAME { … }` of a facts script whose body holds `marker`, with the
 * script's variables put in: the try/catch a throw there lands in. Only the name's forms the script uses
 * (a bare word, or quoted strings and variables joined with +) are understood.
 */
export function enclosingSection(script: string, marker: string, vars: Record<string, string>): string {
  const at = script.indexOf(marker);
  if (at < 0) throw new Error(`the facts script has no ${marker}`);
  let best: { open: number; name: string } | null = null;
  for (const m of script.matchAll(/^[ \t]*Section[ \t]+(.+?)[ \t]*\{[ \t]*$/gm)) {
    const open = m.index! + m[0].lastIndexOf('{');
    if (open < at && at < closingBrace(script, open) && (!best || open > best.open)) {
      const name = m[1]!.replace(/^\((.*)\)$/, '$1').split('+').map((t) => t.trim()).map((t) =>
        /^'.*'$/.test(t) ? t.slice(1, -1) : t.startsWith('$') ? (vars[t.slice(1)] ?? '') : t).join('');
      best = { open, name };
    }
  }
  if (!best) throw new Error(`${marker} is in no Section of the facts script`);
  return best.name;
}

/** The statement only the facts script's agent processes section has (`factFaults.procs` throws there). */
const PROCS_MARKER = 'Emit agent_proc (';
const AGENT_EXE = /^(wrapper|javaw?)\.exe$/i;
const names = (ps: SimProcess[]) => ps.map((p) => `${p.name} ${p.pid}`).join(', ');
/**
 * How AgentProcs tells a wrapper.exe / java(w).exe by `wrapper.name=<agent>` on its command line, read from its text:
 * the regular expression it matches (`$named`, case-insensitive as PowerShell's -match), or else a substring.
 */
const NAMED = /\$named = '([^']+)'/.exec(PS_AGENT_PROCS)?.[1];
const namesAgent = (commandLine: string): boolean => {
  if (NAMED !== undefined) return new RegExp(NAMED, 'i').test(commandLine);
  return [MAIN_AGENT.name, UPDATE_AGENT.name].some((n) => commandLine.toLowerCase().includes(`wrapper.name=${n}`.toLowerCase()));
};
/** Whether StopProcs stops (and counts as left) only a process that still has the listed one's creation time, read from its text. */
const STOPS_BY_CREATION = PS_STRAYS.includes('CreationDate');

/** What .NET says when a non-FIPS algorithm is created under the FIPS policy. */
export const FIPS_ERROR = 'Exception calling "Create" with "0" argument(s): "This implementation is not part of the Windows Platform FIPS validated cryptographic algorithms."';
const MANAGED_SHA256 = '[System.Security.Cryptography.SHA256]::Create()';

/** A value of a service's registry key (HKLM\SYSTEM\CurrentControlSet\Services\<name>): its kind, and its bytes as hex (a DWORD little-endian, a string UTF-8). */
export interface SimRegValue { kind: 'DWord' | 'Binary' | 'String' | 'ExpandString'; hex: string }

interface SimService {
  name: string;
  dir: string;
  /** Win32_Service.State: a service stuck starting is 'Start Pending'. */
  state: 'Running' | 'Stopped' | 'Start Pending';
  startMode: StartMode;
  wrapperPid: number;
  jvmPid: number;
  /** Installed by setup.bat while setupServiceNeverRuns: it cannot run. */
  broken: boolean;
  /** Installed by setup.bat while startPendingHangs: started, it stays StartPending. */
  hangs?: boolean;
  /**
   * The values of its registry key that a re-registration loses (wrapper -i creates a new key): DelayedAutostart,
   * FailureActions, FailureActionsOnNonCrashFailures, FailureCommand.
   */
  reg: Record<string, SimRegValue>;
}

export interface SimProcess {
  pid: number;
  name: string;
  exe: string;
  commandLine: string;
  parent: number;
  startTicks: string;
}

export interface ReceivedScript {
  commandLine: string;
  /** Which script: facts, prepare, stage, launch, follow, fix, cleanup (or unknown). */
  kind: string;
  params: Params;
  script: string;
  /** What came after the script on stdin (PS_STDIN_DATA_COMMAND): data, never script text. */
  data?: string;
}

const KNOWN: Array<[string, string]> = [
  ['facts', WINDOWS_FACTS_SCRIPT],
  ['prepare', PREPARE_BODY],
  ['stage', STAGE_BODY],
  ['launch', LAUNCH_BODY],
  ['follow', FOLLOW_BODY],
  ['fix', FIX_BODY],
  ['cleanup', CLEANUP_BODY],
  ['reset', PASSWORD_RESET_BODY],
];

const QUOTES = "'\u2018\u2019\u201A\u201B";
const AUTH_USERS = 'S-1-5-11';
const CRLF = '\r\n';

/** Reads back the `$name = literal` lines psParams wrote; null unless re-writing them gives the same text. */
export function parseParams(block: string): Params | null {
  const out: Params = {};
  let i = 0;
  while (i < block.length) {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*) = /.exec(block.slice(i));
    if (!m) return null;
    i += m[0].length;
    if (QUOTES.includes(block[i]!)) {
      let v = '';
      i++;
      for (;;) {
        if (i >= block.length) return null;
        const c = block[i]!;
        if (QUOTES.includes(c)) {
          if (i + 1 < block.length && QUOTES.includes(block[i + 1]!)) { v += c; i += 2; continue; }
          i++;
          break;
        }
        v += c;
        i++;
      }
      out[m[1]!] = v;
    } else {
      const nl = block.indexOf('\n', i);
      const lit = block.slice(i, nl < 0 ? block.length : nl);
      i += lit.length;
      out[m[1]!] = lit === '$true' ? true : lit === '$false' ? false : Number(lit);
    }
    if (block[i] === '\n') i++;
    else if (i < block.length) return null;
  }
  return psParams(out) === block.replace(/\n$/, '') ? out : null;
}

/** Which known body a script is, with its parameters; null when it is not exactly psScript(body, params). */
export function recognise(script: string, bodies: Array<[string, string]> = KNOWN): { kind: string; params: Params } | null {
  const head = `${PS_PRELUDE}\n`;
  if (!script.startsWith(head)) return null;
  for (const [kind, body] of bodies) {
    const tail = `${body}\n`;
    if (!script.endsWith(tail) || script.length < head.length + tail.length) continue;
    const block = script.slice(head.length, script.length - tail.length);
    const params = block === '' ? {} : parseParams(block);
    if (params) return { kind, params };
  }
  return null;
}

/** The escaping of Emit and of the journal: anything outside printable ASCII, and the backslash, as \uXXXX. */
export function esc(v: string): string {
  let s = '';
  for (const ch of v) {
    for (let k = 0; k < ch.length; k++) {
      const n = ch.charCodeAt(k);
      s += n < 32 || n > 126 || n === 92 ? `\\u${n.toString(16).padStart(4, '0')}` : ch[k];
    }
  }
  return s;
}

const norm = (p: string) => p.replace(/\//g, '\\').replace(/\\+$/, '').toLowerCase();
const under = (p: string, dir: string) => norm(p).startsWith(`${norm(dir)}\\`);
const leaf = (p: string) => p.split('\\').pop()!;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What RunBat (txn.ps1) writes before a .bat's name on cmd.exe's line `/d /c "<here><bat> < NUL"`, read from the script. */
function batPrefix(body: string = WINDOWS_TXN_BODY): string {
  const m = /-ArgumentList \('\/d \/c "([^']*)' \+ \$bat \+ ' < NUL"'\)/.exec(body);
  if (!m) throw new Error('the simulated host does not know how txn.ps1 runs a .bat');
  return m[1]!;
}
/**
 * One function of txn.ps1's body as text (from `function NAME` to the `}` that starts a line): the simulated host
 * re-enacts what the script's own text does where it can tell (how many tries, which order, what is caught).
 */
function txnFunction(name: string, body: string = WINDOWS_TXN_BODY): string {
  const at = body.search(new RegExp(`\\nfunction ${name}[ (]`));
  if (at < 0) throw new Error(`the simulated host does not know txn.ps1's ${name}`);
  return body.slice(at, body.indexOf('\n}', at + 1) + 2);
}
const hasFunction = (name: string) => new RegExp(`\\nfunction ${name}[ (]`).test(WINDOWS_TXN_BODY);
/** A rollback's NoStrays whose own failure (a query that throws) is caught, noted, and the rollback goes on. */
const ROLLBACK_STRAYS_CAUGHT = hasFunction('RollbackStrays') && /try \{ return \(NoStrays\) \} catch/.test(txnFunction('RollbackStrays'))
  && txnFunction('Rollback').includes('[void](RollbackStrays)');
/** A rollback that stops ends the process without Finish (journal line `rollback-stopped`), the record left rolling-back. */
const ROLLBACK_STOP_UNFINISHED = txnFunction('Fail').includes('Note rollback-stopped');
/** An error in the rollback that the script's last catch started ends it as Fail does (journaled, exit 1), not uncaught. */
const CATCH_ENDS_STOPPED_ROLLBACK = WINDOWS_TXN_BODY.includes("Note rollback-stopped ('unexpected error: '");
/** Finish writes the journal's done line before the record's done (which then holds the outcome and the line's detail). */
const NOTE_BEFORE_RECORD = txnFunction('Finish').indexOf('Note done') < txnFunction('Finish').indexOf('Save');
const RECORDS_DETAIL = WINDOWS_TXN_BODY.includes("outcome = ''; detail = ''");
/** How many times RemoveNew tries to delete the new install's folder, and whether it then renames it aside. */
const REMOVE_NEW_TRIES = Number(/for \(\$i = 0; \$i -lt (\d+)/.exec(txnFunction('RemoveNew'))?.[1] ?? 1);
const REMOVE_NEW_RENAMES = txnFunction('RemoveNew').includes("($a.leaf + '.new')");
/** The transaction deletes its own scheduled-task definition before anything else (before it takes the lock). */
const DELETES_OWN_TASK = (() => {
  const at = WINDOWS_TXN_BODY.indexOf(".DeleteTask('resetpwd-fleet-' + $txn, 0)");
  return at >= 0 && at < WINDOWS_TXN_BODY.indexOf('\nLock\n');
})();
/** The follow takes the end from the change record (phase done, an outcome) once the process is gone without a done line. */
const FOLLOW_TAKES_RECORD_END = FOLLOW_BODY.includes("$t['phase'] -eq 'done'");
/** Ends the re-enacted transaction (PowerShell's `exit 0`). */
class Exit {}
/** The transaction's process died there (a kill knob): nothing after it runs. */
class Died {}
/** What Windows refuses an open with while another handle does not share what it asks (or a scanner holds the file). */
export class SharingViolation extends Error {}
/** What a WMI query throws when WMI fails for a moment (the processQueryFails knob). */
export class WmiFault extends Error {}

/**
 * How the follow script opens the file it holds in `$v`: the FileShare it grants others — a FileStream's fourth
 * argument (directly or through a function of its that it calls with `$v`), or Read for File.ReadAll* (which share
 * Read only). Read from the script's text, so the simulated Windows judges the follow the tool really sends.
 */
export function followShare(v: string, body: string = FOLLOW_BODY): string {
  const direct = new RegExp(`New-Object System\\.IO\\.FileStream \\$${v}, 'Open', 'Read', '([^']+)'`).exec(body);
  if (direct) return direct[1]!;
  if (new RegExp(`\\[System\\.IO\\.File\\]::ReadAll(?:Lines|Text|Bytes)\\(\\$${v}\\)`).test(body)) return 'Read';
  for (const m of body.matchAll(/^function (\w+)\(\[string\]\$(\w+)\) \{\n([\s\S]*?)\n\}$/gm)) {
    if (!new RegExp(`\\b${m[1]} \\$${v}\\b`).test(body)) continue;
    const inner = new RegExp(`New-Object System\\.IO\\.FileStream \\$${m[2]}, 'Open', 'Read', '([^']+)'`).exec(m[3]!);
    if (inner) return inner[1]!;
  }
  throw new Error(`the simulated host does not know how the follow script opens $${v}`);
}

interface TxnRun {
  txn: string;
  pid: number;
  gen: Generator<string, void, void>;
  finished: boolean;
  /** Seconds before its process gets to write its change record (a slow start: a loaded server, antivirus). */
  delay: number;
}

export class SimulatedWindowsHost {
  readonly os: Required<NonNullable<SimulatedWindowsHostOptions['os']>>;
  psVersion: string;
  clrVersion: string;
  admin: boolean;
  cFreeBytes: number;
  cWritable: boolean;
  adapters: SimAdapter[];
  metadataReachable: boolean;
  publicIpv4: string | null;
  serverId: string | null;
  tools: { getFileHash: boolean; expandArchive: boolean; zipFile: boolean };
  readonly fips: boolean;
  factFaults: NonNullable<SimulatedWindowsHostOptions['factFaults']>;
  languageMode: NonNullable<SimulatedWindowsHostOptions['languageMode']>;
  knobs: SimKnobs;
  /** The process the last launch started for a change (pid, start ticks), as the launch script reports it. */
  lastLaunched: { pid: string; start: string } | null = null;
  /**
   * Task Scheduler definitions in the root folder (`\\resetpwd-fleet-<txn>` the launcher registers; a test may add
   * others). A definition's task runs while the change's process it started runs (TxnRun).
   */
  tasksRegistered: string[] = [];
  mirror: Record<string, Buffer>;
  /** Files by lower-cased path: the path as written, the bytes, and when they were last written (ms). */
  readonly files = new Map<string, { path: string; data: Buffer; written?: number }>();
  readonly dirs = new Map<string, string>();
  /** When each folder was made (ms), by lower-cased path: a folder's own LastWriteTime. */
  readonly dirWritten = new Map<string, number>();
  /** SIDs besides Administrators/SYSTEM that may change a folder, by lower-cased folder path. */
  readonly acl = new Map<string, string[]>();
  /** The owner SID of a folder or file another user made (by lower-cased path); absent: Administrators. */
  readonly owners = new Map<string, string>();
  /** Junctions and symbolic links (by lower-cased path), as a local user can make them in C:\\ or ProgramData. */
  readonly reparsePoints = new Set<string>();
  readonly services = new Map<string, SimService>();
  readonly processes = new Map<number, SimProcess>();
  /** Processes Stop-Process cannot end (access denied: another user's protected process). */
  readonly unkillable = new Set<number>();
  /** Every script received, in order, as received. */
  readonly received: ReceivedScript[] = [];
  /** Local accounts and their passwords. */
  readonly accounts = new Map<string, string>();
  /** How each password was set: Set-LocalUser or WinNT (ADSI). */
  readonly passwordSetVia: string[] = [];
  private localAccountsModule = true;
  private passwordPolicyRefusal: string | null = null;
  readonly uploads: string[] = [];
  /** How many times the connection was dropped by a knob. */
  drops = 0;
  /** Processes that ended at once, with their exit code (a bootstrap that refused a swapped txn.ps1). */
  readonly exited: Array<{ pid: number; code: number }> = [];
  private nextPid = 4000;
  private runs = new Map<string, TxnRun>();
  private dropped = false;
  private killed = false;
  private killedBefore = false;
  /** The follow script's read under way now (followReadsAt): the share it grants, by lower-cased path. */
  private reading: Map<string, string> | null = null;
  private readDone = false;
  /** How many more opens the antivirus knob refuses (once armed). */
  private avLeft = 0;
  private avArmed = false;
  /** How many more Win32_Process queries fail (processQueryFails, once armed). */
  private pqLeft = 0;
  private pqArmed = false;
  private pidReuseDone = false;
  private strayStarted = false;
  private lockHolder: number | null = null;

  constructor(o: SimulatedWindowsHostOptions = {}) {
    this.os = {
      caption: 'Microsoft Windows Server 2019 Datacenter', version: '10.0.17763', build: 17763, productType: 3, arch: 'AMD64',
      edition: 'ServerDatacenter', installation: 'Server', ...o.os,
    };
    this.psVersion = o.psVersion ?? '5.1.17763.5830';
    this.clrVersion = o.clrVersion ?? '4.0.30319.42000';
    this.admin = o.admin ?? true;
    this.cFreeBytes = o.cFreeBytes ?? 20 * 1024 ** 3;
    this.cWritable = o.cWritable ?? true;
    this.adapters = o.adapters ?? [{ ifIndex: 6, name: 'Ethernet', dhcp: true, ipv4: ['192.168.0.12'], defaultRoute: { metric: 0, nextHop: '192.168.0.1' } }];
    this.metadataReachable = o.metadataReachable ?? true;
    this.publicIpv4 = o.publicIpv4 === undefined ? '203.0.113.7' : o.publicIpv4;
    this.serverId = o.serverId ?? null;
    for (const [a, p] of Object.entries(o.accounts ?? { Administrator: 'Initial-Admin-Pass1' })) this.accounts.set(a, p);
    this.localAccountsModule = o.localAccountsModule ?? true;
    this.passwordPolicyRefusal = o.passwordPolicyRefusal ?? null;
    this.tools = { getFileHash: true, expandArchive: true, zipFile: true, ...o.tools };
    this.fips = o.fips ?? false;
    this.factFaults = o.factFaults ?? {};
    this.languageMode = o.languageMode ?? 'FullLanguage';
    this.mirror = o.mirror ?? {};
    this.knobs = { processQueryFails: null, taskStartSeconds: 0, pidReused: false, startDelaySeconds: 0, wmiCreateBlocked: null, killTransactionBefore: null, followReadsAt: null, antivirus: null, startPendingHangs: false, noCurrentDirInExePath: false, setupServiceNeverRuns: false, lockedFolder: null, uninstallHangs: false, dropConnectionAt: null, linesPerPoll: 3, killTransactionAt: null, strayStartsAt: null, ...o.knobs };
    this.mkdir('C:\\Windows\\System32');
    this.mkdir('C:\\ProgramData');
    if (o.install) this.installOld(o.install);
    if (o.stateRecord) this.writeFile(`${STATE_DIR}\\state`, Buffer.from(Object.entries(o.stateRecord).map(([k, v]) => `${k}=${v}`).join(CRLF) + CRLF));
  }

  /**
   * What SafeDir (ps-functions.ts) decides for one of the tool's folders, re-enacted: '' when it is made or
   * taken over (owned by Administrators, ACL reset), else the reason the host is refused.
   */
  safeDir(path: string): string {
    const ok = (sid: string | undefined) => sid === undefined || sid === 'S-1-5-32-544' || sid === 'S-1-5-18';
    if (this.reparsePoints.has(norm(path))) return `${path} is a junction or symbolic link: the tool's folders are never one; remove it and run again`;
    const parts = path.split('\\');
    for (let i = parts.length - 1; i >= 1; i--) {
      const p = parts.slice(0, i).join('\\');
      if (this.reparsePoints.has(norm(p)) && !ok(this.owners.get(norm(p)))) return `${p} is a junction or symbolic link another user made: the tool's folders are never reached through one; remove it and run again`;
    }
    if (this.files.has(norm(path))) return `${path} is not a folder; remove it and run again`;
    if (this.isDir(path) && !ok(this.owners.get(norm(path)))) {
      return `${path} belongs to ${this.owners.get(norm(path))}, not Administrators or SYSTEM: another user may have made it to swap what runs as SYSTEM; remove it and run again`;
    }
    this.mkdir(path);
    this.owners.delete(norm(path));
    this.acl.set(norm(path), []);
    const inside = [...this.dirs.values(), ...[...this.files.values()].map((f) => f.path)].filter((p) => under(p, path)).sort();
    for (const c of inside) {
      if (this.reparsePoints.has(norm(c))) return `${c} in ${path} is a junction or symbolic link: remove it and run again`;
      if (!ok(this.owners.get(norm(c)))) return `${c} in ${path} belongs to ${this.owners.get(norm(c))}: remove it and run again`;
    }
    return '';
  }

  // ---- the file system -------------------------------------------------------------------------------
  mkdir(path: string): void {
    const parts = path.split('\\');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('\\');
      if (!this.dirs.has(norm(p))) {
        this.dirs.set(norm(p), p);
        this.dirWritten.set(norm(p), Date.now());
      }
    }
  }
  /** An upload (the transport's put) or a file a script writes. */
  writeFile(path: string, data: Buffer | string): void {
    const parent = path.split('\\').slice(0, -1).join('\\');
    this.mkdir(parent);
    this.files.set(norm(path), { path, data: Buffer.isBuffer(data) ? data : Buffer.from(data), written: Date.now() });
  }
  readFile(path: string): Buffer | null {
    return this.files.get(norm(path))?.data ?? null;
  }
  readText(path: string): string | null {
    return this.readFile(path)?.toString('utf8') ?? null;
  }
  isDir(path: string): boolean {
    return this.dirs.has(norm(path));
  }
  exists(path: string): boolean {
    return this.isDir(path) || this.files.has(norm(path));
  }
  /** Paths (as written) of every file under a folder. */
  filesUnder(dir: string): string[] {
    return [...this.files.values()].filter((f) => under(f.path, dir)).map((f) => f.path).sort();
  }
  private appendText(path: string, text: string): void {
    const old = this.readFile(path) ?? Buffer.alloc(0);
    this.writeFile(path, Buffer.concat([old, Buffer.from(text)]));
  }
  private removeTree(dir: string): void {
    for (const k of [...this.files.keys()]) if (k.startsWith(`${norm(dir)}\\`) || k === norm(dir)) this.files.delete(k);
    for (const k of [...this.dirs.keys()]) if (k.startsWith(`${norm(dir)}\\`) || k === norm(dir)) this.dirs.delete(k);
    for (const k of [...this.acl.keys()]) if (k.startsWith(`${norm(dir)}\\`) || k === norm(dir)) this.acl.delete(k);
  }
  /**
   * Remove-Item -Recurse -Force on a folder: while a scanner holds it (the antivirus knob on the folder's name) the
   * folder stays, partly deleted — its first file held, the rest gone — and the error is thrown.
   */
  removeDir(dir: string): void {
    const holder = [...this.processes.values()].find((p) => under(p.exe, dir));
    if (holder) throw new SharingViolation(`Cannot remove item ${holder.exe}: Access to the path '${holder.exe}' is denied.`);
    try { this.open(dir, 'delete', 'Remove-Item', 0); } catch (e) {
      if (!(e instanceof SharingViolation)) throw e;
      const held = this.filesUnder(dir)[0] ?? dir;
      for (const f of this.filesUnder(dir)) if (f !== held) this.files.delete(norm(f));
      throw new SharingViolation(`Cannot remove item ${held}: The process cannot access the file '${held}' because it is being used by another process.`);
    }
    this.removeTree(dir);
  }
  /** Directory.Move on one volume: fails while a process runs from the folder (its image is open). */
  private moveDir(src: string, dst: string): void {
    this.open(src, 'rename', 'Move', 2);
    const holder = [...this.processes.values()].find((p) => under(p.exe, src));
    if (holder) throw new Error(`The process cannot access the file because it is being used by another process (${holder.name} ${holder.pid})`);
    if (this.exists(dst)) throw new Error(`Cannot create ${dst} because a file or directory with the same name already exists.`);
    const s = norm(src);
    const rename = (p: string) => dst + p.slice(src.length);
    for (const [k, v] of [...this.files]) if (k.startsWith(`${s}\\`)) { this.files.delete(k); this.files.set(norm(rename(v.path)), { path: rename(v.path), data: v.data }); }
    for (const [k, v] of [...this.dirs]) if (k === s || k.startsWith(`${s}\\`)) { this.dirs.delete(k); this.dirs.set(norm(rename(v)), rename(v)); }
    for (const [k, v] of [...this.acl]) if (k === s || k.startsWith(`${s}\\`)) { this.acl.delete(k); this.acl.set(norm(dst) + k.slice(s.length), v); }
    this.mkdir(dst.split('\\').slice(0, -1).join('\\'));
  }
  private copyTree(src: string, dst: string): void {
    this.mkdir(dst);
    for (const f of this.filesUnder(src)) this.writeFile(dst + f.slice(src.length), this.readFile(f)!);
    for (const d of [...this.dirs.values()]) if (under(d, src)) this.mkdir(dst + d.slice(src.length));
  }

  // ---- processes and services -------------------------------------------------------------------------
  private spawn(name: string, exe: string, commandLine: string, parent: number): SimProcess {
    const p: SimProcess = { pid: this.nextPid, name, exe, commandLine, parent, startTicks: String(638_000_000_000_000_000n + BigInt(this.nextPid)) };
    this.nextPid += 4;
    this.processes.set(p.pid, p);
    return p;
  }
  /**
   * An agent started by hand from a folder (an agent folder, or a set-aside copy of one, which need not exist any
   * more: a running image outlives its deleted folder): wrapper.exe from DIR\bin with DIR's wrapper.conf, and the
   * java.exe it runs. The service manager knows neither.
   */
  startStray(dir: string, parent = 2200): { wrapper: SimProcess; jvm: SimProcess } {
    const wrapper = this.spawn('wrapper.exe', `${dir}\\bin\\wrapper.exe`, `"${dir}\\bin\\wrapper.exe" -c "${dir}\\conf\\wrapper.conf"`, parent);
    const jvm = this.spawn('java.exe', 'C:\\Program Files\\Java\\jre1.8.0_361\\bin\\java.exe', 'java -Dwrapper.key=k9 -classpath ..\\lib\\wrapper.jar org.tanukisoftware.wrapper.WrapperSimpleApp', wrapper.pid);
    return { wrapper, jvm };
  }
  /**
   * One open of a file, or a folder's rename, as Windows answers it: refused with a sharing violation while the
   * antivirus knob holds it, or while the follow script's read under way does not share what this open asks
   * (Delete for a replace, rename or delete, Write for a write; that read then ends). The message is PowerShell's for the
   * .NET call that made the open (`method` with `args` arguments).
   */
  open(path: string, op: 'read' | 'write' | 'replace' | 'rename' | 'delete', method: string, args: number): void {
    const refuse = (): never => {
      throw new SharingViolation(`Exception calling "${method}" with "${args}" argument(s): "The process cannot access the file '${path}' because it is being used by another process."`);
    };
    const av = this.knobs.antivirus;
    if (av && av.from === null && !this.avArmed) { this.avArmed = true; this.avLeft = av.times; }
    const name = leaf(path).toLowerCase();
    if (av && this.avArmed && this.avLeft > 0 && (!av.ops || av.ops.includes(op)) && (name === av.file.toLowerCase() || (av.file === 'journal' && name.startsWith('journal.')))) {
      this.avLeft--;
      refuse();
    }
    const share = this.reading?.get(norm(path));
    if (share !== undefined && op !== 'read' && !share.includes(op === 'write' ? 'Write' : 'Delete')) {
      this.reading = null;
      refuse();
    }
  }
  /** The antivirus knob's scanner takes hold when the transaction has written the journal line of this state. */
  private armAntivirus(state: string | null): void {
    const av = this.knobs.antivirus;
    if (av && !this.avArmed && av.from === state) { this.avArmed = true; this.avLeft = av.times; }
  }
  private startService(s: SimService): void {
    if (s.state === 'Running' || s.broken) return;
    if (s.hangs) {
      if (s.state === 'Start Pending') return;
      const w = this.spawn('wrapper.exe', `${s.dir}\\bin\\wrapper.exe`, `"${s.dir}\\bin\\wrapper.exe" -s "${s.dir}\\conf\\wrapper.conf"`, 640);
      Object.assign(s, { state: 'Start Pending', wrapperPid: w.pid, jvmPid: 0 });
      return;
    }
    const w = this.spawn('wrapper.exe', `${s.dir}\\bin\\wrapper.exe`, `"${s.dir}\\bin\\wrapper.exe" -s "${s.dir}\\conf\\wrapper.conf"`, 640);
    const j = this.spawn('java.exe', 'C:\\Program Files\\Java\\jre1.8.0_361\\bin\\java.exe', 'java -Dwrapper.key=k1 -classpath ..\\lib\\wrapper.jar org.tanukisoftware.wrapper.WrapperSimpleApp', w.pid);
    Object.assign(s, { state: 'Running', wrapperPid: w.pid, jvmPid: j.pid });
  }
  private stopService(s: SimService): void {
    this.processes.delete(s.wrapperPid);
    this.processes.delete(s.jvmPid);
    Object.assign(s, { state: 'Stopped', wrapperPid: 0, jvmPid: 0 });
  }
  /** InstallApp-NT.bat: wrapper.exe -i with the folder's wrapper.conf (name and start type from it). */
  private registerFrom(dir: string): void {
    const conf = this.readText(`${dir}\\conf\\wrapper.conf`) ?? '';
    const name = /^wrapper\.name=(\S+)/m.exec(conf)?.[1];
    if (!name || this.services.has(name.toLowerCase())) return;
    const start = /^wrapper\.ntservice\.starttype=(\S+)/m.exec(conf)?.[1];
    this.services.set(name.toLowerCase(), { name, dir, state: 'Stopped', startMode: start === 'DEMAND_START' ? 'Manual' : 'Auto', wrapperPid: 0, jvmPid: 0, broken: false, reg: {} });
  }
  service(name: string): SimService | undefined {
    return this.services.get(name.toLowerCase());
  }

  /**
   * AgentProcs (ps-functions.ts) re-enacted on the process table: every process whose image lies in an agent's
   * folder or under the set-aside root, every wrapper.exe / java(w).exe whose command line names one of those or
   * `wrapper.name=<agent>`, and the java(w).exe children of these; never the calling script (`self`).
   */
  agentProcs(self = 0): SimProcess[] {
    const roots = [MAIN_AGENT.dir, UPDATE_AGENT.dir, ASIDE_DIR].map((d) => `${d}\\`.toLowerCase());
    const all = [...this.processes.values()];
    const found = new Map<number, SimProcess>();
    for (const p of all) {
      if (p.pid === self) continue;
      const cl = p.commandLine.toLowerCase();
      if (roots.some((r) => p.exe.toLowerCase().startsWith(r)) || (AGENT_EXE.test(p.name) && (roots.some((r) => cl.includes(r)) || namesAgent(p.commandLine)))) found.set(p.pid, p);
    }
    for (const p of all) if (/^javaw?\.exe$/i.test(p.name) && !found.has(p.pid) && found.has(p.parent)) found.set(p.pid, p);
    return [...found.values()].sort((a, b) => a.pid - b.pid);
  }
  /** Strays re-enacted: the agent processes outside the services' own process trees (a running service's wrapper and its children). */
  strays(self = 0): SimProcess[] {
    const procs = this.agentProcs(self);
    const own = new Set([...this.services.values()].map((s) => s.wrapperPid).filter((p) => p > 0));
    for (let more = true; more;) {
      more = false;
      for (const p of procs) if (!own.has(p.pid) && own.has(p.parent)) { own.add(p.pid); more = true; }
    }
    return procs.filter((p) => !own.has(p.pid));
  }
  /** Stop-Process -Force: ends the process, unless it is one Stop-Process cannot end. */
  stopProcess(pid: number): void {
    if (!this.unkillable.has(pid)) this.processes.delete(pid);
  }
  /**
   * StopProcs re-enacted: Stop-Process on each; the survivors named ('' when none is left). By pid alone, or (as its
   * text says) only a process that still has the listed one's creation time: a pid reused meanwhile is another process.
   */
  stopProcs(list: SimProcess[]): string {
    const first = list[0];
    if (this.knobs.pidReused && !this.pidReuseDone && first) {
      this.pidReuseDone = true;
      this.processes.set(first.pid, {
        pid: first.pid, name: 'w3wp.exe', exe: 'C:\\Windows\\System32\\inetsrv\\w3wp.exe', commandLine: 'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "DefaultAppPool"',
        parent: 1204, startTicks: String(BigInt(first.startTicks) + 1_000_000n),
      });
    }
    const same = (p: SimProcess) => { const now = this.processes.get(p.pid); return !!now && (!STOPS_BY_CREATION || now.startTicks === p.startTicks); };
    for (const p of list) if (same(p)) this.stopProcess(p.pid);
    return names(list.filter(same));
  }

  /** An agent folder as an older install left it (DOMAIN.md §2): bin\*.bat, wrapper.exe, conf, lib, the service. */
  private installOld(i: SimInstall): void {
    const agents = i.layout === 'old' ? [UPDATE_AGENT, MAIN_AGENT] : [MAIN_AGENT];
    for (const a of agents) {
      const d = a.dir;
      for (const b of ['InstallApp-NT.bat', 'UninstallApp-NT.bat', 'App.bat']) this.writeFile(`${d}\\bin\\${b}`, `@echo off\r\nrem ${b} of ${a.name}\r\n`);
      this.writeFile(`${d}\\bin\\wrapper.exe`, Buffer.alloc(64, 1));
      this.writeFile(`${d}\\conf\\wrapper.conf`, `wrapper.name=${a.name}\r\nwrapper.backend.type=${a === MAIN_AGENT ? (i.mode ?? 'AUTO') : 'PIPE'}\r\nwrapper.ntservice.starttype=AUTO_START\r\n`);
      this.writeFile(`${d}\\lib\\resetpwdagent.jar`, Buffer.from(`jar ${a.name} ${i.version}`));
      this.writeFile(`${d}\\lib\\log4j-core-${i.log4j}.jar`, Buffer.from(`log4j ${i.log4j}`));
      if (a === UPDATE_AGENT) this.writeFile(`${d}\\conf\\resource.properties`, `resetPwdAgentVersion=${i.version}\r\nintervalTime=21600\r\n`);
      this.acl.set(norm(d), [AUTH_USERS]);
      this.registerFrom(d);
      const s = this.service(a.name)!;
      s.startMode = i.startMode ?? 'Auto';
      if (i.delayedAutostart) s.reg.DelayedAutostart = { kind: 'DWord', hex: '01000000' };
      if (i.failureActions) s.reg.FailureActions = { kind: 'Binary', hex: i.failureActions.toUpperCase() };
      if (i.running ?? true) this.startService(s);
    }
    const locked = this.knobs.lockedFolder === 'main' ? MAIN_AGENT : this.knobs.lockedFolder === 'update' ? UPDATE_AGENT : null;
    if (locked && this.isDir(locked.dir)) this.spawn('wrapper.exe', `${locked.dir}\\bin\\wrapper.exe`, `"${locked.dir}\\bin\\wrapper.exe" -c "${locked.dir}\\conf\\wrapper.conf"`, 2200);
  }

  // ---- the connection ---------------------------------------------------------------------------------
  /** One exec of the PowerShell command line with a script on stdin, answered as the script would. */
  async handle(commandLine: string, stdin: Buffer): Promise<{ stdout: string; stderr?: string; exitCode: number }> {
    if (this.languageMode !== 'FullLanguage') {
      const boot = / -EncodedCommand (\S+)$/.exec(commandLine)?.[1];
      this.received.push({ commandLine, kind: 'restricted', params: {}, script: stdin.toString('utf8') });
      return runRestricted(boot ? decodeCommand(boot) : '', this.languageMode);
    }
    let script = stdin.toString('utf8');
    let data: string | undefined;
    if (commandLine === PS_STDIN_DATA_COMMAND) {
      // As STDIN_DATA_BOOTSTRAP: the script ends at the marker line; what follows is data.
      const i = script.indexOf(`\n${PS_DATA_MARKER}\n`);
      if (i < 0) return { stdout: '', stderr: 'no data marker on stdin', exitCode: 1 };
      data = script.slice(i + PS_DATA_MARKER.length + 2);
      script = script.slice(0, i + 1);
    } else if (commandLine !== PS_STDIN_COMMAND) {
      this.received.push({ commandLine, kind: 'unknown', params: {}, script });
      return { stdout: '', stderr: `'${commandLine.split(' ')[0]}' is not the tool's PowerShell command line`, exitCode: 1 };
    }
    const r = recognise(script);
    this.received.push({ commandLine, kind: r?.kind ?? 'unknown', params: r?.params ?? {}, script, ...(data !== undefined ? { data } : {}) });
    if (!r) return { stdout: '', stderr: 'the simulated host does not know this script', exitCode: 1 };
    // Under FIPS a script that hashes with the managed class dies there (where it takes that path: no Get-FileHash).
    if (this.fips && !this.tools.getFileHash && script.includes(MANAGED_SHA256)) return { stdout: '', stderr: FIPS_ERROR, exitCode: 1 };
    const p = r.params;
    const lines: string[] = [];
    const emit = (k: string, v: string | number) => lines.push(`${k}=${esc(String(v))}`);
    let code = 0;
    try {
      switch (r.kind) {
        case 'facts':
          this.facts(emit, script);
          break;
        case 'prepare':
          code = this.prepare(emit);
          break;
        case 'stage':
          code = this.stage(p, emit);
          break;
        case 'launch':
          code = this.launch(String(p.psArgs), emit, script, String(p.txn ?? ''));
          break;
        case 'follow':
          return { stdout: this.follow(String(p.txn), Number(p.from), Number(p.window), { pid: String(p.launched ?? ''), start: String(p.launchedStart ?? ''), script }), exitCode: 0 };
        case 'fix':
          code = this.fix(emit);
          break;
        case 'reset':
          this.resetPassword(String(p.acct), String(p.nonce), data ?? '', emit);
          break;
        case 'cleanup':
          if (String(p.stage).toLowerCase().startsWith(`${STATE_DIR.toLowerCase()}\\stage.`) && !String(p.stage).includes('..')) this.removeTree(String(p.stage));
          emit('removed', 1);
          break;
      }
    } catch (e) {
      if (e instanceof TransportError) throw e;
      return { stdout: lines.map((l) => l + CRLF).join(''), stderr: (e as Error).message, exitCode: 1 };
    }
    return { stdout: lines.map((l) => l + CRLF).join(''), exitCode: code };
  }

  /** PASSWORD_RESET_BODY re-enacted: the password from the data after the nonce line, set, then validated. */
  private resetPassword(acct: string, nonce: string, data: string, emit: (k: string, v: string | number) => void): void {
    const lines = data.split(/\r?\n/);
    const k = lines.indexOf(`@@resetpwd ${nonce}`);
    if (k < 0 || k + 1 >= lines.length) return emit('reset', 'no-password');
    const pw = lines[k + 1]!;
    // Windows compares account names without regard to case.
    const name = [...this.accounts.keys()].find((a) => a.toLowerCase() === acct.toLowerCase());
    if (name === undefined) return emit('reset', 'no-account');
    if (this.passwordPolicyRefusal) {
      emit('reset', 'failed');
      return emit('error', this.passwordPolicyRefusal);
    }
    this.accounts.set(name, pw);
    const via = this.localAccountsModule ? 'Set-LocalUser' : 'WinNT';
    this.passwordSetVia.push(via);
    emit('via', via);
    emit('reset', 'done');
    emit('hash', this.accounts.get(name) === pw ? 'match' : 'mismatch');
  }

  private facts(emit: (k: string, v: string | number) => void, script: string): void {
    emit('hostname', 'WIN-SIM01');
    emit('user', 'WIN-SIM01\\Administrator');
    emit('admin', this.admin ? 'yes' : 'no');
    emit('ps_version', this.psVersion);
    emit('clr_version', this.clrVersion);
    emit('os_caption', this.os.caption);
    emit('os_version', this.os.version);
    emit('os_build', this.os.build);
    emit('os_product_type', this.os.productType);
    emit('os_arch', this.os.arch);
    emit('os_edition', this.os.edition);
    emit('os_installation', this.os.installation);
    emit('c_free', this.cFreeBytes);
    emit('c_size', 40 * 1024 ** 3);
    emit('c_format', 'NTFS');
    if (this.cWritable) emit('c_writable', 'yes');
    else {
      emit('c_writable', 'no');
      emit('c_write_error', "Access to the path 'C:\\resetpwd-fleet-probe.0f3c' is denied.");
    }
    for (const a of [...this.adapters].filter((x) => x.defaultRoute).sort((x, y) => x.defaultRoute!.metric - y.defaultRoute!.metric)) {
      emit('route', `${a.ifIndex}|${a.defaultRoute!.metric}|${a.defaultRoute!.nextHop}`);
    }
    for (const a of this.adapters) {
      emit('nic', `${a.ifIndex}|${a.dhcp ? 'dhcp' : 'static'}|${a.ipv4.join(',')}`);
      emit(`nic_name.${a.ifIndex}`, a.name);
    }
    emit('meta_data', this.metadataReachable ? 200 : 0);
    if (this.metadataReachable && this.serverId) emit('server_id', this.serverId);
    emit('public_ipv4_code', this.metadataReachable ? (this.publicIpv4 ? 200 : 404) : 0);
    if (this.metadataReachable && this.publicIpv4) emit('public_ipv4', this.publicIpv4);
    emit('get_file_hash', this.tools.getFileHash ? 'yes' : 'no');
    emit('expand_archive', this.tools.expandArchive ? 'yes' : 'no');
    emit('zipfile', this.tools.zipFile ? 'yes' : 'no');
    emit('cim', 'yes');
    for (const [k, a] of [['main', MAIN_AGENT], ['update', UPDATE_AGENT]] as const) {
      const d = a.dir;
      const s = this.service(a.name);
      const parts: Array<[FactPart, () => void]> = [
        ['files', () => {
          if (!this.isDir(d)) return emit(`${k}.dir`, 'absent');
          emit(`${k}.dir`, 'present');
          const props = this.readText(`${d}\\conf\\resource.properties`);
          const v = props && /^\s*resetPwdAgentVersion\s*=\s*(\S+)/m.exec(props)?.[1];
          if (v) emit(`${k}.version`, v);
          const conf = this.readText(`${d}\\conf\\wrapper.conf`);
          if (conf !== null) emit(`${k}.conf`, 'present');
          const b = conf && /^\s*wrapper\.backend\.type\s*=\s*(\S+)/m.exec(conf)?.[1];
          if (b) emit(`${k}.backend`, b);
          for (const f of this.filesUnder(`${d}\\lib`)) if (/^log4j-core-.*\.jar$/i.test(leaf(f)) && f.split('\\').length === d.split('\\').length + 2) emit(`${k}.log4j_core`, leaf(f));
        }],
        ['hash', () => {
          const jar = this.isDir(d) ? this.readFile(`${d}\\lib\\resetpwdagent.jar`) : null;
          if (jar) emit(`${k}.jar_sha256`, sha256(jar));
        }],
        ['acl', () => { if (this.isDir(d)) emit(`${k}.acl_writers`, (this.acl.get(norm(d)) ?? []).join(',')); }],
        ['service', () => {
          if (!s) return;
          emit(`${k}.status`, s.state);
          emit(`${k}.service_state`, s.state);
          emit(`${k}.start_mode`, s.startMode);
          emit(`${k}.service_pid`, s.wrapperPid);
          emit(`${k}.service_path`, `"${s.dir}\\bin\\wrapper.exe" -s "${s.dir}\\conf\\wrapper.conf"`);
        }],
        ['process', () => {
          if (!s?.wrapperPid) return;
          if (s.jvmPid) emit(`${k}.jvm_pid`, s.jvmPid);
          // The socket backend as the real wrapper runs it (AUTO, the default): the wrapper listens, the JVM connects back.
          const backend = (/^\s*wrapper\.backend\.type\s*=\s*(\S+)/m.exec(this.readText(`${s.dir}\\conf\\wrapper.conf`) ?? '')?.[1] ?? 'AUTO').toUpperCase();
          emit(`${k}.sockets`, s.jvmPid && backend === 'AUTO' ? `${s.wrapperPid}:32000:LISTEN,${s.wrapperPid}:32000:CONNECTED,${s.jvmPid}:31000:CONNECTED` : '');
        }],
      ];
      // A throw skips what is left of its section, as the script's Section (one try/catch) does.
      let skipping: string | null = null;
      for (const [part, body] of parts) {
        const fault = this.factFaults[`${k}.${part}`];
        const section = fault !== undefined || skipping !== null ? enclosingSection(script, FACT_PART_MARKERS[part], { k, name: k }) : null;
        if (skipping !== null && section === skipping) continue;
        if (fault !== undefined) {
          emit(`error.${section}`, fault);
          skipping = section;
          continue;
        }
        body();
      }
    }
    // Both agents' processes, in a section of their own (AgentProcs): a throw there costs that section only.
    const procsFault = this.factFaults.procs;
    if (procsFault !== undefined) emit(`error.${enclosingSection(script, PROCS_MARKER, {})}`, procsFault);
    else {
      const found = this.agentProcs();
      for (const p of found) emit('agent_proc', `${p.pid}|${p.parent}|${p.name}|${p.exe}|${p.commandLine}`);
      emit('agent_procs', found.length);
    }
    const state = this.readText(`${STATE_DIR}\\state`);
    if (state !== null) for (const l of state.split(/\r?\n/).filter(Boolean)) emit('state', l);
    const rec = this.record();
    if (rec) {
      for (const l of rec.lines) emit('txn', l);
      emit('txn_alive', this.alive(rec.fields.pid, rec.fields.pid_start) ? 'yes' : 'no');
    }
    emit('end', 1);
  }

  private record(): { lines: string[]; fields: Record<string, string> } | null {
    const t = this.readText(`${STATE_DIR}\\txn`);
    if (t === null) return null;
    const lines = t.split(/\r?\n/).filter(Boolean);
    const fields: Record<string, string> = {};
    for (const l of lines) { const i = l.indexOf('='); if (i > 0) fields[l.slice(0, i)] = l.slice(i + 1); }
    return { lines, fields };
  }
  private alive(pid: string | undefined, start: string | undefined): boolean {
    const p = pid ? this.processes.get(Number(pid)) : undefined;
    return !!p && (!start || p.startTicks === start);
  }

  /** Sets back when a folder and everything in it was last written (a stage left some time ago). */
  age(dir: string, ms: number): void {
    const t = Date.now() - ms;
    for (const [k, f] of this.files) if (k.startsWith(`${norm(dir)}\\`)) f.written = t;
    for (const k of this.dirWritten.keys()) if (k === norm(dir) || k.startsWith(`${norm(dir)}\\`)) this.dirWritten.set(k, t);
  }

  private prepare(emit: (k: string, v: string | number) => void): number {
    const why = this.safeDir(STATE_DIR);
    if (why) { emit('error', why); return 1; }
    // As PREPARE_BODY: stages the change record does not name and in which nothing was written for 10 minutes go.
    const live = /^stage=(.*)$/m.exec(this.readText(`${STATE_DIR}\\txn`) ?? '')?.[1]?.trim().toLowerCase() ?? '';
    for (const d of [...this.dirs.values()]) {
      if (!norm(d).startsWith(`${norm(STATE_DIR)}\\stage.`) || norm(d).slice(norm(STATE_DIR).length + 1).includes('\\') || norm(d) === live) continue;
      const last = Math.max(this.dirWritten.get(norm(d)) ?? 0, ...this.filesUnder(d).map((f) => this.files.get(norm(f))!.written ?? 0));
      if (last < Date.now() - 10 * 60_000) this.removeTree(d);
    }
    // As PREPARE_BODY, where it does so: the definitions of the tool's one-shot tasks left behind go (not another
    // vendor's), but one whose task runs now, or whose change the record names and still runs.
    if (PREPARE_BODY.includes('.DeleteTask(')) {
      const rec = this.record()?.fields ?? {};
      this.tasksRegistered = this.tasksRegistered.filter((t) => {
        if (!/^resetpwd-fleet-/i.test(t)) return true;
        const id = t.slice('resetpwd-fleet-'.length);
        const run = this.runs.get(id);
        return (!!run && !run.finished) || (rec.id === id && this.alive(rec.pid, rec.pid_start));
      });
    }
    const stage = `${STATE_DIR}\\stage.${createHash('sha256').update(String(this.nextPid++)).digest('hex').slice(0, 16)}`;
    this.mkdir(stage);
    emit('stage', stage);
    return 0;
  }

  private stage(p: Params, emit: (k: string, v: string | number) => void): number {
    const stage = String(p.stage);
    const zip = `${stage}\\pkg.zip`;
    const files: Array<[string, string]> = [['txn.ps1', String(p.txnSha)]];
    if (p.zipSha) {
      if (p.url) {
        const body = this.mirror[String(p.url)];
        if (!body) { emit('error', 'downloading the package failed: The remote server returned an error: (404) Not Found.'); return 1; }
        this.writeFile(zip, body);
      }
      files.push(['pkg.zip', String(p.zipSha)]);
    }
    for (const [name, want] of files) {
      const b = this.readFile(`${stage}\\${name}`);
      if (!b) { emit('error', `${name} is missing from the stage`); return 1; }
      const got = sha256(b);
      if (got !== want) { emit('error', `${name} has SHA-256 ${got} on the host, expected ${want}`); return 1; }
      emit('verified', name);
    }
    if (p.zipSha) {
      if (!this.tools.zipFile && !this.tools.expandArchive) { emit('error', 'extracting the package failed: Cannot find path'); return 1; }
      const z = new ZipReader(this.readFile(zip)!, zip);
      for (const e of z.entries) {
        const path = `${stage}\\x\\${e.name.replace(/\/$/, '').replace(/\//g, '\\')}`;
        if (e.isDirectory) this.mkdir(path);
        else this.writeFile(path, z.readEntry(e));
      }
      if (!this.files.has(norm(`${stage}\\x\\${String(p.expect)}`))) { emit('error', `${String(p.expect)} is missing after extraction`); return 1; }
      emit('extractor', this.tools.zipFile ? 'ZipFile' : 'Expand-Archive');
    }
    emit('staged', 1);
    return 0;
  }

  private fix(emit: (k: string, v: string | number) => void): number {
    // As FIX_BODY: the agent processes that are not the services' own first, found again just before.
    const st = this.strays();
    if (st.length > 0) {
      const left = this.stopProcs(st);
      if (left) { emit('error', `agent processes that are not the services' survive Stop-Process: ${left}`); return 1; }
      emit('fixed', `stopped ${names(st)}`);
    }
    for (const a of [MAIN_AGENT, UPDATE_AGENT]) {
      if (this.isDir(a.dir) && (this.acl.get(norm(a.dir)) ?? []).length > 0) { this.acl.set(norm(a.dir), []); emit('fixed', `acl ${a.dir}`); }
      const s = this.service(a.name);
      if (s && s.startMode !== 'Auto') { s.startMode = 'Auto'; emit('fixed', `start type ${a.name}`); }
    }
    emit('ok', 1);
    return 0;
  }

  // ---- the detached transaction -----------------------------------------------------------------------
  private launch(psArgs: string, emit: (k: string, v: string | number) => void, script = '', txn = '', byTask = false): number {
    // WMI's process creation blocked: the script's own answer to that — its second launcher, if it has one
    // (a scheduled task through the Task Scheduler's COM API), else its error line.
    const blocked = this.knobs.wmiCreateBlocked;
    if (blocked !== null && !byTask) {
      const why = typeof blocked === 'number' ? `Win32_Process.Create returned ${blocked} (${blocked === 2 ? 'access denied' : 'an error WMI does not name'})` : `Win32_Process.Create failed: ${blocked}`;
      if (!script.includes("New-Object -ComObject Schedule.Service")) { emit('error', typeof blocked === 'number' ? `Win32_Process.Create returned ${blocked}` : blocked); return 1; }
      const name = `resetpwd-fleet-${txn}`;
      this.tasksRegistered.push(name);
      // What the launcher does after Run(), read from its script: a DeleteTask on its way to the success exit deletes
      // the definition blind (5 s on), whether or not the task's process started; a queued instance then never starts.
      const ran = script.indexOf('$task.Run(');
      const blind = ran >= 0 && script.slice(ran, script.indexOf('exit 0', ran)).includes('.DeleteTask(');
      const drop = () => { this.tasksRegistered = this.tasksRegistered.filter((t) => t !== name); };
      if (blind && this.knobs.taskStartSeconds > 5) {
        drop();
        emit('launched', 0);
        emit('breakaway', 'yes');
        emit('launcher', 'task');
        emit('wmi_refused', why);
        return 0;
      }
      const code = this.launch(psArgs, emit, script, txn, true);
      if (blind) drop();
      if (code === 0) { emit('launcher', 'task'); emit('wmi_refused', why); }
      return code;
    }
    const boot = decodeCommand(psArgs.split(' ').pop()!);
    const path = /ReadAllBytes\('((?:[^']|'')*)'\)/.exec(boot)?.[1]?.replace(/''/g, "'");
    const sha = /-ne '([0-9A-F]{64})'\)/.exec(boot)?.[1];
    const stage = path?.replace(/\\txn\.ps1$/, '');
    if (!path || !stage || !sha || psArgs !== txnCommandArgs(stage, sha)) { emit('error', 'Win32_Process.Create returned 9'); return 1; }
    const bytes = this.readFile(path);
    // As the bootstrap: the file's bytes are hashed and run only if they are the staged ones; else exit 86. Under
    // FIPS a bootstrap hashing with the managed class throws before it runs anything (exit 1).
    const fipsDies = this.fips === true && boot.includes(MANAGED_SHA256);
    if (fipsDies || !bytes || createHash('sha256').update(bytes).digest('hex').toUpperCase() !== sha) {
      const gone = this.spawn('powershell.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', `"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ${psArgs}`, 1880);
      this.processes.delete(gone.pid);
      this.exited.push({ pid: gone.pid, code: fipsDies ? 1 : 86 });
      emit('launched', gone.pid);
      if (!byTask) emit('launcher', 'wmi');
      emit('breakaway', 'yes');
      return 0;
    }
    const text = bytes.toString('utf8');
    const r = text === null ? null : recognise(text, [['txn', WINDOWS_TXN_BODY]]);
    if (!r) { emit('error', 'Win32_Process.Create returned 9'); return 1; }
    const proc = this.spawn('powershell.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', `"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ${psArgs}`, 1880);
    const p = r.params;
    // A task the scheduler starts late: its process is not there yet when the launcher stops waiting for its pid.
    const late = byTask && this.knobs.taskStartSeconds > 5;
    const run: TxnRun = { txn: String(p.txn), pid: proc.pid, gen: this.transaction(p, proc), finished: false, delay: Math.max(this.knobs.startDelaySeconds, late ? this.knobs.taskStartSeconds : 0) };
    this.runs.set(run.txn, run);
    if (late) emit('launched', 0);
    else {
      emit('launched', proc.pid);
      emit('launched_start', proc.startTicks);
      this.lastLaunched = { pid: String(proc.pid), start: proc.startTicks };
    }
    if (!byTask) emit('launcher', 'wmi');
    emit('breakaway', 'yes');
    return 0;
  }

  /** Lets the detached change run for one poll's worth of journal lines, then answers the follow script. */
  private follow(txn: string, from: number, window = 1, launched: { pid: string; start: string; script: string } = { pid: '', start: '', script: '' }): string {
    const run = this.runs.get(txn);
    let drop = false;
    // A slow start: the change's process lives but writes nothing for a while; this poll's window passes on it.
    const starting = !!run && !run.finished && run.delay > 0;
    if (run && starting) run.delay -= window;
    /** One step of the change; its process ends where the script dies (a kill knob, or an error no try catches). */
    const step = (r: TxnRun): IteratorResult<string, void> | null => {
      try { return r.gen.next(); } catch (e) {
        if (e instanceof Died || e instanceof SharingViolation || e instanceof WmiFault) return null;
        throw e;
      }
    };
    if (run && !run.finished && !starting) {
      for (let i = 0; i < this.knobs.linesPerPoll && !run.finished; i++) {
        const next = step(run);
        if (next === null) { this.endRun(run); break; }
        if (next.done) { this.endRun(run); break; }
        const state = next.value.split(' ')[1];
        // After its "done" line the script closes the lock and exits at once.
        if (state === 'done') { while (!run.gen.next().done); this.endRun(run); }
        if (this.knobs.dropConnectionAt === state && !this.dropped) { this.dropped = true; drop = true; }
        if (this.knobs.strayStartsAt === state && !this.strayStarted) {
          this.strayStarted = true;
          this.startStray(`${ASIDE_DIR}\\${run.txn}\\${leaf(MAIN_AGENT.dir)}`);
        }
        if (this.knobs.killTransactionAt === state && !this.killed) {
          this.killed = true;
          this.endRun(run);
          break;
        }
      }
    }
    if (drop) {
      this.drops++;
      throw new TransportError('lost', 'the WinRM connection was reset (simulated)');
    }
    // FOLLOW_BODY re-enacted check by check (one every half second for the window; the change does not move
    // between two checks of one poll): the journal read, its new lines, then the change's record and process. A
    // read Windows refuses is no news: nothing is printed or judged on it.
    const J = `${STATE_DIR}\\journal.${txn}`;
    const out: string[] = [];
    const answer = () => out.map((l) => l + CRLF).join('');
    /** A read as the follow script opens the file: what the file holds, or null when Windows refuses the open. */
    const read = <T>(path: string, method: string, args: number, what: () => T): T | null => {
      try { this.open(path, 'read', method, args); } catch (e) { if (e instanceof SharingViolation) return null; throw e; }
      return what();
    };
    let n = from;
    let gone = 0;
    let waited = 0;
    let lost = '';
    let ended = '';
    // Whether the follow script the host received waits on the process this run launched (FOLLOW_BODY).
    const waitsOnLaunched = launched.script.includes('(Alive $launched $launchedStart)');
    for (let check = 1; ; check++) {
      const text = this.exists(J) ? read(J, '.ctor', 4, () => this.readText(J) ?? '') : '';
      let t: Record<string, string> | null = null;
      if (text !== null) {
        const cut = text.lastIndexOf('\n');
        if (cut >= 0) {
          const lines = text.slice(0, cut).split('\n').map((l) => l.replace(/\r$/, '')).filter(Boolean);
          for (let i = n; i < lines.length; i++) {
            out.push(lines[i]!);
            if (/^[0-9]+ done( |$)/.test(lines[i]!)) return answer();
          }
          if (lines.length > n) n = lines.length;
        }
        if (ended) { out.push(ended); return answer(); }
        if (lost) { out.push(`0 lost ${lost}`); return answer(); }
        t = this.exists(TXN_FILE) ? read(TXN_FILE, '.ctor', 4, () => this.record()?.fields ?? {}) : {};
      }
      if (t !== null && t.id === txn) {
        if (this.alive(t.pid, t.pid_start)) gone = 0;
        else gone++;
        // Its end in its record, not in the journal: printed after one more journal read without a done line.
        if (FOLLOW_TAKES_RECORD_END && gone >= 1 && t.phase === 'done' && t.outcome) { ended = `${Math.floor(Date.now() / 1000)} done ${t.outcome} ${t.detail ?? ''}`; continue; }
        if (gone >= 3) { lost = `the change's process (pid ${t.pid}) ended without finishing`; continue; }
      } else if (t !== null && run) {
        // No record of a change this host did launch, as the script sees it: after 20 s it says "never started",
        // unless it waits on the process this run launched and that still lives (a slow start).
        if (++waited > 40) {
          if (waitsOnLaunched && launched.pid && this.alive(launched.pid, launched.start)) waited = 0;
          else { lost = `the change never started (no record of ${txn})`; continue; }
        }
      } else if (t !== null && !run) {
        // The script says so after 20 s with no record; a launch that made no process has none to wait for.
        lost = `the change never started (no record of ${txn})`;
        continue;
      }
      if (check >= window * 2 + 1) { out.push(`0 poll ${n}`); return answer(); }
    }
  }

  private endRun(run: TxnRun): void {
    run.finished = true;
    this.processes.delete(run.pid);
    if (this.lockHolder === run.pid) this.lockHolder = null; // the lock file deletes itself when its handle closes
  }

  /** txn.ps1 re-enacted: one journal line per yield, with the script's decisions and effects on the model. */
  private *transaction(p: Params, proc: SimProcess): Generator<string, void, void> {
    const host = this;
    const txn = String(p.txn);
    const stage = String(p.stage);
    const limit = Number(p.limit);
    const settleAndWait = { startWait: Number(p.startWait) };
    const fullWait = Number(p.startWait);
    const J = `${STATE_DIR}\\journal.${txn}`;
    let aside = `${ASIDE_DIR}\\${txn}`;
    const out = `${stage}\\out.txt`;
    const agents = [
      { key: 'update', dir: UPDATE_AGENT.dir, name: UPDATE_AGENT.name, leaf: leaf(UPDATE_AGENT.dir) },
      { key: 'main', dir: MAIN_AGENT.dir, name: MAIN_AGENT.name, leaf: leaf(MAIN_AGENT.dir) },
    ];
    type A = (typeof agents)[number];
    const main = agents[1]!;
    const rec: Record<string, string> = {
      id: txn, action: String(p.action), pid: String(proc.pid), pid_start: proc.startTicks, stage, aside, phase: 'started',
      main_was: '', update_was: '', main_reg: '', update_reg: '', main_start: '', update_start: '', main_svc: '', update_svc: '', state_was: '', outcome: '',
      ...(RECORDS_DETAIL ? { detail: '' } : {}),
    };
    const S = {
      why: '', vpid: 0, vjvm: 0, rolling: false, committed: false, finishing: false, undoing: txn, lastOutput: '', extraStage: '', stopped: [] as string[],
      killedIn: { update: [] as string[], main: [] as string[] }, notes: [] as string[],
    };
    const stateFile = `${STATE_DIR}\\state`;
    /** Retry (ps-functions.ts): an open Windows refuses for a moment is tried again every 100 ms, 20 times. */
    const retry = (f: () => void) => {
      for (let n = 1; ; n++) {
        try { f(); return; } catch (e) { if (!(e instanceof SharingViolation) || n >= 20) throw e; }
      }
    };

    /** The moment before the script writes this state: where the kill-before and follow-read knobs act. */
    const moment = (state: string) => {
      if (host.knobs.killTransactionBefore === state && !host.killedBefore) { host.killedBefore = true; throw new Died(); }
      if (host.knobs.followReadsAt === state && !host.readDone) {
        host.readDone = true;
        host.reading = new Map([[norm(J), followShare('J')], [norm(TXN_FILE), followShare('rec')]]);
      }
    };
    function* note(state: string, detail = ''): Generator<string, void, void> {
      moment(state);
      const line = `${Math.floor(Date.now() / 1000)} ${state}${detail ? ` ${esc(detail)}` : ''}`;
      retry(() => host.open(J, 'write', '.ctor', 4));
      host.appendText(J, `${line}\n`);
      host.reading = null; // the follow's read is over
      host.armAntivirus(state);
      const pq = host.knobs.processQueryFails;
      if (pq && !host.pqArmed && pq.from === state) { host.pqArmed = true; host.pqLeft = pq.times; }
      yield line;
    }
    const save = () => {
      retry(() => host.open(`${STATE_DIR}\\txn.tmp`, 'write', 'WriteAllLines', 2));
      retry(() => { if (host.exists(TXN_FILE)) host.open(TXN_FILE, 'replace', 'Replace', 3); else host.open(`${STATE_DIR}\\txn.tmp`, 'rename', 'Move', 2); });
      host.writeFile(TXN_FILE, Object.entries(rec).map(([k, v]) => `${k}=${v}`).join(CRLF) + CRLF);
    };
    function* phase(ph: string, detail = ''): Generator<string, void, void> {
      moment(ph);
      rec.phase = ph;
      save();
      yield* note(ph, detail);
    }
    const log = (t: string) => host.appendText(out, t + CRLF);
    const svc = (a: A) => host.service(a.name);
    const stateOf = (a: A) => (!host.isDir(a.dir) ? 'absent' : svc(a)?.state === 'Running' ? 'running' : 'stopped');
    const registered = (a: A) => (svc(a) ? 'yes' : 'no');
    const startMode = (a: A) => svc(a)?.startMode ?? '';
    const runsFrom = (dir: string, x: SimProcess) => under(x.exe, dir) || (AGENT_EXE.test(x.name) && x.commandLine.toLowerCase().includes(`${dir.toLowerCase()}\\`));
    /** A Win32_Process query of the transaction (Cim Win32_Process): it throws while the processQueryFails knob says so. */
    const processQuery = () => {
      if (host.pqArmed && host.pqLeft > 0) { host.pqLeft--; throw new WmiFault('Call was canceled by the message filter.'); }
    };
    const procs = (dir: string) => { processQuery(); return [...host.processes.values()].filter((x) => x.pid !== proc.pid && runsFrom(dir, x)); };
    const noStrays = (): boolean => {
      processQuery();
      const st = host.strays(proc.pid);
      if (st.length === 0) return true;
      log(`+ stop agent processes that are not the services': ${names(st)}`);
      for (const x of st) { const n = `${x.name} ${x.pid}`; if (!S.stopped.includes(n)) S.stopped.push(n); }
      const gone = host.stopProcs(st);
      if (!gone) return true;
      S.why = `agent processes that are not the services' survive Stop-Process: ${gone}`;
      return false;
    };
    const stoppedNote = () => (S.stopped.length ? ` (stopped agent processes that are not the services': ${S.stopped.join(', ')})` : '');
    /** RollbackStrays, where the script has it: NoStrays whose own failure (a query that throws) is noted and the rollback goes on. */
    const rollbackStrays = (): boolean => {
      if (!ROLLBACK_STRAYS_CAUGHT) return noStrays();
      try { return noStrays(); } catch (e) {
        if (!(e instanceof WmiFault)) throw e;
        const m = `the agent processes could not be listed: ${e.message}`;
        log(`! ${m}`);
        if (!S.notes.includes(m)) S.notes.push(m);
        return true;
      }
    };
    const moreNotes = () => (S.notes.length ? `; ${S.notes.join('; ')}` : '');
    /** The .bat files of the package and the agents, as they behave (scripts/fixture-package/windows). */
    const runBat = (dir: string, bat: string): string => {
      log(`+ ${bat} in ${dir}`);
      // cmd.exe /d /c "<name> < NUL" from the .bat's folder, the name as RunBat writes it: with
      // NoDefaultCurrentDirectoryInExePath, cmd looks for a bare name on the PATH only.
      const cmdName = `${batPrefix()}${bat}`;
      if (host.knobs.noCurrentDirInExePath && !/[\\/:]/.test(cmdName)) {
        S.lastOutput = `'${cmdName}' is not recognized as an internal or external command,${CRLF}operable program or batch file.${CRLF}`;
        log(S.lastOutput);
        return '9009';
      }
      const agentDir = dir.replace(/\\bin$/i, '');
      let text = '';
      let rc = '0';
      if (/^UninstallApp-NT\.bat$/i.test(bat)) {
        if (host.knobs.uninstallHangs) {
          log(`! ${bat} killed after ${limit} s`);
          S.lastOutput = '';
          return 'timeout';
        }
        const s = [...host.services.values()].find((x) => norm(x.dir) === norm(agentDir));
        if (s) { host.stopService(s); host.services.delete(s.name.toLowerCase()); text = `wrapper  | ${s.name} service removed.${CRLF}`; }
      } else if (/^InstallApp-NT\.bat$/i.test(bat)) {
        host.registerFrom(agentDir);
        text = `wrapper  | installed.${CRLF}`;
      } else if (/^setup\.bat$/i.test(bat)) {
        const setup = host.readText(`${dir}\\setup.bat`) ?? '';
        const app = /xcopy "%CUR_DIR%\\([^"]+)" "C:\\([^"\\]+)\\"/i.exec(setup)?.[2];
        if (!app) { rc = '1'; text = `The system cannot find the path specified.${CRLF}`; }
        else {
          const dst = `C:\\${app}`;
          const fresh = !host.isDir(dst);
          host.copyTree(`${dir}\\${app}`, dst);
          if (fresh) host.acl.set(norm(dst), [AUTH_USERS]);
          host.registerFrom(dst);
          const s = [...host.services.values()].find((x) => norm(x.dir) === norm(dst));
          let running = false;
          if (s) {
            if (host.knobs.setupServiceNeverRuns) {
              // sc query sees RUNNING for a moment; then the JVM dies and the wrapper stops the service.
              running = true;
              s.broken = true;
            } else {
              if (host.knobs.startPendingHangs) s.hangs = true;
              host.startService(s);
              running = s.state === 'Running';
            }
          }
          text = `${running ? `SUCCESS: Congratulations! ${app} installed successfully.` : `FAILED: ${app} install failed.`}${CRLF}Press any key to continue . . . ${CRLF}`;
        }
      }
      S.lastOutput = text;
      log(text);
      return rc;
    };
    const stopAgent = (a: A): boolean => {
      const s = svc(a);
      if (!s || s.state === 'Stopped') return true;
      host.stopService(s);
      return true;
    };
    const deleteService = (a: A) => { const s = svc(a); if (s) { host.stopService(s); host.services.delete(s.name.toLowerCase()); } };
    const unregister = (a: A): string | null => {
      if (registered(a) === 'no') return '';
      const bin = `${a.dir}\\bin`;
      let how = 'no UninstallApp-NT.bat';
      if (host.exists(`${bin}\\UninstallApp-NT.bat`)) how = `UninstallApp-NT.bat ${runBat(bin, 'UninstallApp-NT.bat')}`;
      if (registered(a) === 'yes') { stopAgent(a); deleteService(a); how += ', then Win32_Service.Delete'; }
      if (registered(a) === 'yes') { S.why = `${a.name} is still registered after ${how}`; return null; }
      return `${a.name}: ${how}`;
    };
    const moveAside = (a: A): string | null => {
      if (!host.isDir(a.dir)) return '';
      const dst = `${aside}\\${a.leaf}`;
      const killed: string[] = [...S.killedIn[a.key as 'update' | 'main']];
      let err = '';
      for (let i = 0; i < 6; i++) {
        try {
          host.moveDir(a.dir, dst);
          return killed.length > 0 ? `${a.dir} (after killing ${killed.join(', ')})` : a.dir;
        } catch (e) { err = (e as Error).message; }
        if (i === 0 || i === 3) {
          stopAgent(a);
          for (const x of procs(a.dir)) { killed.push(`${x.name} ${x.pid}`); host.stopProcess(x.pid); }
        }
      }
      S.why = `cannot move ${a.dir} aside: ${err}`;
      return null;
    };
    const checkOnce = (): boolean => {
      const s = svc(main);
      if (!s) { S.why = `the service ${main.name} is not registered`; return false; }
      if (s.state !== 'Running' || !s.wrapperPid) { S.why = `the service ${main.name} is ${s.state}`; return false; }
      processQuery();
      if (!s.jvmPid) { S.why = `its wrapper (pid ${s.wrapperPid}) runs no java.exe`; return false; }
      S.vpid = s.wrapperPid;
      S.vjvm = s.jvmPid;
      return true;
    };
    // Nothing changes while the simulated script sleeps: one check stands for the wait, one for the settle.
    const verifyRunning = (): boolean => checkOnce() && checkOnce();
    const ensureAuto = (a: A): string | null => {
      const m = startMode(a);
      if (m === 'Auto') return `${a.name}:Auto`;
      svc(a)!.startMode = 'Auto';
      return `${a.name}:${m}->Auto`;
    };
    const removeStage = () => { for (const d of [stage, S.extraStage]) if (d && host.exists(d)) host.removeTree(d); };
    const dropAside = () => {
      if (host.exists(aside)) host.removeTree(aside);
      if (host.isDir(ASIDE_DIR) && ![...host.dirs.keys()].some((k) => k.startsWith(`${norm(ASIDE_DIR)}\\`))) host.removeTree(ASIDE_DIR);
    };
    /** StartSvc: ServiceController.Start() from Stopped, then WaitForStatus('Running', start wait), which times out on a service stuck in StartPending. */
    const startSvc = (a: A) => {
      const s = svc(a);
      if (!s) { log(`! starting ${a.name}: Cannot find any service with service name '${a.name}'.`); return; }
      if (s.state === 'Stopped') host.startService(s);
      if (s.state !== 'Running') log(`! starting ${a.name}: Time out has expired and the operation has not been completed.`);
    };
    const SVC_VALUES = ['DelayedAutostart', 'FailureActions', 'FailureActionsOnNonCrashFailures', 'FailureCommand'];
    /** SvcValues: the service key's values a re-registration loses, as Name:Kind:hex items ('-' for one not there); '' unregistered. */
    const svcValues = (a: A): string => {
      const s = svc(a);
      if (!s) return '';
      return SVC_VALUES.map((v) => (s.reg[v] ? `${v}:${s.reg[v].kind}:${s.reg[v].hex}` : `${v}:-:`)).join(',');
    };
    const restoreSvcValues = (a: A, saved: string) => {
      const s = svc(a);
      if (!saved || !s) return;
      for (const item of saved.split(',')) {
        const [name, kind, hex] = item.split(':');
        if (name === undefined || kind === undefined || hex === undefined || item.split(':').length !== 3) continue;
        if (kind === '-') delete s.reg[name];
        else s.reg[name] = { kind: kind as SimRegValue['kind'], hex };
      }
      log(`+ restored ${a.name} service settings: ${saved}`);
    };
    /**
     * Finish: the record's done (then the journal's line), or — where the script's Finish writes the journal's line
     * first — the line, then the record's done with the outcome and the line's detail, even when the line could not
     * be written (the process then ends with 1).
     */
    function* finish(word: string, detail: string): Generator<string, never, void> {
      moment('done');
      S.finishing = true;
      rec.phase = 'done';
      rec.outcome = word;
      if (RECORDS_DETAIL) rec.detail = esc(detail);
      if (!NOTE_BEFORE_RECORD) {
        try { save(); } catch (e) { if (!(e instanceof SharingViolation)) throw e; log(`! the change record: ${e.message}`); }
      }
      const o = host.readFile(out);
      if (o) host.writeFile(`${STATE_DIR}\\out.${txn}`, o);
      removeStage();
      for (const f of host.filesUnder(STATE_DIR)) if (/^state-was\./i.test(leaf(f)) && !f.slice(STATE_DIR.length + 1).includes('\\')) host.files.delete(norm(f));
      if (!NOTE_BEFORE_RECORD) {
        yield* note('done', `${word} ${detail}`);
        throw new Exit();
      }
      try { yield* note('done', `${word} ${detail}`); } catch (e) { if (!(e instanceof SharingViolation)) throw e; }
      try { save(); } catch (e) { if (!(e instanceof SharingViolation)) throw e; }
      throw new Exit();
    }
    /** MoveBack: a folder renamed (a set-aside one back; a new one aside), tried again as the set-aside is. */
    const moveBack = (from: string, to: string) => {
      let err = '';
      for (let i = 0; i < 6; i++) {
        try { host.moveDir(from, to); return; } catch (e) { err = (e as Error).message; }
        if (i === 0 || i === 3) for (const x of procs(from)) host.stopProcess(x.pid);
      }
      throw new Error(`cannot move ${from} to ${to}: ${err}`);
    };
    /** RestoreState: the copy of the state record put back, or none if there was none (or one naming the change undone, from an older version). */
    const restoreState = () => {
      const prior = rec.state_was ?? '';
      if (prior === 'absent') {
        if (host.exists(stateFile)) { retry(() => host.open(stateFile, 'delete', 'Delete', 1)); host.files.delete(norm(stateFile)); }
        return;
      }
      if (prior) {
        const copy = host.readFile(`${STATE_DIR}\\${prior}`);
        if (!copy) return;
        const now = host.readFile(stateFile);
        if (!now || !now.equals(copy)) { retry(() => host.open(stateFile, 'write', 'Copy', 3)); host.writeFile(stateFile, copy); }
        return;
      }
      const t = host.readText(stateFile);
      if (t !== null && t.split(/\r?\n/).includes(`txn=${S.undoing}`)) { retry(() => host.open(stateFile, 'delete', 'Delete', 1)); host.files.delete(norm(stateFile)); }
    };
    /** WriteState: after the commit, replaced whole; one that cannot be written is removed ('' or what happened). */
    const writeState = (): string => {
      const tmp = `${STATE_DIR}\\state.tmp`;
      try {
        retry(() => host.open(tmp, 'write', 'WriteAllLines', 2));
        retry(() => { if (host.exists(stateFile)) host.open(stateFile, 'replace', 'Replace', 3); else host.open(tmp, 'rename', 'Move', 2); });
      } catch (e) {
        if (!(e instanceof SharingViolation)) throw e;
        host.files.delete(norm(stateFile));
        return `; the state record could not be written (${e.message}): the old one was removed`;
      }
      host.writeFile(stateFile, [
        `package_sha256=${String(p.pkgSha)}`, `version=${String(p.pkgVersion)}`, `log4j=${String(p.pkgLog4j)}`, `txn=${txn}`,
        `installed_at=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`, `tool=${String(p.tool)}`,
      ].join(CRLF) + CRLF);
      return '';
    };
    /**
     * RemoveNew: the new install stopped, unregistered and its folder deleted, as many times as the script tries (a
     * scanner leaves it partly deleted), killing what runs from it; where the script does so, a folder that still
     * will not go is renamed aside (`<aside>\\<leaf>.new`) to make room for the old one ('' or where it went).
     */
    const removeNew = (a: A, makeRoom: boolean): string => {
      stopAgent(a);
      unregister(a);
      if (registered(a) === 'yes') deleteService(a);
      let err = '';
      for (let i = 0; i < REMOVE_NEW_TRIES && host.isDir(a.dir); i++) {
        try { host.removeDir(a.dir); } catch (e) { if (!(e instanceof SharingViolation)) throw e; err = e.message; }
        if (!host.isDir(a.dir)) break;
        if (i === 0 || i === 3) for (const x of procs(a.dir)) host.stopProcess(x.pid);
      }
      if (!REMOVE_NEW_RENAMES || !makeRoom || !host.isDir(a.dir)) return '';
      let dst = `${aside}\\${a.leaf}.new`;
      if (host.exists(dst)) dst += `.${String(host.nextPid++).padStart(8, '0')}`;
      log(`! ${a.dir} cannot be removed (${err}): renamed to ${dst}`);
      moveBack(a.dir, dst);
      return dst;
    };
    const undoAgent = (a: A): boolean => {
      const was = rec[`${a.key}_was`]!;
      const reg = rec[`${a.key}_reg`]!;
      const mode = rec[`${a.key}_start`]!;
      const b = `${aside}\\${a.leaf}`;
      if (host.isDir(b)) {
        let made = '';
        if (host.isDir(a.dir) || registered(a) === 'yes') made = removeNew(a, true);
        moveBack(b, a.dir);
        if (made) {
          try { host.removeDir(made); } catch (e) { if (!(e instanceof SharingViolation)) throw e; }
          if (host.isDir(made)) S.notes.push(`the new install could not be removed: it was left in ${made}`);
        }
      } else if (was === 'absent' || was === '') {
        if (host.isDir(a.dir) || registered(a) === 'yes') removeNew(a, false);
        return !host.isDir(a.dir);
      } else if (!host.isDir(a.dir)) return false;
      const bin = `${a.dir}\\bin`;
      if (reg === 'yes' && registered(a) === 'no' && host.exists(`${bin}\\InstallApp-NT.bat`)) runBat(bin, 'InstallApp-NT.bat');
      if (['Auto', 'Manual', 'Disabled'].includes(mode) && registered(a) === 'yes' && startMode(a) !== mode) svc(a)!.startMode = mode as StartMode;
      restoreSvcValues(a, rec[`${a.key}_svc`] ?? '');
      return true;
    };
    function* rollback(reason: string): Generator<string, void, void> {
      S.rolling = true;
      S.stopped = [];
      rec.phase = 'rolling-back';
      save();
      yield* note('rolling-back');
      settleAndWait.startWait = fullWait;
      try { restoreState(); } catch (e) { if (!(e instanceof SharingViolation)) throw e; log(`! restoring the state record: ${e.message}`); }
      rollbackStrays();
      let left = '';
      for (const a of agents) {
        let ok = false;
        try { ok = undoAgent(a); } catch (e) { log(`! ${(e as Error).message}`); }
        if (!ok) left += ` ${a.dir} could not be restored from ${aside};`;
      }
      if (host.isDir(aside) && ![...host.dirs.keys()].some((k) => k.startsWith(`${norm(aside)}\\`))) dropAside();
      if (rec.main_was === 'absent') {
        if (host.isDir(main.dir) || host.isDir(agents[0]!.dir)) yield* finish('failed', `rollback could not remove the partial install:${left}${moreNotes()}`);
        yield* finish('failed', `${reason}; the partial install was removed (no agent was installed before, none is now)${stoppedNote()}${moreNotes()}`);
      }
      if (rec.update_was !== 'absent') startSvc(agents[0]!);
      startSvc(main);
      if (verifyRunning()) {
        if (!rollbackStrays()) yield* finish('failed', `${reason}; the previous agent was restored and runs (pid ${S.vpid}), but ${S.why}${moreNotes()}`);
        yield* finish('rolled-back', `${reason}; the previous agent was restored and runs (pid ${S.vpid})${stoppedNote()}${moreNotes()}`);
      }
      let notRun = S.why;
      const was = rec.main_was === 'stopped' ? ' (it was not running before the change either)' : '';
      if (!rollbackStrays()) notRun += `; ${S.why}`;
      yield* finish('failed', `${reason}; the previous agent was restored to ${main.dir} but does not run: ${notRun}${was}${stoppedNote()}${left}${moreNotes()}`);
    }
    function* fail(reason: string): Generator<string, void, void> {
      if (S.finishing) throw new Exit(); // exit 1: the end itself could not be written
      if (S.committed) yield* finish('ok', `committed; then ${reason}`);
      if (S.rolling && ROLLBACK_STOP_UNFINISHED) {
        // The rollback stopped: said in the journal, the record left rolling-back, the process ends (exit 1).
        try { yield* note('rollback-stopped', reason); } catch (e) { if (!(e instanceof SharingViolation)) throw e; }
        throw new Exit();
      }
      if (S.rolling) yield* finish('failed', `the rollback stopped: ${reason}`);
      yield* note('failed', `after ${rec.phase}: ${reason}`);
      yield* rollback(reason);
    }

    try {
      // Started by the scheduled-task launcher, the change deletes its task's definition as it starts, where its script does.
      if (DELETES_OWN_TASK) host.tasksRegistered = host.tasksRegistered.filter((t) => t.toLowerCase() !== `resetpwd-fleet-${txn}`.toLowerCase());
      // Lock: one change at a time.
      if (host.lockHolder !== null && host.processes.has(host.lockHolder)) {
        yield* note('done', `failed another change (pid ${host.lockHolder}) is running on this host; nothing was changed`);
        removeStage();
        return;
      }
      host.lockHolder = proc.pid;
      if (p.action === 'recover') {
        retry(() => host.open(TXN_FILE, 'read', '.ctor', 4));
        const old = host.record()?.fields ?? {};
        const oldAside = old.aside ?? '';
        if (!oldAside.toLowerCase().startsWith(`${ASIDE_DIR.toLowerCase()}\\`) || oldAside.includes('..')) {
          yield* note('done', `failed the change record has no usable aside path (${oldAside})`);
          removeStage();
          return;
        }
        for (const k of ['action', 'main_was', 'update_was', 'main_reg', 'update_reg', 'main_start', 'update_start', 'main_svc', 'update_svc']) rec[k] = old[k] ?? '';
        if (/^(absent|state-was\.[0-9A-Za-z]+)$/.test(old.state_was ?? '')) rec.state_was = old.state_was!;
        S.undoing = old.id ?? '';
        aside = oldAside;
        rec.aside = oldAside;
        S.extraStage = old.stage ?? '';
        rec.phase = 'recovering';
        save();
        yield* note('recovering', `found ${old.id} dead in phase ${old.phase} (recovered by ${txn})`);
        if (old.phase === 'committed') { dropAside(); yield* finish('ok', 'committed before it stopped'); }
        yield* rollback(`interrupted in phase ${old.phase}`);
      }
      rec.main_was = stateOf(main);
      rec.update_was = stateOf(agents[0]!);
      rec.main_reg = registered(main);
      rec.update_reg = registered(agents[0]!);
      rec.main_start = startMode(main);
      rec.update_start = startMode(agents[0]!);
      rec.main_svc = svcValues(main);
      rec.update_svc = svcValues(agents[0]!);
      rec.state_was = 'absent';
      if (host.exists(stateFile)) {
        rec.state_was = `state-was.${txn}`;
        retry(() => host.open(stateFile, 'read', 'Copy', 3));
        host.writeFile(`${STATE_DIR}\\${rec.state_was}`, host.readFile(stateFile)!);
      }
      host.writeFile(out, '');
      yield* phase('started', `action=${String(p.action)} main=${rec.main_was} update=${rec.update_was} tool=${String(p.tool)}`);
      yield* phase('stopping');
      for (const a of agents) if (!stopAgent(a)) yield* fail(`cannot stop ${a.name}`);
      processQuery();
      const strayList = host.strays(proc.pid);
      let strayNote = '';
      if (strayList.length > 0) {
        strayNote = `also stopped agent processes found by what they are: ${names(strayList)}`;
        log(`+ ${strayNote}`);
        for (const x of strayList) for (const a of agents) if (runsFrom(a.dir, x)) S.killedIn[a.key as 'update' | 'main'].push(`${x.name} ${x.pid}`);
        const strayLeft = host.stopProcs(strayList);
        if (strayLeft) yield* fail(`cannot stop agent processes that are not the services': ${strayLeft} survive Stop-Process`);
      }
      yield* phase('stopped', strayNote);
      const done: string[] = [];
      for (const a of agents) {
        const u = unregister(a);
        if (u === null) yield* fail(S.why);
        if (u) done.push(u);
      }
      yield* phase('unregistered', done.join('; '));
      yield* phase('setting-aside', aside);
      if (host.isDir(main.dir) || host.isDir(agents[0]!.dir)) {
        const why = host.safeDir(ASIDE_DIR);
        if (why) yield* fail(why);
        host.mkdir(aside);
      }
      const moved: string[] = [];
      for (const a of agents) {
        const m = moveAside(a);
        if (m === null) yield* fail(S.why);
        if (m) moved.push(m);
      }
      yield* phase('set-aside', moved.join('; '));
      if (p.action === 'uninstall') {
        yield* phase('committed');
        S.committed = true;
        let kept = '';
        try {
          retry(() => { if (host.exists(stateFile)) host.open(stateFile, 'delete', 'Delete', 1); });
          host.files.delete(norm(stateFile));
        } catch (e) { if (!(e instanceof SharingViolation)) throw e; kept = `; the state record could not be removed: ${e.message}`; }
        dropAside();
        yield* finish('ok', `both agents removed${kept}`);
      }
      yield* phase('installing');
      const said: string[] = [];
      for (const rel of [String(p.updateSetup), String(p.mainSetup)]) {
        if (!rel) continue;
        const d = `${stage}\\x\\${rel}`;
        if (!host.exists(`${d}\\setup.bat`)) yield* fail(`no setup.bat in ${rel}`);
        const rc = runBat(d, 'setup.bat');
        const lf = leaf(rel);
        if (rc === 'timeout') yield* fail(`${lf}\\setup.bat did not finish within ${limit} s`);
        const msg = /SUCCESS/.test(S.lastOutput) ? 'printed SUCCESS' : /FAILED/.test(S.lastOutput) ? 'printed FAILED' : 'printed no SUCCESS';
        said.push(`${lf}\\setup.bat exit ${rc}, ${msg}`);
      }
      if (!host.isDir(main.dir)) yield* fail(`setup.bat did not create ${main.dir}`);
      yield* phase('installed', said.join('; '));
      const prot: string[] = [];
      for (const a of agents) {
        if (!host.isDir(a.dir)) continue;
        host.acl.set(norm(a.dir), []);
        prot.push(a.dir);
      }
      yield* phase('permissions', `only Administrators and SYSTEM may change ${prot.join(', ')}`);
      if (!verifyRunning()) {
        yield* note('retry-start', S.why);
        startSvc(main);
        settleAndWait.startWait = Math.floor(settleAndWait.startWait / 2) + 1;
        if (!verifyRunning()) yield* fail(`the new agent does not run: ${S.why}`);
      }
      yield* phase('verified', `pid=${S.vpid} jvm=${S.vjvm}`);
      S.stopped = [];
      if (!noStrays()) yield* fail(S.why);
      const boot: string[] = [];
      for (const a of agents) {
        if (registered(a) === 'no') continue;
        const b = ensureAuto(a);
        if (b === null) yield* fail(S.why);
        boot.push(b!);
      }
      yield* phase('boot', boot.join(' '));
      yield* phase('committed');
      S.committed = true;
      const stateNote = writeState();
      dropAside();
      yield* finish('ok', `pid=${S.vpid}${stoppedNote()}${stateNote}`);
    } catch (e) {
      if (e instanceof Exit) return;
      if (!(e instanceof SharingViolation) && !(e instanceof WmiFault)) throw e;
      // The script's own last catch: an error no inner try took fails the change (one in there ends the script).
      try { yield* fail(`unexpected error: ${e.message}`); } catch (e2) {
        if (e2 instanceof Exit) return;
        if (!CATCH_ENDS_STOPPED_ROLLBACK || !(e2 instanceof SharingViolation || e2 instanceof WmiFault)) throw e2;
        // As the script's last catch, where it has one of its own: the rollback Fail started there stopped.
        if (S.rolling && !S.finishing) { try { yield* note('rollback-stopped', `unexpected error: ${e2.message}`); } catch (e3) { if (!(e3 instanceof SharingViolation)) throw e3; } }
      }
    }
  }
}

/**
 * A Transport to a SimulatedWindowsHost, as a WinRM transport would be: exec runs handle() (stdout also
 * through onStdout, as a streaming transport delivers it), put() is an upload. After a dropped connection
 * it fails every call, like a dead socket: the controller must open a new one.
 */
export function simulatedTransport(host: SimulatedWindowsHost): Transport & { dead: boolean; closed: boolean } {
  const t = {
    kind: 'winrm' as const,
    dead: false,
    closed: false,
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      if (t.dead || t.closed) throw new TransportError('lost', 'the connection is closed');
      const stdin = opts.stdin === undefined ? Buffer.alloc(0) : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin);
      try {
        const r = await host.handle(command, stdin);
        if (r.stdout) opts.onStdout?.(r.stdout);
        return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr ?? '' };
      } catch (e) {
        if (e instanceof TransportError) t.dead = true;
        throw e;
      }
    },
    async put(content: Buffer, remotePath: string): Promise<void> {
      if (t.dead || t.closed) throw new TransportError('lost', 'the connection is closed');
      host.uploads.push(remotePath);
      host.writeFile(remotePath, content);
    },
    async close(): Promise<void> {
      t.closed = true;
    },
  };
  return t;
}

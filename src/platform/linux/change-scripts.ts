import { quote } from '../../dialect/posix.js';
import { AGENT_PROCS_SH } from './agent-procs.js';
import { MAIN_AGENT, STATE_DIR, UPDATE_AGENT } from './paths.js';
import { SAFE_DIR_SH } from './safe-dir.js';

/**
 * The short scripts a change runs around the host-side transaction (txn-script.ts): make a private stage,
 * check what was uploaded and extract it, start the transaction detached, follow its journal. Every value
 * from the package, the inventory or the host goes in through quote(); the scripts themselves are constants.
 */
const PRELUDE = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL\n';

/**
 * Leftovers of a change that never started — a stage (root's) or an upload folder (a sudo login's), tens of MB
 * after a cut upload or a killed controller — are removed by the next run on the host, but never one still in
 * use. Each records the SSH session that made it (its sshd or sshd-session process: pid and start time, which a reused pid
 * cannot fake); it is in use while that session lives — the upload, the checks and the launch all run in it —
 * or, for a stage, while the host's change record names it. One made by an older version of the tool, with
 * no such record, goes once nothing in it was written for 10 minutes.
 */
const LEFTOVERS = String.raw`
ssh_session() {
  p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ] 2>/dev/null; do
    s=; { read -r s < "/proc/$p/stat"; } 2>/dev/null || return 1
    c=${"$"}{s#*\(}; c=${"$"}{c%\)*}
    # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
    set -- ${"$"}{s##*) }
    # The first such ancestor is the connection's own process: sshd before OpenSSH 9.8, sshd-session since
    # (the listener, further up, is still sshd and never ends), dropbear's per-connection fork.
    case $c in sshd|sshd-session|dropbear) echo "$p:${"$"}{20}"; return 0 ;; esac
    p=$2
  done
  return 1
}
in_use() {
  o=; { read -r o < "$1/.session"; } 2>/dev/null
  if [ -n "$o" ]; then
    s=; { read -r s < "/proc/${"$"}{o%%:*}/stat"; } 2>/dev/null || return 1
    # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
    set -- ${"$"}{s##*) }
    [ "${"$"}{o#*:}" = "${"$"}{20}" ]
  else
    [ -n "$(find "$1" -mmin -10 2>/dev/null | head -n 1)" ]
  fi
}
`;

/** A directory only the login user can read, for SFTP uploads of a non-root login (sudo hosts). */
export const USER_UPLOAD_DIR_SCRIPT = `umask 077${LEFTOVERS}t=\${TMPDIR:-/tmp}
for d in "$t"/resetpwd-fleet.*; do [ -d "$d" ] && [ -O "$d" ] && ! in_use "$d" && rm -rf "$d"; done
u=$(mktemp -d "$t/resetpwd-fleet.XXXXXX") || exit 1
ssh_session > "$u/.session"
echo "$u"
`;

/** Root's private stage under STATE_DIR, made after the leftovers of earlier runs are removed (see above). */
export const PREPARE_SCRIPT = `${PRELUDE}umask 077${LEFTOVERS}${SAFE_DIR_SH}SD=${STATE_DIR}
safe_dir "$SD" || { echo "error: $SAFE_WHY" >&2; exit 1; }
live=$(sed -n 's/^stage=//p' "$SD/txn" 2>/dev/null)
for d in "$SD"/stage.*; do [ -d "$d" ] && [ "$d" != "$live" ] && ! in_use "$d" && rm -rf "$d"; done
st=$(mktemp -d "$SD/stage.XXXXXX") || exit 1
ssh_session > "$st/.session"
echo "$st"
`;

export type Extractor = 'unzip' | 'python3' | 'tar';

/** Which SHA-256 tool the host has, in order of preference; null when it has none (the change is refused). */
export function hashToolOf(tools: string[]): string | null {
  for (const t of ['sha256sum', 'openssl', 'busybox', 'python3']) if (tools.includes(t)) return t;
  return null;
}

/** How the package is unpacked on the host: its own unzip, else Python's zipfile, else a tar we stream. */
export function extractorOf(tools: string[]): Extractor | null {
  if (tools.includes('unzip')) return 'unzip';
  if (tools.includes('python3-zipfile')) return 'python3';
  if (tools.includes('tar')) return 'tar';
  return null;
}

export interface StageArgs {
  uploadDir: string;
  stage: string;
  /** Files the host downloads itself into the stage (--pull) before the hashes are checked. */
  downloads?: { name: string; url: string }[];
  files: { name: string; sha256: string }[];
  /** What to unpack and how (null: nothing, e.g. a recovery that only needs the transaction script). */
  unpack: { extractor: Extractor; archive: string; expect: string } | null;
}

/**
 * As root: copy the uploads into the stage (a non-root user could still change files in its own upload
 * dir after the check), check every file's SHA-256 there, then extract. Prints "staged" or "error: …".
 */
export function stageScript(a: StageArgs): string {
  const checks = a.files
    // Every value reaches the shell as one quoted word, also in what is echoed: a value is never run.
    .map((f) => `got=$(h ${quote(`${a.stage}/${f.name}`)}); [ -n "$got" ] || { echo ${quote(`error: no working SHA-256 tool on the host to check ${f.name}`)}; exit 1; }; [ "$got" = ${quote(f.sha256)} ] || { echo ${quote(`error: ${f.name} has SHA-256 `)}"$got"${quote(` on the host, expected ${f.sha256}`)}; exit 1; }`)
    .join('\n');
  const pushed = a.files.filter((f) => !(a.downloads ?? []).some((d) => d.name === f.name));
  const copy =
    a.uploadDir === a.stage || pushed.length === 0
      ? ''
      : `${pushed.map((f) => `cp "$U/"${quote(f.name)} "$S/"${quote(f.name)} || { echo ${quote(`error: cannot copy ${f.name} into the stage`)}; exit 1; }`).join('\n')}\nrm -rf "$U"\n`;
  const u = a.unpack;
  const extract = u
    ? `{ mkdir -p "$S/x" && ${unpackCommand(u.extractor, quote(u.archive))} > "$S/extract.out" 2>&1; } || { echo "error: extracting with ${u.extractor} failed: $(tail -n 2 "$S/extract.out" | tr '\\n' ' ')"; exit 1; }
[ -f "$S/x/"${quote(u.expect)} ] || { echo ${quote(`error: ${u.expect} is missing after extraction`)}; exit 1; }
`
    : '';
  const fetch = (a.downloads ?? [])
    .map(
      (d) =>
        `if command -v curl >/dev/null 2>&1; then curl -fsS --retry 2 --max-time 600 -o "$S/"${quote(d.name)} ${quote(d.url)} 2>"$S/fetch.err"; ` +
        `elif command -v wget >/dev/null 2>&1; then wget -q -T 60 -t 3 -O "$S/"${quote(d.name)} ${quote(d.url)} 2>"$S/fetch.err"; ` +
        `else echo "error: neither curl nor wget on the host to download the package"; exit 1; fi || ` +
        `{ echo ${quote(`error: downloading ${d.url} failed: `)}"$(tail -n 1 "$S/fetch.err" 2>/dev/null)"; exit 1; }
`,
    )
    .join('');
  return `${PRELUDE}umask 077
${copy ? `U=${quote(a.uploadDir)} ` : ''}S=${quote(a.stage)}
h() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -c1-64
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 "$1" | sed 's/.*= *//'
  elif command -v busybox >/dev/null 2>&1; then busybox sha256sum "$1" | cut -c1-64
  else python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; fi
}
${copy}${fetch}${checks}
${extract}echo staged
`;
}

function unpackCommand(x: Extractor, archive: string): string {
  switch (x) {
    case 'unzip':
      return `unzip -q -o "$S/"${archive} -d "$S/x"`;
    case 'python3':
      return `python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$S/"${archive} "$S/x"`;
    case 'tar':
      return `tar -xf "$S/"${archive} -C "$S/x"`;
  }
}

export interface TxnArgs {
  action: 'install' | 'uninstall' | 'recover';
  txn: string;
  stage: string;
  linuxDir: string;
  updateDir: string | null;
  sha256: string;
  version: string | null;
  log4j: string | null;
  settleSeconds: number;
  startWaitSeconds: number;
  tool: string;
}

/** Starts the uploaded transaction script detached: a new session, no terminal, output to files. */
export function launchScript(a: TxnArgs): string {
  const args = [a.action, a.txn, a.stage, a.linuxDir, a.updateDir ?? '-', a.sha256, a.version ?? '-', a.log4j ?? '-', String(a.settleSeconds), String(a.startWaitSeconds), a.tool];
  const cmd = ['sh', `${a.stage}/txn.sh`, ...args].map(quote).join(' ');
  return `${PRELUDE}cd /
if command -v setsid >/dev/null 2>&1; then setsid ${cmd} </dev/null >>${quote(`${a.stage}/txn.log`)} 2>&1 &
else nohup ${cmd} </dev/null >>${quote(`${a.stage}/txn.log`)} 2>&1 & fi
echo launched
`;
}

/**
 * Follows a transaction's journal from line `from`: prints new lines as they come, ends after the "done"
 * line, or with "0 lost …" when the transaction's process is gone without finishing (killed, host reboot).
 */
export function followScript(txn: string, from: number): string {
  // Cheap by design: a host follows its change for tens of seconds while hundreds of others do the same,
  // so each check costs one fork (wc) unless the journal grew; the process check is the kill builtin, with
  // the command line read only every few checks (pid reuse).
  return `${PRELUDE}SD=${STATE_DIR} T=${quote(txn)} n=${from} waited=0 gone=0 i=0 pid=
J="$SD/journal.$T"
nap() { sleep 0.5 2>/dev/null || sleep 1; }
while :; do
  total=$(wc -l < "$J" 2>/dev/null) || total=0
  total=\${total##* }
  if [ "\${total:-0}" -gt "$n" ]; then
    lines=$(sed -n "$((n + 1)),\${total}p" "$J")
    printf '%s\\n' "$lines"
    n=$total
    case $lines in *" done"*) printf '%s\\n' "$lines" | grep -q '^[0-9]* done' && exit 0 ;; esac
  fi
  if [ -z "$pid" ]; then
    # One read of the record: the change replaces it (rename) at every phase, and two reads could pair the
    # previous change's pid with this change's id — a dead pid that made a live change look gone.
    rec=$(cat "$SD/txn" 2>/dev/null)
    case $rec in "id=$T
"*) pid=$(printf '%s\\n' "$rec" | sed -n 's/^pid=//p' | tr -dc 0-9) ;; *) pid= ;; esac
  fi
  if [ -n "$pid" ]; then
    i=$((i + 1))
    alive=1
    if ! kill -0 "$pid" 2>/dev/null && [ ! -d "/proc/$pid" ]; then alive=0
    elif [ $((i % 10)) -eq 0 ]; then
      # Gone also means a pid reused by another process (a non-empty command line without txn.sh).
      c=$(tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
      case $c in ''|*txn.sh*) ;; *) alive=0 ;; esac
    fi
    if [ "$alive" = 0 ]; then gone=$((gone + 1)); else gone=0; fi
    if [ "$gone" -ge 3 ]; then
      sed -n "$((n + 1)),\\$p" "$J"; sed -n "$((n + 1)),\\$p" "$J" | grep -q '^[0-9]* done' && exit 0
      echo "0 lost the change's process (pid $pid) ended without finishing"; exit 0
    fi
  else
    waited=$((waited + 1)); [ "$waited" -gt 40 ] && { echo "0 lost the change never started (no record of $T)"; exit 0; }
  fi
  nap
done
`;
}

/**
 * The in-place fix of a host that runs the right package: stop the agent processes no pid file names (each
 * found again by what it is, just before), then the documented modes. Prints "ok" or "error: why".
 */
export const FIX_SCRIPT = `${PRELUDE}${AGENT_PROCS_SH}
M=${MAIN_AGENT.dir} N=${MAIN_AGENT.name}
st=$(agent_strays "$M" "$N"; agent_strays ${UPDATE_AGENT.dir} ${UPDATE_AGENT.name})
# shellcheck disable=SC2086 # a list of pids, split on purpose
if [ -n "$st" ]; then stop_pids $st || { echo "error: agent processes no pid file names survive SIGKILL:$ap_left"; exit 1; }; fi
{ chmod 700 "$M/bin/$N.script" "$M/bin/wrapper" && chmod 600 "$M"/lib/*; } || { echo "error: chmod failed"; exit 1; }
bad=
# shellcheck disable=SC2012 # the mode of one file named here, never a name read from ls
for f in "$M/bin/$N.script" "$M/bin/wrapper"; do [ "$(ls -ld "$f" | cut -c1-10)" = -rwx------ ] || bad="$bad $f"; done
# shellcheck disable=SC2012 # the mode of one file named here, never a name read from ls
for f in "$M"/lib/*; do [ -f "$f" ] && { [ "$(ls -ld "$f" | cut -c1-10)" = -rw------- ] || bad="$bad $f"; }; done
[ -z "$bad" ] && echo ok || echo "error: still wrong:$bad"
`;

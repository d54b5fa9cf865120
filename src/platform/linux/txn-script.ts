/**
 * The host side of a change: one POSIX sh script that the controller uploads, checks by hash and starts
 * detached (setsid, stdin/out to files), so that a dropped connection or a killed controller cannot stop a
 * change half-way. It walks the same states as the controller's machine (src/lifecycle/machine.ts) and
 * appends each transition to a journal on the host ("<epoch> <state> <detail>"), which the controller
 * follows and copies into its own journal. It keeps a transaction record (TXN_FILE) rewritten at every
 * phase, so that a later run can tell a change still running from one that died and must be undone.
 *
 * It never deletes the previous install before the new one is verified: old folders are renamed into
 * ASIDE_DIR/<txn> and renamed back on any failure; only a verified, boot-registered new agent commits.
 * Agents are stopped by their own verb, then every process of theirs is found by what it is (agent-procs.ts)
 * and stopped, so no old agent runs on unseen; after a change or a rollback nothing of either agent may run
 * but what its pid file names. A disk that fills up during the change fails it at once: a small reserve
 * file, released then, leaves room for the journal, the record and the rollback.
 *
 * Arguments: ACTION TXN STAGE LINUX_DIR UPDATE_DIR PKG_SHA PKG_VERSION PKG_LOG4J SETTLE START_WAIT TOOL
 *   ACTION  install | uninstall | recover
 *   STAGE   the private stage directory (extracted package in STAGE/x, agent output in STAGE/out)
 *   LINUX_DIR / UPDATE_DIR  the package's CloudResetPwdAgent.Linux / CloudResetPwdUpdateAgent.Linux
 *           folders relative to STAGE/x ("-" when absent)
 */
import { AGENT_PROCS_SH } from './agent-procs.js';
import { LOCK_SH } from './lock.js';
import { SAFE_DIR_SH } from './safe-dir.js';

export const TXN_SCRIPT = String.raw`
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
LC_ALL=C; export LC_ALL
umask 022
trap '' HUP PIPE
ACTION=$1 TXN=$2 STAGE=$3 LDIR=$4 UDIR=$5 PKG_SHA=$6 PKG_VERSION=$7 PKG_LOG4J=$8 SETTLE=$9
START_WAIT=${"$"}{10} TOOL=${"$"}{11} FULL_WAIT=${"$"}{10} LIMIT=300
SD=/var/lib/resetpwd-fleet
J=$SD/journal.$TXN
ASIDE=/.resetpwd-fleet/$TXN
OUT=$STAGE/out
M=/CloudrResetPwdAgent MN=cloudResetPwdAgent
U=/CloudResetPwdUpdateAgent UN=cloudResetPwdUpdateAgent
PHASE=started RCL='' MAIN_WAS='' UPDATE_WAS='' MAIN_REG='' UPDATE_REG='' EXTRA_STAGE='' NOSPACE='' ROLLING=''
RESERVE=$SD/reserve.$TXN
${SAFE_DIR_SH}
# The prepare step checked it; a folder swapped since is refused before anything is written in it.
safe_dir "$SD" || { echo "resetpwd-fleet: $SAFE_WHY" >&2; exit 1; }
${AGENT_PROCS_SH}
${LOCK_SH}
lf_probe
# Room kept for the end of the change (1 MiB): if the disk fills up meanwhile, it is released so that the
# journal, the record and the rollback can still be written, and the change stops there.
dd if=/dev/zero of="$RESERVE" bs=65536 count=16 2>/dev/null || rm -f "$RESERVE"
room() { rm -f "$RESERVE"; }
# Why a write failed: a full disk says so, with what is left.
nospace() {
  free=$(df -Pk "$SD" 2>/dev/null | awk 'NR == 2 { print $4 }')
  if [ "${"$"}{free:-1}" -lt 64 ] 2>/dev/null; then NOSPACE=${"$"}{NOSPACE:-"No space left on device: ${"$"}{free:-0} KiB free on the disk of $SD while writing $1"}
  else NOSPACE=${"$"}{NOSPACE:-"cannot write $1"}; fi
  room
}
note() {
  printf '%s %s\n' "$(date +%s)" "$*" >> "$J" 2>/dev/null && return 0
  nospace "the change journal"
  printf '%s %s\n' "$(date +%s)" "$*" >> "$J" 2>/dev/null
}
record() {
  { echo "id=$TXN"; echo "action=$ACTION"; echo "pid=$$"; echo "stage=$STAGE"; echo "aside=$ASIDE"
    echo "phase=$PHASE"; echo "main_was=$MAIN_WAS"; echo "update_was=$UPDATE_WAS"; echo "main_reg=$MAIN_REG"
    echo "update_reg=$UPDATE_REG"; echo "rc_local=$RCL"; } > "$SD/txn.tmp" 2>/dev/null && mv -f "$SD/txn.tmp" "$SD/txn"
}
save() { record && return 0; nospace "the change record"; record; }
# A change never goes on on a host whose disk is full: the next phase fails it (a rollback's own phases
# go on: they free space, and undoing is what the room was kept for).
phase() { PHASE=$1; shift; save; note "$PHASE" "$@"; [ -z "$NOSPACE" ] || [ -n "$ROLLING" ] || fail "$NOSPACE"; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- the agents' own view of themselves
wrapper_pid() {
  p=$(tr -dc 0-9 2>/dev/null < "$1/bin/$2.pid")
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q wrapper && echo "$p"
}
state_of() { if [ ! -d "$1" ]; then echo absent; elif [ -n "$(wrapper_pid "$1" "$2")" ]; then echo running; else echo stopped; fi; }
registered() { if [ -f "/etc/systemd/system/$1.service" ] || [ -e "/etc/init.d/$1" ]; then echo yes; else echo no; fi; }
# The agents' own scripts and setup.sh run with the signals this script ignores restored, and within a
# time limit where timeout(1) exists: a hung stop or setup must end in a rollback, not hold the host.
limited() { limited_for "$LIMIT" "$@"; }
run_agent() {
  [ -f "$1/bin/$2.script" ] || return 0
  echo "+ $2.script $3" >> "$OUT"
  (cd "$1/bin" && limited sh "./$2.script" "$3") >> "$OUT" 2>&1 < /dev/null
}
# The JVM is the wrapper's child whose command line carries -Dwrapper.key= (what ps shows on a real host).
# Read with the shell's own read: no fork per process, and a process that exits meanwhile is just skipped.
jvm_of() {
  jp=$1
  for f in /proc/[0-9]*/stat; do
    { read -r line < "$f"; } 2>/dev/null || continue
    # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
    set -- ${"$"}{line##*) }
    [ "$2" = "$jp" ] || continue
    c=${"$"}{f#/proc/}; c=${"$"}{c%/stat}
    tr '\0' ' ' < "/proc/$c/cmdline" 2>/dev/null | grep -q -- '-Dwrapper.key=' && { echo "$c"; return 0; }
  done
  return 1
}
check_once() {
  VPID=$(wrapper_pid "$1" "$2") VJVM='' VPORT=''
  [ -n "$VPID" ] || { WHY="no live wrapper process (pid file $1/bin/$2.pid)"; return 1; }
  # The status verb of a hung agent may never return: 30 s, as long as any real one takes.
  (cd "$1/bin" && limited_for 30 sh "./$2.script" status) > /dev/null 2>&1 < /dev/null || {
    [ $? -eq 124 ] && WHY="its status verb did not answer within 30 s" || WHY="its status verb says it is not running"; return 1; }
  VJVM=$(jvm_of "$VPID") || { WHY="the wrapper (pid $VPID) runs no JVM (-Dwrapper.key=)"; return 1; }
  # No wrapper.backend.type line: the wrapper's default, the socket backend (AUTO).
  # shellcheck disable=SC2018,SC2019 # ASCII keywords only (LC_ALL=C), in a form every tr knows
  mode=$(sed -n 's/^[[:space:]]*wrapper\.backend\.type[[:space:]]*=[[:space:]]*//p' "$1/conf/wrapper.conf" 2>/dev/null | tr -d '\r' | tail -n 1 | tr a-z A-Z)
  if [ "$mode" != PIPE ]; then
    # The socket backend: the wrapper listens (32000-32999 unless wrapper.port says otherwise) and its JVM
    # connects from a port it binds (31000-31999). The wrapper's listener is its port, else the JVM's. The port
    # is reported, never required: a live wrapper, its status verb and its JVM already say the agent runs.
    socks=$(agent_sockets "$VPID" "$VJVM")
    VPORT=$(printf '%s\n' "$socks" | awk -v w="$VPID" '$2 == w && $4 == "LISTEN" { print $3; exit }')
    [ -n "$VPORT" ] || VPORT=$(printf '%s\n' "$socks" | awk '$4 == "CONNECTED" { print $3; exit }')
  fi
  return 0
}
# Running means: a live wrapper, the status verb agreeing, a JVM under it (its port, AUTO, is read) — and the same
# wrapper still so SETTLE seconds later (a JVM that dies at start looks fine for a moment).
verify_running() {
  i=0
  until check_once "$1" "$2"; do
    i=$((i + 1)); [ "$i" -ge "$START_WAIT" ] && return 1
    sleep 1
  done
  first=$VPID
  sleep "$SETTLE"
  check_once "$1" "$2" || return 1
  [ "$VPID" = "$first" ] || { WHY="the wrapper restarted (pid $first, then $VPID)"; return 1; }
}
stop_agent() {
  if [ -d "$1" ] && [ -n "$(wrapper_pid "$1" "$2")" ]; then
    run_agent "$1" "$2" stop
    i=0
    while [ -n "$(wrapper_pid "$1" "$2")" ] && [ "$i" -lt 15 ]; do i=$((i + 1)); sleep 1; done
  fi
  # Whatever its pid file says: every wrapper and JVM of this agent goes (a JVM that outlived its wrapper, a
  # wrapper that could not write its pid file, an old copy still running from a folder set aside before).
  left=$(agent_procs "$1" "$2" | while read -r p r; do echo "$p"; done)
  [ -n "$left" ] || return 0
  # shellcheck disable=SC2086 # the pids on one line, split on purpose
  echo "+ stop $2 processes found by what they are:" $left >> "$OUT" 2>/dev/null
  # shellcheck disable=SC2086 # a list of pids, split on purpose
  stop_pids $left && return 0
  WHY="$2 processes survive SIGKILL:$ap_left"
  return 1
}
# After a change or a rollback: nothing of either agent runs but what its pid file names. Anything else
# (a wrapper started without room for its pid file, …) is stopped: an agent its scripts cannot see must not run.
no_strays() {
  st=
  # shellcheck disable=SC2086 # two words, split on purpose
  for a in "$U $UN" "$M $MN"; do set -- $a; st="$st $(agent_strays "$1" "$2")"; done
  # shellcheck disable=SC2086,SC2116 # the pids on one line with single spaces, split on purpose
  st=$(echo $st)
  [ -n "$st" ] || return 0
  echo "+ stop agent processes no pid file names: $st" >> "$OUT" 2>/dev/null
  STOPPED=" (stopped agent processes no pid file named: $st)"
  # shellcheck disable=SC2086 # a list of pids, split on purpose
  stop_pids $st && return 0
  WHY="agent processes no pid file names survive SIGKILL:$ap_left"
  return 1
}
unregister() {
  [ "$(registered "$2")" = yes ] || return 0
  run_agent "$1" "$2" remove
  [ "$(registered "$2")" = no ]
}
# Boot start: the unit enabled, or the init script linked into the runlevels; else the FAQ's fallback, a
# start line in the distribution's rc.local (after.local on SUSE).
boot_ok() {
  [ -e "/etc/systemd/system/multi-user.target.wants/$2.service" ] && return 0
  [ -d /run/systemd/system ] && [ -f "/etc/systemd/system/$2.service" ] && return 1
  for r in /etc/rc.d/rc3.d /etc/rc3.d /etc/init.d/rc3.d; do for l in "$r"/S*"$2"; do [ -e "$l" ] && return 0; done; done
  have chkconfig && chkconfig --list "$2" 2>/dev/null | grep -q '3:on' && return 0
  for r in /etc/rc.d/rc.local /etc/rc.local /etc/init.d/after.local; do
    [ -f "$r" ] && awk -v l="$1/bin/$2.script start" '/^[[:space:]]*exit([[:space:]]|$)/ { exit 1 } $0 == l { f = 1; exit 0 } END { exit f ? 0 : 1 }' "$r" && return 0
  done
  return 1
}
ensure_boot() {
  boot_ok "$1" "$2" && { BOOT="$BOOT $2:registered"; return 0; }
  if [ -f "/etc/systemd/system/$2.service" ] && have systemctl; then systemctl enable "$2.service" >> "$OUT" 2>&1
  elif [ -e "/etc/init.d/$2" ]; then
    if [ -f /etc/SuSE-release ] && have insserv; then insserv "/etc/init.d/$2" >> "$OUT" 2>&1
    elif have chkconfig; then chkconfig --add "$2" >> "$OUT" 2>&1; chkconfig "$2" on >> "$OUT" 2>&1
    elif have update-rc.d; then update-rc.d "$2" defaults >> "$OUT" 2>&1; fi
  fi
  boot_ok "$1" "$2" && { BOOT="$BOOT $2:enabled"; return 0; }
  if [ -f /etc/SuSE-release ] || [ -f /etc/init.d/after.local ]; then r=/etc/init.d/after.local
  elif [ -d /etc/rc.d ]; then r=/etc/rc.d/rc.local
  else r=/etc/rc.local; fi
  [ -f "$r" ] || printf '#!/bin/sh\n' > "$r" || return 1
  # Before the file's first exit (Debian's rc.local ends in "exit 0"), else at its end.
  if grep -q '^[[:space:]]*exit\([[:space:]]\|$\)' "$r"; then
    awk -v l="$1/bin/$2.script start" '!d && /^[[:space:]]*exit([[:space:]]|$)/ { print l; d = 1 } { print }' "$r" > "$r.rpf" && cat "$r.rpf" > "$r" && rm -f "$r.rpf"
  else
    printf '%s\n' "$1/bin/$2.script start" >> "$r"
  fi
  chmod 755 "$r"
  RCL="$RCL $r:$1/bin/$2.script"; save
  boot_ok "$1" "$2" && { BOOT="$BOOT $2:$r"; return 0; }
  return 1
}
# The start lines this change added (rollback), or every start line of either agent (uninstall: "all").
drop_rc_lines() {
  for e in $RCL; do r=${"$"}{e%%:*} s=${"$"}{e#*:}; [ -f "$r" ] && sed -i "\\#^$s start\$#d" "$r"; done
  [ "$1" = all ] || return 0
  for r in /etc/rc.d/rc.local /etc/rc.local /etc/init.d/after.local; do
    [ -f "$r" ] && for a in "$M/bin/$MN.script" "$U/bin/$UN.script"; do sed -i "\\#^$a start\$#d" "$r"; done
  done
  return 0
}
check_modes() {
  bad=
  # shellcheck disable=SC2012 # the mode of one file named here, never a name read from ls
  for f in "$M/bin/$MN.script" "$M/bin/wrapper"; do [ "$(ls -ld "$f" | cut -c1-10)" = -rwx------ ] || bad="$bad $f"; done
  # shellcheck disable=SC2012 # the mode of one file named here, never a name read from ls
  for f in "$M"/lib/*; do [ -f "$f" ] || continue; [ "$(ls -ld "$f" | cut -c1-10)" = -rw------- ] || bad="$bad $f"; done
  [ -z "$bad" ] || { WHY="wrong modes:$bad"; return 1; }
}

# --- undo: bring back exactly what was there, as it was registered, and started if it ran
remove_new() { stop_agent "$1" "$2"; run_agent "$1" "$2" remove; rm -f "/etc/init.d/$2" "/etc/systemd/system/$2.service"; rm -rf "$1"; }
undo_agent() {
  b=$ASIDE/${"$"}{1#/}
  if [ -d "$b" ]; then
    [ -d "$1" ] && remove_new "$1" "$2"
    mv "$b" "$1" || return 1
  elif [ "$3" = absent ] && [ -d "$1" ]; then
    remove_new "$1" "$2"
  elif [ "$3" != absent ] && [ ! -d "$1" ]; then
    return 1
  fi
  if [ "$4" = yes ] && [ "$(registered "$2")" = no ] && [ -d "$1" ]; then run_agent "$1" "$2" install; fi
  return 0
}
rollback() {
  ROLLING=1 STOPPED=
  PHASE=rolling-back; save; note rolling-back
  START_WAIT=$FULL_WAIT
  [ "$ACTION" = uninstall ] || drop_rc_lines
  left=
  undo_agent "$U" "$UN" "$UPDATE_WAS" "$UPDATE_REG" || left="$left $U could not be restored from $ASIDE;"
  undo_agent "$M" "$MN" "$MAIN_WAS" "$MAIN_REG" || left="$left $M could not be restored from $ASIDE;"
  [ -d "$ASIDE" ] && rmdir "$ASIDE" 2>/dev/null
  [ -d /.resetpwd-fleet ] && rmdir /.resetpwd-fleet 2>/dev/null
  if [ "$MAIN_WAS" = absent ]; then
    if [ -d "$M" ] || [ -d "$U" ]; then finish failed "rollback could not remove the partial install:$left"; fi
    finish failed "$1; the partial install was removed (no agent was installed before, none is now)"
  fi
  [ "$UPDATE_WAS" = absent ] || run_agent "$U" "$UN" start
  run_agent "$M" "$MN" start
  if verify_running "$M" "$MN"; then
    no_strays || finish failed "$1; the previous agent was restored and runs (pid $VPID), but $WHY"
    finish rolled-back "$1; the previous agent was restored and runs (pid $VPID)$STOPPED"
  fi
  why=$WHY was=; [ "$MAIN_WAS" = stopped ] && was=" (it was not running before the change either)"
  no_strays || why="$why; $WHY"
  finish failed "$1; the previous agent was restored to $M but does not run: $why$was$STOPPED${"$"}{left:+;$left}"
}
fail() {
  room
  note failed "after $PHASE: $*"
  rollback "$*"
}
# The end of every change: the record says done, the agents' output is kept beside the journal, the stage
# (package copy, extracted tree) goes, and only the last few changes' journals are kept.
finish() {
  PHASE='done'; save
  echo "outcome=$1" >> "$SD/txn"
  [ -f "$OUT" ] && cp "$OUT" "$SD/out.$TXN" 2>/dev/null
  rm -rf "$STAGE" ${"$"}{EXTRA_STAGE:+"$EXTRA_STAGE"} "$RESERVE"
  # shellcheck disable=SC2012 # newest first; the names are journal.TXN, plain words
  for f in $(ls -t "$SD"/journal.* 2>/dev/null | tail -n +6); do rm -f "$f" "$SD/out.${"$"}{f##*journal.}"; done
  note 'done' "$@"
  rm -rf "$SD/lock"
  exit 0
}
rank() {
  case $1 in
    started) echo 1 ;; stopping) echo 2 ;; stopped) echo 3 ;; unregistered) echo 4 ;; setting-aside) echo 5 ;;
    set-aside) echo 6 ;; installing) echo 7 ;; installed) echo 8 ;; permissions) echo 9 ;; verified) echo 10 ;;
    boot) echo 11 ;; committed) echo 12 ;; *) echo 0 ;;
  esac
}

# --- one change at a time on a host (lock.ts); a dead holder's lock is taken over (its change is then
# recovered from its record).
if ! take_lock "$SD/lock"; then
  note 'done' failed "$LOCK_WHY"
  case $LOCK_WHY in another*) rm -rf "$STAGE" ;; esac
  rm -f "$RESERVE"; exit 0
fi

# --- a change that died (host rebooted, process killed): undo it from its record, or finish a committed one
if [ "$ACTION" = recover ]; then
  get() { sed -n "s/^$1=//p" "$SD/txn" | head -n 1; }
  OLD=$(get id) PHASE=$(get phase) MAIN_WAS=$(get main_was) UPDATE_WAS=$(get update_was)
  MAIN_REG=$(get main_reg) UPDATE_REG=$(get update_reg) RCL=$(get rc_local) OLDSTAGE=$(get stage) ACTION=$(get action)
  # The record's own aside path: a recovery interrupted in turn is recovered from the same folders.
  ASIDE=$(get aside)
  case $ASIDE in /.resetpwd-fleet/?*) ;; *) note 'done' failed "the change record has no usable aside path ($ASIDE)"; rm -f "$RESERVE"; exit 0 ;; esac
  note recovering "found $OLD dead in phase $PHASE (recovered by $TXN)"
  if [ "$(rank "$PHASE")" -ge 12 ]; then rm -rf "$ASIDE"; rmdir /.resetpwd-fleet 2>/dev/null; EXTRA_STAGE=$STAGE STAGE=$OLDSTAGE; finish ok "committed before it stopped"; fi
  [ -d "$OLDSTAGE" ] && OUT=$OLDSTAGE/out
  EXTRA_STAGE=$STAGE STAGE=$OLDSTAGE
  rollback "interrupted in phase $PHASE"
fi

MAIN_WAS=$(state_of "$M" "$MN") UPDATE_WAS=$(state_of "$U" "$UN")
MAIN_REG=$(registered "$MN") UPDATE_REG=$(registered "$UN")
: > "$OUT"
# An agent folder gone but its unit or init script left (a half-removed install): clear the leftovers, or the
# new install's own "install" verb would refuse ("already installed").
[ -d "$M" ] || { rm -f "/etc/systemd/system/$MN.service" "/etc/systemd/system/multi-user.target.wants/$MN.service" "/etc/init.d/$MN"; MAIN_REG=no; }
[ -d "$U" ] || { rm -f "/etc/systemd/system/$UN.service" "/etc/systemd/system/multi-user.target.wants/$UN.service" "/etc/init.d/$UN"; UPDATE_REG=no; }
phase started "action=$ACTION main=$MAIN_WAS update=$UPDATE_WAS tool=$TOOL"

phase stopping
stop_agent "$U" "$UN" || fail "cannot stop $UN: $WHY"
stop_agent "$M" "$MN" || fail "cannot stop $MN: $WHY"
phase stopped
unregister "$U" "$UN" || fail "$UN is still registered after its remove verb"
unregister "$M" "$MN" || fail "$MN is still registered after its remove verb"
phase unregistered
phase setting-aside "$ASIDE"
if [ -d "$U" ] || [ -d "$M" ]; then
  # The old agents go where a rollback later restores them from: root's own folder, or no change at all.
  safe_dir /.resetpwd-fleet || fail "$SAFE_WHY"
  { [ -d "$ASIDE" ] || mkdir -m 700 "$ASIDE"; } || fail "cannot create $ASIDE"
fi
[ -d "$U" ] && { mv "$U" "$ASIDE/" || fail "cannot move $U aside"; }
[ -d "$M" ] && { mv "$M" "$ASIDE/" || fail "cannot move $M aside"; }
phase set-aside

if [ "$ACTION" = uninstall ]; then
  drop_rc_lines all
  rm -f "$SD/state"
  phase committed
  rm -rf "$ASIDE"; rmdir /.resetpwd-fleet 2>/dev/null
  finish ok "both agents removed"
fi

phase installing
if [ "$UDIR" != - ]; then d=$STAGE/x/$UDIR; else d=$STAGE/x/$LDIR; fi
# setup.sh's own output starts after what $OUT holds now (the old agents' stop and remove verbs print there too).
SETUP_AT=$(($(wc -c < "$OUT" 2>/dev/null || echo 0) + 1))
(cd "$d" && limited sh setup.sh) >> "$OUT" 2>&1 < /dev/null || [ $? -ne 124 ] || fail "setup.sh did not finish within $LIMIT s"
[ -d "$M" ] || fail "setup.sh did not create $M"
# Its copy can fail half-way (a full disk) while it still says "successfully": the first error it printed,
# or a disk left without room, ends the change here — a half-copied agent is never started or judged.
err=$(tail -c +"$SETUP_AT" "$OUT" 2>/dev/null | grep -m 1 -E '^(cp|mv|mkdir|chmod|tar|unzip): |No space left on device|Read-only file system|Disk quota exceeded|Input/output error')
[ -z "$err" ] || fail "setup.sh failed: $err"
free=$(df -Pk "$M" 2>/dev/null | awk 'NR == 2 { print $4 }')
[ "${"$"}{free:-1}" -ge 64 ] 2>/dev/null || fail "No space left on device: the disk filled up while setup.sh copied the agent (${"$"}{free:-0} KiB free); the install is incomplete"
said=ok; tail -c +"$SETUP_AT" "$OUT" 2>/dev/null | grep -q 'Failed to start service' && said="setup.sh printed 'Failed to start service'"
phase installed "setup: $said"
{ chmod 700 "$M/bin/$MN.script" "$M/bin/wrapper" && chmod 600 "$M"/lib/*; } || fail "chmod failed"
check_modes || fail "$WHY"
phase permissions "700 bin/$MN.script bin/wrapper, 600 lib/*"
# One more start if setup.sh's did not take (its message proves nothing), with half the wait.
if ! verify_running "$M" "$MN"; then
  note retry-start "$WHY"
  run_agent "$M" "$MN" start
  START_WAIT=$((START_WAIT / 2 + 1))
  verify_running "$M" "$MN" || fail "the new agent does not run: $WHY"
fi
phase verified "pid=$VPID jvm=$VJVM port=${"$"}{VPORT:--}"
STOPPED=
no_strays || fail "$WHY"
BOOT=
ensure_boot "$M" "$MN" || fail "cannot register $MN to start at boot"
[ -d "$U" ] && { ensure_boot "$U" "$UN" || fail "cannot register $UN to start at boot"; }
phase boot "${"$"}{BOOT# }"
{ { printf 'package_sha256=%s\nversion=%s\nlog4j=%s\ntxn=%s\n' "$PKG_SHA" "$PKG_VERSION" "$PKG_LOG4J" "$TXN"
  echo "installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "tool=$TOOL"; } > "$SD/state.tmp" && mv -f "$SD/state.tmp" "$SD/state"; } || fail "cannot write $SD/state"
phase committed
rm -rf "$ASIDE"; rmdir /.resetpwd-fleet 2>/dev/null
finish ok "pid=$VPID$STOPPED"
`;

/**
 * Two POSIX sh functions of the host-side change (txn.sh), kept apart so their specs can run them here:
 *
 * `limited_for SECS CMD…` runs CMD for at most SECS seconds (TERM, then KILL 10 s later) and returns 124 when
 * it was stopped, as timeout(1) does. timeout(1) where the host has one that takes `-k` (busybox's older ones
 * do not: probed once); else a watchdog of our own, whose stdio is /dev/null so it never holds the
 * controller's channel open, and which says it fired by its own exit status (no race with the command's end).
 * The agent's own verbs (start, stop, status) and setup.sh run under it: a hung verb cannot hold the change —
 * and its lock — forever.
 *
 * `take_lock LOCK` takes the host's one-change-at-a-time lock: a symbolic link whose target is its taker's
 * pid, made in one step (ln -s fails if it exists), so there is no moment when a lock has no holder. A lock
 * whose holder is not a live change is stale; breaking it is one taker at a time (the LOCK.break folder) and
 * only while it still names that holder, so a lock just taken by another change is never removed. A lock
 * folder of an older version (LOCK/pid) without a pid yet is waited for (5 s) before it counts as stale.
 * On failure LOCK_WHY says why.
 */
export const LOCK_SH = String.raw`
lf_probe() {
  LF_TIMEOUT=no; command -v timeout >/dev/null 2>&1 && timeout -k 1 5 true >/dev/null 2>&1 && LF_TIMEOUT=yes
}
limited_for() {
  lf_s=$1; shift
  [ -n "$LF_TIMEOUT" ] || lf_probe
  if [ "$LF_TIMEOUT" = yes ]; then
    (trap - HUP PIPE; exec timeout -k 10 "$lf_s" "$@"); lf_r=$?
    # 137: it needed the KILL after the TERM, a timeout all the same.
    [ "$lf_r" -eq 137 ] && return 124
    return "$lf_r"
  fi
  (trap - HUP PIPE; exec "$@") & lf_p=$!
  # Once it fires it ignores TERM: the kill below, sent when the command it stopped has ended, must not turn its
  # "I fired" (99) into a death by signal.
  ( sleep "$lf_s"; trap '' TERM; kill -TERM "$lf_p" 2>/dev/null; exit 99 ) < /dev/null > /dev/null 2>&1 & lf_t=$!
  ( sleep $((lf_s + 10)); kill -KILL "$lf_p" 2>/dev/null ) < /dev/null > /dev/null 2>&1 & lf_k=$!
  wait "$lf_p"; lf_r=$?
  kill "$lf_k" 2>/dev/null
  kill "$lf_t" 2>/dev/null; wait "$lf_t"
  [ $? -eq 99 ] && return 124
  return "$lf_r"
}
lock_holder() {
  # shellcheck disable=SC2012 # the target of one link named here, where there is no readlink
  if [ -L "$1" ]; then readlink "$1" 2>/dev/null || ls -l "$1" 2>/dev/null | sed 's/.* -> //'
  else cat "$1/pid" 2>/dev/null; fi | tr -dc 0-9
}
take_lock() {
  tl_i=0
  while :; do
    # ln -s onto an existing folder would put the link inside it: never onto one, and checked after.
    if [ ! -d "$1" ] && ln -s "$$" "$1" 2>/dev/null; then
      [ -L "$1" ] && return 0
      rm -f "$1/$$"
    fi
    tl_i=$((tl_i + 1)); [ "$tl_i" -gt 8 ] && { LOCK_WHY="cannot take the lock $1"; return 1; }
    tl_w=0
    while [ -d "$1" ] && [ ! -L "$1" ] && [ ! -s "$1/pid" ] && [ "$tl_w" -lt 5 ]; do sleep 1; tl_w=$((tl_w + 1)); done
    tl_h=$(lock_holder "$1")
    if [ -n "$tl_h" ] && [ -r "/proc/$tl_h/cmdline" ] && tr '\0' ' ' < "/proc/$tl_h/cmdline" | grep -q txn.sh; then
      LOCK_WHY="another change (pid $tl_h) is running on this host; nothing was changed"; return 1
    fi
    # A breaker killed half-way leaves LOCK.break: one older than a minute is its leftover.
    [ -n "$(find "$1.break" -prune -mmin +1 2>/dev/null)" ] && rmdir "$1.break" 2>/dev/null
    if mkdir "$1.break" 2>/dev/null; then
      [ -e "$1" ] || [ -L "$1" ] && [ "$(lock_holder "$1")" = "$tl_h" ] && rm -rf "$1"
      rmdir "$1.break"
    else
      sleep 1
    fi
  done
}
`;

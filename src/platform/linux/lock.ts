/**
 * Two POSIX sh functions of the host-side change (txn.sh), kept apart so their specs can run them here:
 *
 * `limited_for SECS CMD…` runs CMD for at most SECS seconds (TERM, then KILL 10 s later) and returns 124 when
 * it was stopped, as timeout(1) does. timeout(1) where the host has it; else a watchdog of our own (busybox
 * builds and old hosts without it), whose stdio is /dev/null so it never holds the controller's channel open.
 * The agent's own verbs (start, stop, status) and setup.sh run under it: a hung verb cannot hold the change —
 * and its lock — forever.
 *
 * `take_lock DIR` takes the host's one-change-at-a-time lock: a folder holding its taker's pid. Taking it is
 * two steps (mkdir, then the pid), so a folder without a pid is a lock being taken at this very moment: it is
 * held, and waited for; only one that stays pid-less for 5 s (its taker died in between) or names a process
 * that is not a change is stale. A stale lock is moved away in one rename before it is removed, so two
 * takers cannot both remove it and both go on. On failure LOCK_WHY says why.
 */
export const LOCK_SH = String.raw`
limited_for() {
  lf_s=$1; shift
  if command -v timeout >/dev/null 2>&1; then (trap - HUP PIPE; exec timeout -k 10 "$lf_s" "$@"); return; fi
  (trap - HUP PIPE; exec "$@") & lf_p=$!
  ( sleep "$lf_s"; kill -TERM "$lf_p" ) < /dev/null > /dev/null 2>&1 & lf_t=$!
  ( sleep $((lf_s + 10)); kill -KILL "$lf_p" ) < /dev/null > /dev/null 2>&1 & lf_k=$!
  wait "$lf_p"; lf_r=$?
  kill "$lf_k" 2>/dev/null
  # The first watchdog still waiting means the command ended by itself; gone means it stopped the command.
  kill "$lf_t" 2>/dev/null && return "$lf_r"
  return 124
}
take_lock() {
  tl_i=0
  until mkdir "$1" 2>/dev/null; do
    tl_i=$((tl_i + 1)); [ "$tl_i" -gt 5 ] && { LOCK_WHY="cannot take the lock $1"; return 1; }
    tl_w=0
    while [ -d "$1" ] && [ ! -s "$1/pid" ] && [ "$tl_w" -lt 5 ]; do sleep 1; tl_w=$((tl_w + 1)); done
    [ -d "$1" ] || continue
    tl_h=$(cat "$1/pid" 2>/dev/null | tr -dc 0-9)
    if [ -n "$tl_h" ] && [ -r "/proc/$tl_h/cmdline" ] && tr '\0' ' ' < "/proc/$tl_h/cmdline" | grep -q txn.sh; then
      LOCK_WHY="another change (pid $tl_h) is running on this host; nothing was changed"; return 1
    fi
    mv "$1" "$1.stale.$$" 2>/dev/null && rm -rf "$1.stale.$$"
  done
  echo $$ > "$1/pid"
}
`;

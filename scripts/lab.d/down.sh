#!/usr/bin/env bash
# THE teardown: stops every lab host and removes every lab mount. Idempotent, and also works after a
# crashed run whose pid files are gone: it then finds the hosts' unshare wrappers by their command line
# (which names this lab's host-init.py) and stops them by pid. Host mounts and namespaces live only in
# the hosts' own namespaces, so they vanish with the hosts' processes.
set -uo pipefail
. "$(dirname "$0")/common.sh"

cmdline() {  # a process's argv joined by spaces, without forking (there may be thousands to look at)
  local -a argv
  mapfile -d '' argv 2>/dev/null < "/proc/$1/cmdline" || return 1
  [ ${#argv[@]} -gt 0 ] || return 1
  printf '%s' "${argv[*]}"
}

pids=()
for f in "$LAB_RUN"/hosts/*/pid; do
  [ -f "$f" ] && pids+=("$(cat "$f")")
done
# Crash fallback: wrappers whose argv is exactly ours (unshare ... python3 -I -S <LAB_DIR>/host-init.py <LAB_RUN>/hosts/...).
for d in /proc/[0-9]*; do
  cmd=$(cmdline "${d#/proc/}") || continue
  case "$cmd" in
    "unshare "*" $LAB_DIR/host-init.py $LAB_RUN/hosts/"*) pids+=("${d#/proc/}") ;;
  esac
done

is_ours() {  # still the wrapper we started (pids get reused)?
  local cmd
  cmd=$(cmdline "$1") || return 1
  case "$cmd" in *"$LAB_DIR/host-init.py"*) return 0 ;; esac
  return 1
}
gone() {  # exited, or a zombie waiting for its reaper
  local st
  local line
  while read -r line; do
    case "$line" in "State:"*) [[ "$line" == *Z* ]]; return ;; esac
  done 2>/dev/null < "/proc/$1/status" || return 0
  return 0
}

n=0
declare -A seen=()
for p in "${pids[@]}"; do
  [ -n "${seen[$p]:-}" ] && continue; seen[$p]=1
  if is_ours "$p"; then kill -KILL "$p" 2>/dev/null && n=$((n + 1)); fi
done
# unshare --kill-child makes the host's PID 1 die with its wrapper, and the pid namespace with it.
for _ in $(seq 100); do
  left=0
  for p in "${!seen[@]}"; do gone "$p" || left=$((left + 1)); done
  [ "$left" = 0 ] && break
  sleep 0.1
done

if mountpoint -q "$LAB_RUN/layers" 2>/dev/null; then
  umount "$LAB_RUN/layers" 2>/dev/null || umount -l "$LAB_RUN/layers"
fi
rm -rf "$LAB_RUN"
rm -f "$LAB_OUT/inventory.ini" "$LAB_OUT/hosts.json" "$LAB_OUT/known_hosts" "$LAB_OUT/ssh_config"
leftover=$(grep -c " $LAB_RUN" /proc/mounts || true)
[ "$leftover" = 0 ] || { note "warning: $leftover lab mounts remain in /proc/mounts"; exit 1; }
note "down: stopped $n hosts; no lab process, mount or namespace left"

import { ASIDE_DIR } from './paths.js';

/**
 * `agent_procs DIR NAME`: every process of one agent, found by what it is rather than by its pid file — a
 * pid file can be lost (a full disk when the wrapper started, a folder set aside or deleted under a running
 * agent, a hand start), and an agent the tool cannot see keeps running old code (log4j 2.8) for ever.
 *
 *  - a wrapper: its program (argv[0], or the script an interpreter runs, argv[1]) is `…/wrapper`, and it
 *    names this agent (an argument `wrapper.name=NAME`, as the agent's script passes it), or its program is
 *    `DIR/bin/wrapper`, or it works in (or runs from) this agent's folder;
 *  - a JVM: an argument `-Dwrapper.key=…` (what `ps` shows on a real host), belonging to a wrapper above
 *    (`-Dwrapper.pid=`, or its parent), or working in (or running from) this agent's folder;
 *  - "this agent's folder" is DIR, or a copy of it this tool set aside (ASIDE_DIR/<change>/<folder>), even
 *    deleted — which is where an agent left running by an interrupted change lives on.
 *
 * Prints one line per process: `<pid> wrapper|jvm <its wrapper's pid, or -> <working folder>`. A handful of
 * forks whatever the host runs: one grep and one tr read every command line, one ls every candidate's working
 * folder and program. Arguments are matched between SOH separators, which the scripts that carry this text
 * (their `sh -c` command lines contain it) never hold, so they are never taken for a wrapper or a JVM.
 */
export const AGENT_PROCS_SH = String.raw`
# The separator of the arguments of a process once its command line is read (NUL cannot live in a shell variable):
# SOH, which the scripts that carry this text never contain, so their own command lines never match.
ap_sep=$(printf '\001')
ap_in() {
  case $1 in
    "$ap_d"|"$ap_d"/*|"$ap_d (deleted)"|${ASIDE_DIR}/*/"$ap_b"|${ASIDE_DIR}/*/"$ap_b"/*|${ASIDE_DIR}/*/"$ap_b (deleted)") return 0 ;;
  esac
  return 1
}
# This script, its subshells and its ancestors (sudo, the login shell) carry this text in their command lines:
# skipped without reading them (reading a stat file is a builtin).
ap_self=' '
ap_p=$$
while [ -n "$ap_p" ] && [ "$ap_p" -gt 1 ] 2>/dev/null; do
  ap_self="$ap_self$ap_p "; ap_s=''; { read -r ap_s < "/proc/$ap_p/stat"; } 2>/dev/null
  # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
  set -- ${"$"}{ap_s##*) }; ap_p=${"$"}{2:-}
done
# Where /proc/PID/cwd or exe points, from the one ls of all candidates (ap_ls): into ap_v, "" when unknown.
ap_link() {
  ap_v=''
  while IFS= read -r ap_r; do
    case $ap_r in *" /proc/$1/$2 -> "*) ap_v=${"$"}{ap_r#*" /proc/$1/$2 -> "}; return 0 ;; esac
  done <<EOF
$ap_ls
EOF
}
agent_procs() {
  ap_d=$1 ap_n=$2 ap_b=${"$"}{1##*/} ap_w=' ' ap_all_w=' ' ap_cand=' ' ap_j='' ap_rec='' ap_links=''
  # Every command line on the host in one grep and one tr (each line prefixed with its own /proc file by
  # grep, so no argument can pass for another process); the processes that mention a wrapper are candidates
  # (a second grep, so the shell reads a handful of lines, not the whole process table).
  ap_all=$(grep -a -H '' /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' "$ap_sep" | grep -F wrapper)
  while IFS= read -r ap_r; do
    ap_p=${"$"}{ap_r#/proc/}; ap_p=${"$"}{ap_p%%/*}
    case $ap_self in *" $ap_p "*) continue ;; esac
    case $ap_p in ''|*[!0-9]*) continue ;; esac
    ap_s=''; { read -r ap_s < "/proc/$ap_p/stat"; } 2>/dev/null || continue
    # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
    set -- ${"$"}{ap_s##*) }
    [ "$2" = "$$" ] && continue
    ap_rec="$ap_rec$ap_p $2 $ap_sep${"$"}{ap_r#*/cmdline:}$ap_sep
"
    ap_links="$ap_links /proc/$ap_p/cwd /proc/$ap_p/exe" ap_cand="$ap_cand$ap_p "
  done <<EOF
$ap_all
EOF
  ap_ls=''
  # shellcheck disable=SC2086 # a list of paths, split on purpose
  [ -z "$ap_rec" ] || ap_ls=$(ls -l $ap_links 2>/dev/null)
  while read -r ap_p ap_pp ap_a; do
    [ -n "$ap_p" ] || continue
    ap_x=${"$"}{ap_a#"$ap_sep"}; ap_0=${"$"}{ap_x%%"$ap_sep"*}; ap_x=${"$"}{ap_x#*"$ap_sep"}; ap_1=${"$"}{ap_x%%"$ap_sep"*}
    case $ap_a in
      *"$ap_sep-Dwrapper.key="*)
        ap_k=${"$"}{ap_a#*"$ap_sep-Dwrapper.pid="}; ap_k=${"$"}{ap_k%%"$ap_sep"*}
        case $ap_k in ''|*[!0-9]*) ap_k=- ;; esac
        ap_j="$ap_j $ap_p:$ap_k:$ap_pp"
        continue ;;
    esac
    case $ap_0 in */wrapper|wrapper) ;; *) case $ap_1 in */wrapper) ;; *) continue ;; esac ;; esac
    ap_all_w="$ap_all_w$ap_p "
    ap_link "$ap_p" cwd; ap_c=$ap_v
    case $ap_a in
      *"$ap_sep""wrapper.name=$ap_n$ap_sep"*) ;;
      *"$ap_sep""wrapper.name="*) continue ;;
      *) ap_link "$ap_p" exe; [ "$ap_0" = "$ap_d/bin/wrapper" ] || [ "$ap_1" = "$ap_d/bin/wrapper" ] || ap_in "$ap_c" || ap_in "$ap_v" || continue ;;
    esac
    ap_w="$ap_w$ap_p "
    echo "$ap_p wrapper - $ap_c"
  done <<EOF
$ap_rec
EOF
  for ap_x in $ap_j; do
    ap_p=${"$"}{ap_x%%:*}; ap_x=${"$"}{ap_x#*:}; ap_k=${"$"}{ap_x%%:*}; ap_pp=${"$"}{ap_x#*:}
    ap_link "$ap_p" cwd; ap_c=$ap_v
    case $ap_w in
      *" $ap_k "*) echo "$ap_p jvm $ap_k $ap_c"; continue ;;
      *" $ap_pp "*) echo "$ap_p jvm $ap_pp $ap_c"; continue ;;
    esac
    # A wrapper of another agent still runs it: not this agent, wherever its Java lives (old builds run the
    # main agent on the Java of the update agent). Only a live *wrapper* counts: a pid reused by another
    # program leaves the JVM an orphan, judged by where it works.
    case $ap_all_w in *" $ap_k "*) continue ;; esac
    # An orphan: where it works decides; where its program lives only when that cannot be read.
    if [ -n "$ap_c" ]; then ap_in "$ap_c" || continue; else ap_link "$ap_p" exe; ap_in "$ap_v" || continue; fi
    echo "$ap_p jvm - $ap_c"
  done
  # Any other program running from the folder of this agent whose command line names no wrapper (its bundled
  # Java started by hand): found by /proc/PID/exe, one ls for every process. Processes that do name one were
  # judged above (the JVM of the main agent on the Java of the update agent belongs to the main agent). A
  # wrapper program counts as a wrapper, anything else as a JVM. Where a process only works is not enough (a
  # shell of an operator sitting in the folder is not the agent).
  ap_ex=$(ls -l /proc/[0-9]*/exe 2>/dev/null)
  while IFS= read -r ap_r; do
    case $ap_r in *" /proc/"*"/exe -> "*) ;; *) continue ;; esac
    ap_v=${"$"}{ap_r#*" -> "}
    ap_in "$ap_v" || continue
    ap_p=${"$"}{ap_r#*" /proc/"}; ap_p=${"$"}{ap_p%%/*}
    case $ap_self$ap_cand in *" $ap_p "*) continue ;; esac
    ap_s=''; { read -r ap_s < "/proc/$ap_p/stat"; } 2>/dev/null || continue
    # shellcheck disable=SC2086 # the fields of the stat line, split on purpose
    set -- ${"$"}{ap_s##*) }
    [ "$2" = "$$" ] && continue
    ap_r=jvm; case ${"$"}{ap_v% (deleted)} in */wrapper) ap_r=wrapper ;; esac
    ap_c=$(ls -l "/proc/$ap_p/cwd" 2>/dev/null); ap_c=${"$"}{ap_c#*" -> "}
    echo "$ap_p $ap_r - $ap_c"
  done <<EOF
$ap_ex
EOF
}
# agent_strays DIR NAME: the pids of the processes of that agent that its pid file does not name (neither the
# wrapper in it, nor a JVM of that wrapper).
agent_strays() {
  as_t=; [ -r "$1/bin/$2.pid" ] && { read -r as_t < "$1/bin/$2.pid"; } 2>/dev/null
  case $as_t in *[!0-9]*) as_t=$(printf '%s' "$as_t" | tr -dc 0-9) ;; esac
  agent_procs "$1" "$2" | while read -r as_p as_r as_w _; do
    [ -n "$as_t" ] && { [ "$as_p" = "$as_t" ] || { [ "$as_r" = jvm ] && [ "$as_w" = "$as_t" ]; }; } && continue
    echo "$as_p"
  done
}
# alive PID: the process exists and is not a zombie.
alive() {
  al_s=; { read -r al_s < "/proc/$1/stat"; } 2>/dev/null || return 1
  case ${"$"}{al_s##*) } in Z*|X*) return 1 ;; esac
  return 0
}
# stop_pids PID…: SIGTERM, SIGKILL after 5 s; false (the survivors in ap_left) if any is left after 10 s.
stop_pids() {
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null
  sp_i=0
  while :; do
    ap_left=
    for sp_p in "$@"; do alive "$sp_p" && ap_left="$ap_left $sp_p"; done
    [ -z "$ap_left" ] && return 0
    sp_i=$((sp_i + 1))
    # shellcheck disable=SC2086 # a list of pids, split on purpose
    [ "$sp_i" -eq 10 ] && kill -9 $ap_left 2>/dev/null
    [ "$sp_i" -ge 20 ] && return 1
    sleep 0.5 2>/dev/null || sleep 1
  done
}
# agent_sockets PID…: their listening TCP sockets (the backend listener of the wrapper: 32000-32999 by default, but
# wrapper.port may put it anywhere) and their connected ones on 31000-32999 (the two ranges of the socket
# backend): "socket PID PORT LISTEN|CONNECTED" lines. One ls and one awk for all of them.
agent_sockets() {
  [ $# -gt 0 ] || return 0
  as_d=; for as_p in "$@"; do as_d="$as_d /proc/$as_p/fd"; done
  # shellcheck disable=SC2086 # a list of paths, split on purpose
  { ls -l $as_d 2>/dev/null; echo @tcp; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; } | awk -v pid="$1" '
    function hex(s,  i, n) { n = 0; for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1; return n }
    /^\/proc\/[0-9]+\/fd:$/ { split($0, q, "/"); pid = q[3]; next }
    $0 == "@tcp" { t = 1; next }
    !t { if (match($0, /socket:\[[0-9]+\]/)) own[substr($0, RSTART + 8, RLENGTH - 9)] = pid; next }
    ($10 in own) && ($4 == "0A" || $4 == "01") {
      n = split($2, l, ":"); p = hex(l[n])
      if ($4 == "0A") print "socket", own[$10], p, "LISTEN"
      else if (p >= 31000 && p <= 32999) print "socket", own[$10], p, "CONNECTED"
    }'
}
`;

/**
 * `safe_dir DIR`: the tool's folders on a Linux host (the state folder and its stages, the set-aside root) are
 * where root later runs and restores code from. Each must be root's own: made if missing (mode 700), never a
 * symbolic link itself, reached only through links root made in folders only root may change (/var or
 * /var/lib moved to a data disk is fine; a link another user could have planted is not), owned by root, and
 * holding nothing of another user's. A folder that fails is refused — SAFE_WHY says why, and how to fix it — rather
 * than trusted: another user who made it first, or planted a link on its path, could otherwise swap what root
 * runs. A root-owned folder with a loose mode is fixed (chmod 700) once nothing in it is another user's.
 */
export const SAFE_DIR_SH = String.raw`
sd_trusted() {
  # shellcheck disable=SC2046 # the fields of ls -ldn, split on purpose
  set -- "$1" $(ls -ldn "$1" 2>/dev/null)
  [ "$4" = 0 ] || return 1
  sd_d=${"$"}{1%/*}; [ -n "$sd_d" ] || sd_d=/
  # shellcheck disable=SC2046 # the fields of ls -ldn, split on purpose
  set -- $(ls -ldn "$sd_d" 2>/dev/null)
  [ "$3" = 0 ] || return 1
  case $1 in ?????w*|????????w*) return 1 ;; esac
}
safe_dir() {
  [ -L "$1" ] && { SAFE_WHY="$1 is a symbolic link: the tool's folders are never one; remove it and run again"; return 1; }
  sd_p=${"$"}{1%/*}
  while [ -n "$sd_p" ]; do
    [ -L "$sd_p" ] && ! sd_trusted "$sd_p" && { SAFE_WHY="$sd_p is a symbolic link another user than root made or could replace: the tool's folders are never reached through one; remove it and run again"; return 1; }
    sd_p=${"$"}{sd_p%/*}
  done
  [ -d "$1" ] || mkdir -m 700 "$1" 2>/dev/null || [ -d "$1" ] || { SAFE_WHY="cannot create $1"; return 1; }
  [ -L "$1" ] && { SAFE_WHY="$1 is a symbolic link: the tool's folders are never one; remove it and run again"; return 1; }
  # shellcheck disable=SC2046 # the fields of ls -ldn, split on purpose
  set -- "$1" $(ls -ldn "$1")
  [ "$4" = 0 ] || { SAFE_WHY="$1 belongs to uid $4, not root: another user may have made it to swap what root runs; remove it and run again"; return 1; }
  sd_o=$(find "$1" ! -user 0 2>/dev/null | head -n 1)
  [ -z "$sd_o" ] || { SAFE_WHY="$sd_o in $1 belongs to another user than root: remove it and run again"; return 1; }
  chmod 700 "$1" 2>/dev/null || { SAFE_WHY="cannot restrict $1 to root (chmod 700)"; return 1; }
}
`;

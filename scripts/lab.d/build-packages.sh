#!/usr/bin/env bash
# Builds the standard fixture packages (scripts/build-fixture-package --defaults) into packages/ when any
# is missing or older than the builder and its templates. Scenarios pre-install agents from them.
set -euo pipefail
. "$(dirname "$0")/common.sh"
newest_src=$(find "$REPO_DIR/scripts/fixture-package" "$REPO_DIR/scripts/build-fixture-package" -type f -printf '%T@\n' | sort -n | tail -1)
oldest_zip=$(find "$REPO_DIR/packages" -maxdepth 1 -name 'CloudResetPwdAgent-*.zip' -printf '%T@\n' 2>/dev/null | sort -n | head -1)
n_zip=$(find "$REPO_DIR/packages" -maxdepth 1 -name 'CloudResetPwdAgent-*.zip' 2>/dev/null | wc -l)
if [ "$n_zip" -lt 3 ] || [ -z "$oldest_zip" ] || [ "${newest_src%.*}" -ge "${oldest_zip%.*}" ]; then
  "$LAB_PYTHON" "$REPO_DIR/scripts/build-fixture-package" --defaults --out "$REPO_DIR/packages" >/dev/null
fi

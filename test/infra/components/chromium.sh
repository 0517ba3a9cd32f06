#!/usr/bin/env bash
# Chromium from Debian's packages (driven by playwright-core in tests). Nothing runs
# in the background: `up` installs it when missing and exports CHROMIUM_PATH.
# Usage: chromium.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CHROMIUM=/usr/bin/chromium

version_ok() {
  [ -x "$CHROMIUM" ] || return 1
  local major
  major="$("$CHROMIUM" --version 2>/dev/null | sed -n 's/^Chromium \([0-9]*\)\..*/\1/p')"
  [ -n "$major" ] && [ "$major" -ge "$CHROMIUM_MIN_MAJOR" ]
}

up() {
  # shellcheck disable=SC2086
  apt_ensure $DEBIAN_PACKAGES_CHROMIUM
  version_ok || die "$CHROMIUM missing or older than $CHROMIUM_MIN_MAJOR ($("$CHROMIUM" --version 2>&1 | head -1))"
  write_env chromium <<ENV
export CHROMIUM_PATH='$CHROMIUM'
export CHROMIUM_VERSION='$("$CHROMIUM" --version 2>/dev/null | awk '{print $2}')'
ENV
}
down() { rm -f "$ENV_DIR/chromium.sh"; rebuild_env_file; }
status() { version_ok; }

"${1:?usage: chromium.sh up|down|status}"

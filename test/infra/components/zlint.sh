#!/usr/bin/env bash
# zlint, the X.509 linter, `go install`ed once per version into
# $REKEY_INFRA_CACHE/zlint-<version>/bin. Nothing runs in the background: `up`
# builds it when missing and exports ZLINT_PATH.
# Usage: zlint.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# As in kube-build.sh: no checksum database here; modules come from the module proxy over TLS.
export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
ZLINT_DIR="$CACHE/zlint-$ZLINT_VERSION"
ZLINT="$ZLINT_DIR/bin/zlint"

built() { [ -f "$ZLINT_DIR/.complete" ] && [ -x "$ZLINT" ]; }

build() {
  built && return 0
  local t0; t0=$(now_ms)
  log "building zlint $ZLINT_VERSION (log $LOGS/build-zlint.log)"
  mkdir -p "$ZLINT_DIR/bin"
  (cd /tmp && GOBIN="$ZLINT_DIR/bin" ${REKEY_INFRA_BUILD_NICE:-nice -n 5} go install -ldflags "-s -w" \
    "github.com/zmap/zlint/v3/cmd/zlint@$ZLINT_VERSION") >>"$LOGS/build-zlint.log" 2>&1 \
    || die "zlint build failed (see $LOGS/build-zlint.log)"
  "$ZLINT" -list-lints-source >/dev/null 2>&1 || die "$ZLINT does not run"
  touch "$ZLINT_DIR/.complete"
  log "zlint $ZLINT_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  build
  write_env zlint <<ENV
export ZLINT_PATH='$ZLINT'
export ZLINT_VERSION='$ZLINT_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/zlint.sh"; rebuild_env_file; }
status() { built; }

"${1:?usage: zlint.sh up|down|status}"

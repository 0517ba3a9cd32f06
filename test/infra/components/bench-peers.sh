#!/usr/bin/env bash
# The peers `npm run bench` compares rekey's issuance with: cfssl and the step CLI, `go install`ed once per
# version into $REKEY_INFRA_CACHE/<tool>-<version>/bin (as zlint.sh does). Not part of `up.sh`'s default set:
# the bench runs `bench-peers.sh up` itself. Nothing runs in the background; `up` builds what is missing and
# exports CFSSL_PATH and STEP_PATH.
# Usage: bench-peers.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
# cfssl v1.7.x needs Go >= 1.27; v0.21.0 is the newest step CLI the module proxy serves under this path.
CFSSL_VERSION="${REKEY_CFSSL_VERSION:-v1.6.5}"
STEP_VERSION="${REKEY_STEP_VERSION:-v0.21.0}"
CFSSL_DIR="$CACHE/cfssl-$CFSSL_VERSION"
STEP_DIR="$CACHE/step-$STEP_VERSION"

built_one() { [ -f "$1/.complete" ] && [ -x "$1/bin/$2" ]; }

build_one() { # dir binary package version
  local dir=$1 bin=$2 pkg=$3 version=$4
  built_one "$dir" "$bin" && return 0
  local t0; t0=$(now_ms)
  log "building $bin $version (log $LOGS/build-$bin.log)"
  mkdir -p "$dir/bin"
  (cd /tmp && GOBIN="$dir/bin" ${REKEY_INFRA_BUILD_NICE:-nice -n 5} go install -ldflags "-s -w" "$pkg@$version") >>"$LOGS/build-$bin.log" 2>&1 \
    || die "$bin build failed (see $LOGS/build-$bin.log)"
  "$dir/bin/$bin" version >/dev/null 2>&1 || die "$dir/bin/$bin does not run"
  touch "$dir/.complete"
  log "$bin $version built in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  build_one "$CFSSL_DIR" cfssl github.com/cloudflare/cfssl/cmd/cfssl "$CFSSL_VERSION"
  build_one "$STEP_DIR" step github.com/smallstep/cli/cmd/step "$STEP_VERSION"
  write_env bench-peers <<ENV
export CFSSL_PATH='$CFSSL_DIR/bin/cfssl'
export CFSSL_VERSION='$CFSSL_VERSION'
export STEP_PATH='$STEP_DIR/bin/step'
export STEP_VERSION='$STEP_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/bench-peers.sh"; rebuild_env_file; }
status() { built_one "$CFSSL_DIR" cfssl && built_one "$STEP_DIR" step; }

"${1:?usage: bench-peers.sh up|down|status}"

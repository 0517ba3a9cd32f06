#!/usr/bin/env bash
# Prometheus Alertmanager, `go install`ed once per version into
# $REKEY_INFRA_CACHE/alertmanager-<version>/bin. Nothing runs in the background: tests
# start their own alertmanager (their config routes to the rekey serve they started).
# `up` builds it when missing and exports ALERTMANAGER_PATH.
# Releases after v0.31 embed a web UI built by npm (ui/app/dist), which their module zip
# leaves out, so `go install` of them fails; v0.31.1 carries its UI as generated Go.
# Usage: alertmanager.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
AM_DIR="$CACHE/alertmanager-$ALERTMANAGER_VERSION"
AM="$AM_DIR/bin/alertmanager"

built() { [ -f "$AM_DIR/.complete" ] && [ -x "$AM" ]; }

build() {
  built && return 0
  local t0; t0=$(now_ms)
  log "building alertmanager $ALERTMANAGER_VERSION (log $LOGS/build-alertmanager.log)"
  mkdir -p "$AM_DIR/bin"
  (cd /tmp && GOBIN="$AM_DIR/bin" ${REKEY_INFRA_BUILD_NICE:-nice -n 5} go install -ldflags "-s -w" \
    "github.com/prometheus/alertmanager/cmd/alertmanager@$ALERTMANAGER_VERSION") >>"$LOGS/build-alertmanager.log" 2>&1 \
    || die "alertmanager build failed (see $LOGS/build-alertmanager.log)"
  "$AM" --version >/dev/null 2>&1 || die "$AM does not run"
  touch "$AM_DIR/.complete"
  log "alertmanager $ALERTMANAGER_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  build
  write_env alertmanager <<ENV
export ALERTMANAGER_PATH='$AM'
export ALERTMANAGER_VERSION='$ALERTMANAGER_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/alertmanager.sh"; rebuild_env_file; }
status() { built; }

"${1:?usage: alertmanager.sh up|down|status}"

#!/usr/bin/env bash
# schemathesis (property-based API testing from an OpenAPI document), pip-installed once per
# version into a virtualenv at $REKEY_INFRA_CACHE/schemathesis-<version>/venv, like moto.
# Nothing runs in the background: `up` installs it when missing and exports SCHEMATHESIS_PATH
# (the `st` command).
# Usage: schemathesis.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ST_DIR="$CACHE/schemathesis-$SCHEMATHESIS_VERSION"
VENV="$ST_DIR/venv"
ST="$VENV/bin/st"

installed() { [ -f "$ST_DIR/.complete" ] && [ -x "$ST" ]; }

install() {
  installed && return 0
  local t0; t0=$(now_ms)
  log "installing schemathesis==$SCHEMATHESIS_VERSION into $VENV (log $LOGS/install-schemathesis.log)"
  local py; py="$(command -v python3)"
  rm -rf "$VENV"; mkdir -p "$ST_DIR"
  if ! "$py" -m venv "$VENV" >>"$LOGS/install-schemathesis.log" 2>&1; then
    apt_ensure python3-venv; rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/pip" ] || "$py" -m venv "$VENV" >>"$LOGS/install-schemathesis.log" 2>&1 || die "python3 -m venv failed (see $LOGS/install-schemathesis.log)"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" >>"$LOGS/install-schemathesis.log" 2>&1 \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed (see $LOGS/install-schemathesis.log)"
  "$ST" --version >/dev/null 2>&1 || die "$ST does not run"
  touch "$ST_DIR/.complete"
  log "schemathesis $SCHEMATHESIS_VERSION installed in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  install
  write_env schemathesis <<ENV
export SCHEMATHESIS_PATH='$ST'
export SCHEMATHESIS_VERSION='$SCHEMATHESIS_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/schemathesis.sh"; rebuild_env_file; }
status() { installed; }

"${1:?usage: schemathesis.sh up|down|status}"

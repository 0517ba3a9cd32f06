#!/usr/bin/env bash
# cert-manager's controller, built (once per version) from the release's Go module for the rekey-vs-cert-manager
# benchmark (test/bench/cert-manager.ts). The release's cmd/controller is a nested module the Go module proxy does
# not serve and the main module's zip leaves cmd/ out, so a wrapper module (cert-manager-controller/main.go) wires
# the certificates, approver, CA-issuer and issuer controllers from the main module's pkg/. Same release as the
# CRDs (cert-manager-crds.sh). Nothing runs in the background: the bench starts the binary itself.
# Usage: cert-manager-controller.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
CM_VERSION="${REKEY_CERT_MANAGER_VERSION:-v1.19.1}"
CM_DIR="$CACHE/cert-manager-controller-$CM_VERSION"
CM_BIN="$CM_DIR/bin/cert-manager-controller"
SRC_MAIN="$(dirname "${BASH_SOURCE[0]}")/cert-manager-controller/main.go"

built() { [ -f "$CM_DIR/.complete" ] && [ -x "$CM_BIN" ]; }

build() {
  built && return 0
  local t0; t0=$(now_ms)
  log "building cert-manager controller $CM_VERSION (first time: minutes; log $LOGS/build-cert-manager.log)"
  mkdir -p "$CM_DIR/src" "$CM_DIR/bin"
  cp "$SRC_MAIN" "$CM_DIR/src/main.go"
  (
    cd "$CM_DIR/src"
    [ -f go.mod ] || go mod init rekey.test/infra/cert-manager-controller
    go get "github.com/cert-manager/cert-manager@$CM_VERSION"
    go mod tidy
    ${REKEY_INFRA_BUILD_NICE:-nice -n 5} go build -p "${REKEY_INFRA_BUILD_P:-2}" -ldflags "-s -w" -o "$CM_BIN" .
  ) >>"$LOGS/build-cert-manager.log" 2>&1 || die "cert-manager controller build failed (see $LOGS/build-cert-manager.log)"
  "$CM_BIN" --list >/dev/null || die "$CM_BIN does not run"
  touch "$CM_DIR/.complete"
  log "cert-manager controller $CM_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

up() {
  build
  write_env cert-manager-controller <<ENV
export CERT_MANAGER_CONTROLLER='$CM_BIN'
export CERT_MANAGER_CONTROLLER_VERSION='$CM_VERSION'
ENV
}
down() { rm -f "$ENV_DIR/cert-manager-controller.sh"; rebuild_env_file; }
status() { built; }

"${1:?usage: cert-manager-controller.sh up|down|status}"

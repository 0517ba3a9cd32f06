#!/usr/bin/env bash
# cert-manager's CustomResourceDefinitions (Certificate, Issuer, ClusterIssuer, ...) in dc1 and dc2, for
# `rekey import` tests. Only the CRDs: no cert-manager controller runs, so the objects stay as the tests write them.
# The CRDs are the release's own YAML (deploy/crds/ of the github.com/cert-manager/cert-manager module, fetched
# once through the Go module proxy and cached). Needs the kube component up.
# Usage: cert-manager-crds.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CM_VERSION="${REKEY_CERT_MANAGER_VERSION:-v1.19.1}"
CRDS="$CACHE/cert-manager-crds-$CM_VERSION"
CRD_NAMES=(certificates.cert-manager.io issuers.cert-manager.io clusterissuers.cert-manager.io certificaterequests.cert-manager.io)

kube_env() {
  [ -f "$ENV_DIR/kube.sh" ] || die "kube is not up (bash test/infra/up.sh kube)"
  # shellcheck disable=SC1091
  . "$ENV_DIR/kube.sh"
}

fetch() {
  [ -f "$CRDS/.complete" ] && return 0
  command -v go >/dev/null || die "go is needed to fetch cert-manager's CRDs (the kube build installs it)"
  log "fetching cert-manager $CM_VERSION module (for deploy/crds)"
  local mod tmp
  tmp="$(mktemp -d)"
  # A throwaway module dir: go mod download needs one for -json output outside GOPATH.
  (cd "$tmp" && go mod init rekey-crds >/dev/null 2>&1 && GOFLAGS=-mod=mod go mod download -json "github.com/cert-manager/cert-manager@$CM_VERSION") > "$tmp/out.json" \
    || { rm -rf "$tmp"; die "go mod download github.com/cert-manager/cert-manager@$CM_VERSION failed"; }
  mod="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$tmp/out.json")"
  rm -rf "$tmp"
  [ -d "$mod/deploy/crds" ] || die "no deploy/crds in $mod"
  mkdir -p "$CRDS"
  cp "$mod"/deploy/crds/*.yaml "$CRDS/"
  touch "$CRDS/.complete"
}

installed() {
  local kc="$1" crd
  for crd in "${CRD_NAMES[@]}"; do "$KUBECTL" --kubeconfig "$kc" get crd "$crd" >/dev/null 2>&1 || return 1; done
}

up() {
  kube_env
  fetch
  local kc
  for kc in "$KUBE_DC1_ADMIN_KUBECONFIG" "$KUBE_DC2_ADMIN_KUBECONFIG"; do
    installed "$kc" && continue
    log "applying cert-manager $CM_VERSION CRDs ($kc)"
    "$KUBECTL" --kubeconfig "$kc" apply --server-side -f "$CRDS" >/dev/null
    # A CRD just created may have no conditions yet, and `kubectl wait` fails at once on that: try a few times.
    local try
    for try in 1 2 3 4 5; do
      "$KUBECTL" --kubeconfig "$kc" wait --for condition=established --timeout=60s "${CRD_NAMES[@]/#/crd/}" >/dev/null 2>&1 && break
      [ "$try" -lt 5 ] || { log "cert-manager CRDs not established on $kc"; return 1; }
      sleep 1
    done
  done
  write_env cert-manager-crds <<ENV
export CERT_MANAGER_VERSION='$CM_VERSION'
export CERT_MANAGER_CRDS='$CRDS'
ENV
}

down() { rm -f "$ENV_DIR/cert-manager-crds.sh"; rebuild_env_file; }
status() { kube_env; installed "$KUBE_DC1_ADMIN_KUBECONFIG" && installed "$KUBE_DC2_ADMIN_KUBECONFIG"; }

"${1:?usage: cert-manager-crds.sh up|down|status}"

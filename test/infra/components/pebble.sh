#!/usr/bin/env bash
# pebble, Let's Encrypt's ACME test server, and pebble-challtestsrv as its DNS server, both `go install`ed from
# github.com/letsencrypt/pebble/v2 once per version into $REKEY_INFRA_CACHE/pebble-<version>/bin.
# pebble serves ACME over HTTPS with a certificate for 127.0.0.1/localhost made here (its own CA, PEBBLE_CA_CERT),
# and resolves dns-01 challenges through challtestsrv, whose TXT records tests set over its management API.
# Usage: pebble.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN=local
export GOFLAGS=
PEBBLE_DIR="$CACHE/pebble-$PEBBLE_VERSION"
BIN="$PEBBLE_DIR/bin"
DATA="$RUN/pebble"
ACME_PORT="${REKEY_PEBBLE_PORT:-14000}"
MGMT_PORT="${REKEY_PEBBLE_MGMT_PORT:-15000}"
DNS_PORT="${REKEY_CHALLTESTSRV_DNS_PORT:-18053}"
CHALL_MGMT_PORT="${REKEY_CHALLTESTSRV_MGMT_PORT:-18055}"

built() { [ -f "$PEBBLE_DIR/.complete" ] && [ -x "$BIN/pebble" ] && [ -x "$BIN/pebble-challtestsrv" ]; }

build() {
  built && return 0
  local t0; t0=$(now_ms)
  log "building pebble $PEBBLE_VERSION (log $LOGS/build-pebble.log)"
  mkdir -p "$BIN"
  (cd /tmp && GOBIN="$BIN" ${REKEY_INFRA_BUILD_NICE:-nice -n 5} go install -ldflags "-s -w" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION") >>"$LOGS/build-pebble.log" 2>&1 \
    || die "pebble build failed (see $LOGS/build-pebble.log)"
  touch "$PEBBLE_DIR/.complete"
  log "pebble $PEBBLE_VERSION built in $(( ($(now_ms) - t0) / 1000 ))s"
}

# The HTTPS certificate of pebble's listeners: a small CA of this machine, a leaf for localhost and 127.0.0.1.
certs() {
  mkdir -p "$DATA"
  [ -f "$DATA/ca.pem" ] && [ -f "$DATA/cert.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=rekey test pebble CA" \
    -keyout "$DATA/ca.key" -out "$DATA/ca.pem" >/dev/null 2>&1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$DATA/key.pem" -out "$DATA/cert.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$DATA/ext.cnf"
  openssl x509 -req -in "$DATA/cert.csr" -CA "$DATA/ca.pem" -CAkey "$DATA/ca.key" -CAcreateserial -days 3650 \
    -extfile "$DATA/ext.cnf" -out "$DATA/cert.pem" >/dev/null 2>&1
}

config() {
  cat > "$DATA/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "$HOST:$ACME_PORT",
    "managementListenAddress": "$HOST:$MGMT_PORT",
    "certificate": "$DATA/cert.pem",
    "privateKey": "$DATA/key.pem",
    "httpPort": 5002,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "domainBlocklist": ["blocked-domain.example"],
    "retryAfter": {"authz": 1, "order": 1},
    "keyAlgorithm": "ecdsa",
    "profiles": {"default": {"description": "default", "validityPeriod": 7776000}}
  }
}
JSON
}

healthy() { curl -fsS -o /dev/null --max-time 2 --cacert "$DATA/ca.pem" "https://$HOST:$ACME_PORT/dir"; }
chall_healthy() { curl -sS -o /dev/null --max-time 2 "http://$HOST:$CHALL_MGMT_PORT/" ; }

up() {
  build
  certs
  config
  if ! pid_alive challtestsrv || ! chall_healthy; then
    stop_pid challtestsrv
    require_free_port "$CHALL_MGMT_PORT" challtestsrv
    start_bg challtestsrv "$BIN/pebble-challtestsrv" -dnsserver "$HOST:$DNS_PORT" -management "$HOST:$CHALL_MGMT_PORT" \
      -http01 "" -https01 "" -tlsalpn01 "" -doh "" -defaultIPv4 127.0.0.1 -defaultIPv6 ""
    wait_for "challtestsrv on $HOST:$CHALL_MGMT_PORT" 30 chall_healthy || die "challtestsrv did not start (see $LOGS/challtestsrv.log)"
  fi
  if ! pid_alive pebble || ! healthy; then
    stop_pid pebble
    require_free_port "$ACME_PORT" pebble
    # No random sleep before validation, no random nonce rejection: tests stay fast and deterministic.
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
      start_bg pebble "$BIN/pebble" -config "$DATA/pebble-config.json" -dnsserver "$HOST:$DNS_PORT"
    wait_for "pebble on https://$HOST:$ACME_PORT/dir" 30 healthy || die "pebble did not start (see $LOGS/pebble.log)"
  fi
  write_env pebble <<ENV
export PEBBLE_DIRECTORY='https://$HOST:$ACME_PORT/dir'
export PEBBLE_ROOTS='https://$HOST:$MGMT_PORT/roots/0'
export PEBBLE_CA_CERT='$DATA/ca.pem'
export CHALLTESTSRV_URL='http://$HOST:$CHALL_MGMT_PORT'
export PEBBLE_VERSION='$PEBBLE_VERSION'
ENV
}

down() { stop_pid pebble; stop_pid challtestsrv; rm -f "$ENV_DIR/pebble.sh"; rebuild_env_file; }
status() { built && pid_alive pebble && pid_alive challtestsrv && healthy; }

"${1:?usage: pebble.sh up|down|status}"

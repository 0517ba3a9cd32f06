#!/usr/bin/env bash
# A throwaway PostgreSQL cluster (Debian's postgresql-$PG_MAJOR) on a loopback port,
# TLS from the files in $PG_TLS_DIR (server.crt, server.key, root.crt), a superuser.
# Usage: postgres.sh up|down|status|reload
#   reload: re-own/re-permission the files in $PG_TLS_DIR for the server and make it
#           re-read its configuration and certificates (pg_ctl reload).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_ROOT="$RUN/postgres"
PGDATA="$PG_ROOT/data"
PG_TLS_DIR="$PG_ROOT/tls"
PG_INIT_PKI="$PG_ROOT/init-pki"
PG_SOCK="$PG_ROOT/sock"
PG_ADMIN_USER=postgres
PG_ADMIN_PASSWORD="${REKEY_PG_ADMIN_PASSWORD:-rekey-test-admin}"

# PostgreSQL refuses to run as root: then it runs as Debian's `postgres` user.
if [ "$(id -u)" -eq 0 ]; then PG_OS_USER=postgres; else PG_OS_USER="$(id -un)"; fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

fix_tls_perms() {
  [ -d "$PG_TLS_DIR" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then chown -R "$PG_OS_USER:" "$PG_TLS_DIR"; fi
  chmod 700 "$PG_TLS_DIR"
  chmod 600 "$PG_TLS_DIR"/*.key 2>/dev/null || true
  chmod 644 "$PG_TLS_DIR"/*.crt 2>/dev/null || true
}

running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
accepting() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT"; }

init_cluster() {
  mkdir -p "$PG_ROOT" "$PG_TLS_DIR" "$PG_INIT_PKI" "$PG_SOCK"
  # initial throwaway PKI: CA, server cert for localhost/127.0.0.1, a client cert for the superuser
  mk_ca "$PG_INIT_PKI" ca "rekey-test postgres CA"
  mk_cert "$PG_INIT_PKI" server ca "/CN=localhost" server "DNS:localhost,IP:127.0.0.1"
  mk_cert "$PG_INIT_PKI" client ca "/CN=$PG_ADMIN_USER" client
  [ -f "$PG_TLS_DIR/server.crt" ] || cp "$PG_INIT_PKI/server.crt" "$PG_TLS_DIR/server.crt"
  [ -f "$PG_TLS_DIR/server.key" ] || cp "$PG_INIT_PKI/server.key" "$PG_TLS_DIR/server.key"
  [ -f "$PG_TLS_DIR/root.crt" ] || cp "$PG_INIT_PKI/ca.crt" "$PG_TLS_DIR/root.crt"
  fix_tls_perms
  chmod 755 "$PG_ROOT"; chmod 644 "$PG_INIT_PKI"/*.crt; chmod 600 "$PG_INIT_PKI"/*.key
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER:" "$PG_SOCK"; fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    rm -rf "$PGDATA"; mkdir -p "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$PGDATA"
    local pw="$PG_ROOT/.pw"
    printf '%s\n' "$PG_ADMIN_PASSWORD" > "$pw"
    [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$pw"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U "$PG_ADMIN_USER" --pwfile="$pw" -A scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres-initdb.log" 2>&1 \
      || die "initdb failed (see $LOGS/postgres-initdb.log)"
    rm -f "$pw"
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
# --- rekey test infrastructure ---
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
ssl = on
ssl_cert_file = '$PG_TLS_DIR/server.crt'
ssl_key_file = '$PG_TLS_DIR/server.key'
ssl_ca_file = '$PG_TLS_DIR/root.crt'
password_encryption = scram-sha-256
shared_buffers = 32MB
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
log_line_prefix = '%m [%p] %u@%d '
CONF
    as_pg tee "$PGDATA/pg_hba.conf" >/dev/null <<HBA
# rekey test infrastructure: TCP only over TLS (password or client certificate)
local   all  all                 trust
hostssl all  all  127.0.0.1/32   scram-sha-256
hostssl all  all  ::1/128        scram-sha-256
HBA
  fi
}

up() {
  # shellcheck disable=SC2086
  [ -x "$PG_BIN/pg_ctl" ] || apt_ensure $DEBIAN_PACKAGES_POSTGRES
  [ -x "$PG_BIN/pg_ctl" ] || die "$PG_BIN/pg_ctl missing after installing $DEBIAN_PACKAGES_POSTGRES"
  command -v psql >/dev/null || apt_ensure "postgresql-client-$PG_MAJOR"
  init_cluster
  if ! running; then
    require_free_port "$PG_PORT" postgres
    log "starting postgres"
    touch "$LOGS/postgres.log"; [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$LOGS/postgres.log"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGS/postgres.log" -w -t 60 start >/dev/null 9>&- \
      || die "postgres did not start (see $LOGS/postgres.log)"
  fi
  wait_for postgres 60 accepting || die "postgres not accepting connections (see $LOGS/postgres.log)"
  head -1 "$PGDATA/postmaster.pid" > "$PIDS/postgres.pid"
  local self; self="$(cd "$INFRA_DIR" && pwd)/components/postgres.sh"
  write_env postgres <<ENV
export PG_BIN='$PG_BIN'
export PGHOST='localhost'
export PGPORT='$PG_PORT'
export PG_ADMIN_USER='$PG_ADMIN_USER'
export PG_ADMIN_PASSWORD='$PG_ADMIN_PASSWORD'
export PG_ADMIN_URL='postgresql://$PG_ADMIN_USER:$PG_ADMIN_PASSWORD@localhost:$PG_PORT/postgres?sslmode=require'
export PG_SOCKET_DIR='$PG_SOCK'
export PG_DATA='$PGDATA'
export PG_TLS_DIR='$PG_TLS_DIR'
export PG_RELOAD_CMD='bash $self reload'
export PG_INIT_CA='$PG_INIT_PKI/ca.crt'
export PG_INIT_CA_KEY='$PG_INIT_PKI/ca.key'
export PG_INIT_CLIENT_CERT='$PG_INIT_PKI/client.crt'
export PG_INIT_CLIENT_KEY='$PG_INIT_PKI/client.key'
ENV
}

reload() {
  running || die "postgres is not running"
  fix_tls_perms
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" reload >/dev/null
  # pg_ctl reload only signals; wait until the postmaster has re-read its files
  sleep 0.5
}

down() {
  if running; then log "stopping postgres"; as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true; fi
  rm -f "$PIDS/postgres.pid" "$ENV_DIR/postgres.sh"; rebuild_env_file
}
status() { running && accepting; }

"${1:?usage: postgres.sh up|down|status|reload}"

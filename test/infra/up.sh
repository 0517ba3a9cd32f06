#!/usr/bin/env bash
# Bring up the real test infrastructure (idempotent; seconds when already up).
# Usage: test/infra/up.sh [kube] [moto] [postgres] [proxy] [chromium] [zlint] [pebble] [alertmanager] [schemathesis] [node22]   (default: all)
# Then: eval "$(bash test/infra/env.sh)"   or source $REKEY_INFRA_RUN/env.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(chromium postgres proxy moto kube zlint pebble alertmanager schemathesis node22)
comps=("$@"); [ ${#comps[@]} -eq 0 ] && comps=("${ALL[@]}")
for c in "${comps[@]}"; do
  [ -f "$INFRA_DIR/components/$c.sh" ] || die "unknown component '$c' (known: ${ALL[*]})"
done

# one up.sh at a time (parallel test runs, several shells)
exec 9>"$RUN/up.lock"
if ! flock -n 9; then
  log "another up.sh is running; waiting for $RUN/up.lock"
  flock -w 3600 9 || die "could not take $RUN/up.lock within an hour"
fi

t_all=$(now_ms)
# shellcheck disable=SC2086
apt_ensure $DEBIAN_PACKAGES_TOOLS
failed=()
for c in "${comps[@]}"; do
  t0=$(now_ms)
  # 9>&-: the daemons a component starts must not inherit the lock, or they hold it for their whole life
  # and every later up.sh waits for it.
  if [ -f "$ENV_DIR/$c.sh" ] && bash "$INFRA_DIR/components/$c.sh" status >/dev/null 2>&1 9>&-; then
    state=already-up
  elif bash "$INFRA_DIR/components/$c.sh" up 9>&-; then
    state=started
  else
    state=FAILED; failed+=("$c")
  fi
  dt=$(( $(now_ms) - t0 ))
  printf '%s %-9s %-10s %6d ms\n' "$(date -Is)" "$c" "$state" "$dt" >> "$LOGS/timings.log"
  log "$c: $state ($((dt / 1000)).$(printf '%03d' $((dt % 1000)))s)"
done
rebuild_env_file
log "up.sh done in $(( ($(now_ms) - t_all) / 1000 ))s; env: $ENV_FILE (logs: $LOGS)"
if [ ${#failed[@]} -gt 0 ]; then
  die "failed: ${failed[*]} (logs in $LOGS)"
fi

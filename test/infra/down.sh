#!/usr/bin/env bash
# Stop the test infrastructure. Data stays in $REKEY_INFRA_RUN unless --purge.
# Usage: test/infra/down.sh [--purge] [kube] [moto] [postgres] [proxy] [chromium]  [zlint] [pebble]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0; comps=()
for a in "$@"; do
  if [ "$a" = --purge ]; then purge=1; else comps+=("$a"); fi
done
[ ${#comps[@]} -eq 0 ] && comps=(kube moto proxy postgres chromium zlint pebble)
for c in "${comps[@]}"; do
  [ -f "$INFRA_DIR/components/$c.sh" ] || die "unknown component '$c'"
  bash "$INFRA_DIR/components/$c.sh" down || log "stopping $c failed"
done
if [ $purge = 1 ]; then
  log "removing $RUN (the build cache $CACHE stays)"
  case "$RUN" in /|"$HOME"|"") die "refusing to remove '$RUN'";; esac
  rm -rf "$RUN"
fi

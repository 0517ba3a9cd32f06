#!/usr/bin/env bash
# Show which parts of the test infrastructure are up. Exit 0 only if all asked are up.
# Usage: test/infra/status.sh [-q] [kube] [moto] [postgres] [proxy] [chromium] [zlint] [pebble] [alertmanager] [schemathesis] [node22]
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quiet=0; comps=()
for a in "$@"; do
  if [ "$a" = -q ]; then quiet=1; else comps+=("$a"); fi
done
[ ${#comps[@]} -eq 0 ] && comps=(kube moto postgres proxy chromium zlint pebble alertmanager schemathesis node22)
rc=0
for c in "${comps[@]}"; do
  if [ -f "$ENV_DIR/$c.sh" ] && bash "$INFRA_DIR/components/$c.sh" status >/dev/null 2>&1; then
    s=up
  else
    s=down; rc=1
  fi
  [ $quiet = 1 ] || printf '%-9s %s\n' "$c" "$s"
done
if [ $quiet = 0 ]; then
  echo "env file: $ENV_FILE"
  echo "logs:     $LOGS"
  echo "cache:    $CACHE"
fi
exit $rc

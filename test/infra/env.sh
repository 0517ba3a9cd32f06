#!/usr/bin/env bash
# Print the `export` lines for the running test infrastructure.
# Usage: eval "$(bash test/infra/env.sh)"
set -euo pipefail
RUN="${REKEY_INFRA_RUN:-/tmp/rekey-infra}"
if [ ! -s "$RUN/env.sh" ]; then
  echo "no environment yet: run 'npm run infra:up' first ($RUN/env.sh missing)" >&2
  exit 1
fi
cat "$RUN/env.sh"

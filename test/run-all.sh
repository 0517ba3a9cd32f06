#!/usr/bin/env bash
# Installs and starts everything the tests need (cached between runs), then runs every test.
# Ends with one plain line "N passed, N failed" taken from vitest's JSON report.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
bash test/infra/up.sh || { echo "test infrastructure failed to start (see above)"; }
mkdir -p test-results
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json
rc=$?
node -e '
const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
console.log(`${r.numPassedTests} passed, ${r.numFailedTests + (r.numTodoTests ?? 0)} failed`);
' || echo "0 passed, 1 failed"
exit $rc

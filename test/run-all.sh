#!/usr/bin/env bash
# Installs and starts everything the tests need (cached between runs), then runs every test: all projects on this
# machine's Node, then the unit project again on Node 22 (Lambda's nodejs22.x; test/infra/components/node22.sh).
# Ends with one plain line "N passed, N failed" taken from vitest's JSON reports (the two runs added up).
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
bash test/infra/up.sh || { echo "test infrastructure failed to start (see above)"; }
mkdir -p test-results
rm -f test-results/vitest.json test-results/vitest-node22.json
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json
rc=$?
NODE22_PATH=$(. "${REKEY_INFRA_RUN:-/tmp/rekey-infra}/env.sh" 2>/dev/null && echo "${NODE22_PATH:-}")
if [ -n "$NODE22_PATH" ] && [ -x "$NODE22_PATH" ]; then
  echo "unit tests again on $("$NODE22_PATH" --version)"
  "$NODE22_PATH" node_modules/vitest/vitest.mjs run --project unit --reporter=dot --reporter=json \
    --outputFile.json=test-results/vitest-node22.json
  rc22=$?
else
  echo "Node 22 is not installed (test/infra/components/node22.sh): the unit tests on Node 22 count as one failure"
  rc22=1
fi
node -e '
const { existsSync, readFileSync } = require("fs");
const count = (file) => {
  if (!existsSync(file)) return { passed: 0, failed: 1 };
  const r = JSON.parse(readFileSync(file, "utf8"));
  return { passed: r.numPassedTests, failed: r.numFailedTests + (r.numTodoTests ?? 0) };
};
const main = count("test-results/vitest.json");
const node22 = count("test-results/vitest-node22.json");
console.log(`node ${process.versions.node}: ${main.passed} passed, ${main.failed} failed; unit on node 22: ${node22.passed} passed, ${node22.failed} failed`);
console.log(`${main.passed + node22.passed} passed, ${main.failed + node22.failed} failed`);
' || echo "0 passed, 1 failed"
[ "$rc" -ne 0 ] && exit "$rc"
exit "$rc22"

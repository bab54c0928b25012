#!/usr/bin/env bash
# The full check, as CI runs it (`npm run check`): services, a clean install from the lock file,
# client generation, lint, type-check, build, and every test against real Postgres and Redis.
# On a fresh Debian 12 machine (as root) it installs and starts what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's header says how long the run has taken so far, so a slow step shows in the CI log.
started=$SECONDS
step() { printf '\n==> %s (at %ss)\n' "$*" "$((SECONDS - started))"; }

step 'PostgreSQL + pgvector and Redis'
bash scripts/ensure-services.sh

step 'dependencies (npm ci; postinstall generates the Prisma client)'
npm ci --no-audit --no-fund

step 'prisma generate (offline)'
npm run --silent db:generate

step 'lint'
npm run --silent lint

step 'type-check'
npm run --silent typecheck

step 'build'
npm run --silent build

step 'tests'
mkdir -p test-results
status=0
npm test -- --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?
# One plain closing line that any CI log reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
step "done: exit $status"
exit "$status"

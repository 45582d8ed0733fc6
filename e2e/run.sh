#!/usr/bin/env bash
# End-to-end suite: builds the release binary, installs the pinned npm packages, runs the tests.
# E2E_POSTGRES_URL (an admin URL such as postgres://postgres@127.0.0.1:5432/postgres) enables the
# PostgreSQL tests; without it they are skipped and say so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"

echo "== e2e: building the release binary"
cargo build --release --locked -p mcplatform --manifest-path "$root/Cargo.toml"
export MCPLATFORM_BIN="$target/release/mcplatform"

cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== e2e: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The authorization-server test runs the MCP conformance suite, which lives in conformance/.
if [ ! -d ../conformance/node_modules ] || [ ../conformance/package-lock.json -nt ../conformance/node_modules/.package-lock.json ]; then
  echo "== e2e: installing the MCP conformance suite (npm ci in conformance/)"
  (cd ../conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -n "${E2E_POSTGRES_URL:-}" ]; then pg="on ${E2E_POSTGRES_URL%%\?*}"; else pg="skipped (E2E_POSTGRES_URL unset)"; fi
echo "== e2e: running (PostgreSQL tests: $pg)"
node --test --test-concurrency=1 --test-reporter=spec tests/*.test.js

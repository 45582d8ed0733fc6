#!/usr/bin/env bash
# OTLP ingest and MCP analytics, measured on this machine:
#  1. sustained ingest of MCP-shaped server spans (bench/otlp_payload.py: 512 spans a request,
#     as the SDKs batch them) over OTLP/HTTP, protobuf and JSON, into SQLite and PostgreSQL:
#     spans/s, MB/s, request p50/p99, and any answer that was not a 2xx (a 429 means the queue
#     was full: the rate is then what the database sustains);
#  2. beside it, the decode-only ceiling of the same body on one core (no HTTP, no database);
#  3. with QUERY_CALLS set (e.g. 10000000), the analytics overview's latency once that many
#     calls are stored, on each database.
# A 2xx is only sent once the spans are committed, so the rates are of stored spans.
#
#   DURATION=10 CONNECTIONS=8 SPANS=512 PG_URL=postgres://postgres@127.0.0.1:5432/postgres \
#     QUERY_CALLS=0 bench/telemetry.sh
#
# Needs wrk (Debian: apt-get install wrk), curl, python3 with opentelemetry-proto
# (pip install opentelemetry-exporter-otlp-proto-http), and psql for PostgreSQL.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-8}"
spans="${SPANS:-512}"
pg_url="${PG_URL-postgres://postgres@127.0.0.1:5432/postgres}"
query_calls="${QUERY_CALLS:-0}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p mcplatform --manifest-path "$root/Cargo.toml" >&2
cargo build --release --locked -p mcplatform-otlp --example decode --manifest-path "$root/Cargo.toml" >&2
bin="$target/release/mcplatform"
decode="$target/release/examples/decode"

work="$(mktemp -d)"
pids=()
databases=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${databases[@]}"; do psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$here/otlp_payload.py" "$spans" "$work/body"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }

# Starts MCPlatform on `$1` (sqlite or postgres); sets base, pid, org and its keys.
start() {
  local backend="$1" port url=()
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  if [ "$backend" = postgres ]; then
    local db="mcplatform_bench_$$_${#databases[@]}"
    psql -q "$pg_url" -c "CREATE DATABASE $db" >/dev/null
    databases+=("$db")
    url=(env "DATABASE_URL=${pg_url%/*}/$db" MCPLATFORM_DATABASE__MAX_CONNECTIONS=8)
  else
    url=(env)
  fi
  "${url[@]}" MCPLATFORM_LOG__LEVEL=warn "$bin" serve --bind "127.0.0.1:$port" --base-url "$base" \
    --data-dir "$work/data-$backend-${#pids[@]}" >"$work/$backend.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "$base/healthz" || { cat "$work/$backend.log" >&2; exit 1; }
  read -r org key management < <(python3 "$here/telemetry_setup.py" "$base")
}

# wrk's JSON line for POSTing the body of `$1` (pb or json) for `$2` seconds.
blast() {
  local kind="$1" seconds="$2" type=application/x-protobuf
  [ "$kind" = json ] && type=application/json
  BODY_FILE="$work/body.$kind" CONTENT_TYPE="$type" KEY="$key" \
    wrk -t2 -c"$connections" -d"${seconds}s" -s "$here/otlp-post.lua" "$base/v1/traces" 2>&1 >/dev/null | tail -n1
}

rows=()
ceiling() {
  "$decode" "$work/body.$1" "$([ "$1" = pb ] && echo protobuf || echo json)" 3
}
ceiling_pb="$(ceiling pb)"
ceiling_json="$(ceiling json)"

query() {
  local range="$1" started ended
  started="$(date +%s%N)"
  curl -sf -o /dev/null -H "Authorization: Bearer $management" "$base/api/v1/orgs/$org/analytics/overview?range=$range"
  ended="$(date +%s%N)"
  echo $(( (ended - started) / 1000000 ))
}

backends=(sqlite)
[ -n "$pg_url" ] && backends+=(postgres)
for backend in "${backends[@]}"; do
  start "$backend"
  for kind in pb json; do
    blast "$kind" 2 >/dev/null # warm-up
    result="$(blast "$kind" "$duration")"
    ceiling_of="$ceiling_pb"; [ "$kind" = json ] && ceiling_of="$ceiling_json"
    rows+=("$(python3 - "$backend" "$kind" "$spans" "$result" "$ceiling_of" <<'PY'
import json, sys
backend, kind, spans, result, ceiling = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
ok = result["requests"] - result["non_2xx"]
print(f"| {backend} | {'protobuf' if kind == 'pb' else 'JSON'} | {ok * spans / result['seconds']:,.0f} | "
      f"{result['bytes'] / result['seconds'] / 1e6:.1f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | "
      f"{result['non_2xx'] + result['socket_errors']} | {ceiling['spans_per_sec']:,.0f} |")
PY
)")
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo
echo "OTLP/HTTP ingest, $spans spans a request, $connections connections, ${duration}s (2 cores)"
echo
echo "| database | encoding | spans/s stored | MB/s | p50 ms | p99 ms | not 2xx | decode-only spans/s (1 core) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"

if [ "$query_calls" -gt 0 ]; then
  echo
  echo "Analytics overview with $query_calls stored calls (spread over the fill, all within the last day)"
  echo
  echo "| database | 1h ms | 24h ms | 30d ms |"
  echo "|---|---:|---:|---:|"
  for backend in "${backends[@]}"; do
    start "$backend"
    # Fresh timestamps, so that a long fill stays within the day it is counted over.
    python3 "$here/otlp_payload.py" "$spans" "$work/body"
    BODY_FILE="$work/body.pb" CONTENT_TYPE=application/x-protobuf KEY="$key" \
      wrk -t2 -c"$connections" -d3600s -s "$here/otlp-post.lua" "$base/v1/traces" >/dev/null 2>&1 &
    filler=$!
    last=-1
    stalled=0
    while :; do
      calls="$(curl -sf -H "Authorization: Bearer $management" "$base/api/v1/orgs/$org/analytics/overview?range=24h" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"])')"
      [ "$calls" -ge "$query_calls" ] && break
      if [ "$calls" -le "$last" ]; then stalled=$((stalled + 1)); else stalled=0; fi
      [ "$stalled" -ge 12 ] && { echo "the fill stopped at $calls calls" >&2; exit 1; }
      last="$calls"
      sleep 5
    done
    kill "$filler" 2>/dev/null; wait "$filler" 2>/dev/null || true
    query 24h >/dev/null
    echo "| $backend | $(query 1h) | $(query 24h) | $(query 30d) |"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
fi

#!/usr/bin/env bash
# /health throughput of the HTTP server layer: wrk with 64 connections against a server with a
# tiny route set (tests/http/bench_server.cc), request logging to a file as in production.
# Usage: bench/http_health.sh [BUILD_DIR] [DURATION] [SERVER FLAGS…]   (defaults: build/bench, 10s)
#   e.g. bench/http_health.sh build/bench 8s --tracing off
# Target: >= 40,000 req/s on the development machine (2 cores, wrk on the same machine).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/bench}"
duration="${2:-10s}"
shift $(( $# > 2 ? 2 : $# ))
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
if [[ ! -x "$build/tests/http/http_bench_server" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" http_bench_server
fi
log="$(mktemp)"
fifo="$(mktemp -u)"
mkfifo "$fifo"
"$build/tests/http/http_bench_server" --log "$log" "$@" <"$fifo" >"$log.url" &
server=$!
exec 3>"$fifo"  # the server runs until this is closed
trap 'exec 3>&-; wait "$server" 2>/dev/null; rm -f "$fifo" "$log" "$log.url"' EXIT
for _ in $(seq 100); do
  grep -q listening "$log.url" 2>/dev/null && break
  sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$log.url")"
echo "server: $url ($(nproc) cores, $(uname -m))"
wrk -t 2 -c 64 -d 2s "$url/health" >/dev/null  # warm-up
wrk -t 2 -c 64 -d "$duration" --latency "$url/health"
echo "request log lines: $(wc -l <"$log")"

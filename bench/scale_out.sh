#!/usr/bin/env bash
# The scale-out comparison in one sitting (bench/README.md, "Scale-out: two replicas on
# PostgreSQL"). Starts a throwaway PostgreSQL 15 (scripts/pg-test-server: stock settings, fsync
# on, synchronous_commit on), two `vox populi serve` replicas on one schema of it, one
# `vox populi serve` on SQLite (durability full), and a `vox populi join` agent for each side (the
# PostgreSQL one given both replicas' URLs). Every serve has the mesh token and the request rate
# limit off (64 clients share one token). Then, ROUNDS times, each round in the opposite order of
# the one before:
#   - a2a_load, CLIENTS clients (epoll driver), 256-byte payloads and an idempotency key on every
#     message: through both replicas (client c → replica c mod 2) and against the SQLite serve,
#     with one shared queue and with an inbox per client;
#   - pg_queue_load, CLIENTS clients, on the same PostgreSQL server: the SKIP LOCKED queue;
#   - submit → result of `true` (bench/api_latency.py): at the replica the agent is attached to,
#     at the other replica (no cross-replica wake-up yet: docs/store.md), and at the SQLite serve.
# Prints every run's line and a table, then stops everything and checks that nothing is left.
# Usage: bench/scale_out.sh BUILD_DIR   (Release, -DPOPULI_BUILD_BENCH=ON: vox, a2a_load,
#        pg_queue_load)   env: CLIENTS=64 RUN_SECONDS=10 ROUNDS=2 N_SUBMIT=30 N_CROSS=3,
#        VOX=another vox binary to serve with (e.g. a build of an earlier commit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "$1")
vox=${VOX:-$build/src/cli/vox} a2a=$build/bench/a2a/a2a_load pgq=$build/bench/pg_queue_load
for b in "$vox" "$a2a" "$pgq"; do
  [[ -x $b ]] || { echo "missing $b (ninja -C $1 vox a2a_load pg_queue_load)" >&2; exit 1; }
done
clients=${CLIENTS:-64} secs=${RUN_SECONDS:-10} rounds=${ROUNDS:-2}
n_submit=${N_SUBMIT:-30} n_cross=${N_CROSS:-3}
. "$root/bench/lib.sh"
export NO_COLOR=1 VOX_MESH_POLICY_EXEC=permissive

work=$(mktemp -d /tmp/scale-out.XXXXXX)
chmod 755 "$work"
pids=()
results=$work/results
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # A checkpoint first, so the shutdown checkpoint is short; then wait for the server to be gone
  # (the stop command waits at most 10 s).
  local pg_pid
  pg_pid=$(head -n 1 "$work/pg/data/postmaster.pid" 2>/dev/null || true)
  [[ -n ${dsn:-} ]] && psql -q "$dsn" -c CHECKPOINT >/dev/null 2>&1 || true
  "$root/scripts/pg-test-server" stop "$work/pg" >/dev/null 2>&1 || true
  for _ in $(seq 600); do
    [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null || break
    sleep 0.1
  done
  local left
  left=$(ps -eo pid=,args= | grep -F "$work" | grep -v grep || true)
  if [[ -n $left ]]; then echo "left running:"$'\n'"$left" >&2; else echo "stopped: no process left"; fi
  rm -rf "$work"
}
trap cleanup EXIT

token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BENCH_TOKEN=$token
# VOX_HOME for a serve or an agent: the mesh token (also the admin token), no rate limit, and
# any more lines given (the store).
make_home() {
  mkdir -p "$1"
  printf '[mesh]\ntoken = "%s"\n[mesh.auth]\nadmin_token = "%s"\n[mesh.control.http]\nrate_per_sec = 0\n%s\n' \
    "$token" "$token" "${2:-}" >"$1/config.toml"
  chmod 600 "$1/config.toml"
}
auth=(-H "Authorization: Bearer $token")
start_serve() {  # NAME PORT [STORE LINES]
  make_home "$work/$1" "${3:-}"
  VOX_HOME=$work/$1 "$vox" populi serve --no-worker --bind "127.0.0.1:$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && return 0; sleep 0.1; done
  echo "serve $1 did not come up:" >&2; tail -20 "$work/$1.log" >&2; exit 1
}
start_agent() {  # NODE_ID URLS CHECK_PORT
  make_home "$work/$1"
  VOX_HOME=$work/$1 VOX_MESH_NODE_ID=$1 "$vox" populi join "$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do
    curl -s "${auth[@]}" "http://127.0.0.1:$3/v1/populi/nodes" |
      jq -e --arg id "$1" '.nodes[] | select(.id == $id and .state == "alive")' >/dev/null && return 0
    sleep 0.1
  done
  echo "agent $1 did not come up:" >&2; tail -20 "$work/$1.log" >&2; exit 1
}

dsn=$("$root/scripts/pg-test-server" start "$work/pg")
pa=$(port) pb=$(port) psq=$(port)
pg_store=$(printf '[mesh.store]\nbackend = "postgres"\ndsn = "%s"\nschema = "bench"' "$dsn")
start_serve replica-a "$pa" "$pg_store"
start_serve replica-b "$pb" "$pg_store"
start_serve sqlite "$psq" $'[mesh.store]\ndurability = "full"'
start_agent agent-pg "http://127.0.0.1:$pa,http://127.0.0.1:$pb" "$pa"
start_agent agent-sqlite "http://127.0.0.1:$psq" "$psq"

load_args=(--clients "$clients" --seconds "$secs" --driver epoll --payload-bytes 256
  --idempotency-keys on --token "$token")
# Runs one measurement and records "ROUND KEY VALUE…" from its output line.
a2a_run() {  # ROUND KEY QUEUE URLS
  local line
  line=$("$a2a" "${load_args[@]}" --queue "$3" --url "$4")
  echo "  $2 ($3): $line"
  echo "$1 $2-$3 $(sed -E 's/.*cycles_per_s=([0-9]+).* errors=([0-9]+).*/\1 \2/' <<<"$line")" >>"$results"
}
pgq_run() {  # ROUND
  local line
  line=$("$pgq" --dsn "$dsn" --clients "$clients" --seconds "$secs" --payload-bytes 256)
  echo "  pg-queue: $line"
  echo "$1 pg-queue $(sed -E 's/.*cycles_per_s=([0-9]+) errors=([0-9]+).*/\1 \2/' <<<"$line")" >>"$results"
}
submit_run() {  # ROUND KEY PORT NODE N
  local line
  line=$(BENCH_NODE=$4 BENCH_WARMUP=$([[ $5 -ge 10 ]] && echo 3 || echo 0) \
    python3 "$root/bench/api_latency.py" "$3" "$5" "$2" | tail -1)
  echo "  submit→result $2 (n=$5): $line"
  echo "$1 $2 $(sed -E 's/.*p50_ms=([0-9.]+) p99_ms=([0-9.]+)/\1 \2/' <<<"$line")" >>"$results"
}
pg_urls="http://127.0.0.1:$pa,http://127.0.0.1:$pb"
sqlite_url="http://127.0.0.1:$psq"
round_pg() {
  a2a_run "$1" replicas shared "$pg_urls"
  a2a_run "$1" replicas own "$pg_urls"
  pgq_run "$1"
}
round_sqlite() {
  a2a_run "$1" sqlite shared "$sqlite_url"
  a2a_run "$1" sqlite own "$sqlite_url"
}
round_submit() {
  submit_run "$1" submit-replica-a "$pa" agent-pg "$n_submit"
  submit_run "$1" submit-sqlite "$psq" agent-sqlite "$n_submit"
  submit_run "$1" submit-replica-b "$pb" agent-pg "$n_cross"
}

echo "scale-out sitting $(date -u '+%F %T') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "postgres: $dsn; replicas :$pa :$pb; sqlite :$psq; $clients clients, ${secs}s per run"
for r in $(seq "$rounds"); do
  echo "round $r ($(date -u +%T) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
  if ((r % 2 == 1)); then round_pg "$r"; round_sqlite "$r"; else round_sqlite "$r"; round_pg "$r"; fi
  round_submit "$r"
done
echo "done $(date -u +%T) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The table: one column per round, then the ratios.
awk -v rounds="$rounds" '
  { v[$2, $1] = $3; w[$2, $1] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  END {
    printf "\n| cycles/s (errors) | "; for (r = 1; r <= rounds; ++r) printf "round %d | ", r; print ""
    for (i = 1; i <= n; ++i) {
      k = order[i]; if (k ~ /^submit/) continue
      printf "| %s | ", k; for (r = 1; r <= rounds; ++r) printf "%s (%s) | ", v[k, r], w[k, r]; print ""
    }
    split("replicas-shared replicas-own sqlite-shared sqlite-own", ks, " ")
    for (j = 1; j <= 4; ++j) {
      printf "| %s / pg-queue | ", ks[j]
      for (r = 1; r <= rounds; ++r) printf "%.2f× | ", (v["pg-queue", r] > 0 ? v[ks[j], r] / v["pg-queue", r] : 0)
      print ""
    }
    for (j = 1; j <= 2; ++j) {
      printf "| replicas-%s / sqlite-%s | ", substr(ks[j], 10), substr(ks[j], 10)
      for (r = 1; r <= rounds; ++r) {
        s = v["sqlite-" substr(ks[j], 10), r]; printf "%.2f× | ", (s > 0 ? v[ks[j], r] / s : 0)
      }
      print ""
    }
    printf "\n| submit → result p50 / p99 (ms) | "; for (r = 1; r <= rounds; ++r) printf "round %d | ", r; print ""
    for (i = 1; i <= n; ++i) {
      k = order[i]; if (k !~ /^submit/) continue
      printf "| %s | ", k; for (r = 1; r <= rounds; ++r) printf "%s / %s | ", v[k, r], w[k, r]; print ""
    }
  }' "$results"

#!/usr/bin/env bash
# Where the time goes with two replicas on PostgreSQL (bench/README.md, "Scale-out: prepared
# statements…"): a throwaway PostgreSQL 15 with pg_stat_statements (track_planning on), two
# `vox populi serve` replicas on one schema, a 2 s warm-up, then one a2a_load run of RUN_SECONDS
# through both. Prints the run's line, the CPU the database server (postmaster and backends) and
# the serves spent during it (1/100 s ticks, from /proc), and the 18 costliest statements with
# their calls per cycle and planning and execution time. PGQ=1 runs pg_queue_load on the same
# server afterwards, for a ratio in one sitting.
# Usage: bench/scale_out_profile.sh BUILD_DIR   env: CLIENTS=64 RUN_SECONDS=10 QUEUE=shared|own,
#        EXTRA="--batch 32" (more a2a_load arguments), PGQ=1, VOX=another vox binary
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "$1")
vox=${VOX:-$build/src/cli/vox} a2a=$build/bench/a2a/a2a_load
clients=${CLIENTS:-64} secs=${RUN_SECONDS:-10} queue=${QUEUE:-shared}
. "$root/bench/lib.sh"
export NO_COLOR=1 VOX_MESH_POLICY_EXEC=permissive
work=$(mktemp -d /tmp/scale-out-profile.XXXXXX); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/scripts/pg-test-server" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
dsn=$("$root/scripts/pg-test-server" start "$work/pg")
# pg_ctl as the server's owner (scripts/pg-test-server: postgres when run as root).
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u "$(stat -c %U "$work/pg/data")" -- "$@"; else "$@"; fi; }
psql -q "$dsn" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
as_owner /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg/data" -w restart -l "$work/pg/restart.log" >/dev/null
psql -q "$dsn" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
pa=$(port) pb=$(port)
for n in a b; do
  p=$([[ $n == a ]] && echo $pa || echo $pb)
  mkdir -p "$work/$n"
  printf '[mesh]\ntoken = "%s"\n[mesh.auth]\nadmin_token = "%s"\n[mesh.control.http]\nrate_per_sec = 0\n[mesh.store]\nbackend = "postgres"\ndsn = "%s"\nschema = "bench"\n' "$token" "$token" "$dsn" >"$work/$n/config.toml"
  chmod 600 "$work/$n/config.toml"
  VOX_HOME=$work/$n "$vox" populi serve --no-worker --bind "127.0.0.1:$p" >"$work/$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$p/health" >/dev/null && break; sleep 0.1; done
done
# warm-up
"$a2a" --clients "$clients" --seconds 2 --driver epoll --payload-bytes 256 --idempotency-keys on --token "$token" --queue "$queue" --url "http://127.0.0.1:$pa,http://127.0.0.1:$pb" >/dev/null
psql -q "$dsn" -c "SELECT pg_stat_statements_reset()" >/dev/null
cpu() { # sum utime+stime ticks of the given pids
  local t=0
  for p in "$@"; do
    read -r -a f < <(sed 's/.*) //' /proc/$p/stat 2>/dev/null) || continue
    t=$((t + f[11] + f[12]))
  done; echo $t; }
pm=$(head -n1 "$work/pg/data/postmaster.pid")
pgp=("$pm" $(pgrep -P "$pm"))
pg0=$(cpu "${pgp[@]}") vx0=$(cpu "${pids[@]}")
line=$("$a2a" --clients "$clients" --seconds "$secs" --driver epoll --payload-bytes 256 --idempotency-keys on --token "$token" --queue "$queue" ${EXTRA:-} --url "http://127.0.0.1:$pa,http://127.0.0.1:$pb")
pg1=$(cpu "${pgp[@]}") vx1=$(cpu "${pids[@]}")
echo "$line"
[[ -n ${PGQ:-} ]] && "$build/bench/pg_queue_load" --dsn "$dsn" --clients "$clients" --seconds "$secs" --payload-bytes 256
cycles=$(sed -E 's/.*cycles=([0-9]+).*/\1/' <<<"$line")
echo "cpu ticks (1/100 s): postgres $((pg1-pg0)) serves $((vx1-vx0)); cycles $cycles"
psql -q "$dsn" -c "SELECT calls, round(calls::numeric/NULLIF($cycles,0),2) per_cycle, round(total_plan_time::numeric,0) plan_ms, round(total_exec_time::numeric,0) exec_ms, round((total_exec_time/NULLIF(calls,0))::numeric,3) mean_ms, left(regexp_replace(query,'\s+',' ','g'),90) q FROM pg_stat_statements ORDER BY total_exec_time+total_plan_time DESC LIMIT 18"

#!/usr/bin/env bash
# Remote-execution latencies with real processes on loopback (issue: remote execution):
#   1. submit → result for `true`: `vox populi submit -- true` wall time, N runs (p50 / p99),
#      which includes starting the vox CLI process; then the same over the HTTP API on one
#      keep-alive connection (bench/api_latency.py). The control plane runs its own local worker.
#   2. kill -9 → restart elsewhere: a `sleep` task on agent A, SIGKILL A, time until the task is
#      running on agent B. Default liveness settings (heartbeat 2 s, down after 5) unless
#      FAILOVER_ENV overrides them. Median of ROUNDS.
# Usage: bench/task_latency.sh VOX_BIN [N=50] [ROUNDS=10]
set -euo pipefail
vox=$(realpath "$1"); n=${2:-50}; rounds=${3:-10}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export VOX_MESH_POLICY_EXEC=permissive NO_COLOR=1
. "$(dirname "$0")/lib.sh"

# 1. submit → result
p=$(port)
VOX_HOME=$work/a VOX_MESH_NODE_ID=box-a "$vox" populi serve --bind 127.0.0.1:$p >"$work/a.log" 2>&1 &
until [ -s "$work/a/populi/control-url" ]; do sleep 0.1; done
until VOX_HOME=$work/a "$vox" populi peers --state alive --json 2>/dev/null | grep -q box-a; do sleep 0.1; done
for _ in 1 2 3; do VOX_HOME=$work/a "$vox" populi submit -- true >/dev/null; done  # warm-up
: >"$work/lat"
for _ in $(seq "$n"); do
  t0=$(ms); VOX_HOME=$work/a "$vox" populi submit -- true >/dev/null; echo $(( $(ms) - t0 )) >>"$work/lat"
done
echo "submit→result (true) through the CLI, $n runs: p50 $(pct 0.5 <"$work/lat") ms, p99 $(pct 0.99 <"$work/lat") ms"
python3 "$(dirname "$0")/api_latency.py" "$p" "$n"
kill %1; wait %1 2>/dev/null || true

# 2. failover
: >"$work/fail"
for r in $(seq "$rounds"); do
  p=$(port); d=$work/f$r
  env ${FAILOVER_ENV:-} VOX_HOME=$d/cp "$vox" populi serve --no-worker --bind 127.0.0.1:$p >"$d.cp.log" 2>&1 &
  cp=$!
  until [ -s "$d/cp/populi/control-url" ]; do sleep 0.1; done
  env ${FAILOVER_ENV:-} VOX_HOME=$d/b1 VOX_MESH_NODE_ID=b1 VOX_MESH_LABELS=first=yes "$vox" populi join http://127.0.0.1:$p >"$d.b1.log" 2>&1 &
  b1=$!
  env ${FAILOVER_ENV:-} VOX_HOME=$d/b2 VOX_MESH_NODE_ID=b2 "$vox" populi join http://127.0.0.1:$p >"$d.b2.log" 2>&1 &
  b2=$!
  until [ "$(curl -s http://127.0.0.1:$p/v1/populi/nodes | jq '[.nodes[] | select(.state=="alive")] | length')" = 2 ]; do sleep 0.1; done
  # A preference (not a pin) puts attempt 1 on b1 and still lets the task run on b2 after.
  id=$(VOX_HOME=$d/cp "$vox" populi submit --detach --control-url http://127.0.0.1:$p --prefer first=yes -- sleep 600)
  until [ "$(curl -s http://127.0.0.1:$p/v1/populi/tasks/$id | jq -r .state)" = running ]; do sleep 0.05; done
  t0=$(ms); kill -9 $b1
  until [ "$(curl -s http://127.0.0.1:$p/v1/populi/tasks/$id | jq -r '.attempts[-1].node_id + "/" + .attempts[-1].state')" = b2/running ]; do sleep 0.05; done
  echo $(( $(ms) - t0 )) >>"$work/fail"
  kill $b2 $cp; wait $b2 $cp 2>/dev/null || true
done
echo "kill -9 → running elsewhere, $rounds rounds: median $(pct 0.5 <"$work/fail") ms (all: $(sort -n "$work/fail" | tr '\n' ' '))"

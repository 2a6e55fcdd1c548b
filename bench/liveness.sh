#!/usr/bin/env bash
# Failure detection with real processes on loopback, default liveness settings (heartbeat 2 s,
# suspect after 3, down after 5, connection-drop grace 2 s), a control plane without a worker and
# two agents:
#   1. process death: SIGKILL agent b1 while it runs a task → b1 `down`, and → the task running on
#      b2. ROUNDS rounds (b1 restarted between rounds).
#   2. silent host: SIGSTOP b1 (its sockets stay open) → b1 `down`. ROUNDS rounds.
#   3. no false `down`: 60 s with two busy loops saturating both cores, then a 30 s SIGSTOP of
#      the control plane; counts node.down events (expected 0).
# Usage: bench/liveness.sh VOX_BIN [ROUNDS=10]
set -euo pipefail
vox=$(realpath "$1"); rounds=${2:-10}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; kill -CONT ${cp:-} 2>/dev/null || true; rm -rf "$work"' EXIT
export VOX_MESH_POLICY_EXEC=permissive NO_COLOR=1
. "$(dirname "$0")/lib.sh"
p=$(port); api=http://127.0.0.1:$p/v1/populi
state() { curl -s "$api/nodes" | jq -r --arg id "$1" '.nodes[] | select(.id==$id) | .state'; }
downs() { curl -s "$api/events?after=0&limit=1000" | jq '[.events[] | select(.kind=="node.down")] | length'; }
start_b1() {
  VOX_HOME=$work/b1 VOX_MESH_NODE_ID=b1 VOX_MESH_LABELS=first=yes "$vox" populi join "http://127.0.0.1:$p" >>"$work/b1.log" 2>&1 &
  b1=$!
  until [ "$(state b1)" = alive ]; do sleep 0.05; done
  sleep 1  # its task poll is parked
}

VOX_HOME=$work/cp "$vox" populi serve --no-worker --bind 127.0.0.1:$p >"$work/cp.log" 2>&1 &
cp=$!
until [ -s "$work/cp/populi/control-url" ]; do sleep 0.1; done
VOX_HOME=$work/b2 VOX_MESH_NODE_ID=b2 "$vox" populi join "http://127.0.0.1:$p" >"$work/b2.log" 2>&1 &
b2=$!
until [ "$(state b2)" = alive ]; do sleep 0.1; done

# 1. process death
: >"$work/kill_down"; : >"$work/kill_run"
for _ in $(seq "$rounds"); do
  start_b1
  id=$(VOX_HOME=$work/cp "$vox" populi submit --detach --control-url "http://127.0.0.1:$p" --prefer first=yes -- sleep 600)
  until [ "$(curl -s "$api/tasks/$id" | jq -r '.attempts[-1].node_id + "/" + .state')" = b1/running ]; do sleep 0.05; done
  t0=$(ms); kill -9 $b1; wait $b1 2>/dev/null || true
  down=""
  until [ "$(curl -s "$api/tasks/$id" | jq -r '.attempts[-1].node_id + "/" + .attempts[-1].state')" = b2/running ]; do
    [ -z "$down" ] && [ "$(state b1)" = down ] && down=$(( $(ms) - t0 ))
    sleep 0.02
  done
  run=$(( $(ms) - t0 ))
  until [ -n "$down" ]; do [ "$(state b1)" = down ] && down=$(( $(ms) - t0 )); sleep 0.02; done
  echo "$down" >>"$work/kill_down"; echo "$run" >>"$work/kill_run"
  VOX_HOME=$work/cp "$vox" populi cancel --control-url "http://127.0.0.1:$p" "$id" >/dev/null 2>&1 || true
done
echo "SIGKILL agent → down, $rounds rounds: median $(pct 0.5 <"$work/kill_down") ms (all: $(sort -n "$work/kill_down" | tr '\n' ' '))"
echo "SIGKILL agent → task running elsewhere: median $(pct 0.5 <"$work/kill_run") ms (all: $(sort -n "$work/kill_run" | tr '\n' ' '))"

# 2. silent host
: >"$work/stop_down"
for _ in $(seq "$rounds"); do
  start_b1
  t0=$(ms); kill -STOP $b1
  until [ "$(state b1)" = down ]; do sleep 0.02; done
  echo $(( $(ms) - t0 )) >>"$work/stop_down"
  kill -9 $b1; kill -CONT $b1 2>/dev/null || true; wait $b1 2>/dev/null || true
done
echo "SIGSTOP agent (sockets open) → down, $rounds rounds: median $(pct 0.5 <"$work/stop_down") ms (all: $(sort -n "$work/stop_down" | tr '\n' ' '))"

# 3. no false down
start_b1
before=$(downs)
busy=()
for _ in 1 2; do ( while :; do :; done ) & busy+=($!); done
sleep 60
kill "${busy[@]}" 2>/dev/null || true
echo "60 s with both cores saturated: $(( $(downs) - before )) node.down events, states b1=$(state b1) b2=$(state b2)"
before=$(downs)
kill -STOP $cp; sleep 30; kill -CONT $cp
sleep 15
echo "30 s control-plane pause (+15 s after): $(( $(downs) - before )) node.down events, states b1=$(state b1) b2=$(state b2)"

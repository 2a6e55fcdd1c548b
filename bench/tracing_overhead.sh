#!/usr/bin/env bash
# Tracing and metrics overhead on A2A (bench/README.md, "Tracing and metrics overhead"): rounds
# alternating tracing and metrics on / off, for one or more builds of a2a_load in the same sitting,
# each run under `perf stat -e task-clock`; prints one CSV line per run with cycles/s and the CPU
# per cycle (task-clock ÷ cycles, client and server in one process).
# Usage: bench/tracing_overhead.sh ROUNDS SECONDS LABEL=BUILD_DIR [LABEL=BUILD_DIR…]
#   e.g. bench/tracing_overhead.sh 4 5 old=../base/build/bench new=build/bench
set -euo pipefail
rounds="$1"
seconds="$2"
shift 2
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
echo "round,build,mode,load1,cycles_per_s,cycles,task_clock_ms,cpu_us_per_cycle,deliver_p99_ms"
builds=("$@")
for round in $(seq "$rounds"); do
  # Odd rounds run the builds in the order given, "on" first; even rounds reverse both, so neither
  # build nor mode always runs first.
  order=("${builds[@]}")
  modes="on off"
  if (( round % 2 == 0 )); then
    order=()
    for (( i = ${#builds[@]} - 1; i >= 0; i-- )); do order+=("${builds[i]}"); done
    modes="off on"
  fi
  for build in "${order[@]}"; do
    label="${build%%=*}"
    dir="${build#*=}"
    for mode in $modes; do
      load="$(cut -d' ' -f1 /proc/loadavg)"
      stat="$(mktemp)"
      out="$(perf stat -x, -e task-clock -o "$stat" \
        "$dir/bench/a2a/a2a_load" --clients 64 --seconds "$seconds" --driver epoll --ack next \
        --tracing "$mode" --metrics "$mode" 2>&1 | grep cycles_per_s)"
      ms="$(grep task-clock "$stat" | cut -d, -f1)"
      rm -f "$stat"
      cycles="$(sed -n 's/.* cycles=\([0-9]*\).*/\1/p' <<<"$out")"
      rate="$(sed -n 's/.*cycles_per_s=\([0-9]*\).*/\1/p' <<<"$out")"
      p99="$(sed -n 's/.*deliver_p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")"
      per="$(awk -v ms="$ms" -v c="$cycles" 'BEGIN { printf "%.1f", ms * 1000 / c }')"
      echo "$round,$label,$mode,$load,$rate,$cycles,$ms,$per,$p99"
    done
  done
done

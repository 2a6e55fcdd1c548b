#!/usr/bin/env bash
# Live-GPU check for docs/probes.md, in two steps because the GPU machine has no network and
# none of our packages:
#   tests/probe/live_gpu_check.sh bundle BUILD_DIR OUT_DIR   (here) copies vox, the live test
#       binary (if built with -DPOPULI_LIVE_HW=ON) and every shared library ldd lists.
#   tests/probe/live_gpu_check.sh run OUT_DIR                (GPU machine) prints the probe report
#       and nvidia-smi's view side by side, then runs the live test.
# The GPU driver's own libraries (libnvidia-ml, libcuda) are never bundled: they must come from
# the GPU machine.
set -euo pipefail

bundle() {
  local build=$1 out=$2
  mkdir -p "$out/lib"
  cp "$build/src/cli/vox" "$out/"
  if [[ -x "$build/tests/probe/probe_live_hw_test" ]]; then
    cp "$build/tests/probe/probe_live_hw_test" "$out/"
  fi
  for bin in "$out"/vox "$out"/probe_live_hw_test; do
    [[ -e $bin ]] || continue
    ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
      case "$(basename "$lib")" in
        libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libnvidia*|libcuda*) ;;
        *) cp -L "$lib" "$out/lib/" ;;
      esac
    done
  done
  # glibc itself goes apart (sys/): used only when the GPU machine's own glibc is older than ours.
  mkdir -p "$out/sys"
  ldd "$out/vox" | awk '/libc.so|libm.so/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
    cp -L "$lib" "$out/sys/"
  done
  # Debug binaries carry ~100 MB of symbols; the device copy limit is 64 MiB.
  strip --strip-debug "$out"/vox "$out"/probe_live_hw_test 2>/dev/null || true
  echo "bundled into $out: $(ls "$out" | tr '\n' ' ')($(ls "$out/lib" | wc -l) libraries)"
}

run() {
  local dir=$1
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export VOX_HOME="${TMPDIR:-/tmp}/vox-live-home"
  local -a vox=("$dir/vox") live=("$dir/probe_live_hw_test")
  if ! "$dir/vox" version >/dev/null 2>&1; then
    echo "(system glibc too old for the bundle; using the bundled loader)"
    local loader=("$dir"/sys/ld-linux*)
    vox=("${loader[0]}" --library-path "$dir/sys:$dir/lib" "$dir/vox")
    live=("${loader[0]}" --library-path "$dir/sys:$dir/lib" "$dir/probe_live_hw_test")
  fi
  echo "== uname / driver"
  uname -r; cat /proc/driver/nvidia/version 2>/dev/null | head -1 || true
  echo "== vox populi probe --refresh (table)"
  "${vox[@]}" populi probe --refresh || true
  echo "== vox populi probe --json"
  "${vox[@]}" populi probe --json || true
  echo "== probe cost: five refreshes (per-probe duration_ms)"
  for _ in 1 2 3 4 5; do
    "${vox[@]}" populi probe --refresh --json | grep -o '"vox.mesh.probe.name":"[a-z_]*","outcome":"[a-z_]*","duration_ms":[0-9.E+-]*' | tr '\n' ' '
    echo
  done
  echo
  echo "== nvidia-smi --query-gpu=name,uuid,memory.total,memory.used --format=csv"
  nvidia-smi --query-gpu=name,uuid,memory.total,memory.used --format=csv || true
  if [[ -x "$dir/probe_live_hw_test" ]]; then
    echo "== probe_live_hw_test"
    "${live[@]}" || true
  fi
}

case "${1:-}" in
  bundle) bundle "$2" "$3" ;;
  run) run "$2" ;;
  *) echo "usage: $0 bundle BUILD_DIR OUT_DIR | run OUT_DIR" >&2; exit 2 ;;
esac

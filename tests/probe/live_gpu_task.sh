#!/usr/bin/env bash
# Live-GPU check of remote execution, run on a GPU machine from a bundle made by
# tests/probe/live_gpu_check.sh: a one-node mesh whose agent probes the real GPU; a task asking for
# 1 GPU with 12 GiB free is admitted and sees CUDA_VISIBLE_DEVICES = the GPU's UUID; a task asking
# for more VRAM than the GPU has stays pending with the scheduler's reasons.
# Usage: tests/probe/live_gpu_task.sh BUNDLE_DIR
set -uo pipefail
dir=$(realpath "$1")
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
vox=("$dir/vox")
if ! "$dir/vox" version >/dev/null 2>&1; then
  loader=("$dir"/sys/ld-linux*)
  vox=("${loader[0]}" --library-path "$dir/sys:$dir/lib" "$dir/vox")
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export VOX_HOME=$work/home VOX_MESH_POLICY_EXEC=permissive VOX_MESH_NODE_ID=gpu-box NO_COLOR=1
"${vox[@]}" populi serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
for _ in $(seq 100); do [ -s "$VOX_HOME/populi/control-url" ] && break; sleep 0.1; done
for _ in $(seq 100); do "${vox[@]}" populi peers --state alive --json 2>/dev/null | grep -q gpu-box && break; sleep 0.1; done
echo "== vox populi peers"
"${vox[@]}" populi peers
echo "== submit --gpus 1 --vram 12G -- sh -c 'echo CUDA_VISIBLE_DEVICES; nvidia-smi -L'"
timeout 60 "${vox[@]}" populi submit --gpus 1 --vram 12G -- sh -c 'echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"; nvidia-smi -L 2>&1 || true'
echo "exit code: $?"
echo "== submit --gpus 1 --vram 1000G --detach -- true; explain"
id=$("${vox[@]}" populi submit --gpus 1 --vram 1000G --detach -- true)
sleep 1
"${vox[@]}" populi explain "$id"
echo "== nvidia-smi --query-gpu=uuid,memory.free --format=csv"
nvidia-smi --query-gpu=uuid,memory.free --format=csv 2>&1 || true

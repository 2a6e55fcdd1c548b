#!/usr/bin/env bash
# First paint of the dashboard's mesh view from a loopback control plane: a `vox populi serve`
# (with its local worker, so the mesh has a node) and Debian's Chromium headless reloading /ui#/mesh
# N times through playwright-core (tests/interop/dashboard.mjs paint). Prints p50 / p90 of the time
# from navigation start to the mesh view drawn with its nodes (`populi.mesh.drawn`), and of the
# first contentful paint. Target (issue 19): < 300 ms.
# Usage: bench/dashboard_paint.sh [BUILD_DIR] [LOADS]   (defaults: build/bench, 20)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/bench}"
loads="${2:-20}"
vox="$build/src/cli/vox"
[[ -x "$vox" ]] || { echo "no $vox: build it (bench/README.md)" >&2; exit 1; }
[[ -x /usr/bin/chromium && -d tests/interop/node_modules/playwright-core ]] ||
  { echo "needs Debian's chromium and tests/interop/node_modules (scripts/setup)" >&2; exit 1; }
dir="$(mktemp -d)"
token="dashboard-bench-token-0123456789abcdef"
mkdir -p "$dir/home"
printf '[mesh]\ntoken = "%s"\n[mesh.auth]\nadmin_token = "%s"\n' "$token" "$token" >"$dir/home/config.toml"
chmod 600 "$dir/home/config.toml"
echo '{"cpu":{"model":"Bench CPU","cores":4,"threads":8,"numa_nodes":1}}' >"$dir/cpu.json"
VOX_HOME="$dir/home" HOME="$dir" VOX_MESH_PROBE_ORDER=mock VOX_MESH_PROBE_MOCK_FIXTURE="$dir/cpu.json" \
  "$vox" populi serve --bind 127.0.0.1:0 >"$dir/serve.out" 2>"$dir/serve.log" &
serve=$!
trap 'kill "$serve" 2>/dev/null; wait "$serve" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do
  grep -q '^listening on ' "$dir/serve.out" 2>/dev/null && break
  sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$dir/serve.out")"
[[ -n "$url" ]] || { cat "$dir/serve.log" >&2; exit 1; }
echo "serve: $url ($(nproc) cores, $(uname -m)); $vox"
(cd tests/interop && UI_URL="$url" UI_TOKEN="$token" node dashboard.mjs paint "$loads")

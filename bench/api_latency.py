#!/usr/bin/env python3
# submit -> result over the HTTP API on one keep-alive connection: POST /v1/populi/tasks with
# `true`, then long-poll GET /v1/populi/tasks/{id}/wait until it ended. Three warm-up runs
# (BENCH_WARMUP in the environment: that many instead).
# Usage: bench/api_latency.py PORT N [LABEL]   (used by bench/task_latency.sh, bench/scale_out.sh)
# BENCH_TOKEN in the environment: sent as `Authorization: Bearer …` on every request; BENCH_NODE:
# the tasks may run on that node only (constraints.node_allow).
# Prints p50 / p99 in ms, and with LABEL one more line `LABEL p50_ms=… p99_ms=…` for scripts.
import http.client, json, os, time, sys
port = int(sys.argv[1]); n = int(sys.argv[2]); label = sys.argv[3] if len(sys.argv) > 3 else ""
headers = {"Content-Type": "application/json"}
if os.environ.get("BENCH_TOKEN"): headers["Authorization"] = "Bearer " + os.environ["BENCH_TOKEN"]
c = http.client.HTTPConnection("127.0.0.1", port)
warmup = int(os.environ.get("BENCH_WARMUP", "3"))
spec = {"command": "true"}
if os.environ.get("BENCH_NODE"): spec["constraints"] = {"node_allow": [os.environ["BENCH_NODE"]]}
lat = []
for i in range(n + warmup):
    t0 = time.perf_counter()
    c.request("POST", "/v1/populi/tasks", json.dumps(spec), headers)
    task = json.loads(c.getresponse().read())
    while True:
        c.request("GET", "/v1/populi/tasks/%s/wait?timeout_ms=10000" % task["id"], headers=headers)
        t = json.loads(c.getresponse().read())
        if t["state"] in ("succeeded", "failed", "cancelled"): break
    if i >= warmup: lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
p50, p99 = lat[len(lat)//2], lat[int(0.99*(len(lat)-1))]
print("API submit->result for `true`, %d runs: p50 %.1f ms, p99 %.1f ms" % (n, p50, p99))
if label: print("%s p50_ms=%.1f p99_ms=%.1f" % (label, p50, p99))

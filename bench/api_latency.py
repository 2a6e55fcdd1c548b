#!/usr/bin/env python3
# submit -> result over the HTTP API on one keep-alive connection: POST /v1/populi/tasks with
# `true`, then long-poll GET /v1/populi/tasks/{id}/wait until it ended. Three warm-up runs.
# Usage: bench/api_latency.py PORT N   (used by bench/task_latency.sh)
import http.client, json, time, sys
port = int(sys.argv[1]); n = int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
lat = []
for i in range(n + 3):
    t0 = time.perf_counter()
    c.request("POST", "/v1/populi/tasks", json.dumps({"command": "true"}), {"Content-Type": "application/json"})
    task = json.loads(c.getresponse().read())
    while True:
        c.request("GET", "/v1/populi/tasks/%s/wait?timeout_ms=10000" % task["id"])
        t = json.loads(c.getresponse().read())
        if t["state"] in ("succeeded", "failed", "cancelled"): break
    if i >= 3: lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
print("API submit->result for `true`, %d runs: p50 %.1f ms, p99 %.1f ms" % (n, lat[len(lat)//2], lat[int(0.99*(len(lat)-1))]))

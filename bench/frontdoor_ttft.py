#!/usr/bin/env python3
# Time to first token and tokens/s of streamed chat completions: straight to an engine, and
# through the front door (control plane -> the node's agent -> the same engine), one sitting.
# The engine is tests/e2e/fake_engine.mjs under node (tokens as fast as it can write them), so the
# figures are the relay's cost, not a model's. Starts its own control plane and agent on loopback.
# Usage: bench/frontdoor_ttft.py VOX_BIN [N] [TOKENS]     (bench/README.md)
import http.client, json, os, shutil, socket, subprocess, sys, tempfile, time

vox = os.path.abspath(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 200
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tmp = tempfile.mkdtemp(prefix="ttft-")
procs = []

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(args, env_extra, out):
    env = dict(os.environ); env.update(env_extra)
    f = open(os.path.join(tmp, out), "w")
    p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    procs.append(p); return p

def wait_line(out, needle, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        text = open(os.path.join(tmp, out)).read()
        if needle in text: return text
        time.sleep(0.05)
    raise SystemExit("timed out waiting for %r in %s" % (needle, out))

def stream(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.perf_counter()
    c.request("POST", path, body, headers)
    r = c.getresponse()
    assert r.status == 200, (r.status, r.read())
    first = last = None; count = 0
    buf = b""
    while True:
        chunk = r.read1(65536)
        if not chunk: break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            data = event[len(b"data: "):]
            if data == b"[DONE]": continue
            delta = json.loads(data)["choices"][0].get("delta", {})
            if delta.get("content"):
                now = time.perf_counter()
                if first is None: first = now
                last = now; count += 1
    c.close()
    return (first - t0) * 1000, count / max(last - first, 1e-9)

try:
    start(["node", os.path.join(root, "tests/e2e/fake_engine.mjs"), "--name", "bench", "m"], {}, "engine.out")
    engine_port = int(wait_line("engine.out", "listening on").split("listening on ")[1].split()[0])
    cp_port = free_port()
    base = {"VOX_MESH_MODELS_HUB_CACHE": "off"}
    start([vox, "populi", "serve", "--bind", "127.0.0.1:%d" % cp_port, "--data-dir",
           os.path.join(tmp, "cp-data"), "--no-worker"], dict(base, VOX_HOME=os.path.join(tmp, "cp")), "cp.out")
    wait_line("cp.out", "listening on")
    start([vox, "populi", "join", "http://127.0.0.1:%d" % cp_port],
          dict(base, VOX_HOME=os.path.join(tmp, "agent"),
               VOX_MESH_INFERENCE_ENDPOINTS="http://127.0.0.1:%d" % engine_port), "agent.out")
    end = time.time() + 30
    while time.time() < end:
        c = http.client.HTTPConnection("127.0.0.1", cp_port)
        c.request("GET", "/v1/models"); body = c.getresponse().read(); c.close()
        if b'"m"' in body: break
        time.sleep(0.2)
    else:
        raise SystemExit("the model never showed up in /v1/models:\n" +
                         open(os.path.join(tmp, "agent.out")).read())
    body = json.dumps({"model": "m", "stream": True,
                       "messages": [{"role": "user", "content": "[tokens:%d] go" % tokens}]})
    headers = {"Content-Type": "application/json"}
    results = {}
    for label, port in (("direct", engine_port), ("front door", cp_port)):
        for _ in range(5): stream(port, "/v1/chat/completions", body, headers)  # warm-up
    for label, port in (("direct", engine_port), ("front door", cp_port)):
        ttft, tps = [], []
        for _ in range(n):
            a, b = stream(port, "/v1/chat/completions", body, headers)
            ttft.append(a); tps.append(b)
        ttft.sort(); tps.sort()
        results[label] = (ttft[len(ttft) // 2], ttft[int(0.99 * (len(ttft) - 1))], tps[len(tps) // 2])
    for label, (p50, p99, tps) in results.items():
        print("%-10s TTFT p50 %.2f ms  p99 %.2f ms  tokens/s (median) %.0f" % (label, p50, p99, tps))
    d, f = results["direct"], results["front door"]
    print("added TTFT: p50 %.2f ms, p99 %.2f ms; tokens/s %.1f %% of direct" %
          (f[0] - d[0], f[1] - d[1], 100.0 * f[2] / d[2]))
finally:
    for p in procs: p.kill(); p.wait()
    shutil.rmtree(tmp, ignore_errors=True)

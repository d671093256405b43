"""Side by side: `netprophet serve` against a Flask + Gunicorn server
(3 sync workers, benches/flask_reference.py) reading the same cache file,
on loopback, at 50 and 200 concurrent keep-alive connections, and at 200
while 1000 idle connections are held open. Load comes from wrk (Debian
package `wrk`) when installed, else from `loadgen` in this folder. Reports
requests/s, p50/p99, errors and server RSS (summed over Gunicorn's
processes).

Then open-loop runs from `loadgen --rate`: 200 connections sharing a fixed
schedule of requests, latency measured from each request's scheduled time.
Closed-loop latency at saturation is mostly queueing (connections divided
by throughput) and, with the load generator on the same two vCPUs, partly
the generator's own lag; the open-loop runs show the server's latency at
a given load instead: 400 req/s (which Gunicorn's 3 sync workers sustain)
on both servers, and OPEN_LOOP_RATE (default 20 000 req/s) on netprophet,
alone and beside 1000 idle connections.

    python3 -m venv venv && venv/bin/pip install -r benches/requirements-serving.txt
    cargo build --release -p netprophet-cli -p netprophet-benches
    venv/bin/python benches/compare_serving.py [PATH]    # PATH: / (default) or /api/prediction
    python3 benches/compare_serving.py --many             # 1 probe vs 12 000 (no venv needed)

`--many`: `serve` with the demo's one-probe cache (real, `demo --single`)
side by side with a GENERATED cache of 12 000 made-up probes, each with a
week of record (`gen_cache` in this folder; no real cache of that size is
on hand), on `/`, `/api/probes` and one `/probe/{id}`, at 50 closed-loop
connections from `loadgen`: requests/s, p50, p99, errors, and the
server's RSS after the runs and at its peak (VmHWM, which includes
loading the cache).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")


def wait(port):
    import socket
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def children(pid):
    out = [str(pid)]
    try:
        kids = subprocess.check_output(["pgrep", "-P", str(pid)]).decode().split()
    except subprocess.CalledProcessError:
        kids = []
    return out + kids


def rss_mib(pids, field="VmRSS:"):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def wrk(port, path, conns, secs):
    """wrk (Debian package `wrk`): requests/s, p50, p99 in ms, errors."""
    out = subprocess.check_output(["wrk", "-t2", f"-c{conns}", f"-d{secs:.0f}s", "--latency",
                                   f"http://127.0.0.1:{port}{path}"]).decode()
    def ms(text):
        v = float(text[:-2]) if text.endswith("ms") else float(text[:-2]) / 1000 if text.endswith("us") else float(text[:-1]) * 1000
        return v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    return rps, p50, p99, errors


def loadgen(port, path, conns, secs, rate=None):
    cmd = [os.path.join(BIN, "loadgen")] + (["--rate", str(rate)] if rate else [])
    out = json.loads(subprocess.check_output(cmd + [f"127.0.0.1:{port}", path, str(conns), str(secs)]))
    return out["rps"], out["p50_us"] / 1000, out["p99_us"] / 1000, out["errors"]


def run(name, port, pids, path, secs, open_loop):
    """Closed-loop runs at 50, 200 and 200 + 1000 idle connections, then
    the open-loop runs `open_loop` as (connections, idle, rate)."""
    import socket
    tool = wrk if shutil.which("wrk") else loadgen
    rows = []
    runs = [(50, 0, None), (200, 0, None), (200, 1000, None)] + open_loop
    for conns, idle, rate in runs:
        held = []
        for _ in range(idle):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        if rate:
            rps, p50, p99, errors = loadgen(port, path, conns, secs, rate)
        else:
            rps, p50, p99, errors = tool(port, path, conns, secs)
        r = {"server": name, "connections": conns, "idle": len(held), "rate": rate, "rps": round(rps), "p50_ms": p50,
             "p99_ms": p99, "errors": errors, "rss_mb": round(rss_mib(pids), 1),
             "peak_rss_mb": round(rss_mib(pids, "VmHWM:"), 1)}
        for h in held:
            h.close()
        rows.append(r)
        print(json.dumps(r), flush=True)
    return rows


def many():
    secs = float(os.environ.get("SECONDS_PER_RUN", "5"))
    conns = int(os.environ.get("CONNECTIONS", "50"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        one = os.path.join(tmp, "one.json")
        subprocess.check_call([os.path.join(BIN, "netprophet"), "demo", "--no-serve", "--single", "--cache", one],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        big = os.path.join(tmp, "generated-12000.json")
        print(subprocess.check_output([os.path.join(BIN, "gen_cache"), big, "12000"]).decode().strip(), flush=True)
        for name, cache, paths in [("1 probe (real)", one, ["/", "/api/probes"]),
                                   ("12 000 probes (generated)", big, ["/", "/api/probes", "/probe/1006000"])]:
            port = 18090
            server = subprocess.Popen([os.path.join(BIN, "netprophet"), "serve", "--listen", f"127.0.0.1:{port}",
                                       "--cache", cache], stderr=subprocess.DEVNULL)
            wait(port)
            try:
                import urllib.request
                for _ in range(100):  # until the loader has read the cache
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                        break
                    except Exception:
                        time.sleep(0.1)
                idle_rss = rss_mib([str(server.pid)])
                for path in paths:
                    rps, p50, p99, errors = loadgen(port, path, conns, secs)
                    r = {"cache": name, "path": path, "connections": conns, "rps": round(rps), "p50_ms": p50,
                         "p99_ms": p99, "errors": errors, "idle_rss_mb": round(idle_rss, 1),
                         "rss_mb": round(rss_mib([str(server.pid)]), 1),
                         "peak_rss_mb": round(rss_mib([str(server.pid)], "VmHWM:"), 1)}
                    rows.append(r)
                    print(json.dumps(r), flush=True)
            finally:
                server.terminate()
                server.wait()
    print()
    print("| cache | path | req/s | p50 | p99 | errors | RSS after / peak |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cache']} | `{r['path']}` | {r['rps']:,} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
              f"{r['errors']} | {r['rss_mb']:.1f} / {r['peak_rss_mb']:.1f} MB |".replace(",", " "))


def main():
    if "--many" in sys.argv[1:]:
        return many()
    path = sys.argv[1] if len(sys.argv) > 1 else "/"
    secs = float(os.environ.get("SECONDS_PER_RUN", "5"))
    rate = int(os.environ.get("OPEN_LOOP_RATE", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "prediction.json")
        # A real cache: the demo's first replay step, written by the binary.
        subprocess.check_call([os.path.join(BIN, "netprophet"), "demo", "--no-serve", "--single", "--cache", cache],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = subprocess.Popen([os.path.join(BIN, "netprophet"), "serve", "--listen", "127.0.0.1:18080",
                                 "--cache", cache], stderr=subprocess.DEVNULL)
        wait(18080)
        try:
            a = run("netprophet", 18080, [str(ours.pid)], path, secs,
                    [(200, 0, 400), (200, 0, rate), (200, 1000, rate)])
        finally:
            ours.terminate()
            ours.wait()
        env = dict(os.environ, NETPROPHET_CACHE=cache, PYTHONPATH=os.path.join(ROOT, "benches"))
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        ref = subprocess.Popen([gunicorn, "-w", "3", "-b", "127.0.0.1:18081", "--log-level", "warning",
                                "flask_reference:app"], env=env, stderr=subprocess.DEVNULL)
        wait(18081)
        time.sleep(1)
        try:
            b = run("flask+gunicorn", 18081, children(ref.pid), path, secs, [(200, 0, 400)])
        finally:
            ref.terminate()
            ref.wait()
    print(f"\n| load ({path}) | netprophet req/s, p50, p99, RSS | Flask+Gunicorn req/s, p50, p99, RSS | ratio |")
    print("|---|---|---|---|")
    f = lambda r: (f"{r['rps']:.0f}/s, {r['p50_ms']:.2f} ms, {r['p99_ms']:.2f} ms, "
                   f"{r['rss_mb']:.1f} MB, {r['errors']} errors")
    for i, x in enumerate(a):
        y = b[i] if i < len(b) else None
        label = f"{x['connections']} connections" + (f" + {x['idle']} idle" if x["idle"] else "")
        if x["rate"]:
            label += f", open loop at {x['rate']} req/s"
        if y is None:
            print(f"| {label} | {f(x)} | not run: above its capacity | - |")
        elif x["rate"] or y["rps"] == 0:
            print(f"| {label} | {f(x)} | {f(y)} | - |")
        else:
            print(f"| {label} | {f(x)} | {f(y)} | {x['rps'] / max(y['rps'], 1):.0f}x |")


if __name__ == "__main__":
    main()

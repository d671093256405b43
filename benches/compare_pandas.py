"""Side by side: `netprophet features` against the same pipeline in pandas.

Both run on the same archive, each in its own process, so wall time and
peak RSS (GNU time, Debian package `time`) are measured the same way. The pandas pipeline is
fixtures/pandas_pipeline.py, the reference the parity fixtures come from.

    python3 -m venv venv && venv/bin/pip install -r fixtures/requirements-core.txt
    cargo build --release -p netprophet-cli -p netprophet-benches
    target/release/gen_atlas atlas-big.ndjson 2100 24     # GENERATED, ~320 MB
    venv/bin/python benches/compare_pandas.py atlas-big.ndjson --mode top

Prints one JSON object per mode and a Markdown table row.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def pandas_job(path, mode, out):
    sys.path.insert(0, os.path.join(ROOT, "fixtures"))
    import pandas_pipeline as pp

    samples = pp.load_samples(path)
    if mode == "top":
        prb = pp.most_active(samples)
        df = pp.probe_features(samples[samples["probe_id"] == prb])
    else:
        df = pp.all_features(samples)
    df.to_csv(out, float_format="%.17g")


def measure(cmd):
    """Wall time and peak RSS (MiB) of one command. GNU time reports the
    RSS of the measured program alone; measuring a child forked from this
    interpreter would count the interpreter's pages too."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    err = proc.stderr.decode()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {err}")
    return elapsed, int(err.strip().splitlines()[-1]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("archive")
    ap.add_argument("--mode", choices=["top", "all"], default="top")
    ap.add_argument("--netprophet", default=os.path.join(ROOT, "target/release/netprophet"))
    ap.add_argument("--pandas-job", nargs=2, metavar=("MODE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pandas_job:
        pandas_job(args.archive, *args.pandas_job)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ours_out = os.path.join(tmp, "ours.csv")
        theirs_out = os.path.join(tmp, "pandas.csv")
        flag = "--top" if args.mode == "top" else "--all"
        ours = measure([args.netprophet, "features", "--input", args.archive, flag, "--labels", "--output", ours_out])
        theirs = measure([sys.executable, __file__, args.archive, "--pandas-job", args.mode, theirs_out])
        rows_ours = sum(1 for _ in open(ours_out)) - 1
        rows_theirs = sum(1 for _ in open(theirs_out)) - 1
    size_mb = os.path.getsize(args.archive) / 1e6
    result = {
        "archive_mb": round(size_mb, 1),
        "mode": args.mode,
        "rows": [rows_ours, rows_theirs],
        "netprophet_s": round(ours[0], 3),
        "netprophet_rss_mb": round(ours[1], 1),
        "pandas_s": round(theirs[0], 3),
        "pandas_rss_mb": round(theirs[1], 1),
        "speedup": round(theirs[0] / ours[0], 1),
        "rss_ratio": round(theirs[1] / ours[1], 1),
    }
    print(json.dumps(result))
    print(
        f"| {size_mb:.0f} MB, --{args.mode} | {ours[0]:.2f} s / {ours[1]:.0f} MB "
        f"| {theirs[0]:.2f} s / {theirs[1]:.0f} MB | {result['speedup']}x faster, "
        f"{result['rss_ratio']}x less memory |"
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Side by side: Python XGBoost and netprophet scoring the same model and rows.

Scores the original production model (fixtures/boost/tournament_model.json,
200 trees of depth 5, 8 features) on the real rows of
fixtures/data/training_data.csv (cycled to 1 000 and 100 000 rows), and
prints a table of times and ratios. Both sides use the same thread count.

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r benches/requirements-compare.txt
    cargo build --release -p netprophet-benches --bin score_timing
    .venv-bench/bin/python benches/compare_xgboost.py [--threads N]
"""

import argparse
import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "fixtures", "boost", "tournament_model.json")
ROWS = os.path.join(ROOT, "fixtures", "data", "training_data.csv")
FEATURES = ["avg_latency", "jitter", "rtt_min", "rtt_max", "packet_count",
            "latency_change_5m", "rolling_mean", "rolling_std"]


def per_call(f, iters):
    f()
    t = time.perf_counter()
    for _ in range(iters):
        f()
    return (time.perf_counter() - t) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    X = pd.read_csv(ROWS, float_precision="round_trip")[FEATURES].to_numpy(np.float64)
    one = X[500:501]
    b1k = np.resize(X, (1_000, 8))
    b100k = np.resize(X, (100_000, 8))

    bst = xgb.Booster(model_file=MODEL)
    bst.set_param({"nthread": args.threads})
    clf = xgb.XGBClassifier(n_jobs=args.threads)
    clf.load_model(MODEL)
    py = {
        "predict_proba, 1 row": per_call(lambda: clf.predict_proba(one), 2000),
        "inplace_predict, 1 row": per_call(lambda: bst.inplace_predict(one), 5000),
        "inplace_predict, 1 000 rows": per_call(lambda: bst.inplace_predict(b1k), 500),
        "inplace_predict, 100 000 rows": per_call(lambda: bst.inplace_predict(b100k), 10),
    }
    exe = os.path.join(ROOT, "target", "release", "score_timing")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    rs = json.loads(subprocess.check_output([exe, MODEL, ROWS], env=env))
    ours = {
        "predict_proba, 1 row": rs["one_row_s"],
        "inplace_predict, 1 row": rs["one_row_s"],
        "inplace_predict, 1 000 rows": rs["batch_1k_s"],
        "inplace_predict, 100 000 rows": rs["batch_100k_s"],
    }
    print(f"XGBoost {xgb.__version__} vs netprophet, {args.threads} thread(s), "
          f"model 200 trees depth 5, real rows\n")
    print(f"| XGBoost call | XGBoost | netprophet | netprophet is |")
    print(f"|---|---|---|---|")
    for k, v in py.items():
        n = ours[k]
        fmt = (lambda s: f"{s * 1e6:.2f} µs") if s_small(v) else (lambda s: f"{s * 1e3:.2f} ms")
        print(f"| {k} | {fmt(v)} | {fmt(n)} | {v / n:.1f}x faster |")


def s_small(v):
    return v < 1e-3


if __name__ == "__main__":
    main()

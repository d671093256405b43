"""Side by side: netprophet's native trainer against XGBoost `hist` on the
same rows, split and parameters (no SMOTE, so both see identical rows).

For each dataset both train on the earliest 80 % of the rows (sorted by
time, then probe) and are scored on the rest. netprophet's model is
scored by XGBoost itself (`xgb.Booster(model_file=...)`), so the quality
numbers also prove that XGBoost reads what netprophet writes, and the
largest difference between the two models' test margins shows they are
the same trees. Training
time, best of 5 (REPEATS=n), XGBoost and netprophet alternating run by run, both with 2 threads (THREADS=n to change) and both including the quantile
binning of the rows: netprophet's own measurement of the fit (`train
--json`, a new process each run), and XGBoost's `xgb.train` wall time on
a new DMatrix each run. XGBoost's time when it reuses the bins a previous
run left in the DMatrix is printed too.

    python3 -m venv venv && venv/bin/pip install -r benches/requirements-compare.txt
    cargo build --release -p netprophet-cli -p netprophet-benches
    target/release/gen_atlas day200.ndjson 200 24          # GENERATED data
    target/release/netprophet features --input day200.ndjson --all --labels --output day200.csv
    venv/bin/python benches/compare_train.py fixtures/data/training_data.csv day200.csv
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import log_loss, roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = ["avg_latency", "jitter", "rtt_min", "rtt_max", "packet_count",
            "latency_change_5m", "rolling_mean", "rolling_std"]
PARAMS = {"n_estimators": 200, "max_depth": 5, "learning_rate": 0.1}
# The binary to time (another build can be compared by its path).
NETPROPHET = os.environ.get("NETPROPHET", os.path.join(ROOT, "target/release/netprophet"))
REPEATS = int(os.environ.get("REPEATS", "5"))
THREADS = int(os.environ.get("THREADS", "2"))


def rows(path):
    d = pd.read_csv(path).dropna(subset=FEATURES + ["target_5m_degraded"])
    d["ts"] = pd.to_datetime(d["timestamp"]).astype("int64")
    if "probe_id" not in d:
        d["probe_id"] = 0
    d = d.sort_values(["ts", "probe_id"], kind="stable")
    n_test = math.ceil(len(d) * 0.2)
    return d.iloc[:-n_test], d.iloc[-n_test:]


def quality(y, p):
    return {"logloss": round(float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15))), 5),
            "auc": round(float(roc_auc_score(y, p)), 5)}


def compare(path):
    train, test = rows(path)
    xs = xgb.DMatrix(test[FEATURES].astype(np.float32), feature_names=FEATURES)
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": PARAMS["max_depth"],
              "eta": PARAMS["learning_rate"], "max_bin": 256, "nthread": THREADS}
    # XGBoost caches its quantile bins in the DMatrix after the first
    # train, while every netprophet run bins its rows afresh. The like-for-
    # like time gives XGBoost a new DMatrix each run (built outside the
    # timer); the cached time, where it reuses one, is reported beside it.
    # The machine these run on is shared: a busy spell can slow every run
    # of one side. So the two sides alternate run by run, and the ratio of
    # each pair (XGBoost's fresh time over netprophet's) is kept as well as
    # each side's best.
    best, best_cached = float("inf"), float("inf")
    ours_s = float("inf")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.json")
        for _ in range(REPEATS):
            fresh = xgb.DMatrix(train[FEATURES].astype(np.float32), label=train["target_5m_degraded"],
                                feature_names=FEATURES)
            t = time.perf_counter()
            booster = xgb.train(params, fresh, num_boost_round=PARAMS["n_estimators"])
            theirs_s = time.perf_counter() - t
            best = min(best, theirs_s)
            t = time.perf_counter()
            xgb.train(params, fresh, num_boost_round=PARAMS["n_estimators"])
            best_cached = min(best_cached, time.perf_counter() - t)
            out = subprocess.check_output([
                NETPROPHET, "train", "--input", path, "--all",
                "--out", model, "--no-smote", "--complete-rows", "--json",
                "--n-estimators", str(PARAMS["n_estimators"]), "--max-depth", str(PARAMS["max_depth"]),
                "--learning-rate", str(PARAMS["learning_rate"])], stderr=subprocess.DEVNULL,
                env=dict(os.environ, RAYON_NUM_THREADS=str(THREADS)))
            summary = json.loads(out)
            ours_s = min(ours_s, summary["train_seconds"])
            ratios.append(theirs_s / summary["train_seconds"])
        theirs = quality(test["target_5m_degraded"], booster.predict(xs))
        assert summary["train_rows"] == len(train), (summary["train_rows"], len(train))
        mine = xgb.Booster(model_file=model)
        ours = quality(test["target_5m_degraded"], mine.predict(xs))
        # Same trees: the two models' margins on the test rows.
        margin_gap = float(np.abs(mine.predict(xs, output_margin=True)
                                  - booster.predict(xs, output_margin=True)).max())
    result = {"data": os.path.basename(path), "train_rows": len(train), "test_rows": len(test),
              "max_margin_difference": margin_gap,
              "xgboost": {**theirs, "train_s": round(best, 4), "train_s_bins_cached": round(best_cached, 4),
                          "version": xgb.__version__},
              "netprophet": {**ours, "train_s": round(ours_s, 4)},
              "pair_ratios": sorted(round(r, 3) for r in ratios)}
    print(json.dumps(result))
    print(f"| {os.path.basename(path)} ({len(train)} train rows) | {theirs['logloss']} / {theirs['auc']} / {best:.3f} s "
          f"({best_cached:.3f} s with cached bins) | {ours['logloss']} / {ours['auc']} / {ours_s:.3f} s "
          f"| {margin_gap:.1e} |")
    print(f"XGBoost's time over netprophet's, pair by pair: median {sorted(ratios)[len(ratios) // 2]:.2f}x, "
          f"range {min(ratios):.2f}x-{max(ratios):.2f}x")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        compare(p)

"""Side by side: netprophet's SMOTE against imbalanced-learn's on the same
GENERATED rows (8 features, 1 % minority, built from an integer hash in
both languages: see `smote_rows` in benches/lib.rs).

    python3 -m venv venv && venv/bin/pip install -r fixtures/requirements-core.txt
    cargo build --release -p netprophet-benches
    venv/bin/python benches/compare_smote.py 1000000
    venv/bin/python benches/compare_smote.py real     # the 947 real rows
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
from imblearn.over_sampling import SMOTE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(n):
    i = np.arange(n, dtype=np.uint64)[:, None]
    d = np.arange(8, dtype=np.uint64)[None, :]
    h = (i * np.uint64(2654435761) + d * np.uint64(40503)) % np.uint64(1000003)
    y = (np.arange(n) % 100 == 0).astype(np.int64)
    return h.astype(np.float64) / 1000.0 + y[:, None] * 5.0, y


def real_rows():
    import pandas as pd

    cols = ["avg_latency", "jitter", "rtt_min", "rtt_max", "packet_count",
            "latency_change_5m", "rolling_mean", "rolling_std"]
    d = pd.read_csv(os.path.join(ROOT, "fixtures", "data", "training_data.csv")).dropna()
    return d[cols].to_numpy(), d["target_5m_degraded"].astype(int).to_numpy()


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "1000000"
    x, y = real_rows() if arg == "real" else rows(int(arg))
    n = len(y)
    best = float("inf")
    for _ in range(50 if n < 100_000 else 3):
        t = time.perf_counter()
        _, yr = SMOTE(k_neighbors=3, random_state=42).fit_resample(x, y)
        best = min(best, time.perf_counter() - t)
    ours = json.loads(subprocess.check_output([os.path.join(ROOT, "target/release/smote_timing"), arg]))
    assert ours["resampled_rows"] == len(yr), (ours, len(yr))
    print(json.dumps({"rows": n, "resampled_rows": len(yr), "imblearn_s": round(best, 4),
                      "netprophet_s": ours["seconds"], "speedup": round(best / ours["seconds"], 1)}))


if __name__ == "__main__":
    main()

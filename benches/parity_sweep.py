"""Random parameter sets, trained side by side: XGBoost `hist` (one thread)
and netprophet's native trainer on the same rows, compared by their
margins on those rows. It checks the trainer against XGBoost on parameter
combinations no fixture holds.

    python3 -m venv venv && venv/bin/pip install -r fixtures/requirements-xgb3.txt
    cargo build --release -p netprophet-benches --bin train_margins
    venv/bin/python benches/parity_sweep.py [CASES] [SEED] [ROWS.csv ...]

Rows: the real rows of `fixtures/data/training_data.csv` (binary target
and, for reg:squarederror, the latency five minutes later), plus any CSV
given in the `training_data.csv` layout (e.g. `netprophet features` of
real RTT traces). Each case may add columns (noisy copies, mostly missing
copies, small integers, a nearly constant one), weigh the rows (zero
weights included) and set base_score. Prints one line per case and the
worst relative margin difference; exits 1 when a case differs by more
than 1e-5.
"""

import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = ["avg_latency", "jitter", "rtt_min", "rtt_max", "packet_count",
            "latency_change_5m", "rolling_mean", "rolling_std"]
TOOL = os.path.join(ROOT, "target", "release", "train_margins")


def datasets(extra):
    out = []
    for path in [os.path.join(ROOT, "fixtures", "data", "training_data.csv")] + extra:
        df = pd.read_csv(path, float_precision="round_trip")
        df = df[df["target_5m_degraded"].notna()]
        x = df[FEATURES].to_numpy(dtype=np.float64).astype(np.float32)
        y = df["target_5m_degraded"].to_numpy(dtype=np.float32)
        out.append((os.path.basename(path), x, y))
    return out


def random_params(rng, n_features):
    p = {"objective": rng.choice(["binary:logistic"] * 3 + ["reg:squarederror"]),
         "max_depth": rng.choice([1, 2, 3, 4, 5, 6, 8]),
         "eta": rng.choice([0.05, 0.1, 0.3, 0.5, 1.0]),
         "rounds": rng.choice([5, 20, 50, 80]),
         "min_child_weight": rng.choice([0, 0.1, 1, 1, 3, 10]),
         "lambda": rng.choice([0, 0.5, 1, 1, 3]),
         "gamma": rng.choice([0, 0, 0.1, 0.2, 0.5, 1.0, 3.0]),
         "max_bin": rng.choice([8, 16, 32, 64, 256, 256, 1024]),
         "alpha": rng.choice([0, 0, 0, 0.1, 1.0]),
         "max_delta_step": rng.choice([0, 0, 0, 0.5, 2.0]),
         "scale_pos_weight": rng.choice([1, 1, 1, 3, 10])}
    if p["lambda"] == 0 and p["min_child_weight"] == 0:
        p["lambda"] = 1
    if rng.random() < 0.25:
        p["grow_policy"] = "lossguide"
        p["max_leaves"] = rng.choice([4, 8, 16, 31])
        p["max_depth"] = rng.choice([0, 0, 4, 8])
    elif rng.random() < 0.15:
        p["max_leaves"] = rng.choice([3, 7, 12])
    if rng.random() < 0.25:
        p["monotone_constraints"] = [rng.choice([-1, 0, 0, 1]) for _ in range(n_features)]
    return p


def xgb_params(p):
    out = {"tree_method": "hist", "nthread": 1, "seed": 0, "objective": p["objective"]}
    for k in ("max_depth", "eta", "min_child_weight", "lambda", "gamma", "max_bin", "alpha",
              "max_delta_step", "grow_policy", "max_leaves"):
        if k in p:
            out[k] = p[k]
    if p["objective"] == "binary:logistic":
        out["scale_pos_weight"] = p["scale_pos_weight"]
    if "monotone_constraints" in p:
        out["monotone_constraints"] = "(" + ",".join(map(str, p["monotone_constraints"])) + ")"
    return out


def ours_params(p):
    out = {"objective": "BinaryLogistic" if p["objective"] == "binary:logistic" else "SquaredError",
           "n_estimators": p["rounds"], "max_depth": p["max_depth"], "learning_rate": p["eta"],
           "min_child_weight": p["min_child_weight"], "lambda": p["lambda"], "gamma": p["gamma"],
           "max_bin": p["max_bin"], "alpha": p["alpha"], "max_delta_step": p["max_delta_step"]}
    if p["objective"] == "binary:logistic":
        out["scale_pos_weight"] = p["scale_pos_weight"]
    if "grow_policy" in p:
        out["grow_policy"] = "LossGuide"
    if "max_leaves" in p:
        out["max_leaves"] = p["max_leaves"]
    if "monotone_constraints" in p:
        out["monotone_constraints"] = p["monotone_constraints"]
    return out


def widen(rng, nrng, x):
    """Adds 0, 3 or 12 columns: noisy copies, copies mostly missing, small
    integers, a nearly constant column (wider rows, other bin layouts)."""
    extra = rng.choice([0, 0, 3, 12])
    n = len(x)
    adds = []
    for k in range(extra):
        kind = rng.choice(["noise", "missing", "int", "const"])
        if kind == "noise":
            c = x[:, k % 8] + nrng.normal(0, 1, n)
        elif kind == "missing":
            c = x[:, k % 8].copy()
            c[nrng.random(n) < 0.7] = np.nan
        elif kind == "int":
            c = nrng.integers(0, 5, n)
        else:
            c = np.full(n, 2.5)
            c[nrng.random(n) < 0.01] = 7.0
        adds.append(np.asarray(c, dtype=np.float32))
    cols = FEATURES + [f"extra{k}" for k in range(extra)]
    return np.column_stack([x] + adds).astype(np.float32), cols


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    data = datasets(sys.argv[3:])
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    worst_all = 0.0
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(cases):
            name, x, y = rng.choice(data)
            x, cols = widen(rng, nrng, x)
            p = random_params(rng, x.shape[1])
            regression = p["objective"] == "reg:squarederror"
            label = y
            if regression:
                # The latency five rows later (the last rows repeat the final value).
                idx = np.minimum(np.arange(len(y)) + 5, len(y) - 1)
                label = np.nan_to_num(x[idx, 0], nan=0.0)
            # Half the cases weigh rows (zero weights included); some set
            # base_score.
            weight = None
            if rng.random() < 0.5:
                weight = nrng.choice([0.0, 0.5, 1.0, 2.0, 3.7], len(y)).astype(np.float32)
            theirs_p, ours_p = xgb_params(p), ours_params(p)
            if rng.random() < 0.4:
                base = rng.choice([0.0, 10.0, 55.5] if regression else [0.2, 0.5, 0.8])
                theirs_p["base_score"] = ours_p["base_score"] = base
            booster = xgb.train(theirs_p,
                                xgb.DMatrix(x, label=label, weight=weight, missing=np.nan),
                                num_boost_round=p["rounds"])
            theirs = booster.predict(xgb.DMatrix(x, missing=np.nan), output_margin=True)
            path = os.path.join(tmp, "rows.csv")
            df = pd.DataFrame(x, columns=cols)
            df["label"] = label
            if weight is not None:
                df["weight"] = weight
            df.to_csv(path, index=False, float_format="%.9g", na_rep="")
            with open(os.path.join(tmp, "p.json"), "w") as f:
                json.dump(ours_p, f)
            out = os.path.join(tmp, "m.txt")
            r = subprocess.run([TOOL, path, os.path.join(tmp, "p.json"), out],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"case {case}: netprophet failed: {r.stderr.strip()} {p}")
                failed += 1
                continue
            ours = np.loadtxt(out, dtype=np.float32)
            rel = float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1.0)))
            worst_all = max(worst_all, rel)
            flag = "" if rel <= 1e-5 else "  <-- DIFFERS"
            if rel > 1e-5:
                failed += 1
            spread = len(np.unique(theirs))
            shape = f"{x.shape[1]} cols, {'weighted' if weight is not None else 'unweighted'}"
            base = theirs_p.get("base_score")
            print(f"case {case:3d} {name:20s} {rel:9.2e} ({spread} distinct margins; {shape}; "
                  f"base_score {base}) {json.dumps(p)}{flag}", flush=True)
    print(f"{cases} cases, {failed} differ by more than 1e-5; worst {worst_all:.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Past one machine, end to end: sharded `netprophet features` into one
partitioned Parquet table, XGBoost's own distributed trainer on Dask
(`xgboost.dask`), and the model it saves served by `netprophet predict`
with XGBoost's predictions.

    python3 -m venv venv && venv/bin/pip install -r benches/requirements-scale.txt
    cargo build --release -p netprophet-cli
    venv/bin/python benches/scale_dask.py                  # local: 2 workers
    venv/bin/python benches/scale_dask.py --scheduler tcp://10.0.0.5:8786 \
        --table /shared/fs/msm1001 --skip-features            # a real cluster

Steps:
1. `netprophet features --shard K/N --partition` once per shard (here one
   after the other; on N machines, one each), all into one hive-style
   directory `day=YYYY-MM-DD/probes=A-B/part-K-of-N.parquet`.
2. `dask.dataframe.read_parquet` of that directory; the model's columns
   are the table's own `netprophet.feature_names` metadata, the label
   `target_5m_degraded` (rows without one dropped).
3. `xgboost.dask.train` (hist) on a `LocalCluster` of 2 workers, or on the
   cluster at `--scheduler` (its workers must reach `--table`: a shared
   file system, or an `s3://` URL with s3fs installed on them).
4. The booster saved as JSON (feature names inside), XGBoost's predictions
   on every row of the table against `netprophet predict --model` on the
   same directory: the largest absolute difference.

Prints one JSON object. The traces default to `../shared/data/rtt-traces`
(relative to the repository root), 35 real RIPE Atlas probes.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:2])} failed: {proc.stderr.decode().strip()}")
    return proc.stdout, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traces", default=os.path.join(ROOT, "..", "shared", "data", "rtt-traces"),
                    help="folder of RTT traces (probes/*.csv) or Atlas archives")
    ap.add_argument("--netprophet", default=os.path.join(ROOT, "target", "release", "netprophet"))
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    ap.add_argument("--shards", type=int, default=2, help="feature shards (machines)")
    ap.add_argument("--table", help="where the Parquet table goes (default: a temporary folder)")
    ap.add_argument("--skip-features", action="store_true", help="the table at --table is already there")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--feature-set", default="relative+recent")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="np-scale-")
    table = args.table or os.path.join(work, "table")
    report = {}
    try:
        inputs = sorted(glob.glob(os.path.join(args.traces, "probes", "*.csv"))) or sorted(
            glob.glob(os.path.join(args.traces, "*")))
        if not args.skip_features:
            if not inputs:
                raise SystemExit(f"no input under {args.traces}")
            times = []
            for k in range(args.shards):
                _, t = run([args.netprophet, "features", "--input", *inputs, "--labels",
                            "--feature-set", args.feature_set, "--shard", f"{k}/{args.shards}",
                            "--partition", "--output", table])
                times.append(round(t, 2))
            report["features_seconds_per_shard"] = times

        import dask.dataframe as dd
        import xgboost as xgb
        import xgboost.dask  # noqa: F401  (the distributed estimator)
        from dask.distributed import Client, LocalCluster

        first = sorted(glob.glob(os.path.join(table, "**", "*.parquet"), recursive=True))[0]
        meta = pq.read_schema(first).metadata
        names = meta[b"netprophet.feature_names"].decode().split(",")
        cluster = None
        if args.scheduler:
            client = Client(args.scheduler)
        else:
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        with client:
            start = time.perf_counter()
            df = dd.read_parquet(table, columns=names + ["target_5m_degraded"])
            # Persisted before X and y are cut from it, so both keep the same
            # partitions (dask's optimiser may otherwise merge the small files'
            # partitions differently for each).
            df = df.dropna(subset=["target_5m_degraded"]).persist()
            X = df[names].astype("float32")
            y = df["target_5m_degraded"].astype("int8")
            dtrain = xgb.dask.DaskDMatrix(client, X, y, feature_names=names)
            params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6,
                      "eta": 0.1, "max_bin": 256, "eval_metric": "logloss"}
            out = xgb.dask.train(client, params, dtrain, num_boost_round=args.rounds)
            booster = out["booster"]
            report["train_rows"] = int(y.shape[0].compute())
            report["train_seconds"] = round(time.perf_counter() - start, 2)
            report["workers"] = len(client.scheduler_info()["workers"])
        if cluster is not None:
            cluster.close()
        model = os.path.join(work, "model.json")
        booster.save_model(model)
        report["features"] = names

        # Parity on every row of the table: netprophet reads a directory's
        # files in path order (component by component), and so does this.
        files = sorted(glob.glob(os.path.join(table, "**", "*.parquet"), recursive=True),
                       key=lambda p: os.path.relpath(p, table).split(os.sep))
        theirs = np.concatenate([
            booster.inplace_predict(pq.read_table(f, columns=names).to_pandas().astype("float32").to_numpy())
            for f in files])
        stdout, t = run([args.netprophet, "predict", "--model", model, "--input", table])
        ours = np.array([float(v) for v in stdout.decode().split()[1:]])
        report["parity_rows"] = len(ours)
        report["parity_max_abs_diff"] = float(np.max(np.abs(ours - theirs))) if len(ours) else None
        report["predict_seconds"] = round(t, 2)
        if len(ours) != len(theirs) or report["parity_max_abs_diff"] > 1e-6:
            print(json.dumps(report))
            raise SystemExit("netprophet and XGBoost disagree")
        print(json.dumps(report))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

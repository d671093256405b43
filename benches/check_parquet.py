"""Reads a Parquet feature table with pandas/pyarrow and checks it holds
the values of the feature CSV of the same run, cell for cell.

    python3 -m venv venv && venv/bin/pip install -r benches/requirements-scale.txt
    netprophet features --input ../shared/data/rtt-traces/probes/*.csv --all --labels \
        --feature-set relative --output t.csv
    netprophet features --input ../shared/data/rtt-traces/probes/*.csv --all --labels \
        --feature-set relative --output t.parquet            # or --partition --output t/
    venv/bin/python benches/check_parquet.py t.csv t.parquet

A missing value is an empty CSV cell and a Parquet null; pandas reads
both as NaN. Floats must be equal exactly (the CSV holds the shortest
text that round-trips the same f64). Prints the table's schema and one
JSON line; exits 1 on any difference.
"""

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", help="feature CSV written by `netprophet features`")
    ap.add_argument("parquet", help="Parquet file or partitioned directory of the same run")
    args = ap.parse_args()

    start = time.perf_counter()
    # round_trip: the default fast parser can be one ulp off.
    theirs = pd.read_csv(args.csv, float_precision="round_trip")
    # A directory is read as one dataset; hive partition keys (day, probes)
    # become columns of their own and are not compared.
    dataset = ds.dataset(args.parquet, format="parquet", partitioning="hive")
    ours = dataset.to_table().to_pandas()
    read_s = time.perf_counter() - start
    first = dataset.files[0]
    meta = pq.read_schema(first).metadata or {}
    names = meta.get(b"netprophet.feature_names", b"").decode()
    print(pq.read_schema(first), file=sys.stderr)

    key = ["probe_id", "timestamp"]
    theirs["timestamp"] = pd.to_datetime(theirs["timestamp"], utc=True)
    if "probe_id" not in theirs:
        theirs["probe_id"] = ours["probe_id"].iloc[0]
    ours = ours.sort_values(key).reset_index(drop=True)
    theirs = theirs.sort_values(key).reset_index(drop=True)
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} Parquet rows, {len(theirs)} CSV rows")
    compared = 0
    missing = 0
    for col in theirs.columns:
        if col not in ours:
            problems.append(f"no column {col} in the Parquet table")
            continue
        a, b = ours[col], theirs[col]
        if col == "timestamp":
            same = (a.dt.tz_convert("UTC").values == b.values).all()
        else:
            x = a.astype("float64").to_numpy()
            y = b.astype("float64").to_numpy()
            nan_x, nan_y = np.isnan(x), np.isnan(y)
            missing += int(nan_y.sum())
            same = (nan_x == nan_y).all() and (x[~nan_x] == y[~nan_y]).all()
        compared += len(b)
        if not same:
            problems.append(f"column {col} differs")
    print(
        json.dumps(
            {
                "rows": len(ours),
                "columns": len(theirs.columns),
                "cells_compared": compared,
                "missing_cells": missing,
                "files": len(dataset.files),
                "read_seconds": round(read_s, 2),
                "feature_names": names.split(",") if names else [],
                "equal": not problems,
                "problems": problems,
            }
        )
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

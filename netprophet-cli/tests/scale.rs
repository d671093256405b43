//! Working past one machine from the command line: probe shards whose
//! union is one run, Parquet tables (files and partitioned directories)
//! that train and predict as the CSV does, and damaged tables refused.

mod common;

use std::path::Path;

use common::{fixtures, netprophet, s, stderr, tmp};
use netprophet_core::parquet::{parquet_files, read_columns};

fn archive() -> std::path::PathBuf {
    fixtures().join("core/generated_24h.ndjson.gz")
}

fn features(output: &Path, extra: &[&str]) {
    let archive = archive();
    let mut args = vec![
        "features",
        "--input",
        s(&archive),
        "--labels",
        "--feature-set",
        "relative+recent",
        "--output",
        s(output),
    ];
    args.extend_from_slice(extra);
    let out = netprophet(&args);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Every row of a table (file or directory) as bit patterns, sorted by
/// probe and minute.
fn table_rows(path: &Path) -> (Vec<String>, Vec<Vec<u64>>) {
    let names = netprophet_core::parquet::column_names(path).unwrap();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    for file in parquet_files(path).unwrap() {
        let cols = read_columns(&file, &wanted).unwrap();
        let cols: Vec<Vec<f64>> = cols.into_iter().map(Option::unwrap).collect();
        for i in 0..cols[0].len() {
            rows.push(cols.iter().map(|c| c[i].to_bits()).collect::<Vec<u64>>());
        }
    }
    let probe = names.iter().position(|n| n == "probe_id").unwrap();
    rows.sort_by(|a, b| {
        f64::from_bits(a[probe])
            .total_cmp(&f64::from_bits(b[probe]))
            .then(f64::from_bits(a[0]).total_cmp(&f64::from_bits(b[0])))
    });
    (names, rows)
}

#[test]
fn the_union_of_shards_is_one_run() {
    let whole = tmp("whole.parquet");
    features(&whole, &["--all"]);
    let (names, all_rows) = table_rows(&whole);
    assert!(all_rows.len() > 5000, "{}", all_rows.len());

    // Three shards, each its own file, and all three into one partitioned
    // directory (each shard's files named for it).
    let dir = tmp("shards");
    let _ = std::fs::remove_dir_all(&dir);
    let mut union = Vec::new();
    let mut probes_seen = Vec::new();
    for k in 0..3 {
        let spec = format!("{k}/3");
        let file = tmp(&format!("shard-{k}.parquet"));
        features(&file, &["--shard", &spec]);
        let (shard_names, rows) = table_rows(&file);
        assert_eq!(shard_names, names);
        let probe = names.iter().position(|n| n == "probe_id").unwrap();
        for r in &rows {
            let id = f64::from_bits(r[probe]) as u64;
            assert_eq!(id % 3, k, "probe {id} in shard {spec}");
            probes_seen.push(id);
        }
        union.extend(rows);
        features(&dir, &["--shard", &spec, "--partition"]);
    }
    probes_seen.sort_unstable();
    probes_seen.dedup();
    assert!(probes_seen.len() >= 3, "{probes_seen:?}");
    let probe = names.iter().position(|n| n == "probe_id").unwrap();
    union.sort_by(|a, b| {
        f64::from_bits(a[probe])
            .total_cmp(&f64::from_bits(b[probe]))
            .then(f64::from_bits(a[0]).total_cmp(&f64::from_bits(b[0])))
    });
    assert!(union == all_rows, "the shards' rows differ from one run's");
    let files = parquet_files(&dir).unwrap();
    assert!(files.iter().all(|f| {
        let f = f.to_string_lossy();
        f.contains("day=2026-02-") && f.contains("probes=6000-6999") && f.contains("-of-3.parquet")
    }));
    let (_, partitioned) = table_rows(&dir);
    assert!(
        partitioned == all_rows,
        "the partitioned shards differ from one run"
    );

    // The CSV of one run is the shards' CSVs, line for line.
    let csv = tmp("whole.csv");
    features(&csv, &["--all"]);
    let mut whole_lines: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut shard_lines = vec![whole_lines[0].clone()];
    for k in 0..3 {
        let file = tmp(&format!("shard-{k}.csv"));
        features(&file, &["--shard", &format!("{k}/3")]);
        let text = std::fs::read_to_string(&file).unwrap();
        shard_lines.extend(text.lines().skip(1).map(String::from));
    }
    whole_lines.sort();
    shard_lines.sort();
    assert_eq!(whole_lines, shard_lines);

    let archive = archive();
    let bad = netprophet(&[
        "features",
        "--input",
        s(&archive),
        "--output",
        s(&csv),
        "--shard",
        "3/3",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("is not K/N"), "{}", stderr(&bad));
}

#[test]
fn parquet_trains_and_predicts_as_the_csv_does() {
    let (csv, parquet) = (tmp("train.csv"), tmp("train.parquet"));
    features(&csv, &["--all"]);
    features(&parquet, &["--all"]);
    let dir = tmp("train-dir");
    let _ = std::fs::remove_dir_all(&dir);
    features(&dir, &["--all", "--partition", "--partition-probes", "2"]);
    assert!(parquet_files(&dir).unwrap().len() >= 3);
    let mut models = Vec::new();
    for (input, name) in [
        (&csv, "m-csv.json"),
        (&parquet, "m-pq.json"),
        (&dir, "m-dir.json"),
    ] {
        let model = tmp(name);
        let out = netprophet(&[
            "train",
            "--input",
            s(input),
            "--feature-set",
            "relative",
            "--out",
            s(&model),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
        models.push((model, json["learner"]["gradient_booster"].clone()));
    }
    assert!(
        models[0].1 == models[1].1,
        "Parquet file trains other trees"
    );
    assert!(
        models[0].1 == models[2].1,
        "partitioned directory trains other trees"
    );

    // The model's features are columns of both tables: the same scores.
    let predict = |input: &Path| {
        let out = netprophet(&["predict", "--model", s(&models[0].0), "--input", s(input)]);
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let from_csv = predict(&csv);
    assert!(from_csv.len() > 5000);
    assert_eq!(from_csv, predict(&parquet));

    let evaluate = |input: &Path| {
        let out = netprophet(&[
            "evaluate",
            "--input",
            s(input),
            "--feature-set",
            "relative",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        strip_paths(&mut v);
        v
    };
    assert_eq!(evaluate(&csv), evaluate(&dir));
}

/// Drops every string that names an input, so two reports of the same
/// rows from different files compare equal.
fn strip_paths(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(t)
            if t.contains(std::path::MAIN_SEPARATOR) || t.contains("train") =>
        {
            t.clear();
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_paths),
        serde_json::Value::Object(o) => o.values_mut().for_each(strip_paths),
        _ => {}
    }
}

#[test]
fn a_damaged_table_is_one_line_naming_it() {
    let good = tmp("good.parquet");
    features(&good, &["--all"]);
    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() - 40;
    flipped[at] ^= 0xff;
    let flip = tmp("flip.parquet");
    std::fs::write(&flip, &flipped).unwrap();
    for path in [&cut, &flip] {
        for cmd in ["train", "predict"] {
            let out = if cmd == "train" {
                netprophet(&["train", "--input", s(path), "--out", s(&tmp("never.json"))])
            } else {
                let model = fixtures().join("tournament_model.json");
                netprophet(&["predict", "--model", s(&model), "--input", s(path)])
            };
            assert!(!out.status.success());
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
            assert!(err.contains(s(path)), "{cmd}: {err}");
            assert!(!err.contains("panicked"), "{cmd}: {err}");
        }
    }
}

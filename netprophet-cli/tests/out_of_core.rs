//! `train --out-of-core` keeps the rows on disk and trains the model the
//! in-memory trainer trains, byte for byte, from traces and from Parquet;
//! what it cannot do is refused in one line, and it leaves nothing behind.

mod common;

use std::path::PathBuf;

use common::{fixtures, netprophet, s, stderr, tmp};

fn traces() -> Vec<PathBuf> {
    ["11323", "13746", "15018", "17783"]
        .iter()
        .map(|p| fixtures().join(format!("data/rtt-traces/{p}.csv")))
        .collect()
}

/// Trains with `args` in memory and out of core; returns both models'
/// bytes and the two summaries without timings and paths.
fn both(name: &str, input: &[PathBuf], args: &[&str]) -> (Vec<u8>, Vec<u8>, String, String) {
    let run = |ooc: bool| {
        let dir = tmp(&format!("ooc-{name}-{ooc}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("model.json");
        let mut a = vec!["train", "--input"];
        a.extend(input.iter().map(|p| s(p)));
        a.extend_from_slice(&["--all", "--no-smote", "--n-estimators", "25", "--json"]);
        a.extend_from_slice(args);
        a.extend_from_slice(&["--out", s(&out)]);
        if ooc {
            a.push("--out-of-core");
        }
        let o = netprophet(&a);
        assert!(o.status.success(), "{name} {ooc}: {}", stderr(&o));
        // The temporary rows file is gone: only the model is left.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["model.json"], "{name} {ooc}");
        let mut summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let m = summary.as_object_mut().unwrap();
        m.remove("train_seconds");
        m.remove("model");
        (std::fs::read(&out).unwrap(), summary.to_string())
    };
    let (a, sa) = run(false);
    let (b, sb) = run(true);
    (a, b, sa, sb)
}

#[test]
fn out_of_core_trains_the_in_memory_model_byte_for_byte() {
    let cases: [(&str, &[&str]); 6] = [
        ("chrono", &[]),
        ("all-rows", &["--all-rows", "--negatives", "0.3"]),
        (
            "early",
            &["--early-stopping-rounds", "3", "--subsample", "0.8"],
        ),
        (
            "calibrated",
            &[
                "--calibrate",
                "--target",
                "sustained",
                "--feature-set",
                "relative+recent",
            ],
        ),
        (
            "calibrated-early",
            &[
                "--calibrate",
                "--early-stopping-rounds",
                "3",
                "--negatives",
                "0.5",
            ],
        ),
        (
            "complete",
            &["--complete-rows", "--feature-set", "relative"],
        ),
    ];
    for (name, args) in cases {
        let (a, b, sa, sb) = both(name, &traces(), args);
        assert!(a == b, "{name}: the models differ");
        assert_eq!(sa, sb, "{name}: the summaries differ");
        assert!(
            sa.contains("\"test\":{") || sa.contains("\"test\":null"),
            "{sa}"
        );
    }
}

#[test]
fn out_of_core_reads_parquet_and_csv_as_memory_does() {
    let t = traces();
    // A Parquet table and a feature CSV are both read a probe at a time.
    for kind in ["parquet", "csv"] {
        let table = tmp(&format!("ooc-table.{kind}"));
        let mut a = vec!["features", "--input"];
        a.extend(t.iter().map(|p| s(p)));
        a.extend_from_slice(&["--all", "--labels", "--output", s(&table)]);
        let o = netprophet(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        let (a, b, sa, sb) = both(kind, &[table], &["--feature-set", "relative+daily"]);
        assert!(a == b, "the models differ ({kind})");
        assert_eq!(sa, sb, "{kind}");
    }
}

#[test]
fn what_out_of_core_cannot_do_is_one_line_and_nothing_is_clobbered() {
    let dir = tmp("ooc-refused");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("model.json");
    std::fs::write(&out, "the last good model").unwrap();
    let t = traces();
    let trace = s(&t[0]);
    let cases: [(&[&str], &str); 3] = [
        (&[], "--out-of-core trains without SMOTE"),
        (&["--no-smote", "--split", "random"], "not random ones"),
        (
            &["--no-smote", "--spill-dir", "/nonexistent/np-spill"],
            "temporary rows file in /nonexistent/np-spill",
        ),
    ];
    for (extra, want) in cases {
        let mut a = vec!["train", "--input", trace, "--out-of-core", "--out", s(&out)];
        a.extend_from_slice(extra);
        let o = netprophet(&a);
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "the last good model"
        );
    }
    // --spill-dir means nothing without --out-of-core.
    let o = netprophet(&[
        "train",
        "--input",
        trace,
        "--spill-dir",
        "x",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn out_of_core_evaluation_gives_the_in_memory_results() {
    let t = traces();
    let run = |ooc: bool| {
        let dir = tmp(&format!("ooc-eval-{ooc}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = vec!["evaluate", "--input"];
        a.extend(t.iter().map(|p| s(p)));
        a.extend_from_slice(&[
            "--all",
            "--target",
            "sustained",
            "--protocol",
            "chrono,cross-probe",
            "--folds",
            "2",
            "--feature-sets",
            "base,relative+recent",
            "--bootstrap",
            "20",
            "--n-estimators",
            "15",
            "--json",
        ]);
        if ooc {
            a.extend_from_slice(&["--out-of-core", "--spill-dir", s(&dir)]);
        }
        let o = netprophet(&a);
        assert!(o.status.success(), "{ooc}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "a file was left"
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let (memory, disk) = (run(false), run(true));
    assert!(memory.contains("cross-probe") && memory.contains("relative+recent"));
    assert_eq!(memory, disk);

    let mut a = vec![
        "evaluate",
        "--input",
        s(&t[0]),
        "--protocol",
        "random",
        "--out-of-core",
    ];
    let o = netprophet(&a);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("does not run the random protocol"),
        "{}",
        stderr(&o)
    );
    a.truncate(3);
    a.push("--out-of-core");
    let o = netprophet(&a);
    assert_eq!(o.status.code(), Some(2), "--out-of-core needs --protocol");
}

//! `train`, `evaluate` and `tune` end to end on the real training rows and
//! on a generated Atlas archive.

mod common;

use common::{fixtures, netprophet, s, stderr, tmp};
use serde_json::Value;

fn real_csv() -> std::path::PathBuf {
    fixtures().join("data/training_data.csv")
}

#[test]
fn train_writes_a_named_model_and_reports_the_chronological_test() {
    let model = tmp("model.json");
    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--out",
        s(&model),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    // All 952 real minutes have a target; the first five lack a feature
    // (no 5-minute change yet) and stay, with that feature missing.
    assert_eq!(summary["train_rows"], 761);
    assert_eq!(summary["test"]["rows"], 191);
    assert_eq!(
        summary["test"]["positives"], 8,
        "the last 20 % of the real minutes hold 8 events"
    );
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    assert_eq!(forest.num_trees(), 200);
    assert_eq!(forest.feature_names.as_ref().unwrap()[2], "rtt_min");

    // The saved model scores through `predict` with its own names.
    let out = netprophet(&["predict", "--model", s(&model), "--input", s(&real_csv())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 953);
}

/// `fixtures/tournament_model.json` was written by exactly this command.
/// Speed work on the trainer must never change what it learns, so the
/// retrained file is compared byte for byte. Gradients use the platform's
/// `expf`, and the fixture was trained against glibc's.
#[test]
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu")),
    ignore = "the shipped model was trained with glibc's expf"
)]
fn retraining_the_shipped_model_reproduces_it_byte_for_byte() {
    let model = tmp("retrained.json");
    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--all-rows",
        "--complete-rows",
        "--out",
        s(&model),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shipped = std::fs::read(fixtures().join("tournament_model.json")).unwrap();
    assert!(
        std::fs::read(&model).unwrap() == shipped,
        "retraining changed the shipped model"
    );
}

#[test]
fn evaluate_compares_random_and_chronological_splits_with_baselines() {
    let plot = tmp("pr.svg");
    let out = netprophet(&[
        "evaluate",
        "--input",
        s(&real_csv()),
        "--json",
        "--plot",
        s(&plot),
        "--n-estimators",
        "50",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let find = |name: &str, split: &str| {
        rows.iter()
            .find(|r| r["name"].as_str().unwrap().starts_with(name) && r["split"] == split)
            .unwrap_or_else(|| panic!("{name} {split}"))
    };
    assert_eq!(find("recipe", "random")["eval"]["positives"], 10);
    assert_eq!(find("recipe", "chrono")["eval"]["positives"], 8);
    let healthy = find("baseline: always healthy", "chrono");
    assert_eq!(healthy["eval"]["report"]["classes"][1]["f1"], 0.0);
    // PR-AUC of a constant score is the base rate.
    assert_eq!(healthy["eval"]["pr_auc"], healthy["eval"]["base_rate"]);
    find("baseline: persistence", "random");
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn relative_features_beat_the_baselines_on_the_chronological_split() {
    // The honest result on the real rows: recipes on absolute latency
    // levels rank the 8 later events below chance (what they flag is no
    // better than the base rate); recipes on relative features (no
    // latency level) rank them well above the base rate and catch some.
    let out = netprophet(&[
        "evaluate",
        "--input",
        s(&real_csv()),
        "--variants",
        "--json",
        "--n-estimators",
        "50",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let chrono: Vec<&Value> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["split"] == "chrono")
        .collect();
    let caught = |r: &Value| r["eval"]["report"]["confusion"][1][1].as_u64().unwrap();
    let (relative, absolute): (Vec<&Value>, Vec<&Value>) = chrono
        .iter()
        .filter(|r| !r["name"].as_str().unwrap().starts_with("baseline"))
        .partition(|r| r["name"].as_str().unwrap().starts_with("relative"));
    assert_eq!(relative.len(), 3);
    assert_eq!(absolute.len(), 5);
    for r in &absolute {
        let e = &r["eval"];
        assert!(e["roc_auc"].as_f64().unwrap() < 0.5, "{}", r["name"]);
        assert!(
            e["pr_auc"].as_f64().unwrap() < e["base_rate"].as_f64().unwrap(),
            "{}: {e}",
            r["name"]
        );
    }
    for r in &relative {
        let e = &r["eval"];
        assert!(caught(r) >= 3, "{}", r["name"]);
        assert!(
            e["pr_auc"].as_f64().unwrap() > 4.0 * e["base_rate"].as_f64().unwrap(),
            "{}: {e}",
            r["name"]
        );
        assert!(e["roc_auc"].as_f64().unwrap() > 0.65, "{}", r["name"]);
    }
}

#[test]
fn a_relative_model_predicts_from_per_minute_columns() {
    // The real CSV has no z-score or trend columns: predict derives them
    // from its per-minute columns, as train did.
    let model = tmp("relative.json");
    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--feature-set",
        "relative",
        "--no-smote",
        "--scale-pos-weight",
        "19",
        "--n-estimators",
        "30",
        "--out",
        s(&model),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    assert_eq!(
        forest.feature_names.as_deref().unwrap(),
        netprophet_core::features::RELATIVE.map(String::from)
    );
    let out = netprophet(&["predict", "--model", s(&model), "--input", s(&real_csv())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let p: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(p.len(), 952);
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(p.iter().any(|&v| v > 0.5) && p.iter().any(|&v| v < 0.1));
}

#[test]
fn evaluate_a_model_prints_the_table_report_and_importances() {
    let out = netprophet(&[
        "evaluate",
        "--input",
        s(&real_csv()),
        "--model",
        s(&fixtures().join("boost/tournament_model.json")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "| model ",
        "confusion matrix",
        "degraded (1)",
        "feature importance",
        "rolling_std",
        "baseline: persistence",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn tune_writes_the_best_model_and_a_results_table() {
    let model = tmp("best.json");
    let results = tmp("results.csv");
    let out = netprophet(&[
        "tune",
        "--input",
        s(&real_csv()),
        "--out",
        s(&model),
        "--results",
        s(&results),
        "--learning-rates",
        "0.1,0.3",
        "--max-depths",
        "3",
        "--tree-counts",
        "50",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = std::fs::read_to_string(&results).unwrap();
    assert_eq!(table.lines().count(), 1 + 2 * 2, "2 rates x 2 balancings");
    assert!(netprophet_boost::Forest::load(&model).is_ok());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("held-out test (last 191 rows, 8 degraded)"));
}

#[test]
fn tune_refuses_the_flags_its_grid_sets_instead_of_ignoring_them() {
    // These used to be accepted and overridden by the grid: `--no-smote`
    // even turned the grid's smote points into unbalanced fits.
    let model = tmp("never.json");
    let _ = std::fs::remove_file(&model);
    let rows = real_csv();
    let base = ["tune", "--input", s(&rows), "--out", s(&model)];
    for (extra, needles) in [
        (
            &["--n-estimators", "5"][..],
            &["--n-estimators (use --tree-counts)"][..],
        ),
        (
            &["--max-depth", "3", "--learning-rate", "0.2"],
            &[
                "--max-depth (use --max-depths)",
                "--learning-rate (use --learning-rates)",
            ],
        ),
        (
            &["--no-smote"],
            &["--no-smote (use --balancing without smote)"],
        ),
    ] {
        let args = [&base[..], extra].concat();
        let out = netprophet(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: missing {n:?} in {err}");
        }
        assert!(!model.exists());
    }
    // Without smote among the balancings, --no-smote says nothing new.
    let grid = [
        "--no-smote",
        "--balancing",
        "weights,none",
        "--tree-counts",
        "5",
        "--max-depths",
        "2",
        "--learning-rates",
        "0.3",
    ];
    let out = netprophet(&[&base[..], &grid].concat());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn evaluate_model_refuses_training_flags_it_would_ignore() {
    let rows = real_csv();
    let model = fixtures().join("tournament_model.json");
    let base = ["evaluate", "--model", s(&model), "--input", s(&rows)];
    let out = netprophet(&[&base[..], &["--n-estimators", "5", "--no-smote"]].concat());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("training flags would be ignored: --n-estimators, --no-smote"),
        "{err}"
    );
    assert!(netprophet(&base).status.success());
}

/// The row count of `train`'s report, `trained 3 trees on N rows`.
fn trained_rows(out: &std::process::Output) -> usize {
    assert!(out.status.success(), "{}", stderr(out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text.split(" trees on ").nth(1).expect("trained line");
    rest.split(' ').next().unwrap().parse().expect("row count")
}

#[test]
fn probe_selects_the_rows_of_a_feature_table_and_says_when_it_cannot() {
    // --probe used to be ignored for feature tables: every probe's rows
    // were trained on.
    let table = tmp("five_probes.csv");
    let archive = fixtures().join("core/generated_24h.ndjson.gz");
    let out = netprophet(&[
        "features",
        "--input",
        s(&archive),
        "--all",
        "--labels",
        "--output",
        s(&table),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let model = tmp("probe_model.json");
    let base = [
        "train",
        "--input",
        s(&table),
        "--out",
        s(&model),
        "--n-estimators",
        "3",
        "--no-smote",
    ];
    let train = |extra: &[&str]| netprophet(&[&base[..], extra].concat());
    let all = trained_rows(&train(&[]));
    let one = trained_rows(&train(&["--probe", "6001"]));
    let two = trained_rows(&train(&["--probe", "6001", "--probe", "6002"]));
    assert!(0 < one && one < two && two < all, "{one} {two} {all}");
    let out = train(&["--probe", "999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no rows of probe 999"),
        "{}",
        stderr(&out)
    );
    // A table without a probe column cannot be filtered.
    let rows = real_csv();
    let out = netprophet(&[
        "train",
        "--input",
        s(&rows),
        "--out",
        s(&model),
        "--probe",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--probe needs a probe_id column"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn training_from_an_archive_works_end_to_end() {
    let model = tmp("archive-model.json");
    let archive = fixtures().join("core/generated_24h.ndjson.gz");
    let out = netprophet(&[
        "train",
        "--input",
        s(&archive),
        "--all",
        "--feature-set",
        "extended",
        "--out",
        s(&model),
        "--n-estimators",
        "30",
        "--no-smote",
        "--scale-pos-weight",
        "5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    assert_eq!(
        forest.num_feature,
        8 + netprophet_core::features::EXTENDED.len()
    );

    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--out",
        s(&model),
        "--feature-set",
        "huge",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown feature set `huge`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn early_stopping_logs_each_round_and_stores_the_best_as_xgboost_does() {
    let model = tmp("early.json");
    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--out",
        s(&model),
        "--n-estimators",
        "400",
        "--learning-rate",
        "0.3",
        "--early-stopping-rounds",
        "5",
        "--eval-metric",
        "logloss",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The latest 20 % of the 761 training rows evaluate each round.
    assert_eq!(summary["train_rows"], 609);
    assert_eq!(summary["validation_rows"], 152);
    let trees = summary["trees"].as_u64().unwrap() as usize;
    let best = summary["best_iteration"].as_u64().unwrap() as usize;

    // One line a round on standard error, numbered from 0 as XGBoost does.
    let log = stderr(&out);
    let rounds: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("eval-logloss:"))
        .collect();
    assert_eq!(rounds.len(), trees, "{log}");
    for (i, line) in rounds.iter().enumerate() {
        assert!(line.starts_with(&format!("[{i}]\teval-logloss:")), "{line}");
        let v: f64 = line.rsplit(':').next().unwrap().parse().unwrap();
        assert!(v > 0.0 && v.is_finite(), "{line}");
    }
    // Stopped early: every tree is kept, the best round plus the patience.
    assert!(trees < 400, "{trees} trees");
    assert_eq!(trees, best + 5 + 1);

    // Stored as XGBoost stores it: strings among the learner's attributes.
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let attributes = &json["learner"]["attributes"];
    assert_eq!(
        attributes["best_iteration"],
        Value::String(best.to_string())
    );
    assert!(attributes["best_score"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .is_ok());
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    assert_eq!(forest.num_trees(), trees);
    assert_eq!(
        forest.attributes[netprophet_boost::train::BEST_ITERATION],
        best.to_string()
    );
}

#[test]
fn early_stopping_refuses_bad_values_cleanly() {
    let model = tmp("bad-early.json");
    let input = real_csv();
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--input", s(&input), "--out", s(&model)];
        args.extend(extra);
        netprophet(&args)
    };
    for (extra, says) in [
        (&["--early-stopping-rounds", "0"][..], "at least 1"),
        (
            &["--early-stopping-rounds=-3"][..],
            "--early-stopping-rounds",
        ),
        (
            &["--early-stopping-rounds", "many"][..],
            "--early-stopping-rounds",
        ),
        (
            &["--early-stopping-rounds", "5", "--eval-metric", "mse"][..],
            "logloss, auc",
        ),
        (
            &[
                "--early-stopping-rounds",
                "5",
                "--validation-fraction",
                "1.5",
            ][..],
            "--validation-fraction",
        ),
    ] {
        let out = run(extra);
        assert!(!out.status.success(), "{extra:?} was accepted");
        let err = stderr(&out);
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        assert!(!model.exists(), "{extra:?} wrote a model");
    }
}

#[test]
fn calibrated_early_stopping_watches_the_calibration_rows() {
    let model = tmp("early-calibrated.json");
    let out = netprophet(&[
        "train",
        "--input",
        s(&real_csv()),
        "--out",
        s(&model),
        "--calibrate",
        "--n-estimators",
        "400",
        "--learning-rate",
        "0.3",
        "--early-stopping-rounds",
        "5",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trees = summary["trees"].as_u64().unwrap() as usize;
    let best = summary["best_iteration"].as_u64().unwrap() as usize;
    assert_eq!(trees, best + 5 + 1);
    let rounds = stderr(&out)
        .lines()
        .filter(|l| l.contains("eval-logloss:"))
        .count();
    assert_eq!(rounds, trees);
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    assert_eq!(forest.num_trees(), trees);
    assert_eq!(
        forest.attributes[netprophet_boost::train::BEST_ITERATION],
        best.to_string()
    );
    assert!(summary["threshold"].is_number() || summary["threshold"].is_null());
}

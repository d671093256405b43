//! The real RTT traces end to end: every command reads them, missing
//! values stay missing, the evaluation scores every candidate on the same
//! rows, and calibrated models say what they predict.

mod common;

use common::{fixtures, netprophet, s, stderr, tmp};
use serde_json::Value;

fn trace(p: u64) -> String {
    fixtures()
        .join(format!("data/rtt-traces/{p}.csv"))
        .to_str()
        .unwrap()
        .to_string()
}

fn all_traces() -> Vec<String> {
    [17783, 13746, 15018, 11323].map(trace).to_vec()
}

#[test]
fn features_reads_both_published_date_forms_and_writes_any_target() {
    let out_path = tmp("traces.csv");
    let out = netprophet(&[
        "features",
        "--input",
        &trace(11323),
        &trace(17783),
        "--all",
        "--labels",
        "--target",
        "sustained",
        "--feature-set",
        "relative+recent",
        "--output",
        s(&out_path),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&out_path).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    for col in ["zscore", "spikes_1440m", "target_sustained", "probe_id"] {
        assert!(header.contains(&col), "{col} missing from {header:?}");
    }
    let probe = header.iter().position(|h| *h == "probe_id").unwrap();
    let probes: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(probe).unwrap())
        .collect();
    assert_eq!(probes.into_iter().collect::<Vec<_>>(), ["11323", "17783"]);
    // Every 4-minute result fills its minutes: about 4 rows per line.
    let rows = text.lines().count() - 1;
    assert!(rows > 4 * (8000 + 1645) - 200, "{rows} rows");
    assert!(stderr(&out).contains("timeout 97"), "{}", stderr(&out));
}

#[test]
fn a_bad_trace_line_is_one_error_naming_file_and_line() {
    let bad = tmp("4242.csv");
    std::fs::write(
        &bad,
        "epoch;rtt;cp\n2016-10-01 00:03:14;234.7;0\n2016-10-01 00:07:14;fast;0\n",
    )
    .unwrap();
    let out_path = tmp("never.csv");
    let out = netprophet(&["features", "--input", s(&bad), "--output", s(&out_path)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("4242.csv: line 3: rtt \"fast\" is not a number"),
        "{err}"
    );
    assert!(!out_path.exists());
    // A named column that is not there says which columns are.
    let out = netprophet(&[
        "features",
        "--input",
        &trace(17783),
        "--rtt-column",
        "latency_ms",
        "--output",
        s(&out_path),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no RTT column `latency_ms` in the header (columns: epoch;rtt;cp)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_minute_with_one_sample_keeps_its_row() {
    // One ping result per 4 minutes: jitter is never defined, and the
    // original 8 features are never all present. The rows stay.
    let model = tmp("base.json");
    let out = netprophet(&[
        "train",
        "--input",
        &trace(17783),
        "--feature-set",
        "base",
        "--no-smote",
        "--n-estimators",
        "10",
        "--out",
        s(&model),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = summary["train_rows"].as_u64().unwrap() + summary["test"]["rows"].as_u64().unwrap();
    assert!(rows > 6000, "{rows} rows: incomplete rows were dropped");
    // Only asking for complete rows drops them all.
    let out = netprophet(&[
        "train",
        "--input",
        &trace(17783),
        "--complete-rows",
        "--no-smote",
        "--out",
        s(&model),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no row has every feature"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_candidate_is_scored_on_the_same_test_rows() {
    let plots = tmp("plots");
    let mut args = vec!["evaluate".to_string(), "--input".into()];
    args.extend(all_traces());
    args.extend(
        [
            "--all",
            "--target",
            "sustained",
            "--protocol",
            "chrono,cross-probe,random",
            "--folds",
            "2",
            "--bootstrap",
            "40",
            "--feature-sets",
            "relative,relative+recent",
            "--n-estimators",
            "20",
            "--max-depth",
            "3",
            "--json",
            "--plot-dir",
            s(&plots),
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = netprophet(&refs);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["target"]["target"], "sustained");
    let outcomes = report["outcomes"].as_array().unwrap();
    for protocol in ["chrono", "cross-probe", "random"] {
        let of: Vec<&Value> = outcomes
            .iter()
            .filter(|o| o["protocol"] == protocol)
            .collect();
        // 2 models, always healthy, persistence and 4 heuristics.
        assert_eq!(of.len(), 8, "{protocol}");
        for o in &of {
            assert_eq!(o["rows"], of[0]["rows"], "{protocol}: {}", o["candidate"]);
            assert_eq!(
                o["rows_fingerprint"], of[0]["rows_fingerprint"],
                "{protocol}: {}",
                o["candidate"]
            );
            let ece = o["ece"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&ece));
            assert!(
                o["intervals"]["pr_auc"]["low"].as_f64().unwrap()
                    <= o["intervals"]["pr_auc"]["high"].as_f64().unwrap()
            );
        }
        assert_eq!(of[0]["probes"], 4);
        let healthy = of
            .iter()
            .find(|o| o["candidate"] == "baseline: always healthy")
            .unwrap();
        assert_eq!(healthy["warnings"]["caught"], 0);
        let file = plots.join(format!("pr-sustained-{protocol}.svg"));
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("model: relative+recent"));
        assert!(plots
            .join(format!("reliability-sustained-{protocol}.svg"))
            .exists());
    }
    // Cross-probe tests every probe, each by a model that never saw it.
    let cross = outcomes
        .iter()
        .find(|o| o["protocol"] == "cross-probe")
        .unwrap();
    let chrono = outcomes.iter().find(|o| o["protocol"] == "chrono").unwrap();
    assert!(cross["rows"].as_u64().unwrap() > 4 * chrono["rows"].as_u64().unwrap());
}

#[test]
fn a_calibrated_model_carries_its_card_and_predict_applies_it() {
    let model = tmp("calibrated.json");
    let mut args = vec!["train".to_string(), "--input".into()];
    args.extend(all_traces());
    args.extend(
        [
            "--all",
            "--target",
            "sustained",
            "--feature-set",
            "relative+recent",
            "--no-smote",
            "--negatives",
            "0.5",
            "--n-estimators",
            "20",
            "--calibrate",
            "--json",
            "--out",
            s(&model),
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = netprophet(&refs);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["test"]["ece"].as_f64().unwrap() < 0.05);
    assert!(summary["test"]["rows"].as_u64().unwrap() > 0);
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    for key in [
        "netprophet_calibration",
        "netprophet_target",
        "netprophet_feature_config",
        "netprophet_recipe",
        "netprophet_trained_on",
    ] {
        assert!(forest.attributes.contains_key(key), "{key}");
    }
    assert!(forest.attributes["netprophet_target"].contains("\"sustained\""));

    // predict derives the history columns from a feature CSV and prints
    // calibrated probabilities; --raw prints the model's own.
    let csv = tmp("for-predict.csv");
    let out = netprophet(&["features", "--input", &trace(13746), "--output", s(&csv)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = |extra: &[&str]| -> Vec<f64> {
        let mut a = vec!["predict", "--model", s(&model), "--input", s(&csv)];
        a.extend_from_slice(extra);
        let out = netprophet(&a);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.parse().unwrap())
            .collect()
    };
    let calibrated = run(&[]);
    let raw = run(&["--raw"]);
    assert_eq!(calibrated.len(), raw.len());
    assert!(calibrated.iter().all(|p| (0.0..=1.0).contains(p)));
    assert_ne!(calibrated, raw, "the calibration is applied");
    // Calibration is monotone: it keeps the model's ranking.
    let mut pairs: Vec<(f64, f64)> = raw
        .iter()
        .copied()
        .zip(calibrated.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-6));
}

#[test]
fn the_demo_replays_a_trace_with_the_shipped_sustained_model() {
    let cache = tmp("demo-trace.json");
    let out = netprophet(&[
        "demo",
        "--input",
        &trace(11323),
        "--model",
        s(&fixtures().join("sustained_model.json")),
        "--no-serve",
        "--start",
        "2000",
        "--ticks",
        "30",
        "--cache",
        s(&cache),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("predicts a sustained degradation in the next 15 minutes"),
        "{}",
        stderr(&out)
    );
    let c = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    assert!(c.model.calibrated);
    assert!(c.source.contains("11323.csv, probe 11323"), "{}", c.source);
    // The chart has latency even though the model's inputs are relative.
    assert!(c.history.iter().all(|h| h.latency_ms.is_some()));
    assert!((0.0..=1.0).contains(&c.headline().probability));
}

#[test]
fn evaluating_a_model_uses_its_own_target_calibration_and_threshold() {
    let model = fixtures().join("sustained_model.json");
    let out = netprophet(&[
        "evaluate",
        "--model",
        s(&model),
        "--input",
        &trace(13746),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &report["rows"][0];
    let base_rate = first["eval"]["base_rate"].as_f64().unwrap();
    assert!(base_rate > 0.0, "{base_rate}");
    let threshold = first["eval"]["threshold"].as_f64().unwrap();
    assert!(
        (threshold - 0.183).abs() < 0.01,
        "the model's own threshold: {threshold}"
    );
    // The original target labels other minutes, when asked for.
    let out = netprophet(&[
        "evaluate",
        "--model",
        s(&model),
        "--input",
        &trace(13746),
        "--target",
        "original",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(
        report["rows"][0]["eval"]["base_rate"].as_f64().unwrap(),
        base_rate
    );
}

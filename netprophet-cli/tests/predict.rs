//! `netprophet predict` end to end: the real original model on the real
//! training rows, matched by column name, against XGBoost's own scores.

mod common;

use std::path::Path;
use std::process::Output;

use common::{fixtures, netprophet, tmp};

/// `netprophet predict --model MODEL --input INPUT EXTRA...`.
fn predict(model: &Path, input: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ];
    args.extend(extra);
    netprophet(&args)
}

fn column(csv: &str, index: usize) -> Vec<f32> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').nth(index).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn original_model_matches_xgboost_on_real_rows() {
    let model = fixtures().join("boost/tournament_model.json");
    let input = fixtures().join("data/training_data.csv");
    let expected =
        std::fs::read_to_string(fixtures().join("boost/seed_tournament_model/expected_real.csv"))
            .unwrap();
    for (flag, col) in [(None, 1), (Some("--margin"), 0)] {
        let out = predict(&model, &input, flag.as_slice());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = column(&String::from_utf8(out.stdout).unwrap(), 0);
        let want = column(&expected, col);
        assert_eq!(got.len(), 952);
        assert_eq!(got, want, "{flag:?}");
    }
}

#[test]
fn shuffled_columns_give_identical_predictions() {
    // The original system's bug: features in another order. By-name
    // matching makes the column order of the input irrelevant.
    let text = std::fs::read_to_string(fixtures().join("data/training_data.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let order = [11, 5, 4, 3, 2, 1, 8, 7, 6, 0];
    let shuffled: String = rows
        .iter()
        .map(|r| order.iter().map(|&i| r[i]).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let path = tmp("shuffled.csv");
    std::fs::write(&path, shuffled).unwrap();
    let model = fixtures().join("boost/tournament_model.json");
    let a = predict(&model, &fixtures().join("data/training_data.csv"), &[]);
    let b = predict(&model, &path, &[]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn missing_column_is_an_error_naming_it() {
    let path = tmp("missing.csv");
    std::fs::write(&path, "avg_latency,jitter\n1,2\n").unwrap();
    let model = fixtures().join("boost/tournament_model.json");
    let out = predict(&model, &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rtt_min") && err.contains("missing"), "{err}");
}

#[test]
fn named_model_refuses_a_contradicting_schema() {
    let model = fixtures().join("boost/xgb3_named/model.json");
    // The default schema with the first two columns swapped.
    let swapped = "jitter,avg_latency,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std";
    let input = fixtures().join("data/training_data.csv");
    let out = predict(&model, &input, &["--features", swapped]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("contradicts"));
}

#[test]
fn json_output_and_multiclass() {
    let model = fixtures().join("boost/xgb3_multiclass/model.json");
    let out = predict(
        &model,
        &fixtures().join("data/training_data.csv"),
        &["--format", "json"],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 952);
    let sum: f64 = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-5);
}

#[test]
fn bad_cell_and_bad_model_fail_with_one_clear_line() {
    let path = tmp("bad.csv");
    let header = "avg_latency,jitter,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std";
    std::fs::write(&path, format!("{header}\n1,2,3,4,five,6,7,8\n")).unwrap();
    let model = fixtures().join("boost/tournament_model.json");
    let out = predict(&model, &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 2") && err.contains("packet_count"),
        "{err}"
    );

    let bad_model = tmp("bad_model.json");
    std::fs::write(&bad_model, "{\"learner\": {}}").unwrap();
    let out = predict(&bad_model, &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad_model.json") && err.contains("learner_model_param"),
        "{err}"
    );
}

/// The real rows in the model's feature order, parsed as `predict` parses
/// them (an empty cell is missing).
fn model_rows(names: &[String], csv: &str) -> Vec<f32> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).unwrap())
        .collect();
    lines
        .flat_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            at.iter()
                .map(|&i| match cells[i].trim() {
                    "" => f32::NAN,
                    v => v.parse::<f64>().unwrap() as f32,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn contributions_add_up_to_the_margin_and_equal_the_library() {
    let model = fixtures().join("boost/tournament_model.json");
    let input = fixtures().join("data/training_data.csv");
    let out = predict(&model, &input, &["--margin", "--contributions"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let forest = netprophet_boost::Forest::load(&model).unwrap();
    // The original model stores no names: the 8-feature training schema.
    assert!(forest.feature_names.is_none());
    let names: Vec<String> = "avg_latency,jitter,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std"
        .split(',')
        .map(String::from)
        .collect();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let mut want = vec!["margin".to_string()];
    want.extend(names.iter().map(|n| format!("shap_{n}")));
    want.push("shap_bias".into());
    assert_eq!(header, want);

    let rows: Vec<Vec<f32>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 952);
    let text = std::fs::read_to_string(&input).unwrap();
    let data = model_rows(&names, &text);
    let predictor = netprophet_boost::Predictor::new(&forest).unwrap();
    let library = predictor.contributions(&data, names.len()).unwrap();
    let margins = predictor.margins(&data, names.len()).unwrap();
    let w = names.len() + 1;
    for (r, row) in rows.iter().enumerate() {
        // The printed values are the library's, bit for bit.
        assert_eq!(row[0].to_bits(), margins[r].to_bits(), "row {r}");
        for (k, v) in row[1..].iter().enumerate() {
            assert_eq!(v.to_bits(), library[r * w + k].to_bits(), "row {r} col {k}");
        }
        // And they add up to the margin, to float rounding.
        let sum: f64 = row[1..].iter().map(|&v| f64::from(v)).sum();
        let m = f64::from(row[0]);
        assert!(
            (sum - m).abs() <= 1e-5 * m.abs().max(1.0),
            "row {r}: contributions sum to {sum}, margin {m}"
        );
    }

    // Without --margin the probability comes first, the same contributions after.
    let out = predict(&model, &input, &["--contributions", "--format", "json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &json[0];
    assert!(first["prediction"].as_f64().unwrap() > 0.0);
    let c = first["contributions"].as_object().unwrap();
    assert_eq!(c.len(), w);
    assert_eq!(
        c["shap_bias"].as_f64().unwrap() as f32,
        library[w - 1],
        "the bias of row 0"
    );
}

//! Metrics and SMOTE counts against scikit-learn 1.6.1 and
//! imbalanced-learn 0.13.0 (`fixtures/generate_core_fixtures.py`).

use std::path::PathBuf;

use netprophet_core::dataset::Dataset;
use netprophet_core::metrics::{
    average_precision, log_loss, pr_curve, roc_auc, ClassificationReport,
};
use netprophet_core::schema::FEATURE_COLUMNS;
use netprophet_core::smote::Smote;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn cases() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("core/metrics_cases.json")).unwrap())
        .unwrap()
}

fn near(a: f64, b: &Value, what: &str) {
    let b = b.as_f64().unwrap();
    assert!((a - b).abs() <= 1e-12, "{what}: {a} vs {b}");
}

#[test]
fn metrics_match_scikit_learn() {
    let all = cases();
    for (name, c) in all["cases"].as_object().unwrap() {
        let y: Vec<u8> = c["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let s: Vec<f64> = c["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        near(
            roc_auc(&y, &s).unwrap(),
            &c["roc_auc"],
            &format!("{name} roc_auc"),
        );
        near(
            average_precision(&y, &s).unwrap(),
            &c["average_precision"],
            &format!("{name} ap"),
        );
        near(
            log_loss(&y, &s).unwrap(),
            &c["log_loss"],
            &format!("{name} log_loss"),
        );

        let curve = pr_curve(&y, &s).unwrap();
        let want = &c["pr_curve"];
        assert_eq!(
            curve.len(),
            want["thresholds"].as_array().unwrap().len(),
            "{name} curve length"
        );
        for (i, p) in curve.iter().enumerate() {
            near(p.threshold, &want["thresholds"][i], name);
            near(p.precision, &want["precision"][i], name);
            near(p.recall, &want["recall"][i], name);
        }

        let r = ClassificationReport::at_threshold(&y, &s, 0.5).unwrap();
        let rep = &c["report"];
        for (k, class) in ["0", "1"].iter().enumerate() {
            near(r.classes[k].precision, &rep[class]["precision"], name);
            near(r.classes[k].recall, &rep[class]["recall"], name);
            near(r.classes[k].f1, &rep[class]["f1-score"], name);
            assert_eq!(
                r.classes[k].support as f64,
                rep[class]["support"].as_f64().unwrap()
            );
        }
        near(r.accuracy, &rep["accuracy"], name);
        near(r.macro_avg.f1, &rep["macro avg"]["f1-score"], name);
        near(r.weighted_avg.f1, &rep["weighted avg"]["f1-score"], name);
        near(
            r.weighted_avg.precision,
            &rep["weighted avg"]["precision"],
            name,
        );
        let confusion: Vec<Vec<usize>> = serde_json::from_value(c["confusion"].clone()).unwrap();
        assert_eq!(
            r.confusion.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            confusion,
            "{name}"
        );
    }
}

#[test]
fn smote_counts_match_imbalanced_learn_on_the_real_rows() {
    let names: Vec<String> = FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect();
    // imbalanced-learn ran on the complete rows, as the original system did.
    let data = Dataset::read_csv(&fixtures().join("data/training_data.csv"), &names)
        .unwrap()
        .complete_rows();
    let x: Vec<f64> = data.x.iter().map(|&v| f64::from(v)).collect();
    let want = &cases()["smote_real"];
    assert_eq!(data.len() as u64, want["rows"].as_u64().unwrap());
    assert_eq!(data.positives() as u64, want["positives"].as_u64().unwrap());
    for (key, ratio) in [("auto", 1.0), ("0.5", 0.5)] {
        let out = Smote {
            ratio,
            ..Smote::default()
        }
        .resample(&x, data.width(), &data.y)
        .unwrap();
        let w = &want["resampled"][key];
        assert_eq!(out.y.len() as u64, w["rows"].as_u64().unwrap(), "{key}");
        assert_eq!(
            out.y.iter().filter(|&&v| v == 1).count() as u64,
            w["positives"].as_u64().unwrap(),
            "{key}"
        );
    }
}

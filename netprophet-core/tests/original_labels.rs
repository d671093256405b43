//! The original system's `training_data.csv` (952 real minutes of RIPE
//! Atlas msm 1001) holds its per-minute columns and the momentum, rolling
//! and label columns pandas derived from them. Recomputing the derived
//! columns here must reproduce them.

use std::path::PathBuf;

use netprophet_core::features::{FeatureConfig, FeatureFrame};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::time::parse_utc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/data")
        .join(name)
}

struct Original {
    columns: Vec<String>,
    cells: Vec<Vec<String>>,
}

impl Original {
    fn load() -> Original {
        let mut rdr = csv::Reader::from_path(fixture("training_data.csv")).unwrap();
        let columns = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let cells = rdr
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        Original { columns, cells }
    }

    fn column(&self, name: &str) -> Vec<f64> {
        let c = self.columns.iter().position(|h| h == name).unwrap();
        self.cells
            .iter()
            .map(|r| {
                if r[c].is_empty() {
                    f64::NAN
                } else {
                    r[c].parse().unwrap()
                }
            })
            .collect()
    }
}

fn max_error(ours: &[f64], theirs: &[f64], what: &str) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let mut worst = 0f64;
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.is_nan(), b.is_nan(), "{what} row {i}: {a} vs {b}");
        if !a.is_nan() {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

#[test]
fn derived_columns_and_labels_match_the_original_rows() {
    let o = Original::load();
    assert_eq!(o.cells.len(), 952);
    let ts: Vec<i64> = o.cells.iter().map(|r| parse_utc(&r[0]).unwrap()).collect();
    assert!(
        ts.windows(2).all(|w| w[1] - w[0] == 60),
        "one row per minute"
    );
    let frame = FeatureFrame::from_minutes(
        ts,
        o.column("avg_latency"),
        o.column("jitter"),
        o.column("rtt_min"),
        o.column("rtt_max"),
        o.column("packet_count").iter().map(|&c| c as u32).collect(),
        FeatureConfig::default(),
    );
    let labels = label(&frame, LabelConfig::default());

    let mut report = vec![];
    for (name, ours) in [
        ("latency_change_5m", &frame.latency_change_5m),
        ("rolling_mean", &frame.rolling_mean),
        ("rolling_std", &frame.rolling_std),
        ("threshold", &labels.threshold),
    ] {
        let err = max_error(ours, &o.column(name), name);
        report.push(format!("{name} {err:e}"));
        assert!(err <= 1e-9, "{name}: max error {err}");
    }
    let degraded: Vec<f64> = labels
        .is_degraded
        .iter()
        .map(|&d| f64::from(u8::from(d)))
        .collect();
    assert_eq!(
        max_error(&degraded, &o.column("is_degraded"), "is_degraded"),
        0.0
    );
    // The original filled the last five targets, whose future is unknown,
    // with 0; here they are missing and dropped for training.
    let n = labels.target.len();
    assert!(labels.target[n - 5..].iter().all(Option::is_none));
    let target: Vec<f64> = labels.target[..n - 5]
        .iter()
        .map(|t| f64::from(u8::from(t.unwrap())))
        .collect();
    let theirs = o.column("target_5m_degraded");
    assert_eq!(max_error(&target, &theirs[..n - 5], "target"), 0.0);
    assert!(theirs[n - 5..].iter().all(|&t| t == 0.0));
    assert_eq!(labels.positives(), 49);
    eprintln!("max abs error vs the original rows: {}", report.join(", "));
}

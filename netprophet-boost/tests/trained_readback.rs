//! Models trained by netprophet are read back by XGBoost: the committed
//! models in `fixtures/boost/netprophet_*` were written by the native
//! trainer (`train_fixtures`) and scored by XGBoost 3.1.3
//! (`fixtures/score_trained_models.py`). netprophet must score them as
//! XGBoost did, report the same importances, and retraining with the same
//! parameters must give the same model.

use std::fs;

use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_boost::{Forest, Importance, Predictor};

mod common;
use common::{fixtures, real_rows, FEATURES};

/// The 952 real rows and the target column (0 where it is empty).
fn real() -> (Vec<f32>, Vec<f32>) {
    let (x, y) = real_rows();
    (x, y.into_iter().map(|y| y.unwrap_or(0.0)).collect())
}

fn expected(name: &str) -> (Vec<f32>, Vec<f32>) {
    let text = fs::read_to_string(
        fixtures()
            .join("boost")
            .join(name)
            .join("expected_real.csv"),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (m, p) = l.split_once(',').unwrap();
            (m.parse::<f32>().unwrap(), p.parse::<f32>().unwrap())
        })
        .unzip()
}

/// The parameters `benches/bin/train_fixtures.rs` trained `name` with.
fn params(name: &str) -> TrainParams {
    let path = fixtures().join("boost").join(name).join("params.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

const NAMES: [&str; 2] = ["netprophet_binary", "netprophet_squared"];

#[test]
fn xgboost_scores_netprophet_models_as_netprophet_does() {
    let (x, _) = real();
    for name in NAMES {
        let (margins, preds) = expected(name);
        for file in ["model.json", "model.ubj"] {
            let forest = Forest::load(fixtures().join("boost").join(name).join(file)).unwrap();
            assert_eq!(forest.feature_names.as_ref().unwrap()[0], "avg_latency");
            let p = Predictor::new(&forest).unwrap();
            let ours_m = p.margins(&x, 8).unwrap();
            let ours_p = p.predict(&x, 8).unwrap();
            let mut worst = 0f32;
            for i in 0..margins.len() {
                worst = worst
                    .max((ours_m[i] - margins[i]).abs())
                    .max((ours_p[i] - preds[i]).abs());
            }
            assert!(worst <= 1e-6, "{name}/{file}: max error {worst}");
            eprintln!(
                "{name}/{file}: {} rows, max error vs XGBoost {worst:e}",
                margins.len()
            );
        }
    }
}

#[test]
fn importances_match_xgboost() {
    for name in NAMES {
        let dir = fixtures().join("boost").join(name);
        let forest = Forest::load(dir.join("model.json")).unwrap();
        let want: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("importance.json")).unwrap()).unwrap();
        let names = forest.feature_names.clone().unwrap();
        for (key, kind) in [
            ("weight", Importance::Weight),
            ("gain", Importance::Gain),
            ("cover", Importance::Cover),
            ("total_gain", Importance::TotalGain),
            ("total_cover", Importance::TotalCover),
        ] {
            let ours = forest.importance(kind);
            for (f, v) in ours.iter().enumerate() {
                let theirs = want["importance"][key][&names[f]].as_f64().unwrap_or(0.0);
                assert!(
                    (v - theirs).abs() <= 1e-4 * theirs.abs().max(1.0),
                    "{name} {key} {}: {v} vs {theirs}",
                    names[f]
                );
            }
        }
    }
}

#[test]
fn retraining_gives_the_committed_model() {
    let (x, target) = real();
    let n = target.len();
    let future: Vec<f32> = (0..n).map(|i| x[(i + 5).min(n - 1) * 8]).collect();
    let names: Vec<String> = FEATURES.map(String::from).to_vec();
    for (name, y) in [(NAMES[0], &target), (NAMES[1], &future)] {
        let data = TrainData::new(&x, 8, y).with_feature_names(&names);
        let fresh = train(&data, &params(name)).unwrap();
        let committed =
            Forest::load(fixtures().join("boost").join(name).join("model.json")).unwrap();
        let a = Predictor::new(&fresh).unwrap().margins(&x, 8).unwrap();
        let b = Predictor::new(&committed).unwrap().margins(&x, 8).unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "{name}: retrained model differs by {worst}");
    }
}

//! The parameters XGBoost users set, each trained here as XGBoost 3.1.3
//! `hist` trained it (`fixtures/generate_training_cases.py`, one thread):
//! min_split_loss with dozens of trees, combinations of depth, eta,
//! min_child_weight, lambda, max_bin and scale_pos_weight, reg_alpha,
//! max_delta_step, loss-guided growth with max_leaves, monotone
//! constraints, and early stopping on each evaluation metric. The margins
//! on all 952 real rows must agree within 1e-5 (relative, at least 1 in
//! the denominator); early stopping must stop at the same round, log the
//! same scores and record the same best iteration.

use std::fs;

use netprophet_boost::train::{
    train, train_with_eval, TrainData, TrainParams, BEST_ITERATION, BEST_SCORE,
};
use netprophet_boost::Predictor;
use serde_json::Value;

mod common;
use common::{fixtures, labelled, real_rows, FEATURES};

/// Each case's margins, by case name.
fn expected() -> Vec<(String, Vec<f32>)> {
    let text = fs::read_to_string(fixtures().join("boost/training_cases/margins.csv")).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols = vec![Vec::new(); names.len()];
    for line in lines {
        for (c, v) in line.split(',').enumerate() {
            cols[c].push(v.parse::<f32>().unwrap());
        }
    }
    names.into_iter().zip(cols).collect()
}

fn worst(ours: &[f32], theirs: &[f32]) -> f32 {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0f32, f32::max)
}

struct Rows {
    x: Vec<f32>,
    y: Vec<f32>,
}

/// The rows a case trains on, as the fixture script chose them.
fn rows(kind: &str, x_all: &[f32], target: &[Option<f32>]) -> Rows {
    match kind {
        "binary" => {
            let (x, y) = labelled(x_all, target);
            Rows { x, y }
        }
        "regression" => Rows {
            x: x_all.to_vec(),
            y: (0..target.len())
                .map(|r| {
                    let v = x_all[r * 8 + 7];
                    if v.is_nan() {
                        0.0
                    } else {
                        v
                    }
                })
                .collect(),
        },
        other => panic!("unknown rows {other}"),
    }
}

/// The committed parameter cases (`fixtures/boost/training_cases/cases.json`).
fn cases() -> Value {
    serde_json::from_str(
        &fs::read_to_string(fixtures().join("boost/training_cases/cases.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn every_parameter_case_trains_xgboosts_trees() {
    let cases = cases();
    let (x_all, target) = real_rows();
    let margins = expected();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if case.get("eval_log").is_some() {
            continue;
        }
        let params: TrainParams = serde_json::from_value(case["netprophet"].clone()).unwrap();
        let r = rows(case["rows"].as_str().unwrap(), &x_all, &target);
        // Names change nothing but what the model carries.
        let names: Vec<String> = FEATURES.map(String::from).to_vec();
        let forest = train(
            &TrainData::new(&r.x, 8, &r.y).with_feature_names(&names),
            &params,
        )
        .unwrap();
        assert_eq!(forest.feature_names.as_deref(), Some(&names[..]));
        assert_eq!(
            forest.trees.len() as u64,
            case["trees"].as_u64().unwrap(),
            "{name}"
        );
        let ours = Predictor::new(&forest).unwrap().margins(&x_all, 8).unwrap();
        let theirs = &margins.iter().find(|(n, _)| n == name).unwrap().1;
        let w = worst(&ours, theirs);
        eprintln!("{name}: largest margin difference {w:e}");
        assert!(w <= 1e-5, "{name}: margins differ by up to {w}");
        checked += 1;
    }
    assert_eq!(checked, 18);
}

#[test]
fn early_stopping_stops_where_xgboost_stops() {
    let cases = cases();
    let (x_all, target) = real_rows();
    let margins = expected();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let Some(log) = case.get("eval_log") else {
            continue;
        };
        let name = case["name"].as_str().unwrap();
        let params: TrainParams = serde_json::from_value(case["netprophet"].clone()).unwrap();
        let r = rows(case["rows"].as_str().unwrap(), &x_all, &target);
        // Every third row evaluates, the others train.
        let (mut tx, mut ty, mut ex, mut ey) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, &y) in r.y.iter().enumerate() {
            let row = &r.x[i * 8..(i + 1) * 8];
            if i % 3 == 2 {
                ex.extend_from_slice(row);
                ey.push(y);
            } else {
                tx.extend_from_slice(row);
                ty.push(y);
            }
        }
        let mut ours_log = Vec::new();
        let forest = train_with_eval(
            &TrainData::new(&tx, 8, &ty),
            &TrainData::new(&ex, 8, &ey),
            &params,
            |round| ours_log.push(round.eval.unwrap()),
        )
        .unwrap();
        let theirs_log: Vec<f64> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(ours_log.len(), theirs_log.len(), "{name}: rounds");
        for (k, (a, b)) in ours_log.iter().zip(&theirs_log).enumerate() {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{name} round {k}: {a} vs XGBoost's {b}"
            );
        }
        assert_eq!(
            forest.attributes[BEST_ITERATION],
            case["best_iteration"].as_str().unwrap(),
            "{name}"
        );
        let best_score: f64 = forest.attributes[BEST_SCORE].parse().unwrap();
        let theirs_best: f64 = case["best_score"].as_str().unwrap().parse().unwrap();
        assert!(
            (best_score - theirs_best).abs() <= 1e-9 * theirs_best.abs().max(1.0),
            "{name}: best score {best_score} vs {theirs_best}"
        );
        assert_eq!(forest.trees.len() as u64, case["trees"].as_u64().unwrap());
        let ours = Predictor::new(&forest).unwrap().margins(&x_all, 8).unwrap();
        let theirs = &margins.iter().find(|(n, _)| n == name).unwrap().1;
        let w = worst(&ours, theirs);
        eprintln!(
            "{name}: {} rounds, best {}, largest margin difference {w:e}",
            ours_log.len(),
            forest.attributes[BEST_ITERATION]
        );
        assert!(w <= 1e-5, "{name}: margins differ by up to {w}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

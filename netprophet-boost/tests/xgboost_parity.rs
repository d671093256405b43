//! Parity with Python XGBoost on every committed fixture.
//!
//! `fixtures/generate_boost_fixtures.py` scored each model with XGBoost
//! (1.7, 2.1 and 3.1) on the real rows of `fixtures/data/training_data.csv`
//! and on rows placed exactly at and around the model's split thresholds.
//! Every model is loaded from each format it was saved in (JSON, UBJSON,
//! JSON dump) and must reproduce XGBoost's margins and outputs to 1e-6.

use std::fs;
use std::path::{Path, PathBuf};

use netprophet_boost::{ColumnMap, DumpOptions, Forest, Objective, Predictor};

mod common;
use common::{fixtures, real_rows, FEATURES};

const TOLERANCE: f32 = 1e-6;

/// Reads a CSV of numbers (empty cell = missing) into rows of the model's
/// features, matched by name.
fn read_rows(path: &Path) -> Vec<f32> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let map = ColumnMap::by_name(&FEATURES, &header).unwrap();
    let mut out = Vec::new();
    for line in lines {
        let rec: Vec<f32> = line
            .split(',')
            .map(|c| c.trim().parse::<f64>().map_or(f32::NAN, |v| v as f32))
            .collect();
        map.gather(&rec, &mut out).unwrap();
    }
    out
}

fn read_expected(path: &Path) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().filter(|h| h.starts_with("margin_")).count();
    let (mut margins, mut preds) = (Vec::new(), Vec::new());
    for line in lines {
        let v: Vec<f32> = line.split(',').map(|c| c.parse().unwrap()).collect();
        margins.push(v[..k].to_vec());
        preds.push(v[k..].to_vec());
    }
    (margins, preds)
}

#[derive(Default)]
struct Worst {
    margin: f32,
    pred: f32,
    values: usize,
    exact: usize,
}

fn compare(p: &Predictor, rows: &[f32], expected: &Path, label: &str, worst: &mut Worst) {
    let (em, ep) = read_expected(expected);
    let g = p.num_group();
    let margins = p.margins(rows, FEATURES.len()).unwrap();
    let preds = p.predict(rows, FEATURES.len()).unwrap();
    assert_eq!(margins.len(), em.len() * g, "{label}: row count");
    for (i, (m, e)) in margins.chunks(g).zip(&em).enumerate() {
        for (a, b) in m.iter().zip(e) {
            let err = (a - b).abs();
            worst.margin = worst.margin.max(err);
            worst.values += 1;
            worst.exact += usize::from(a.to_bits() == b.to_bits());
            assert!(
                err <= TOLERANCE,
                "{label}: row {i} margin {a} vs XGBoost {b}"
            );
        }
    }
    let per_row = preds.len() / em.len();
    for (i, (q, e)) in preds.chunks(per_row).zip(&ep).enumerate() {
        for (a, b) in q.iter().zip(e) {
            let err = (a - b).abs();
            worst.pred = worst.pred.max(err);
            assert!(
                err <= TOLERANCE,
                "{label}: row {i} output {a} vs XGBoost {b}"
            );
        }
    }
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("meta.json")).unwrap()).unwrap()
}

fn dump_options(meta: &serde_json::Value) -> DumpOptions {
    let num_class = meta["num_class"].as_u64().unwrap() as usize;
    let base: Vec<f32> = meta["base_score"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let mut o = DumpOptions::new(meta["objective"].as_str().unwrap(), num_class, base[0]).unwrap();
    o.base_score = base;
    o.num_feature = Some(FEATURES.len());
    if let Some(names) = meta.get("feature_names").and_then(|n| n.as_array()) {
        o.feature_names = Some(
            names
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect(),
        );
    }
    o
}

#[test]
fn every_fixture_matches_xgboost() {
    let root = fixtures().join("boost");
    let (real, _) = real_rows();
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        // Models XGBoost trained; netprophet's own are checked by
        // tests/trained_readback.rs.
        .filter(|p| p.is_dir() && p.join("meta.json").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 15,
        "expected the full fixture set, found {}",
        dirs.len()
    );
    let mut worst = Worst::default();
    let mut loaded = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let meta = meta(dir);
        let mut forests: Vec<(String, Forest)> = Vec::new();
        match meta.get("source").and_then(|s| s.as_str()) {
            Some(src) => forests.push((src.into(), Forest::load(root.join(src)).unwrap())),
            None => forests.push(("json".into(), Forest::load(dir.join("model.json")).unwrap())),
        }
        if dir.join("model.ubj").exists() {
            forests.push(("ubj".into(), Forest::load(dir.join("model.ubj")).unwrap()));
        }
        if dir.join("dump.json").exists() {
            let bytes = fs::read(dir.join("dump.json")).unwrap();
            let f = Forest::from_dump_json(&bytes, &dump_options(&meta)).unwrap();
            forests.push(("dump".into(), f));
        }
        let edge = read_rows(&dir.join("edge_rows.csv"));
        for (format, forest) in &forests {
            let label = format!("{name} ({format})");
            let p = Predictor::new(forest).unwrap();
            compare(
                &p,
                &real,
                &dir.join("expected_real.csv"),
                &label,
                &mut worst,
            );
            compare(
                &p,
                &edge,
                &dir.join("expected_edge.csv"),
                &label,
                &mut worst,
            );
            loaded += 1;
        }
    }
    println!(
        "{loaded} model loads over {} fixtures: max |margin error| {:e}, max |output error| {:e}, \
         {}/{} margins bit-identical",
        dirs.len(),
        worst.margin,
        worst.pred,
        worst.exact,
        worst.values
    );
}

#[test]
fn seed_models_have_no_names_and_the_training_schema_width() {
    for name in ["tournament_model", "netprophet_model", "model"] {
        let f = Forest::load(fixtures().join(format!("boost/{name}.json"))).unwrap();
        assert_eq!(f.num_feature, 8);
        assert!(f.feature_names.is_none());
        assert_eq!(f.objective, Objective::BinaryLogistic);
    }
}

#[test]
fn named_model_keeps_its_names_through_a_save_round_trip() {
    let f = Forest::load(fixtures().join("boost/xgb3_named/model.json")).unwrap();
    assert_eq!(
        f.feature_names.as_deref().unwrap(),
        &FEATURES.map(String::from)
    );
    let again = Forest::from_json_slice(f.to_xgboost_json().as_bytes()).unwrap();
    assert_eq!(again, f);
    let ubj = Forest::from_ubjson_slice(&f.to_xgboost_ubjson()).unwrap();
    assert_eq!(ubj, f);
}

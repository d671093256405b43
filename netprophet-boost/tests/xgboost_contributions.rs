//! `Predictor::contributions` gives XGBoost's exact TreeSHAP values
//! (`predict(pred_contribs=True)`, bias column included) on the 952 real
//! rows for the original production model, the model netprophet ships, a
//! depth-12 model (the predictor's sparse layout), a regression and a
//! 3-class model (`fixtures/generate_contribution_fixtures.py`, XGBoost
//! 3.1.3), and each row's contributions add up to its margin.

use std::fs;
use std::io::Read;

use netprophet_boost::{Forest, Predictor};

mod common;
use common::{fixtures, real_rows, FEATURES};

fn expected(name: &str) -> (Vec<String>, Vec<f32>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        fs::File::open(
            fixtures()
                .join("boost/contributions")
                .join(format!("{name}.csv.gz")),
        )
        .unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let values = lines
        .flat_map(|l| l.split(',').map(|v| v.parse::<f32>().unwrap()))
        .collect();
    (header, values)
}

#[test]
fn contributions_are_xgboosts_bit_for_bit() {
    let (x, _) = real_rows();
    for (name, path) in [
        ("seed_tournament_model", "boost/tournament_model.json"),
        ("shipped_tournament_model", "tournament_model.json"),
        ("xgb3_deep", "boost/xgb3_deep/model.json"),
        ("xgb3_regression", "boost/xgb3_regression/model.json"),
        ("xgb3_multiclass", "boost/xgb3_multiclass/model.json"),
    ] {
        let forest = Forest::load(fixtures().join(path)).unwrap();
        let predictor = Predictor::new(&forest).unwrap();
        let (header, theirs) = expected(name);
        assert_eq!(header.len(), predictor.contributions_width(), "{name}");
        assert!(header[..8]
            .iter()
            .zip(FEATURES)
            .all(|(h, f)| h.ends_with(f)));
        let ours = predictor.contributions(&x, 8).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        let differing = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "{name}: {} values, {differing} not bit-identical, largest difference {worst:e}",
            ours.len()
        );
        assert_eq!(differing, 0, "{name}: largest difference {worst}");

        // Each group's values add up to its margin.
        let margins = predictor.margins(&x, 8).unwrap();
        let groups = predictor.num_group();
        for (r, row) in ours.chunks(predictor.contributions_width()).enumerate() {
            for (g, c) in row.chunks(9).enumerate() {
                let sum: f32 = c.iter().sum();
                let m = margins[r * groups + g];
                assert!(
                    (sum - m).abs() <= 1e-4 * m.abs().max(1.0),
                    "{name} row {r} group {g}: {sum} vs margin {m}"
                );
            }
        }
        // One row at a time gives the same values.
        let mut one = vec![0f32; predictor.contributions_width()];
        predictor
            .contributions_row_into(&x[8 * 100..8 * 101], &mut one)
            .unwrap();
        let w = predictor.contributions_width();
        assert_eq!(one, ours[100 * w..101 * w]);
    }
}

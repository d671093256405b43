//! The native trainer grows the trees XGBoost grows. The `xgb3_*`
//! fixtures were trained by XGBoost 3.1.3 `hist` on the real rows
//! (`fixtures/generate_boost_fixtures.py`, one thread); training the same
//! rows with the same parameters here must give the same margins on all
//! 952 real rows, to float rounding. This holds because the quantile cuts,
//! the base score, the split search and the leaf values all follow
//! XGBoost's rules.

use std::fs;
use std::io::Read;

use netprophet_boost::train::{train, TrainData, TrainObjective, TrainParams};
use netprophet_boost::Predictor;

mod common;
use common::{fixtures, labelled, real_rows, FEATURES};

/// XGBoost's margins for the 952 rows.
fn expected_margins(name: &str) -> Vec<f32> {
    let path = fixtures()
        .join("boost")
        .join(name)
        .join("expected_real.csv");
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

fn params(max_depth: usize, rounds: usize) -> TrainParams {
    TrainParams::default()
        .max_depth(max_depth)
        .n_estimators(rounds)
}

#[test]
fn training_the_fixture_rows_gives_xgboosts_margins() {
    let (x_all, target) = real_rows();
    // Classification fixtures trained on the rows with a target.
    let (x_t, y_t) = labelled(&x_all, &target);
    // The regression fixture: rolling_std (NaN as 0) on all 952 rows.
    let y_reg: Vec<f32> = (0..target.len())
        .map(|r| {
            let v = x_all[r * 8 + 7];
            if v.is_nan() {
                0.0
            } else {
                v
            }
        })
        .collect();
    let cases: Vec<(&str, bool, TrainParams)> = vec![
        ("xgb3_stump_1tree", false, params(1, 1)),
        ("xgb3_deep", false, params(12, 20).min_child_weight(0.0)),
        ("xgb3_trees500", false, params(2, 500).learning_rate(0.05)),
        (
            "xgb3_base_explicit",
            false,
            params(4, 30).base_score(Some(0.3)),
        ),
        ("xgb3_base_default", false, params(4, 30)),
        ("xgb3_named", false, params(3, 10)),
        (
            "xgb3_regression",
            true,
            params(5, 15).objective(TrainObjective::SquaredError),
        ),
    ];
    let names: Vec<String> = FEATURES.map(String::from).to_vec();
    for (name, regression, p) in cases {
        let data = if regression {
            TrainData::new(&x_all, 8, &y_reg)
        } else {
            TrainData::new(&x_t, 8, &y_t)
        };
        // The named fixture carries its feature names; so must ours.
        let data = if name == "xgb3_named" {
            data.with_feature_names(&names)
        } else {
            data
        };
        let forest = train(&data, &p).unwrap();
        if name == "xgb3_named" {
            assert_eq!(forest.feature_names.as_deref(), Some(&names[..]));
        }
        let ours = Predictor::new(&forest).unwrap().margins(&x_all, 8).unwrap();
        let theirs = expected_margins(name);
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0f32, f32::max);
        eprintln!("{name}: largest margin difference {worst:e}");
        assert!(worst <= 1e-5, "{name}: margins differ by up to {worst}");
    }
}

/// More rows than XGBoost's quantile sketch buffers (6 972 generated rows
/// at 32 bins, where its buffer holds 2 050 values;
/// `fixtures/generate_training_parity_fixture.py`): its summaries are
/// merged and pruned through levels, and netprophet's must be the same.
#[test]
fn a_sketch_through_its_merging_levels_gives_xgboosts_margins() {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        fs::File::open(fixtures().join("core/generated_24h_features.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        // Rows without a target were left out, as in the fixture script.
        let Ok(target) = cells[12].parse::<f32>() else {
            continue;
        };
        x.extend(
            cells[2..10]
                .iter()
                .map(|c| c.parse::<f64>().map_or(f32::NAN, |v| v as f32)),
        );
        y.push(target);
    }
    let dir = fixtures().join("boost/training_parity_levels");
    let theirs: Vec<f32> = fs::read_to_string(dir.join("expected_margins.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), y.len());
    let forest = train(
        &TrainData::new(&x, 8, &y),
        &params(5, 50).learning_rate(0.1).max_bin(32),
    )
    .unwrap();
    let ours = Predictor::new(&forest).unwrap().margins(&x, 8).unwrap();
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0f32, f32::max);
    eprintln!("{} rows: largest margin difference {worst:e}", y.len());
    assert!(worst <= 1e-5, "margins differ by up to {worst}");
}

//! Writes the netprophet-trained models of `fixtures/boost/netprophet_*`:
//! models trained natively on the 952 real rows, which
//! `fixtures/score_trained_models.py` then scores with XGBoost so the
//! tests can check that XGBoost reads them back and scores them as
//! netprophet does.
//!
//! Usage: `train_fixtures` (from the repository root).

use netprophet_boost::train::{train, TrainData, TrainObjective, TrainParams};

/// The shared parameters of the fixtures; `tests/trained_readback.rs`
/// trains with the same ones.
fn main() {
    let rows = netprophet_benches::real_rows();
    let n = rows.len() / 8;
    let names: Vec<String> = netprophet_core::schema::FEATURE_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text =
        std::fs::read_to_string(netprophet_benches::fixtures().join("data/training_data.csv"))
            .expect("training_data.csv");
    let target: Vec<f32> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(11)
                .and_then(|v| v.parse::<f32>().ok())
                .unwrap_or(0.0)
        })
        .collect();
    // Squared error: the latency five minutes later (the last rows repeat
    // the final value).
    let future: Vec<f32> = (0..n).map(|i| rows[(i + 5).min(n - 1) * 8]).collect();
    for (name, y, params) in [
        (
            "netprophet_binary",
            &target,
            TrainParams::default()
                .n_estimators(60)
                .max_depth(5)
                .learning_rate(0.1)
                .subsample(0.8)
                .colsample_bytree(0.75)
                .scale_pos_weight(10.0)
                .seed(7),
        ),
        (
            "netprophet_squared",
            &future,
            TrainParams::default()
                .objective(TrainObjective::SquaredError)
                .n_estimators(40)
                .max_depth(4)
                .learning_rate(0.2)
                .gamma(0.5),
        ),
    ] {
        let data = TrainData::new(&rows, 8, y).with_feature_names(&names);
        let forest = train(&data, &params).expect("train");
        let dir = netprophet_benches::fixtures().join("boost").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        forest.save_json(dir.join("model.json")).expect("save");
        forest.save_ubjson(dir.join("model.ubj")).expect("save");
        // The retraining test reads the parameters from here.
        let json = serde_json::to_string_pretty(&params).expect("params");
        std::fs::write(dir.join("params.json"), json + "\n").expect("params.json");
        eprintln!("wrote {}", dir.display());
    }
}

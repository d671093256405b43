//! Side by side in one process: netprophet-boost and hessboost 0.4.6 (a
//! peer Rust gradient-boosting crate on crates.io that also imports
//! XGBoost models), on the same rows and the same thread pool size.
//!
//! ```text
//! cargo run --release --manifest-path benches/peer/Cargo.toml -- \
//!     score fixtures/boost/tournament_model.json fixtures/data/training_data.csv
//! cargo run --release --manifest-path benches/peer/Cargo.toml -- train day200.csv
//! ```
//!
//! `score`: the original model (XGBoost JSON, loaded by both) on the real
//! rows, cycled to 1 000 and 100 000; one row, best of 5 x 100 000 calls;
//! batches best of 5 x 200 (1 000 rows) and 5 x 5 (100 000 rows). Prints
//! the largest difference between the two crates' probabilities (0 when
//! both follow XGBoost's predictor).
//!
//! `train`: binary:logistic, 200 trees, depth 5, eta 0.1, 256 bins, on the
//! complete labelled rows of a feature CSV (`netprophet features --labels`
//! layout, e.g. the generated day of `benches/compare_train.py`); each
//! fit timed from the rows in memory to the model, best of 3. The two
//! crates' models are compared by their probabilities on the training
//! rows: netprophet's trees are XGBoost's, so a difference is the peer's.
//!
//! Threads: `RAYON_NUM_THREADS` (both crates use rayon's global pool; the
//! peer is also given `nthread`).

use hessboost::prelude::*;
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

/// The largest difference between two crates' outputs for the same rows.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// The best of `reps` timings of `iters` calls, per call, in seconds.
fn best(iters: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut b = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        b = b.min(t.elapsed().as_secs_f64() / iters as f64);
    }
    b
}

/// The eight original features (NaN when empty) and the label of a
/// feature CSV; with `want_label`, only complete labelled rows.
fn read_rows(path: &str, want_label: bool) -> (Vec<f32>, Vec<f32>) {
    let text = std::fs::read_to_string(path).expect("the rows CSV");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let feats = netprophet_core::schema::FEATURE_COLUMNS;
    let idx: Vec<usize> = feats
        .iter()
        .map(|f| head.iter().position(|h| h == f).unwrap())
        .collect();
    let li = head
        .iter()
        .position(|h| *h == "target_5m_degraded")
        .unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        let vals: Vec<Option<f64>> = idx.iter().map(|&i| c[i].parse::<f64>().ok()).collect();
        let lab = c[li].parse::<f64>().ok();
        if want_label && (lab.is_none() || vals.iter().any(|v| v.is_none())) {
            continue;
        }
        x.extend(vals.iter().map(|v| v.map_or(f32::NAN, |v| v as f32)));
        y.push(lab.unwrap_or(0.0) as f32);
    }
    (x, y)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args[1].as_str();
    if mode == "score" {
        let model_json = std::fs::read_to_string(&args[2]).unwrap();
        let (real, _) = read_rows(&args[3], false);
        let hb = BoostedModel::load(&args[2], ModelFormat::XgboostJson).unwrap();
        let np = netprophet_boost::Predictor::new(
            &netprophet_boost::Forest::from_json_slice(model_json.as_bytes()).unwrap(),
        )
        .unwrap();
        let one = real[500 * 8..501 * 8].to_vec();
        let b =
            |n: usize| -> Vec<f32> { real.chunks(8).cycle().take(n).flatten().copied().collect() };
        let (b1k, b100k) = (b(1000), b(100_000));
        // The same probabilities?
        let p1 = hb.predict_rows(&b1k, Iterations::Best).unwrap();
        let p2 = np.predict(&b1k, 8).unwrap();
        let maxd = max_abs_diff(p1.as_slice(), &p2);
        let r = json!({
            "threads": rayon::current_num_threads(),
            "max_abs_diff_1k": maxd,
            "one_row_us": {"hessboost": best(100_000, 5, || { black_box(hb.predict_row(black_box(&one), Iterations::Best).unwrap()); })*1e6,
                           "netprophet": best(100_000, 5, || { black_box(np.predict_row(black_box(&one)).unwrap()); })*1e6},
            "rows_1k_ms": {"hessboost": best(200, 5, || { black_box(hb.predict_rows(black_box(&b1k), Iterations::Best).unwrap()); })*1e3,
                           "netprophet": best(200, 5, || { black_box(np.predict(black_box(&b1k), 8).unwrap()); })*1e3},
            "rows_100k_ms": {"hessboost": best(5, 5, || { black_box(hb.predict_rows(black_box(&b100k), Iterations::Best).unwrap()); })*1e3,
                           "netprophet": best(5, 5, || { black_box(np.predict(black_box(&b100k), 8).unwrap()); })*1e3},
        });
        println!("{r}");
    } else {
        let (x, y) = read_rows(&args[2], true);
        let n = y.len();
        let threads = rayon::current_num_threads();
        let params = TrainingParams::from_xgboost(vec![
            ("objective", json!("binary:logistic")),
            ("tree_method", json!("hist")),
            ("max_depth", json!(5)),
            ("eta", json!(0.1)),
            ("max_bin", json!(256)),
            ("nthread", json!(threads)),
        ])
        .unwrap();
        let mut hb_t = f64::INFINITY;
        let mut np_t = f64::INFINITY;
        let mut hb_m = None;
        let mut np_m = None;
        for _ in 0..3 {
            let t = Instant::now();
            let d = DMatrix::from_dense(&x, n, 8)
                .unwrap()
                .with_labels(&y)
                .unwrap();
            hb_m = Some(train(&params, &d, 200).unwrap());
            hb_t = hb_t.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let data = netprophet_boost::train::TrainData::new(&x, 8, &y);
            let p = netprophet_boost::train::TrainParams::default()
                .n_estimators(200)
                .max_depth(5)
                .learning_rate(0.1);
            np_m = Some(netprophet_boost::train::train(&data, &p).unwrap());
            np_t = np_t.min(t.elapsed().as_secs_f64());
        }
        let npp = netprophet_boost::Predictor::new(np_m.as_ref().unwrap())
            .unwrap()
            .predict(&x, 8)
            .unwrap();
        let hbp = hb_m.unwrap().predict_rows(&x, Iterations::Best).unwrap();
        let maxd = max_abs_diff(hbp.as_slice(), &npp);
        println!(
            "{}",
            json!({"threads": threads, "rows": n, "train_s": {"hessboost": hb_t, "netprophet": np_t}, "max_abs_prob_diff": maxd})
        );
    }
}

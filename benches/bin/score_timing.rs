//! Times netprophet scoring the way `compare_xgboost.py` times XGBoost, and
//! prints the results as one JSON object.
//!
//! Usage: `score_timing MODEL ROWS_CSV` (threads: `RAYON_NUM_THREADS`).

use std::hint::black_box;
use std::time::Instant;

use netprophet_boost::{Forest, Predictor};

fn per_call(iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, rows) = match args.as_slice() {
        [_, m, r] => (m, r),
        _ => {
            eprintln!("usage: score_timing MODEL ROWS_CSV");
            std::process::exit(2);
        }
    };
    let forest = Forest::load(model).unwrap_or_else(|e| {
        eprintln!("score_timing: {e}");
        std::process::exit(1)
    });
    let text = std::fs::read_to_string(rows).expect("rows csv");
    let real = netprophet_benches::feature_rows(&text);
    let p = Predictor::new(&forest).unwrap();
    let one = real[500 * 8..501 * 8].to_vec();
    let one_row = per_call(200_000, || {
        black_box(p.predict_row(black_box(&one)).unwrap());
    });
    let batch =
        |n: usize| -> Vec<f32> { real.chunks(8).cycle().take(n).flatten().copied().collect() };
    let b1k = batch(1_000);
    let b100k = batch(100_000);
    let t1k = per_call(200, || {
        black_box(p.predict(black_box(&b1k), 8).unwrap());
    });
    let t100k = per_call(10, || {
        black_box(p.predict(black_box(&b100k), 8).unwrap());
    });
    println!(
        "{{\"one_row_s\": {one_row:e}, \"batch_1k_s\": {t1k:e}, \"batch_100k_s\": {t100k:e}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
}

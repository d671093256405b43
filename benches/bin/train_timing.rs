//! Times the native trainer on a feature CSV, several fits in one process,
//! and prints one JSON object: the fastest and the median fit. Comparing
//! two builds of the trainer on a shared machine is steadier this way than
//! one fit per process.
//!
//! Usage: `train_timing ROWS_CSV [FITS]` (threads: `RAYON_NUM_THREADS`).
//! The rows are the CSV's complete labelled rows in time order, the first
//! 80 % of them (as `compare_train.py` trains); the parameters are the
//! original recipe's (200 trees, depth 5, learning rate 0.1, 256 bins).

use std::time::Instant;

use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_core::dataset::Dataset;
use netprophet_core::schema::FEATURE_COLUMNS;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, fits) = match args.as_slice() {
        [_, p] => (p, 5),
        [_, p, n] => (p, n.parse().unwrap_or(5)),
        _ => {
            eprintln!("usage: train_timing ROWS_CSV [FITS]");
            std::process::exit(2);
        }
    };
    let names: Vec<String> = FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect();
    let data = Dataset::read_csv(std::path::Path::new(path), &names)
        .unwrap_or_else(|e| {
            eprintln!("train_timing: {e}");
            std::process::exit(1)
        })
        .complete_rows()
        .sorted_by_time();
    let n = data.len() - data.len().div_ceil(5);
    let width = data.width();
    let x = &data.x[..n * width];
    let y = &data.y_f32()[..n];
    let params = TrainParams::default()
        .n_estimators(200)
        .max_depth(5)
        .learning_rate(0.1);
    let mut times = Vec::new();
    for _ in 0..fits.max(1) {
        let t = Instant::now();
        let forest = train(&TrainData::new(x, width, y), &params).expect("train");
        times.push(t.elapsed().as_secs_f64());
        std::hint::black_box(forest);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"rows\": {n}, \"fits\": {}, \"min_s\": {:.4}, \"median_s\": {:.4}, \"threads\": {}}}",
        times.len(),
        times[0],
        times[times.len() / 2],
        rayon::current_num_threads()
    );
}

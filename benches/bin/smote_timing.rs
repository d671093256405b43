//! Times netprophet's SMOTE on `smote_rows(N)` the way `compare_smote.py`
//! times imbalanced-learn, and prints one JSON object.
//!
//! Usage: `smote_timing N` for `smote_rows(N)`, or `smote_timing real` for
//! the 947 complete real rows of `fixtures/data/training_data.csv`.

use std::time::Instant;

use netprophet_core::smote::Smote;

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let (x, y) = if arg == "real" {
        let names: Vec<String> = netprophet_core::schema::FEATURE_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let path = netprophet_benches::fixtures().join("data/training_data.csv");
        match netprophet_core::dataset::Dataset::read_csv(&path, &names) {
            Ok(d) => {
                let d = d.complete_rows();
                (d.x.iter().map(|&v| f64::from(v)).collect(), d.y)
            }
            Err(e) => {
                eprintln!("smote_timing: {e}");
                std::process::exit(1);
            }
        }
    } else if let Ok(n) = arg.parse() {
        netprophet_benches::smote_rows(n)
    } else {
        eprintln!("usage: smote_timing N|real");
        std::process::exit(2);
    };
    let n = y.len();
    let smote = Smote::default();
    let mut best = f64::INFINITY;
    let mut rows = 0;
    for _ in 0..if n < 100_000 { 200 } else { 5 } {
        let t = Instant::now();
        let out = match smote.resample(&x, 8, &y) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("smote_timing: {e}");
                std::process::exit(1);
            }
        };
        best = best.min(t.elapsed().as_secs_f64());
        rows = out.y.len();
    }
    println!("{{\"rows\": {n}, \"resampled_rows\": {rows}, \"seconds\": {best:.6}}}");
}

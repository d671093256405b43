//! Shared set-up for netprophet's criterion benchmarks (see the `[[bench]]`
//! targets in this package's manifest) and the side-by-side scripts.

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The real feature rows of `fixtures/data/training_data.csv` in the
/// 8-feature training order, row-major, missing values as NaN.
pub fn real_rows() -> Vec<f32> {
    let text = std::fs::read_to_string(fixtures().join("data/training_data.csv"))
        .expect("fixtures/data/training_data.csv");
    // Columns 1..=8 of that file are the features, in training order.
    text.lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .skip(1)
                .take(8)
                .map(|c| c.parse::<f64>().map_or(f32::NAN, |v| v as f32))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `n` rows drawn cyclically from the real rows.
pub fn rows(n: usize) -> Vec<f32> {
    let real = real_rows();
    real.chunks(8).cycle().take(n).flatten().copied().collect()
}

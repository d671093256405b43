//! What the integration tests share: where the fixtures are and the
//! 8-feature schema of the real training rows.

use std::fs;
use std::path::{Path, PathBuf};

/// The 8 features of `fixtures/data/training_data.csv`, in training order
/// (columns 1 to 8 of that file).
pub const FEATURES: [&str; 8] = [
    "avg_latency",
    "jitter",
    "rtt_min",
    "rtt_max",
    "packet_count",
    "latency_change_5m",
    "rolling_mean",
    "rolling_std",
];

/// The workspace's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The 952 real rows of `fixtures/data/training_data.csv`: the 8 features
/// (row-major, parsed as float64 and rounded to float32 as the fixture
/// scripts' DMatrix did; empty cells are missing) and the target column
/// (`None` where it is empty).
pub fn real_rows() -> (Vec<f32>, Vec<Option<f32>>) {
    let text = fs::read_to_string(fixtures().join("data/training_data.csv")).unwrap();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        x.extend(
            cells[1..9]
                .iter()
                .map(|c| c.parse::<f64>().map_or(f32::NAN, |v| v as f32)),
        );
        y.push(cells[11].parse::<f32>().ok());
    }
    (x, y)
}

/// The rows of `x_all` (8 features each) that have a target, and their
/// targets: what the classification fixtures trained on.
#[allow(dead_code)] // not every test file trains
pub fn labelled(x_all: &[f32], target: &[Option<f32>]) -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (r, t) in target.iter().enumerate() {
        if let Some(t) = t {
            x.extend_from_slice(&x_all[r * 8..(r + 1) * 8]);
            y.push(*t);
        }
    }
    (x, y)
}

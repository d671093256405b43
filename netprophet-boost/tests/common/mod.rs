//! What the integration tests share: where the fixtures are and the
//! 8-feature schema of the real training rows.

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

//! The named feature schema shared by training, prediction and saved models.

/// The eight model features, in the column order the original system's
/// models (`tournament_model.json` and its predecessors) were trained on.
///
/// Models that carry feature names are matched by name; models without
/// names (like the original ones) are scored with this order unless the
/// caller gives another schema explicitly.
pub const FEATURE_COLUMNS: [&str; 8] = [
    "avg_latency",
    "jitter",
    "rtt_min",
    "rtt_max",
    "packet_count",
    "latency_change_5m",
    "rolling_mean",
    "rolling_std",
];

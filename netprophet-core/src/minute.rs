//! The minute: the unit every feature is computed on, and one row of
//! features for one minute. Shared by the batch frames
//! ([`crate::features`]), the streaming builder and the history features
//! ([`crate::history`]), which all build on it and nothing else.

/// Width of a bin in seconds.
pub const BIN_SECONDS: i64 = 60;

/// The minute bin a Unix timestamp falls in (its start, in seconds).
pub fn bin_of(timestamp: i64) -> i64 {
    timestamp.div_euclid(BIN_SECONDS) * BIN_SECONDS
}

/// One row of features for one minute.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FeatureRow {
    /// Start of the minute, Unix seconds (UTC).
    pub timestamp: i64,
    /// Mean rtt in the minute (forward-filled when empty), ms.
    pub avg_latency: f64,
    /// Sample std of rtt in the minute (forward-filled), ms.
    pub jitter: f64,
    /// Minimum rtt (forward-filled), ms.
    pub rtt_min: f64,
    /// Maximum rtt (forward-filled), ms.
    pub rtt_max: f64,
    /// Replies in the minute (0 when empty; never filled).
    pub packet_count: u32,
    /// avg_latency now minus `change_lag` minutes ago.
    pub latency_change_5m: f64,
    /// Trailing-window mean of avg_latency.
    pub rolling_mean: f64,
    /// Trailing-window sample std of avg_latency.
    pub rolling_std: f64,
    /// Packets sent without a usable reply in the minute.
    pub lost: u32,
    /// Minutes since the last minute with a reply (0 when this one has one;
    /// NaN before the first).
    pub minutes_since_sample: f64,
}

impl FeatureRow {
    /// Value of a named feature column (see [`crate::schema`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "avg_latency" => self.avg_latency,
            "jitter" => self.jitter,
            "rtt_min" => self.rtt_min,
            "rtt_max" => self.rtt_max,
            "packet_count" => self.packet_count as f64,
            "latency_change_5m" => self.latency_change_5m,
            "rolling_mean" => self.rolling_mean,
            "rolling_std" => self.rolling_std,
            "lost" => self.lost as f64,
            "loss_rate" => {
                let sent = self.lost + self.packet_count;
                if sent == 0 {
                    f64::NAN
                } else {
                    self.lost as f64 / sent as f64
                }
            }
            "minutes_since_sample" => self.minutes_since_sample,
            _ => return None,
        })
    }
}

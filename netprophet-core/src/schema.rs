//! Every feature netprophet computes, by name, and the named schema shared
//! by training, prediction and saved models.
//!
//! Models carry their feature names; names are what columns are matched
//! by. [`Feature`] lists every name this crate computes, so a typo is an
//! error that lists the valid names (not a silently missing column), and
//! [`FEATURE_COLUMNS`] is the original system's 8-column order.
//!
//! ```
//! use netprophet_core::schema::Feature;
//!
//! let f: Feature = "rolling_std".parse().unwrap();
//! assert_eq!(f, Feature::RollingStd);
//! assert_eq!(f.to_string(), "rolling_std");
//! let err = "latency".parse::<Feature>().unwrap_err();
//! assert!(err.to_string().contains("avg_latency"), "{err}");
//! ```

use std::fmt;
use std::str::FromStr;

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

macro_rules! features {
    ($($(#[doc = $doc:expr])+ $variant:ident = $name:literal,)+) => {
        /// A feature netprophet computes for every minute of a probe.
        ///
        /// The names are the column names of feature CSVs and of the
        /// models netprophet writes. Values may be missing (NaN): the
        /// trees route missing values as XGBoost does.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Feature {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Feature {
            /// Every feature, in a fixed order: the original eight, the
            /// extended and relative columns, then the history features.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)+];

            /// The column name (`avg_latency`, `spikes_60m`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)+
                }
            }
        }

        impl FromStr for Feature {
            type Err = UnknownFeature;

            fn from_str(name: &str) -> Result<Feature, UnknownFeature> {
                match name {
                    $($name => Ok(Feature::$variant),)+
                    _ => Err(UnknownFeature(name.to_string())),
                }
            }
        }
    };
}

features! {
    /// Mean RTT of the minute's replies (forward-filled when it has none), ms.
    AvgLatency = "avg_latency",
    /// Sample std of the minute's RTTs (n - 1; missing with one reply), ms.
    Jitter = "jitter",
    /// Smallest RTT of the minute (forward-filled), ms.
    RttMin = "rtt_min",
    /// Largest RTT of the minute (forward-filled), ms.
    RttMax = "rtt_max",
    /// Replies in the minute (0 when empty; never filled).
    PacketCount = "packet_count",
    /// avg_latency now minus 5 minutes ago, ms.
    LatencyChange5m = "latency_change_5m",
    /// Mean of avg_latency over the trailing 60 minutes, ms.
    RollingMean = "rolling_mean",
    /// Sample std of avg_latency over the trailing 60 minutes, ms.
    RollingStd = "rolling_std",
    /// Packets sent without a usable reply in the minute.
    Lost = "lost",
    /// lost / (lost + packet_count); missing for an empty minute.
    LossRate = "loss_rate",
    /// Packets lost over the last 15 minutes.
    Loss15m = "loss_15m",
    /// Minutes since the last minute with a reply (0 when this one has one).
    MinutesSinceSample = "minutes_since_sample",
    /// The minute's own mean RTT, missing when nothing was measured, ms.
    MeasuredLatency = "measured_latency",
    /// (avg_latency - rolling_mean) / rolling_std; missing when the std is 0.
    Zscore = "zscore",
    /// rolling_std now minus 5 minutes ago, ms.
    RollingStdTrend5m = "rolling_std_trend_5m",
    /// Mean of avg_latency over the trailing 15 minutes, ms.
    RollingMean15m = "rolling_mean_15m",
    /// Std of avg_latency over the trailing 15 minutes, ms.
    RollingStd15m = "rolling_std_15m",
    /// Mean of avg_latency over the trailing 240 minutes, ms.
    RollingMean240m = "rolling_mean_240m",
    /// Std of avg_latency over the trailing 240 minutes, ms.
    RollingStd240m = "rolling_std_240m",
    /// avg_latency now minus 1 minute ago, ms.
    LatencyChange1m = "latency_change_1m",
    /// avg_latency now minus 15 minutes ago, ms.
    LatencyChange15m = "latency_change_15m",
    /// Z-score of avg_latency against the hour before the last 15 minutes.
    ZscoreLagged = "zscore_lagged",
    /// Rise over rolling_mean divided by max(2.5 rolling_std, 2 ms).
    RiseOverFloor = "rise_over_floor",
    /// Measured minutes of the last 15 above the lagged hour's threshold.
    Elevated15m = "elevated_15m",
    /// Minutes with a reply among the last 15.
    Measured15m = "measured_15m",
    /// Spike minutes (see [`crate::history`]) in the last 60 minutes.
    Spikes60m = "spikes_60m",
    /// Spike minutes in the last 240 minutes.
    Spikes240m = "spikes_240m",
    /// Spike minutes in the last day.
    Spikes1440m = "spikes_1440m",
    /// Minutes since the last spike (at most 1 440).
    MinutesSinceSpike = "minutes_since_spike",
    /// avg_latency above the lagged hour's mean, ms.
    RiseLaggedMs = "rise_lagged_ms",
    /// Hour of the day, UTC, with minutes as a fraction.
    HourOfDay = "hour_of_day",
    /// Spike minutes in the two hours around this time yesterday.
    SpikesYesterday = "spikes_yesterday",
    /// zscore exactly a day ago.
    ZscoreYesterday = "zscore_yesterday",
    /// avg_latency above the median of the day's measured minutes, ms.
    LevelVsDay = "level_vs_day",
    /// rolling_std divided by the std of the day's measured minutes.
    RollingStdVsDay = "rolling_std_vs_day",
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A feature name netprophet does not compute; its message lists the ones
/// it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feature `{0}` (netprophet computes: {names})", names = Feature::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownFeature(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_is_unique() {
        let mut names: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
        for f in Feature::ALL {
            assert_eq!(f.name().parse::<Feature>(), Ok(*f));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Feature::ALL.len());
        for n in FEATURE_COLUMNS {
            assert!(n.parse::<Feature>().is_ok(), "{n}");
        }
    }
}

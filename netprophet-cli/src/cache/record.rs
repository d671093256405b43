//! What the cache remembers of each probe between refreshes: its recent
//! minutes in 5-minute buckets (the sparkline and the probe page's chart),
//! and, for a week, which minutes were scored, which raised a warning and
//! which turned out degraded. The track record is computed from these, so
//! it needs no other store than the cache file itself.
//!
//! Minutes are kept as runs (first and last minute of each stretch of
//! consecutive minutes): a quiet probe's week is one run, so 12 000 probes
//! cost a few hundred KB instead of a week of per-minute values each.

use netprophet_core::warnings::{warning_record, WarningRecord};
use serde::{Deserialize, Serialize};

/// Width of one bucket of the recent chart: 10 minutes (5-minute buckets
/// made a 12 000-probe server 15 MB larger).
pub const BUCKET_SECONDS: i64 = 600;
/// Buckets of the recent chart: 6 hours.
pub const RECENT_BUCKETS: usize = 36;
/// How long warnings and outcomes are kept: the track record's longest
/// window (7 days).
pub const RECORD_SECONDS: i64 = 7 * 86_400;
/// Most runs one list of a record may hold: a week of minutes alternating
/// on and off.
pub const MAX_RUNS: usize = (RECORD_SECONDS / 120) as usize;

/// Stretches of consecutive minutes, as `[first, last]` minute starts
/// (Unix seconds, inclusive), sorted and apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Runs(pub Vec<[i64; 2]>);

impl Runs {
    /// The runs of `minutes` (ascending minute starts).
    pub fn of(minutes: impl IntoIterator<Item = i64>) -> Runs {
        let mut out: Vec<[i64; 2]> = Vec::new();
        for m in minutes {
            match out.last_mut() {
                Some(last) if m <= last[1] + 60 => last[1] = last[1].max(m),
                _ => out.push([m, m]),
            }
        }
        Runs(out)
    }

    /// Runs covering the given ranges (in any order, overlapping or not).
    pub fn of_ranges(mut ranges: Vec<[i64; 2]>) -> Runs {
        ranges.sort_unstable();
        Runs(ranges).union(&Runs::default())
    }

    /// Whether `minute` lies in a run.
    pub fn contains(&self, minute: i64) -> bool {
        let i = self.0.partition_point(|r| r[1] < minute);
        self.0.get(i).is_some_and(|r| r[0] <= minute)
    }

    /// The runs cut to minutes in `[from, to]`.
    pub fn clip(&self, from: i64, to: i64) -> Runs {
        Runs(
            self.0
                .iter()
                .filter(|r| r[1] >= from && r[0] <= to)
                .map(|r| [r[0].max(from), r[1].min(to)])
                .collect(),
        )
    }

    /// Both lists' minutes.
    pub fn union(&self, other: &Runs) -> Runs {
        let mut all: Vec<[i64; 2]> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<[i64; 2]> = Vec::with_capacity(all.len());
        for r in all {
            match out.last_mut() {
                Some(last) if r[0] <= last[1] + 60 => last[1] = last[1].max(r[1]),
                _ => out.push(r),
            }
        }
        Runs(out)
    }

    /// Number of minutes.
    pub fn minutes(&self) -> usize {
        self.0
            .iter()
            .map(|r| ((r[1] - r[0]) / 60 + 1) as usize)
            .sum()
    }

    /// The last minute, when there is one.
    pub fn last(&self) -> Option<i64> {
        self.0.last().map(|r| r[1])
    }

    /// Checks what a hostile file could get wrong: order, overlap, whole
    /// minutes, bounded length.
    fn check(&self, what: &str) -> Result<(), String> {
        if self.0.len() > MAX_RUNS {
            return Err(format!(
                "{what}: {} runs (at most {MAX_RUNS})",
                self.0.len()
            ));
        }
        let mut prev = i64::MIN;
        for r in &self.0 {
            if r[0] % 60 != 0 || r[1] % 60 != 0 || r[0] > r[1] || r[0] <= prev {
                return Err(format!("{what}: run {r:?} is not a sorted run of minutes"));
            }
            prev = r[1].saturating_add(60);
        }
        Ok(())
    }
}

/// One scored minute of a probe, with what was later observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteOutcome {
    /// Start of the minute (Unix seconds).
    pub minute: i64,
    /// Mean RTT, ms.
    pub latency: Option<f64>,
    /// The degradation threshold in force at that minute, ms.
    pub threshold: Option<f64>,
    /// Predicted risk.
    pub risk: f64,
    /// Whether the path was degraded at that minute, in the model's own
    /// terms (the labeller's "degraded now").
    pub degraded: bool,
}

/// A probe's recent buckets and its week of warnings and outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// RIPE Atlas probe id.
    pub probe_id: u64,
    /// Start of the first bucket (Unix seconds, a multiple of
    /// [`BUCKET_SECONDS`]).
    pub bucket_start: i64,
    /// Mean latency of each bucket, ms (null: no data).
    #[serde(with = "ms_as_null")]
    pub latency: Vec<f32>,
    /// Mean degradation threshold of each bucket, ms.
    #[serde(with = "ms_as_null")]
    pub threshold: Vec<f32>,
    /// Highest risk of each bucket.
    #[serde(with = "nan_as_null")]
    pub risk: Vec<f32>,
    /// Minutes that were scored.
    pub scored: Runs,
    /// Minutes whose risk was at or above the alarm threshold when scored.
    pub alarms: Runs,
    /// Minutes that turned out degraded.
    pub degraded: Runs,
}

/// Floats with NaN written as JSON null (missing data), rounded to
/// `1 / SCALE`: a chart shows no more, and fewer digits keep a 12 000-probe
/// cache small.
fn serialize_rounded<S: serde::Serializer, const SCALE: u32>(
    v: &[f32],
    s: S,
) -> Result<S::Ok, S::Error> {
    let scale = f64::from(SCALE);
    s.collect_seq(
        v.iter()
            .map(|x| (!x.is_nan()).then(|| (f64::from(*x) * scale).round() / scale)),
    )
}

fn deserialize_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
    let v: Vec<Option<f32>> = Vec::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect())
}

/// Risks: null for no data, three decimals.
mod nan_as_null {
    pub(super) use super::deserialize_nan as deserialize;
    pub fn serialize<S: serde::Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        super::serialize_rounded::<S, 1000>(v, s)
    }
}

/// Milliseconds: null for no data, one decimal.
mod ms_as_null {
    pub(super) use super::deserialize_nan as deserialize;
    pub fn serialize<S: serde::Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        super::serialize_rounded::<S, 10>(v, s)
    }
}

fn bucket_of(t: i64) -> i64 {
    t.div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS
}

impl ProbeRecord {
    /// The record after a refresh scored `minutes` (ascending) of this
    /// probe, given the record before it. Warnings are kept as they were
    /// raised (a later re-score of the same minute does not rewrite
    /// them); outcomes are replaced by the newest observation; all is
    /// kept for [`RECORD_SECONDS`] before the latest minute.
    pub fn update(
        previous: Option<&ProbeRecord>,
        probe_id: u64,
        minutes: &[MinuteOutcome],
        alarm: f64,
    ) -> Option<ProbeRecord> {
        let (first, last) = match (minutes.first(), minutes.last()) {
            (Some(f), Some(l)) => (f.minute, l.minute),
            _ => return previous.cloned(),
        };
        let previous = previous.filter(|p| p.probe_id == probe_id);
        let old_last = previous.and_then(|p| p.scored.last()).unwrap_or(i64::MIN);
        let keep_from = last - RECORD_SECONDS + 60;
        let scored = Runs::of(minutes.iter().map(|m| m.minute));
        let raised = Runs::of(
            minutes
                .iter()
                .filter(|m| m.minute > old_last && m.risk >= alarm)
                .map(|m| m.minute),
        );
        let degraded = Runs::of(minutes.iter().filter(|m| m.degraded).map(|m| m.minute));
        let (scored, alarms, degraded) = match previous {
            Some(p) => (
                p.scored.union(&scored),
                p.alarms.clip(i64::MIN, old_last).union(&raised),
                p.degraded.clip(i64::MIN, first - 60).union(&degraded),
            ),
            None => (scored, raised, degraded),
        };
        // Buckets: the old ones up to the first bucket the new minutes fill
        // from its start (a partly covered bucket keeps its old value).
        let new_from = match previous {
            Some(p) if !p.risk.is_empty() && bucket_of(first) != first => {
                bucket_of(first) + BUCKET_SECONDS
            }
            _ => bucket_of(first),
        };
        let end = bucket_of(last);
        let start = (end - (RECENT_BUCKETS as i64 - 1) * BUCKET_SECONDS).max(
            previous
                .filter(|p| !p.risk.is_empty())
                .map_or(bucket_of(first), |p| p.bucket_start.min(bucket_of(first))),
        );
        let n = ((end - start) / BUCKET_SECONDS + 1) as usize;
        let mut latency = vec![f32::NAN; n];
        let mut threshold = vec![f32::NAN; n];
        let mut risk = vec![f32::NAN; n];
        if let Some(p) = previous {
            for (i, b) in (0..p.risk.len()).map(|i| (i, p.bucket_start + i as i64 * BUCKET_SECONDS))
            {
                if b >= start && b < new_from && b <= end {
                    let j = ((b - start) / BUCKET_SECONDS) as usize;
                    latency[j] = p.latency.get(i).copied().unwrap_or(f32::NAN);
                    threshold[j] = p.threshold.get(i).copied().unwrap_or(f32::NAN);
                    risk[j] = p.risk.get(i).copied().unwrap_or(f32::NAN);
                }
            }
        }
        let mut sums = vec![(0.0f64, 0usize, 0.0f64, 0usize, f64::NAN); n];
        for m in minutes.iter().filter(|m| m.minute >= new_from.max(start)) {
            let j = ((bucket_of(m.minute) - start) / BUCKET_SECONDS) as usize;
            let s = &mut sums[j];
            if let Some(l) = m.latency {
                s.0 += l;
                s.1 += 1;
            }
            if let Some(t) = m.threshold.filter(|t| t.is_finite()) {
                s.2 += t;
                s.3 += 1;
            }
            s.4 = if s.4.is_nan() {
                m.risk
            } else {
                s.4.max(m.risk)
            };
        }
        for (j, s) in sums.iter().enumerate() {
            if !s.4.is_nan() {
                latency[j] = if s.1 > 0 {
                    (s.0 / s.1 as f64) as f32
                } else {
                    f32::NAN
                };
                threshold[j] = if s.3 > 0 {
                    (s.2 / s.3 as f64) as f32
                } else {
                    f32::NAN
                };
                risk[j] = s.4 as f32;
            }
        }
        Some(ProbeRecord {
            probe_id,
            bucket_start: start,
            latency,
            threshold,
            risk,
            scored: scored.clip(keep_from, i64::MAX),
            alarms: alarms.clip(keep_from, i64::MAX),
            degraded: degraded.clip(keep_from, i64::MAX),
        })
    }

    /// Checks a record read from a file.
    pub fn check(&self) -> Result<(), String> {
        let what = format!("probe {} record", self.probe_id);
        if self.risk.len() > RECENT_BUCKETS
            || self.latency.len() != self.risk.len()
            || self.threshold.len() != self.risk.len()
        {
            return Err(format!(
                "{what}: bucket lists of {}, {} and {} values (equal, at most {RECENT_BUCKETS})",
                self.latency.len(),
                self.threshold.len(),
                self.risk.len()
            ));
        }
        if self.bucket_start % BUCKET_SECONDS != 0
            || !(0..=super::MAX_TIME).contains(&self.bucket_start)
        {
            return Err(format!(
                "{what}: bucket start {} is not a bucket",
                self.bucket_start
            ));
        }
        if self
            .risk
            .iter()
            .any(|r| !r.is_nan() && !(0.0..=1.0).contains(r))
        {
            return Err(format!("{what}: a bucket risk out of [0, 1]"));
        }
        self.scored.check(&format!("{what}, scored"))?;
        self.alarms.check(&format!("{what}, alarms"))?;
        self.degraded.check(&format!("{what}, degraded"))
    }

    /// Total runs held (what a cache's bound counts).
    pub fn runs(&self) -> usize {
        self.scored.0.len() + self.alarms.0.len() + self.degraded.0.len()
    }

    /// Warnings against degraded episodes over the scored minutes in
    /// `[from, to]` whose outcome is known: a minute's target is whether
    /// the minute `horizon` minutes later turned out degraded, so the last
    /// `horizon` scored minutes wait for their outcome. Counted by
    /// [`warning_record`]: an episode is caught when a warning was raised
    /// during the minutes that predict it, a warning run that predicts no
    /// degraded minute is false, and the warning time runs from the first
    /// warning to the first degraded minute.
    pub fn track_record(&self, from: i64, to: i64, horizon: i64) -> WarningRecord {
        let ahead = horizon.max(0) * 60;
        let Some(last) = self.scored.last() else {
            return WarningRecord::default();
        };
        let to = to.min(last - ahead);
        let window = self.scored.clip(from, to);
        // Known outcome: the minute `horizon` ahead was scored too.
        let known: Vec<[i64; 2]> = window
            .0
            .iter()
            .flat_map(|r| self.scored.clip(r[0] + ahead, r[1] + ahead).0)
            .map(|r| [r[0] - ahead, r[1] - ahead])
            .collect();
        let known = Runs(known);
        let quiet = self.alarms.clip(from, to).0.is_empty()
            && self.degraded.clip(from + ahead, to + ahead).0.is_empty();
        if quiet {
            return WarningRecord {
                minutes: known.minutes(),
                ..WarningRecord::default()
            };
        }
        // Only the minutes around warnings and degraded minutes can change
        // the counts: a week of quiet minutes is left out (it only adds to
        // `minutes`, counted from the runs), which keeps 12 000 probes'
        // records to a fraction of a second. The margin covers the search
        // for an episode's onset, which runs `horizon` minutes past it.
        let pad = ahead + 3600;
        let near = Runs(
            self.alarms
                .clip(from, to)
                .0
                .iter()
                .chain(&self.degraded.clip(from, to + ahead).0)
                .map(|r| [r[0] - ahead - pad, r[1] + pad])
                .collect(),
        );
        let near = Runs::of_ranges(near.0);
        let minutes: Vec<i64> = known
            .0
            .iter()
            .flat_map(|k| near.clip(k[0], k[1]).0)
            .flat_map(|r| (r[0]..=r[1]).step_by(60))
            .collect();
        let y: Vec<u8> = minutes
            .iter()
            .map(|m| u8::from(self.degraded.contains(m + ahead)))
            .collect();
        let alarm: Vec<bool> = minutes.iter().map(|m| self.alarms.contains(*m)).collect();
        let now: Vec<bool> = minutes.iter().map(|m| self.degraded.contains(*m)).collect();
        let mut rec = warning_record(&minutes, &y, &alarm, &now).unwrap_or_default();
        rec.minutes = known.minutes();
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(m: i64, risk: f64, degraded: bool) -> MinuteOutcome {
        MinuteOutcome {
            minute: m * 60,
            latency: Some(10.0 + m as f64),
            threshold: Some(20.0),
            risk,
            degraded,
        }
    }

    #[test]
    fn runs_merge_clip_and_find() {
        let a = Runs::of([0, 60, 120, 300]);
        assert_eq!(a.0, vec![[0, 120], [300, 300]]);
        assert!(a.contains(60) && !a.contains(180) && a.contains(300));
        let b = Runs::of([180, 240]);
        assert_eq!(a.union(&b).0, vec![[0, 300]]);
        assert_eq!(a.clip(60, 300).0, vec![[60, 120], [300, 300]]);
        assert_eq!(a.minutes(), 4);
        assert!(Runs(vec![[60, 0]]).check("x").is_err());
        assert!(Runs(vec![[0, 60], [60, 120]]).check("x").is_err());
        assert!(Runs(vec![[0, 61]]).check("x").is_err());
    }

    #[test]
    fn warnings_are_kept_as_raised_and_outcomes_replaced() {
        // First refresh: minutes 0..10, a warning at 3..4.
        let first: Vec<_> = (0..10)
            .map(|m| minute(m, if (3..5).contains(&m) { 0.9 } else { 0.1 }, false))
            .collect();
        let r1 = ProbeRecord::update(None, 7, &first, 0.5).unwrap();
        assert_eq!(r1.alarms.0, vec![[180, 240]]);
        // Second refresh re-scores 5..15: minute 8..9 now turn out degraded,
        // and the re-scored risk of minute 4 is low; the warning stays.
        let second: Vec<_> = (5..15)
            .map(|m| minute(m, 0.1, (8..10).contains(&m)))
            .collect();
        let r2 = ProbeRecord::update(Some(&r1), 7, &second, 0.5).unwrap();
        assert_eq!(r2.alarms.0, vec![[180, 240]]);
        assert_eq!(r2.degraded.0, vec![[480, 540]]);
        assert_eq!(r2.scored.0, vec![[0, 840]]);
        // Horizon 5: the warning at 3 predicts minute 8, degraded: caught,
        // 5 minutes ahead of the episode.
        let t = r2.track_record(0, i64::MAX, 5);
        assert_eq!((t.events, t.caught, t.false_alarms), (1, 1, 0));
        assert_eq!(t.warning_minutes, vec![5]);
        // Minutes 10..14 wait for their outcome.
        assert_eq!(t.minutes, 10);
        // With no degraded minute, the same warning is false.
        let r3 = ProbeRecord::update(
            Some(&r1),
            7,
            &(5..15).map(|m| minute(m, 0.1, false)).collect::<Vec<_>>(),
            0.5,
        )
        .unwrap();
        let t = r3.track_record(0, i64::MAX, 5);
        assert_eq!((t.events, t.caught, t.false_alarms), (0, 0, 1));
    }

    #[test]
    fn buckets_cover_six_hours_and_keep_partly_refilled_ones() {
        let first: Vec<_> = (0..600).map(|m| minute(m, 0.2, false)).collect();
        let r1 = ProbeRecord::update(None, 1, &first, 0.5).unwrap();
        assert_eq!(r1.risk.len(), RECENT_BUCKETS);
        let b = BUCKET_SECONDS;
        assert_eq!(
            r1.bucket_start,
            599 * 60 / b * b - (RECENT_BUCKETS as i64 - 1) * b
        );
        // The last minutes of bucket [590, 600) re-scored: it keeps its value.
        let later: Vec<_> = (597..610).map(|m| minute(m, 0.8, false)).collect();
        let r2 = ProbeRecord::update(Some(&r1), 1, &later, 0.5).unwrap();
        let j = ((590 * 60 - r2.bucket_start) / b) as usize;
        assert!((r2.risk[j] - 0.2).abs() < 1e-6, "{}", r2.risk[j]);
        assert!((r2.risk[j + 1] - 0.8).abs() < 1e-6);
        assert!(r2.check().is_ok());
        let text = serde_json::to_string(&r2).unwrap();
        let back: ProbeRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.risk.len(), r2.risk.len());
    }
}

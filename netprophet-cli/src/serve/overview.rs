//! The cache as the server holds it: the cache itself plus what every
//! page of many probes needs and is too slow to recompute per request —
//! the probes in risk order, an index by probe id, and each probe's track
//! record. Built once per cache change, on the loader thread.

use std::collections::HashMap;

use netprophet_core::warnings::WarningRecord;
use serde::Serialize;

use crate::cache::{PredictionCache, ProbePrediction, ProbeRecord};

/// The two windows of the track record.
pub const DAY: i64 = 86_400;
/// Seven days.
pub const WEEK: i64 = 7 * DAY;

/// Longest filter text accepted (characters).
pub const MAX_FILTER_CHARS: usize = 64;

/// Warnings against degraded episodes over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrackSummary {
    /// Degraded episodes whose outcome is known.
    pub episodes: usize,
    /// Episodes a warning came for.
    pub warned: usize,
    /// Warnings (runs of warned minutes) followed by no degraded minute.
    pub false_warnings: usize,
    /// Median minutes from the first warning to the start of the
    /// degradation (null: no warned episode).
    pub median_warning_minutes: Option<f64>,
    /// Minutes with a known outcome the numbers are counted over.
    pub minutes: usize,
}

impl From<&WarningRecord> for TrackSummary {
    fn from(r: &WarningRecord) -> Self {
        TrackSummary {
            episodes: r.events,
            warned: r.caught,
            false_warnings: r.false_alarms,
            median_warning_minutes: r.median_warning(),
            minutes: r.minutes,
        }
    }
}

/// The track record over the last 24 hours and the last 7 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Track {
    /// Last 24 hours.
    pub day: TrackSummary,
    /// Last 7 days.
    pub week: TrackSummary,
}

/// A loaded cache with its derived indexes.
#[derive(Debug)]
pub struct Served {
    /// The cache as read.
    pub cache: PredictionCache,
    /// Prediction indexes, highest risk first (ties: lower probe id).
    pub order: Vec<u32>,
    /// Prediction index by probe id.
    by_id: HashMap<u64, u32>,
    /// Record index of each prediction (when it has a record).
    record_of: Vec<Option<u32>>,
    /// Track record of each prediction (default without a record).
    pub track: Vec<Track>,
    /// All probes' track records together.
    pub overall: Track,
    /// Probes at or above the alarm threshold now.
    pub at_risk: usize,
}

impl std::ops::Deref for Served {
    type Target = PredictionCache;
    fn deref(&self) -> &PredictionCache {
        &self.cache
    }
}

impl Served {
    /// Indexes `cache`; track records are counted up to its
    /// `generated_at`.
    pub fn new(cache: PredictionCache) -> Served {
        let n = cache.predictions.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let p = &cache.predictions;
        order.sort_by(|&a, &b| {
            let (a, b) = (&p[a as usize], &p[b as usize]);
            b.probability
                .total_cmp(&a.probability)
                .then(a.probe_id.cmp(&b.probe_id))
        });
        let mut by_id = HashMap::with_capacity(n);
        for (i, pr) in p.iter().enumerate() {
            if let Some(id) = pr.probe_id {
                by_id.entry(id).or_insert(i as u32);
            }
        }
        let mut record_of = vec![None; n];
        for (j, r) in cache.probes.iter().enumerate() {
            if let Some(&i) = by_id.get(&r.probe_id) {
                record_of[i as usize].get_or_insert(j as u32);
            }
        }
        let end = cache.generated_at;
        let horizon = i64::from(cache.horizon_minutes);
        let mut day_all = WarningRecord::default();
        let mut week_all = WarningRecord::default();
        let track = record_of
            .iter()
            .map(|r| match r {
                Some(j) => {
                    let rec = &cache.probes[*j as usize];
                    let day = rec.track_record(end - DAY, end, horizon);
                    let week = rec.track_record(end - WEEK, end, horizon);
                    day_all.merge(&day);
                    week_all.merge(&week);
                    Track {
                        day: (&day).into(),
                        week: (&week).into(),
                    }
                }
                None => Track::default(),
            })
            .collect();
        let alarm = cache.alarm_threshold();
        let at_risk = p.iter().filter(|x| x.probability >= alarm).count();
        Served {
            order,
            by_id,
            record_of,
            track,
            overall: Track {
                day: (&day_all).into(),
                week: (&week_all).into(),
            },
            at_risk,
            cache,
        }
    }

    /// The prediction index of probe `id`.
    pub fn find(&self, id: u64) -> Option<usize> {
        self.by_id.get(&id).map(|&i| i as usize)
    }

    /// The record of prediction `i`.
    pub fn record(&self, i: usize) -> Option<&ProbeRecord> {
        self.record_of
            .get(i)
            .copied()
            .flatten()
            .map(|j| &self.cache.probes[j as usize])
    }

    /// Latency of prediction `i`: its model input, or for a model without
    /// that input the latest bucket of its record (the headline's latest
    /// chart minute when it has no record).
    pub fn latency(&self, i: usize) -> Option<f64> {
        self.cache.predictions[i].input("avg_latency").or_else(|| {
            let Some(r) = self.record(i) else {
                return (i == 0)
                    .then(|| self.cache.history.last().and_then(|h| h.latency_ms))
                    .flatten();
            };
            r.latency
                .iter()
                .rev()
                .find(|v| !v.is_nan())
                .map(|v| f64::from(*v))
        })
    }

    /// Prediction indexes in risk order that pass `filter`.
    pub fn filtered<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = usize> + 'a {
        self.order
            .iter()
            .map(|&i| i as usize)
            .filter(move |&i| filter.keeps(&self.cache.predictions[i], self.alarm_threshold()))
    }
}

/// What the overview's filter box asks for: probe ids starting with some
/// digits, or a word (`high`/`risk`: at risk now; `low`: not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    /// Every probe.
    #[default]
    All,
    /// Probe ids whose decimal form starts with these digits.
    IdPrefix(String),
    /// At or above the alarm threshold.
    AtRisk,
    /// Below it.
    Calm,
}

impl Filter {
    /// Parses the filter box's text: bounded, digits or a known word;
    /// anything else is an error message for a 400.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let t = text.trim();
        if t.chars().count() > MAX_FILTER_CHARS {
            return Err(format!(
                "the filter is longer than {MAX_FILTER_CHARS} characters"
            ));
        }
        if t.is_empty() {
            return Ok(Filter::All);
        }
        if t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Filter::IdPrefix(t.to_owned()));
        }
        match t.to_ascii_lowercase().as_str() {
            "high" | "risk" | "at risk" => Ok(Filter::AtRisk),
            "low" | "calm" | "normal" => Ok(Filter::Calm),
            _ => Err("the filter takes probe id digits, `high` or `low`".into()),
        }
    }

    /// The text to show back in the box.
    pub fn text(&self) -> &str {
        match self {
            Filter::All => "",
            Filter::IdPrefix(d) => d,
            Filter::AtRisk => "high",
            Filter::Calm => "low",
        }
    }

    fn keeps(&self, p: &ProbePrediction, alarm: f64) -> bool {
        match self {
            Filter::All => true,
            Filter::IdPrefix(d) => p
                .probe_id
                .is_some_and(|id| id.to_string().starts_with(d.as_str())),
            Filter::AtRisk => p.probability >= alarm,
            Filter::Calm => p.probability < alarm,
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` and
/// `%XX`); `None` for a malformed escape or non-UTF-8 result.
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The value of `key` in a query string (first occurrence), decoded.
pub fn query_value(query: &str, key: &str) -> Result<Option<String>, String> {
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            return form_decode(v)
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a valid form value"));
        }
    }
    Ok(None)
}

/// Parses a probe id from a URL segment strictly: 1 to 20 ASCII digits,
/// no sign, no leading zero, within u64.
pub fn parse_probe_id(segment: &str) -> Option<u64> {
    let ok = !segment.is_empty()
        && segment.len() <= 20
        && segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    if ok {
        segment.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::tests::sample;
    use crate::cache::{MinuteOutcome, ProbeRecord};

    #[test]
    fn probes_are_ordered_by_risk_and_found_by_id() {
        let mut c = sample(1_000_000, 0.3);
        let mut second = c.predictions[0].clone();
        second.probe_id = Some(3);
        second.probability = 0.9;
        let mut third = c.predictions[0].clone();
        third.probe_id = Some(12);
        third.probability = 0.9;
        c.predictions.push(second);
        c.predictions.push(third);
        let s = Served::new(c);
        let ids: Vec<_> = s
            .order
            .iter()
            .map(|&i| s.predictions[i as usize].probe_id)
            .collect();
        assert_eq!(ids, vec![Some(3), Some(12), Some(7)]);
        assert_eq!(s.find(12), Some(2));
        assert_eq!(s.find(99), None);
        assert_eq!(s.at_risk, 2);
        let f = Filter::parse("1").unwrap();
        let kept: Vec<_> = s.filtered(&f).collect();
        assert_eq!(kept, vec![2]);
        assert_eq!(s.filtered(&Filter::AtRisk).count(), 2);
        assert_eq!(s.filtered(&Filter::Calm).count(), 1);
    }

    #[test]
    fn track_records_add_up_over_probes() {
        let mut c = sample(10_000 * 60, 0.3);
        let mut other = c.predictions[0].clone();
        other.probe_id = Some(8);
        c.predictions.push(other);
        for (id, degraded) in [(7u64, true), (8, false)] {
            let minutes: Vec<_> = (9_000..9_990)
                .map(|m| MinuteOutcome {
                    minute: m * 60,
                    latency: Some(10.0),
                    threshold: Some(12.0),
                    risk: if (9_500..9_503).contains(&m) {
                        0.9
                    } else {
                        0.1
                    },
                    degraded: degraded && (9_505..9_510).contains(&m),
                })
                .collect();
            c.probes
                .push(ProbeRecord::update(None, id, &minutes, 0.4).unwrap());
        }
        let s = Served::new(c);
        let t7 = &s.track[s.find(7).unwrap()];
        assert_eq!(
            (t7.day.episodes, t7.day.warned, t7.day.false_warnings),
            (1, 1, 0)
        );
        assert_eq!(t7.day.median_warning_minutes, Some(5.0));
        let t8 = &s.track[s.find(8).unwrap()];
        assert_eq!((t8.day.episodes, t8.day.false_warnings), (0, 1));
        assert_eq!(s.overall.day.episodes, 1);
        assert_eq!(s.overall.day.false_warnings, 1);
        assert_eq!(s.overall.week, s.overall.day);
    }

    #[test]
    fn ids_and_filters_are_parsed_strictly() {
        assert_eq!(parse_probe_id("6001"), Some(6001));
        for bad in ["", "+1", "-1", "01", "1a", "18446744073709551616", "１"] {
            assert_eq!(parse_probe_id(bad), None, "{bad}");
        }
        assert!(Filter::parse(&"9".repeat(65)).is_err());
        assert!(Filter::parse("<script>").is_err());
        assert_eq!(Filter::parse(" High ").unwrap(), Filter::AtRisk);
        assert_eq!(
            query_value("a=1&q=60%30+", "q").unwrap().as_deref(),
            Some("600 ")
        );
        assert!(query_value("q=%zz", "q").is_err());
        assert!(query_value("q=%ff", "q").is_err());
    }
}

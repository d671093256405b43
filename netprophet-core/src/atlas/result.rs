//! One RIPE Atlas ping result, parsed from any firmware's JSON shape.
//!
//! Atlas has changed the result format many times since 2011: firmware 0
//! wrote numbers as strings, firmware 1 used `addr`/`name`, later firmware
//! added the per-packet `result` array whose entries are replies
//! (`{"rtt": f}`), timeouts (`{"x": "*"}`), errors (`{"error": ...}`),
//! duplicates (`"dup"`) and late replies (`"late"`). Everything parses or is
//! skipped for a reason that is counted in [`ParseStats`]; nothing panics.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};

pub use super::packet::Packet;
use super::packet::{packet, Fields};

/// A parsed ping result: who measured, when, and what came back.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PingResult {
    /// Atlas probe id (`prb_id`).
    pub probe_id: u64,
    /// Unix time of the measurement in seconds (`timestamp`).
    pub timestamp: i64,
    /// Measurement id (`msm_id`), when present.
    pub msm_id: Option<u64>,
    /// Address family: 4 or 6 (from `af`, or the destination address).
    pub af: u8,
    /// Firmware version (`fw`), 0 when absent.
    pub firmware: u32,
    /// Per-packet outcomes; empty for firmware that only reported
    /// aggregates (`avg`/`min`/`max`).
    pub packets: Vec<Packet>,
    /// Packets the probe says it sent (`sent`), when present.
    pub sent: Option<u32>,
    /// Replies the probe says it received (`rcvd`), when present.
    pub rcvd: Option<u32>,
}

impl PingResult {
    /// Round-trip times of the usable replies, in packet order.
    pub fn rtts(&self) -> impl Iterator<Item = f64> + '_ {
        self.packets.iter().filter_map(|p| match p {
            Packet::Reply(rtt) => Some(*rtt),
            _ => None,
        })
    }

    /// Packets sent without a usable reply (timeouts and errors).
    pub fn lost(&self) -> u32 {
        self.packets
            .iter()
            .filter(|p| matches!(p, Packet::Timeout | Packet::Error))
            .count() as u32
    }
}

/// Why a result (or one packet of it) contributed no latency sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SkipReason {
    /// The line or element is not valid JSON or lacks `prb_id`/`timestamp`.
    Malformed,
    /// The result is not a ping (`type` is something else).
    NotPing,
    /// IPv6 result while IPv4 was asked for (the default).
    Ipv6,
    /// Old firmware reported only aggregates, no per-packet rtts.
    AggregateOnly,
    /// The probe received no replies (`rcvd` 0, `avg` -1).
    NoReplies,
    /// The probe is not one of those asked for.
    OtherProbe,
    /// The timestamp is outside the requested window.
    OutsideWindow,
    /// A packet timed out (`{"x": "*"}`); counted as loss.
    Timeout,
    /// A packet carried an error entry; counted as loss.
    PacketError,
    /// A duplicate reply.
    Duplicate,
    /// A late reply.
    Late,
    /// A reply whose rtt is negative, not finite, not a number, or longer
    /// than [`MAX_RTT_MS`].
    BadRtt,
}

/// The longest round-trip time taken as a measurement: 10 minutes, in ms.
/// An Atlas ping gives up on a reply after seconds; a larger rtt is a
/// corrupt value, and one near `f64::MAX` would overflow a minute's sums
/// (its mean came out below its minimum).
pub const MAX_RTT_MS: f64 = 600_000.0;

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: &'static [SkipReason] = &[
        SkipReason::Malformed,
        SkipReason::NotPing,
        SkipReason::Ipv6,
        SkipReason::AggregateOnly,
        SkipReason::NoReplies,
        SkipReason::OtherProbe,
        SkipReason::OutsideWindow,
        SkipReason::Timeout,
        SkipReason::PacketError,
        SkipReason::Duplicate,
        SkipReason::Late,
        SkipReason::BadRtt,
    ];

    /// Short stable name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::Malformed => "malformed",
            SkipReason::NotPing => "not_ping",
            SkipReason::Ipv6 => "ipv6",
            SkipReason::AggregateOnly => "aggregate_only",
            SkipReason::NoReplies => "no_replies",
            SkipReason::OtherProbe => "other_probe",
            SkipReason::OutsideWindow => "outside_window",
            SkipReason::Timeout => "timeout",
            SkipReason::PacketError => "packet_error",
            SkipReason::Duplicate => "duplicate",
            SkipReason::Late => "late",
            SkipReason::BadRtt => "bad_rtt",
        }
    }

    /// Whether the reason applies to a single packet rather than a whole
    /// result.
    pub fn is_per_packet(self) -> bool {
        matches!(
            self,
            SkipReason::Timeout
                | SkipReason::PacketError
                | SkipReason::Duplicate
                | SkipReason::Late
                | SkipReason::BadRtt
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A malformed line or element, with where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line number (for JSON arrays: the line the element starts on).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Number of [`SkipReason`]s (private, so a new reason changes no public
/// type).
const SKIP_REASONS: usize = SkipReason::ALL.len();

/// Counts of what a reader saw: results used, samples produced, and every
/// skip by reason.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParseStats {
    /// Results (lines or array elements) seen, including malformed ones.
    pub results: u64,
    /// Results that produced at least one sample or loss observation.
    pub used_results: u64,
    /// Latency samples (usable replies).
    pub samples: u64,
    counts: [u64; SKIP_REASONS],
    /// The first malformed inputs (at most [`ParseStats::MAX_MALFORMED_KEPT`]),
    /// so a report can show where they are without holding all of them.
    pub malformed: Vec<Malformed>,
}

impl ParseStats {
    /// How many malformed inputs are kept with their line numbers.
    pub const MAX_MALFORMED_KEPT: usize = 20;

    /// How many times `reason` occurred.
    pub fn count(&self, reason: SkipReason) -> u64 {
        self.counts[reason as usize]
    }

    /// Adds `n` occurrences of `reason`.
    pub fn add(&mut self, reason: SkipReason, n: u64) {
        self.counts[reason as usize] += n;
    }

    /// Records a malformed input at `line`.
    pub fn malformed(&mut self, line: u64, message: String) {
        self.results += 1;
        self.add(SkipReason::Malformed, 1);
        if self.malformed.len() < Self::MAX_MALFORMED_KEPT {
            self.malformed.push(Malformed { line, message });
        }
    }

    /// Non-zero counts, in report order.
    pub fn skipped(&self) -> Vec<(SkipReason, u64)> {
        SkipReason::ALL
            .iter()
            .map(|&r| (r, self.count(r)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// Adds another reader's counts to these.
    pub fn merge(&mut self, other: &ParseStats) {
        self.results += other.results;
        self.used_results += other.used_results;
        self.samples += other.samples;
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        for m in &other.malformed {
            if self.malformed.len() < Self::MAX_MALFORMED_KEPT {
                self.malformed.push(m.clone());
            }
        }
    }
}

/// Why one result could not be parsed at all.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultError {
    /// Not JSON, or a field has an impossible type.
    #[error("not a valid result object: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("result has no `{0}`")]
    Missing(&'static str),
    /// A field is present but unusable.
    #[error("`{field}` is {problem}")]
    Bad {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// A JSON number that old firmware may have written as a string.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim()
                    .parse::<f64>()
                    .map(Num)
                    .map_err(|_| E::custom(format!("{v:?} is not a number")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(f64::NAN))
            }
        }
        d.deserialize_any(V)
    }
}

/// A packet entry; every key is optional because firmware differ.
#[derive(Deserialize)]
struct RawPacket {
    rtt: Option<LenientNum>,
    x: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
    dup: Option<IgnoredAny>,
    late: Option<IgnoredAny>,
}

/// A number that may be junk: junk is kept as NaN so the packet is counted
/// as a bad rtt instead of failing the whole result.
#[derive(Clone, Copy)]
struct LenientNum(f64);

impl<'de> Deserialize<'de> for LenientNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(LenientNum(match v {
            serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            serde_json::Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
            _ => f64::NAN,
        }))
    }
}

/// The keys of a result that matter here. Unknown keys are ignored, so new
/// firmware fields never break parsing.
#[derive(Deserialize)]
struct RawResult<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    prb_id: Option<Num>,
    timestamp: Option<Num>,
    msm_id: Option<Num>,
    af: Option<Num>,
    fw: Option<Num>,
    sent: Option<Num>,
    rcvd: Option<Num>,
    #[serde(borrow)]
    dst_addr: Option<Cow<'a, str>>,
    #[serde(borrow)]
    addr: Option<Cow<'a, str>>,
    result: Option<Vec<RawPacket>>,
}

fn whole(field: &'static str, v: Num, max: f64) -> Result<u64, ResultError> {
    let x = v.0;
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= max {
        Ok(x as u64)
    } else {
        Err(ResultError::Bad {
            field,
            problem: format!("{x}, not a whole number in 0..={max}"),
        })
    }
}

/// Parses one result object from its JSON bytes.
///
/// Fails only when the object is not JSON, or lacks (or has an unusable)
/// `prb_id` or `timestamp`; odd packets are kept as [`Packet`] variants
/// for the caller to count.
pub fn parse_result(json: &[u8]) -> Result<PingResult, ParseOutcome> {
    // The common shapes take a fast, allocation-light path; anything it does
    // not fully understand (or that is not valid JSON) goes through serde,
    // which decides and explains.
    match super::scan::fields(json) {
        Some(fields) => fields.finish(),
        None => parse_with_serde(json),
    }
}

/// [`parse_result`] without the fast path (used to check that both agree).
#[doc(hidden)]
pub fn parse_with_serde(json: &[u8]) -> Result<PingResult, ParseOutcome> {
    let raw: RawResult<'_> = serde_json::from_slice(json)
        .map_err(|e| ParseOutcome::Error(ResultError::Json(e.to_string())))?;
    let dst = raw
        .dst_addr
        .as_deref()
        .or(raw.addr.as_deref())
        .unwrap_or("");
    Fields {
        not_ping: raw.kind.as_deref().is_some_and(|k| k != "ping"),
        prb_id: raw.prb_id.map(|n| n.0),
        timestamp: raw.timestamp.map(|n| n.0),
        msm_id: raw.msm_id.map(|n| n.0),
        af: raw.af.map(|n| n.0),
        fw: raw.fw.map(|n| n.0),
        sent: raw.sent.map(|n| n.0),
        rcvd: raw.rcvd.map(|n| n.0),
        dst_v6: dst.contains(':'),
        packets: raw
            .result
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                packet(
                    p.rtt.map(|r| r.0),
                    p.x.is_some(),
                    p.error.is_some(),
                    p.dup.is_some(),
                    p.late.is_some(),
                )
            })
            .collect(),
    }
    .finish()
}

impl Fields {
    pub(crate) fn finish(self) -> Result<PingResult, ParseOutcome> {
        if self.not_ping {
            return Err(ParseOutcome::Skip(SkipReason::NotPing));
        }
        let prb_id = self
            .prb_id
            .ok_or(ParseOutcome::Error(ResultError::Missing("prb_id")))?;
        let probe_id =
            whole("prb_id", Num(prb_id), u64::MAX as f64).map_err(ParseOutcome::Error)?;
        let ts = self
            .timestamp
            .ok_or(ParseOutcome::Error(ResultError::Missing("timestamp")))?;
        // Bound the timestamp so later minute arithmetic cannot overflow.
        let timestamp = whole("timestamp", Num(ts), 1e12).map_err(ParseOutcome::Error)? as i64;
        let af = match self.af {
            Some(6.0) => 6,
            Some(_) => 4,
            None if self.dst_v6 => 6,
            None => 4,
        };
        let count = |v: Option<f64>| {
            v.and_then(|n| whole("count", Num(n), u32::MAX as f64).ok())
                .map(|n| n as u32)
        };
        Ok(PingResult {
            probe_id,
            timestamp,
            msm_id: self
                .msm_id
                .and_then(|n| whole("msm_id", Num(n), u64::MAX as f64).ok()),
            af,
            firmware: count(self.fw).unwrap_or(0),
            packets: self.packets,
            sent: count(self.sent),
            rcvd: count(self.rcvd),
        })
    }
}

/// Why [`parse_result`] produced no result: a hard error, or a result that
/// is valid but deliberately skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOutcome {
    /// The input is malformed.
    Error(ResultError),
    /// The input is valid but of a kind this crate does not use.
    Skip(SkipReason),
}

/// One latency observation: a reply's rtt, or `None` for a packet sent
/// without a usable reply (packet loss).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// Unix time in seconds.
    pub timestamp: i64,
    /// Atlas probe id.
    pub probe_id: u64,
    /// Round-trip time in milliseconds; `None` when the packet was lost.
    pub rtt: Option<f64>,
}

/// Which results are kept, and how they become samples.
///
/// ```
/// use netprophet_core::atlas::SampleFilter;
///
/// let filter = SampleFilter::new().probes([6002, 6001]).window(1_770_000_000, 1_770_003_600);
/// assert_eq!(filter.probe_ids(), Some(&[6001, 6002][..])); // kept sorted
/// ```
#[derive(Clone, Debug, Default)]
pub struct SampleFilter {
    /// Only these probes, sorted and without repeats; `None` keeps all.
    probes: Option<Vec<u64>>,
    keep_ipv6: bool,
    window: Option<(i64, i64)>,
}

impl SampleFilter {
    /// Keeps every IPv4 result (as msm 1001 measures).
    pub fn new() -> Self {
        SampleFilter::default()
    }

    /// Keeps only these probes (in any order; stored sorted).
    pub fn probes(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        let mut ids: Vec<u64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        self.probes = Some(ids);
        self
    }

    /// Keeps only results with `start <= timestamp < stop`.
    pub fn window(mut self, start: i64, stop: i64) -> Self {
        self.window = Some((start, stop));
        self
    }

    /// Keeps IPv6 results too (default: IPv4 only, like msm 1001).
    pub fn keep_ipv6(mut self, keep: bool) -> Self {
        self.keep_ipv6 = keep;
        self
    }

    /// The probes kept, sorted; `None` when all are.
    pub fn probe_ids(&self) -> Option<&[u64]> {
        self.probes.as_deref()
    }

    /// Whether samples of `probe` are kept.
    pub fn keeps_probe(&self, probe: u64) -> bool {
        self.probes
            .as_ref()
            .is_none_or(|p| p.binary_search(&probe).is_ok())
    }

    /// Whether a result at `timestamp` is inside the window.
    pub fn keeps_time(&self, timestamp: i64) -> bool {
        self.window
            .is_none_or(|(start, stop)| (start..stop).contains(&timestamp))
    }
}

impl SampleFilter {
    /// Turns a parsed result into samples, counting every skip in `stats`.
    /// Returns `false` when the whole result was skipped.
    /// `stats.results` is left to the reader, which sees every result.
    pub fn samples(&self, r: &PingResult, stats: &mut ParseStats, out: &mut Vec<Sample>) -> bool {
        if !self.keeps_probe(r.probe_id) {
            stats.add(SkipReason::OtherProbe, 1);
            return false;
        }
        if !self.keeps_time(r.timestamp) {
            stats.add(SkipReason::OutsideWindow, 1);
            return false;
        }
        if r.af == 6 && !self.keep_ipv6 {
            stats.add(SkipReason::Ipv6, 1);
            return false;
        }
        if r.packets.is_empty() {
            if r.rcvd == Some(0) {
                stats.add(SkipReason::NoReplies, 1);
            } else {
                stats.add(SkipReason::AggregateOnly, 1);
            }
            return false;
        }
        let mut replies = 0u64;
        for p in &r.packets {
            let rtt = match *p {
                Packet::Reply(rtt) if (0.0..=MAX_RTT_MS).contains(&rtt) => {
                    replies += 1;
                    Some(rtt)
                }
                Packet::Reply(_) => {
                    stats.add(SkipReason::BadRtt, 1);
                    continue;
                }
                Packet::Timeout => {
                    stats.add(SkipReason::Timeout, 1);
                    None
                }
                Packet::Error => {
                    stats.add(SkipReason::PacketError, 1);
                    None
                }
                Packet::Duplicate => {
                    stats.add(SkipReason::Duplicate, 1);
                    continue;
                }
                Packet::Late => {
                    stats.add(SkipReason::Late, 1);
                    continue;
                }
            };
            out.push(Sample {
                timestamp: r.timestamp,
                probe_id: r.probe_id,
                rtt,
            });
        }
        if replies == 0 {
            stats.add(SkipReason::NoReplies, 1);
        }
        stats.samples += replies;
        stats.used_results += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FW5: &str = r#"{"fw":5100,"mver":"2.6.4","lts":5,"dst_name":"193.0.14.129","af":4,"dst_addr":"193.0.14.129","src_addr":"192.168.1.12","proto":"ICMP","ttl":54,"size":32,"result":[{"rtt":7.78},{"rtt":7.74},{"x":"*"}],"dup":0,"rcvd":2,"sent":3,"min":7.74,"max":7.78,"avg":7.76,"msm_id":1001,"prb_id":1009618,"timestamp":1787541897,"msm_name":"Ping","from":"190.56.171.134","type":"ping","step":240,"stored_timestamp":1787541968}"#;

    #[test]
    fn current_firmware_shape() {
        let r = parse_result(FW5.as_bytes()).unwrap();
        assert_eq!(r.probe_id, 1_009_618);
        assert_eq!(r.timestamp, 1_787_541_897);
        assert_eq!(r.msm_id, Some(1001));
        assert_eq!(
            r.packets,
            vec![Packet::Reply(7.78), Packet::Reply(7.74), Packet::Timeout]
        );
        let mut stats = ParseStats::default();
        let mut out = vec![];
        assert!(SampleFilter::default().samples(&r, &mut stats, &mut out));
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].rtt, None);
        assert_eq!(stats.samples, 2);
        assert_eq!(stats.count(SkipReason::Timeout), 1);
    }

    #[test]
    fn string_numbers_and_errors() {
        let r = parse_result(br#"{"prb_id":"12","timestamp":"100","result":[{"rtt":"1.5"},{"error":"sendto failed"},{"rtt":2,"dup":1},{"rtt":3,"late":2},{"rtt":-1}]}"#).unwrap();
        assert_eq!(r.probe_id, 12);
        assert_eq!(
            r.packets,
            vec![
                Packet::Reply(1.5),
                Packet::Error,
                Packet::Duplicate,
                Packet::Late,
                Packet::Reply(-1.0)
            ]
        );
        let mut stats = ParseStats::default();
        let mut out = vec![];
        SampleFilter::default().samples(&r, &mut stats, &mut out);
        assert_eq!(out.len(), 2, "one reply and one lost packet");
        for reason in [
            SkipReason::PacketError,
            SkipReason::Duplicate,
            SkipReason::Late,
            SkipReason::BadRtt,
        ] {
            assert_eq!(stats.count(reason), 1, "{reason}");
        }
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            parse_result(br#"{"timestamp":1}"#).unwrap_err(),
            ParseOutcome::Error(ResultError::Missing("prb_id"))
        );
        assert!(matches!(
            parse_result(br#"{"prb_id":1,"timestamp":-5}"#).unwrap_err(),
            ParseOutcome::Error(ResultError::Bad {
                field: "timestamp",
                ..
            })
        ));
        assert_eq!(
            parse_result(br#"{"type":"traceroute","prb_id":1,"timestamp":5}"#).unwrap_err(),
            ParseOutcome::Skip(SkipReason::NotPing)
        );
    }

    #[test]
    fn ipv6_is_skipped_unless_asked_for() {
        let r = parse_result(
            br#"{"prb_id":1,"timestamp":5,"dst_addr":"2001:7fd::1","result":[{"rtt":1.0}]}"#,
        )
        .unwrap();
        assert_eq!(r.af, 6);
        let mut stats = ParseStats::default();
        let mut out = vec![];
        assert!(!SampleFilter::default().samples(&r, &mut stats, &mut out));
        assert_eq!(stats.count(SkipReason::Ipv6), 1);
        let keep = SampleFilter {
            keep_ipv6: true,
            ..SampleFilter::default()
        };
        assert!(keep.samples(&r, &mut stats, &mut out));
    }
}

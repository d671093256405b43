//! Samples to per-probe minute bins: compact storage of one probe's
//! samples ([`ProbeBins`]) and of many probes' ([`ProbeCollector`]).

use std::collections::HashMap;

use rayon::prelude::*;

use super::{segments, FeatureConfig, FeatureFrame};
use crate::atlas::Sample;
use crate::minute::{bin_of, BIN_SECONDS};
use crate::rolling::BinStats;

/// One probe's observations in one minute: rtt statistics and lost packets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bin {
    /// rtt statistics of the replies.
    pub rtt: BinStats,
    /// Packets sent without a usable reply.
    pub lost: u32,
}

impl Bin {
    pub(crate) fn push(&mut self, rtt: Option<f64>) {
        match rtt {
            Some(v) => self.rtt.push(v),
            None => self.lost += 1,
        }
    }
}

/// One probe's samples, kept compactly until its bins are needed.
///
/// Samples may arrive in any order. Bins are formed after a stable sort by
/// timestamp, so within a minute values are accumulated in time order (and
/// in arrival order for equal timestamps), exactly as pandas does after
/// `sort_values(kind="stable")`.
///
/// A sample takes 8 bytes: its time as an offset and its rtt in whole
/// microseconds when the rtt is exactly such a value (Atlas writes rtts
/// with three decimals, and `k / 1000.0` is the same correctly rounded
/// double as parsing the decimal text). Other rtts are kept aside in full.
#[derive(Clone, Debug, Default)]
pub struct ProbeBins {
    base: i64,
    /// (time offset from `base`, rtt code), one allocation per probe: a
    /// live refresh holds thousands of probes with a few dozen samples
    /// each, where a second vector's header and slack would cost as much
    /// as the samples.
    stored: Vec<(u32, u32)>,
    exact: Vec<(u32, f64)>,
    /// Samples more than 68 years from the first one (a corrupt record at
    /// time 0, or one far in the future placed first), kept in full: rare,
    /// and dropping them, or the samples they crowd out, would lose data.
    far: Vec<(i64, Option<f64>)>,
    samples: u64,
    sorted: bool,
}

const LOST: u32 = u32::MAX;
const ASIDE: u32 = u32::MAX - 1;

impl ProbeBins {
    /// Adds one sample. A timestamp more than 68 years away from the
    /// probe's first one is kept aside in full (see
    /// [`ProbeBins::out_of_range`]); it lands in its own segment.
    pub fn push(&mut self, timestamp: i64, rtt: Option<f64>) {
        if self.stored.is_empty() && self.far.is_empty() {
            self.base = timestamp.saturating_sub(1 << 31);
            self.sorted = true;
        }
        if rtt.is_some() {
            self.samples += 1;
        }
        self.store(timestamp, rtt);
        if self.far.len() > 16 && self.far.len() > self.stored.len() {
            self.rebase();
        }
    }

    /// Stores a sample against the current base (aside when it does not
    /// fit); counts nothing.
    fn store(&mut self, timestamp: i64, rtt: Option<f64>) {
        let Ok(offset) = u32::try_from(timestamp.saturating_sub(self.base)) else {
            self.far.push((timestamp, rtt));
            return;
        };
        if self.sorted && self.stored.last().is_some_and(|&(o, _)| o > offset) {
            self.sorted = false;
        }
        let code = match rtt {
            None => LOST,
            Some(v) => {
                let micros = (v * 1000.0).round();
                if v.is_sign_positive()
                    && (0.0..ASIDE as f64).contains(&micros)
                    && micros / 1000.0 == v
                {
                    micros as u32
                } else {
                    self.exact.push((self.stored.len() as u32, v));
                    ASIDE
                }
            }
        };
        self.stored.push((offset, code));
    }

    /// Re-stores every sample around the ones kept aside once they
    /// outnumber the rest (the first sample was the odd one out), so the
    /// bulk of a probe keeps its 8-byte form. Arrival order is kept within
    /// each group, and the groups are decades apart, so bins are unchanged.
    fn rebase(&mut self) {
        let far = std::mem::take(&mut self.far);
        let stored: Vec<(i64, Option<f64>)> = (0..self.stored.len())
            .map(|i| (self.base + i64::from(self.stored[i].0), self.rtt(i)))
            .collect();
        self.base = far[0].0.saturating_sub(1 << 31);
        self.stored.clear();
        self.exact.clear();
        self.sorted = true;
        for (timestamp, rtt) in far.into_iter().chain(stored) {
            self.store(timestamp, rtt);
        }
    }

    /// Number of latency samples (replies) added.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples kept aside because their time was more than 68 years from
    /// the first one's (they are still binned, in their own segments).
    pub fn out_of_range(&self) -> u64 {
        self.far.len() as u64
    }

    fn rtt(&self, i: usize) -> Option<f64> {
        match self.stored[i].1 {
            LOST => None,
            ASIDE => {
                let at = self.exact.partition_point(|(j, _)| (*j as usize) < i);
                self.exact.get(at).map(|(_, v)| *v)
            }
            micros => Some(f64::from(micros) / 1000.0),
        }
    }

    /// The non-empty bins, as (minute start, bin), in time order.
    pub fn bins(&self) -> Vec<(i64, Bin)> {
        let mut order: Vec<u32> = (0..self.stored.len() as u32).collect();
        if !self.sorted {
            order.sort_by_key(|&i| self.stored[i as usize].0);
        }
        let mut far = self.far.clone();
        far.sort_by_key(|f| f.0);
        // Samples kept aside lie wholly before or after the stored ones.
        let (before, after): (Vec<_>, Vec<_>) = far.into_iter().partition(|f| f.0 < self.base);
        let stored = order.into_iter().map(|i| {
            let i = i as usize;
            (self.base + i64::from(self.stored[i].0), self.rtt(i))
        });
        let mut bins: Vec<(i64, Bin)> = Vec::new();
        for (timestamp, rtt) in before.into_iter().chain(stored).chain(after) {
            let minute = bin_of(timestamp);
            match bins.last_mut() {
                Some((m, bin)) if *m == minute => bin.push(rtt),
                _ => {
                    let mut bin = Bin::default();
                    bin.push(rtt);
                    bins.push((minute, bin));
                }
            }
        }
        bins
    }
}

/// Samples of many probes, grouped per probe.
#[derive(Clone, Debug, Default)]
pub struct ProbeCollector {
    probes: HashMap<u64, ProbeBins>,
}

impl ProbeCollector {
    /// An empty collector.
    pub fn new() -> Self {
        ProbeCollector::default()
    }

    /// Adds samples.
    pub fn extend(&mut self, samples: &[Sample]) {
        // Samples come a result at a time, so runs share a probe: one map
        // lookup per run.
        for run in samples.chunk_by(|a, b| a.probe_id == b.probe_id) {
            let bins = self.probes.entry(run[0].probe_id).or_default();
            for s in run {
                bins.push(s.timestamp, s.rtt);
            }
        }
    }

    /// Probe ids, ascending.
    pub fn probe_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.probes.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The probe with the most latency samples (lowest id on a tie).
    pub fn most_active(&self) -> Option<u64> {
        self.probes
            .iter()
            .max_by(|a, b| a.1.samples.cmp(&b.1.samples).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id)
    }

    /// Adds another collector's samples (e.g. from another chunk).
    pub fn merge(&mut self, other: ProbeCollector) {
        for (id, bins) in other.probes {
            match self.probes.get_mut(&id) {
                None => {
                    self.probes.insert(id, bins);
                }
                Some(mine) => {
                    for i in 0..bins.stored.len() {
                        mine.push(bins.base + i64::from(bins.stored[i].0), bins.rtt(i));
                    }
                    for (timestamp, rtt) in bins.far {
                        mine.push(timestamp, rtt);
                    }
                }
            }
        }
    }

    /// Drops every probe but `keep`.
    pub fn retain(&mut self, keep: &[u64]) {
        self.probes.retain(|id, _| keep.contains(id));
    }

    /// One probe's samples.
    pub fn probe(&self, id: u64) -> Option<&ProbeBins> {
        self.probes.get(&id)
    }

    /// The frames of one probe, one per segment in time order (empty when
    /// the probe has no sample).
    pub fn probe_frames(&self, id: u64, config: FeatureConfig) -> Vec<FeatureFrame> {
        self.probes
            .get(&id)
            .map(|b| FeatureFrame::from_bins(Some(id), &b.bins(), config))
            .unwrap_or_default()
    }

    /// How many minute rows the frames of every probe will have, without
    /// building them (to size buffers once instead of growing them).
    pub fn minutes(&self, config: FeatureConfig) -> usize {
        self.probes
            .values()
            .map(|b| {
                segments(&b.bins(), config.max_fill)
                    .map(|seg| {
                        let first = seg.first().map_or(0, |s| s.0);
                        let last = seg.last().map_or(0, |s| s.0);
                        ((last - first) / BIN_SECONDS) as usize + 1
                    })
                    .sum::<usize>()
            })
            .sum()
    }

    /// Frames of every probe (one per segment), built in parallel, ordered
    /// by probe id, then time.
    pub fn frames(&self, config: FeatureConfig) -> Vec<FeatureFrame> {
        let per_probe: Vec<Vec<FeatureFrame>> = self
            .probe_ids()
            .par_iter()
            .map(|&id| FeatureFrame::from_bins(Some(id), &self.probes[&id].bins(), config))
            .collect();
        per_probe.into_iter().flatten().collect()
    }

    /// Samples kept aside because their time was far from the first one
    /// of their probe (see [`ProbeBins::out_of_range`]), over all probes.
    pub fn out_of_range(&self) -> u64 {
        self.probes.values().map(ProbeBins::out_of_range).sum()
    }
}

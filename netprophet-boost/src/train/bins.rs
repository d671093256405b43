//! Quantile bins: each feature's values are cut into at most `max_bin`
//! ranges once, before training, so split finding works on small
//! histograms instead of sorted values.
//!
//! Where the cuts go follows XGBoost's `hist`: the same weighted quantile
//! sketch (values buffered in row order, summaries merged and pruned by
//! rank in float32, rank error at most 1/(8 x max_bin)), pruned to
//! `max_bin` entries by the same rule, so the two libraries bin the same
//! rows the same way and grow the same trees. The cut values are
//! XGBoost's too, the last one above every value included: a split after
//! a feature's last bin sends every observed value one way and the
//! missing ones the other.

use rayon::prelude::*;

use super::batches::RowBatches;
use crate::error::ModelError;

/// The binned rows, row-major, as histogram building reads them.
pub(crate) enum RowBins {
    /// Each value's bin within its feature (a missing value: the feature's
    /// missing slot, `cuts.len()`), when every feature's bins fit a byte.
    /// Every feature then has at least 256 histogram slots, so a byte
    /// indexes its slots with no bound to check, and the matrix is half
    /// the size: below the root a node's rows are scattered over it.
    Narrow(Vec<u8>),
    /// Each value's histogram slot (the feature's offset plus its bin).
    Wide(Vec<u16>),
}

/// Histogram slots of each feature when the rows are [`RowBins::Narrow`].
pub(crate) const NARROW_SLOTS: usize = 256;

/// The first of the four spare slots (never read: past every bin and the
/// missing slot) that a hot bin's rows point at in the row-major copy.
pub(crate) const SPARE: u8 = 252;

/// Hot bins kept at most.
pub(crate) const MAX_HOT: usize = 4;

/// Bin index of a missing value.
pub(crate) const MISSING: u16 = u16::MAX;

/// Cut points of every feature and the binned training matrix.
pub(crate) struct Binned {
    /// Per feature, ascending cut values, XGBoost's: a value `v` falls in
    /// bin `#{c in cuts : c <= v}`, so `bin <= b` is exactly
    /// `v < cuts[b]`, the comparison the saved tree makes. The last cut
    /// lies above every value, so the bins are `0..cuts.len()`.
    pub cuts: Vec<Vec<f32>>,
    /// Per feature, a value below all of its values (XGBoost's "min
    /// value"): the threshold of a split that sends only the missing
    /// values left.
    pub min_vals: Vec<f32>,
    /// Offset of each feature's first bin in a node histogram.
    pub offsets: Vec<usize>,
    /// Total histogram slots (bins of all features, plus one missing slot
    /// per feature, which split finding never reads).
    pub slots: usize,
    /// The rows, row-major, for building histograms: one indexed add per
    /// value.
    pub row_bins: RowBins,
    /// The same slots feature-major (`rows` per feature), for partitioning
    /// a node by one feature with dense reads.
    pub col_slots: Vec<u16>,
    /// Rows.
    pub rows: usize,
    /// Features per row.
    pub width: usize,
    /// No value is missing (XGBoost then sums a node's gradients from
    /// the first feature's histogram instead of row by row).
    pub dense: bool,
    /// Features whose bins repeat from row to row (one-byte bins only):
    /// `(feature, bin)`, at most [`MAX_HOT`]. In the row-major copy the
    /// rows of that bin point at the spare slots [`SPARE`].. in turn
    /// instead, and the histogram fill sums the bin in a register (see
    /// `histogram::fill_narrow_rows`).
    pub hot: Vec<(usize, u8)>,
}

impl Binned {
    /// Bins `x` (row-major, `width` features, already checked) with at
    /// most `max_bin` bins per feature, cut at weighted quantiles of the
    /// non-missing values (rows of weight 0 take no part in placing the
    /// cuts). Training goes through [`Binned::from_batches`]; this is
    /// the tests' shorthand for one batch.
    #[cfg(test)]
    pub fn new(
        x: &[f32],
        width: usize,
        weights: Option<&[f32]>,
        max_bin: usize,
    ) -> Result<Binned, ModelError> {
        let rows = x.len() / width.max(1);
        Binned::from_batches(
            &mut super::batches::SliceBatches::new(x, width, rows),
            width,
            rows,
            weights,
            max_bin,
        )
    }

    /// Bins the rows `batches` hands over, reading them three times: to
    /// count each feature's values (the sketch is sized by them, as
    /// XGBoost's is), to sketch them in row order, and to bin them. Only
    /// the cuts and the binned rows are kept, so the result is the same
    /// whatever the batch sizes, and the same as binning all
    /// the rows at once.
    pub fn from_batches(
        batches: &mut dyn RowBatches,
        width: usize,
        rows: usize,
        weights: Option<&[f32]>,
        max_bin: usize,
    ) -> Result<Binned, ModelError> {
        if width == 0 || rows == 0 {
            return Err(ModelError::Input(format!(
                "{rows} rows of {width} features: nothing to bin"
            )));
        }
        // Slots of all features must fit a u16.
        let max_bin = max_bin.clamp(2, (usize::from(MISSING) / width).saturating_sub(1).max(2));

        // Pass 1: each feature's number of values, and no infinity.
        let mut counts = vec![0usize; width];
        let mut dense = true;
        let mut seen = 0usize;
        batches.for_each_batch(&mut |b: &[f32]| {
            let n = batch_rows(b, width, seen, rows)?;
            let per_feature: Vec<(usize, Option<usize>)> = (0..width)
                .into_par_iter()
                .map(|f| {
                    let mut count = 0;
                    for (k, row) in b.chunks_exact(width).enumerate() {
                        let v = row[f];
                        if v.is_infinite() {
                            return (count, Some(k));
                        }
                        count += usize::from(!v.is_nan());
                    }
                    (count, None)
                })
                .collect();
            for (f, (count, infinite)) in per_feature.into_iter().enumerate() {
                if let Some(k) = infinite {
                    return Err(ModelError::Input(format!(
                        "row {}, feature {f}: {} is infinite",
                        seen + k,
                        b[k * width + f]
                    )));
                }
                counts[f] += count;
                dense &= count == n;
            }
            seen += n;
            Ok(())
        })?;
        if seen != rows {
            return Err(ModelError::Input(format!(
                "the batches hold {seen} rows for {rows} labels"
            )));
        }

        // Pass 2: XGBoost's sketch sees each feature's values in row order.
        let mut sketches: Vec<Sketch> = counts
            .iter()
            .map(|&n| Sketch::new(n, max_bin, weights.is_some()))
            .collect();
        let mut at = 0usize;
        batches.for_each_batch(&mut |b: &[f32]| {
            let n = batch_rows(b, width, at, rows)?;
            sketches.par_iter_mut().enumerate().for_each(|(f, s)| {
                for (k, row) in b.chunks_exact(width).enumerate() {
                    let v = row[f];
                    if !v.is_nan() {
                        s.push(v, weights.map_or(1.0, |w| w[at + k]));
                    }
                }
            });
            at += n;
            Ok(())
        })?;
        same_rows(at, rows)?;
        let (cuts, min_vals): (Vec<Vec<f32>>, Vec<f32>) = sketches
            .into_par_iter()
            .zip(&counts)
            .map(|(s, &n)| feature_cuts(&s.summary(), n, max_bin))
            .unzip();
        // A byte per value holds every bin, and the missing slot of the
        // features that have missing values; each feature then gets at
        // least a byte's worth of slots (all slots still fit a u16).
        let narrow = cuts
            .iter()
            .zip(&counts)
            .all(|(c, &n)| c.len() + usize::from(n < rows) <= NARROW_SLOTS)
            && width * (NARROW_SLOTS + 1) <= usize::from(MISSING);
        let mut offsets = Vec::with_capacity(width);
        let mut slots = 0;
        for c in &cuts {
            offsets.push(slots);
            // Bins 0..cuts.len(), then the missing slot.
            slots += if narrow {
                (c.len() + 1).max(NARROW_SLOTS)
            } else {
                c.len() + 1
            };
        }

        // Pass 3: a value's bin counts the cuts at or below it (the last
        // bin holds anything above, as in XGBoost's bin search); missing
        // values take the slot past the last bin.
        let mut col_slots = vec![0u16; rows * width];
        let mut row_bins = if narrow {
            RowBins::Narrow(vec![0u8; rows * width])
        } else {
            RowBins::Wide(vec![0u16; rows * width])
        };
        let mut at = 0usize;
        batches.for_each_batch(&mut |b: &[f32]| {
            let n = batch_rows(b, width, at, rows)?;
            col_slots
                .par_chunks_mut(rows)
                .zip(cuts.par_iter().zip(&offsets))
                .enumerate()
                .for_each(|(f, (col, (cuts, &off)))| {
                    let last_bin = cuts.len() - 1;
                    for (slot, row) in col[at..at + n].iter_mut().zip(b.chunks_exact(width)) {
                        let v = row[f];
                        let bin = if v.is_nan() {
                            cuts.len()
                        } else {
                            cuts.partition_point(|&c| c <= v).min(last_bin)
                        };
                        *slot = (off + bin) as u16;
                    }
                });
            // The row-major copy.
            let col_slots = &col_slots;
            let offsets = &offsets;
            match &mut row_bins {
                RowBins::Narrow(bins) => {
                    transpose(&mut bins[at * width..(at + n) * width], width, |f, k| {
                        // Below 256 by the choice of `narrow`.
                        (usize::from(col_slots[f * rows + at + k]) - offsets[f]) as u8
                    })
                }
                RowBins::Wide(slots) => {
                    transpose(&mut slots[at * width..(at + n) * width], width, |f, k| {
                        col_slots[f * rows + at + k]
                    })
                }
            }
            at += n;
            Ok(())
        })?;
        same_rows(at, rows)?;
        // On one thread the fill's other features keep the CPU busy while
        // a hot bin's rows wait (the register sum measured 1.03x the time);
        // on more, a thread may hold little else (0.9x).
        let hot = match &mut row_bins {
            RowBins::Narrow(bins) if rayon::current_num_threads() > 1 => {
                mark_hot(bins, &col_slots, &offsets, &cuts, rows)
            }
            _ => Vec::new(),
        };
        Ok(Binned {
            cuts,
            min_vals,
            offsets,
            slots,
            row_bins,
            col_slots,
            rows,
            width,
            dense,
            hot,
        })
    }

    /// The hot bins of `features`, as `(feature, bin)`.
    pub fn hot_in<'a>(
        &'a self,
        features: &'a std::ops::Range<usize>,
    ) -> impl Iterator<Item = &'a (usize, u8)> + 'a {
        self.hot.iter().filter(move |(f, _)| features.contains(f))
    }

    /// Histogram slot of feature `f`'s missing values.
    pub fn missing_slot(&self, f: usize) -> usize {
        self.offsets[f] + self.cuts[f].len()
    }

    /// The threshold of a split of feature `f` after bin `bin` (values in
    /// bins `..=bin` go left); `-1` is the split below every value.
    pub fn threshold(&self, f: usize, bin: i32) -> f32 {
        match usize::try_from(bin) {
            Ok(b) => self.cuts[f][b],
            Err(_) => self.min_vals[f],
        }
    }

    /// Histogram slot of row `r`'s feature `f`, from the row-major copy.
    #[cfg(test)]
    pub fn row_slot(&self, r: usize, f: usize) -> usize {
        match &self.row_bins {
            RowBins::Narrow(bins) => {
                let byte = bins[r * self.width + f];
                let bin = match self.hot.iter().find(|h| h.0 == f) {
                    Some(&(_, hot)) if byte >= SPARE => hot,
                    _ => byte,
                };
                self.offsets[f] + usize::from(bin)
            }
            RowBins::Wide(slots) => usize::from(slots[r * self.width + f]),
        }
    }

    /// Bin of row `r`'s feature `f`, `MISSING` for a missing value.
    #[cfg(test)]
    pub fn bin(&self, r: usize, f: usize) -> u16 {
        let slot = self.col_slots[f * self.rows + r] as usize;
        if slot == self.missing_slot(f) {
            MISSING
        } else {
            (slot - self.offsets[f]) as u16
        }
    }
}

/// Finds the features whose rows run in one bin (a packet count that is
/// nearly always 3, a flag): each has a bin that at least a quarter of
/// all rows share with the row before. Adding such rows to a histogram
/// one after another waits, row after row, for the store of the same
/// slot; so in the row-major one-byte `bins` their rows point at the
/// spare slots in turn, and the fill sums the bin in a register. Keeps
/// the [`MAX_HOT`] most repeated, only where the spare slots are free.
fn mark_hot(
    bins: &mut [u8],
    col_slots: &[u16],
    offsets: &[usize],
    cuts: &[Vec<f32>],
    rows: usize,
) -> Vec<(usize, u8)> {
    let width = offsets.len();
    let mut found: Vec<(usize, usize, u8)> = (0..width)
        .into_par_iter()
        .filter(|&f| cuts[f].len() < usize::from(SPARE))
        .filter_map(|f| {
            let col = &col_slots[f * rows..(f + 1) * rows];
            let mut repeats = vec![0usize; usize::from(SPARE)];
            for pair in col.windows(2) {
                if pair[0] == pair[1] {
                    repeats[usize::from(pair[0]) - offsets[f]] += 1;
                }
            }
            let (bin, &count) = repeats.iter().enumerate().max_by_key(|&(_, c)| *c)?;
            (count >= rows / 4 && count > 0).then_some((count, f, bin as u8))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.truncate(MAX_HOT);
    let mut hot: Vec<(usize, u8)> = found.into_iter().map(|(_, f, b)| (f, b)).collect();
    hot.sort();
    if !hot.is_empty() {
        bins.par_chunks_mut(width * 4096)
            .enumerate()
            .for_each(|(c, block)| {
                for (k, row) in block.chunks_mut(width).enumerate() {
                    let r = c * 4096 + k;
                    for &(f, bin) in &hot {
                        if row[f] == bin {
                            row[f] = SPARE + (r % 4) as u8;
                        }
                    }
                }
            });
    }
    hot
}

/// Fills the row-major `dst` (`width` values a row) with `value(f, k)`
/// for feature `f` of row `k`, 4 096 rows per parallel task.
fn transpose<T: Send>(dst: &mut [T], width: usize, value: impl Fn(usize, usize) -> T + Sync) {
    dst.par_chunks_mut(width * 4096)
        .enumerate()
        .for_each(|(c, block)| {
            for (k, row) in block.chunks_mut(width).enumerate() {
                for (f, v) in row.iter_mut().enumerate() {
                    *v = value(f, c * 4096 + k);
                }
            }
        });
}

/// Rows in batch `b`, which must hold whole rows of `width` features and,
/// after the `at` rows before it, no more than `rows` in all.
fn batch_rows(b: &[f32], width: usize, at: usize, rows: usize) -> Result<usize, ModelError> {
    if !b.len().is_multiple_of(width) {
        return Err(ModelError::Input(format!(
            "a batch of {} values after row {at} is not whole rows of {width} features",
            b.len()
        )));
    }
    let n = b.len() / width;
    if at + n > rows {
        return Err(ModelError::Input(format!(
            "the batches hold more than the {rows} rows of the labels (or changed between passes)"
        )));
    }
    Ok(n)
}

/// The rows of a later pass must be the first pass's.
fn same_rows(at: usize, rows: usize) -> Result<(), ModelError> {
    if at == rows {
        Ok(())
    } else {
        Err(ModelError::Input(format!(
            "the batches held {rows} rows, then {at}: they changed between passes"
        )))
    }
}

/// One value of a feature's weighted quantile summary: the weight of
/// values certainly below it (`rmin`), of values at or below it at most
/// (`rmax`), and its own (`wmin`), all float32 as in XGBoost.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    value: f32,
    rmin: f32,
    rmax: f32,
    wmin: f32,
}

impl Entry {
    fn rmin_next(&self) -> f32 {
        self.rmin + self.wmin
    }

    fn rmax_prev(&self) -> f32 {
        self.rmax - self.wmin
    }

    /// The entry in a merged summary, given the weight of the other
    /// side's values certainly below it and at most at or below it.
    fn shifted(&self, below: f32, at_most: f32) -> Entry {
        Entry {
            rmin: self.rmin + below,
            rmax: self.rmax + at_most,
            ..*self
        }
    }
}

/// XGBoost's weighted quantile sketch of one feature (`hist`'s
/// `WQuantileSketch`): values enter a buffer in row order; a full buffer
/// becomes a summary, which is merged into a hierarchy of levels, each
/// pruned to `limit` entries. Re-implemented from its behaviour so the
/// cuts, and so the trees, match XGBoost's.
struct Sketch {
    limit: usize,
    queue: Vec<(f32, f32)>,
    capacity: usize,
    levels: Vec<Vec<Entry>>,
    /// Every weight is a count of rows (no row weights), and their sums
    /// are exact in float32: see [`sort_queue`].
    counts: bool,
}

impl Sketch {
    /// A sketch for `n` values cut into at most `max_bin` bins; `weighted`
    /// when rows have weights of their own.
    fn new(n: usize, max_bin: usize, weighted: bool) -> Sketch {
        let n_bins = max_bin.min(n).max(1);
        let eps = 1.0 / f64::from(n_bins as f32 * 8.0);
        // The fewest levels whose buffers hold `n` values.
        let mut levels = 1u32;
        let limit = loop {
            let limit = ((f64::from(levels) / eps).ceil() as usize + 1).min(n);
            if (1usize << levels).saturating_mul(limit) >= n || levels >= 62 {
                break limit;
            }
            levels += 1;
        };
        Sketch {
            limit,
            queue: Vec::new(),
            capacity: limit * 2,
            levels: Vec::new(),
            counts: !weighted && n < 1 << 24,
        }
    }

    fn push(&mut self, v: f32, w: f32) {
        if w == 0.0 {
            return;
        }
        if let Some(last) = self.queue.last_mut() {
            if last.0 == v {
                last.1 += w;
                return;
            }
        }
        if self.queue.len() == self.capacity {
            let summary = queue_summary(&mut self.queue, self.counts);
            self.queue.clear();
            self.push_summary(summary);
        }
        self.queue.push((v, w));
    }

    /// Merges a buffer's summary into the levels: into the first empty
    /// one, combining with each full one on the way while the result
    /// still exceeds the limit.
    fn push_summary(&mut self, mut temp: Vec<Entry>) {
        for l in 0.. {
            if self.levels.len() <= l {
                self.levels.push(Vec::new());
            }
            if self.levels[l].is_empty() {
                self.levels[l] = prune(&temp, self.limit);
                return;
            }
            let combined = combine(&prune(&temp, self.limit), &self.levels[l]);
            if combined.len() > self.limit {
                self.levels[l].clear();
                temp = combined;
            } else {
                self.levels[l] = combined;
                return;
            }
        }
    }

    /// The final summary: the buffer's, merged with every level.
    fn summary(mut self) -> Vec<Entry> {
        let out = queue_summary(&mut self.queue, self.counts);
        if self.levels.is_empty() {
            return prune(&out, self.limit);
        }
        let mut acc = prune(&out, self.limit);
        for level in &self.levels {
            if level.is_empty() {
                continue;
            }
            acc = if acc.is_empty() {
                level.clone()
            } else {
                prune(&combine(&acc, level), self.limit)
            };
        }
        acc
    }
}

/// The exact summary of a buffer of (value, weight) pairs; `counts` as
/// [`Sketch::counts`].
fn queue_summary(queue: &mut [(f32, f32)], counts: bool) -> Vec<Entry> {
    sort_queue(queue, counts);
    let mut out: Vec<Entry> = Vec::new();
    let mut below = 0f32;
    let mut i = 0;
    while i < queue.len() {
        let (v, mut w) = queue[i];
        let mut j = i + 1;
        while j < queue.len() && queue[j].0 == v {
            w += queue[j].1;
            j += 1;
        }
        out.push(Entry {
            value: v,
            rmin: below,
            rmax: below + w,
            wmin: w,
        });
        below += w;
        i = j;
    }
    out
}

/// Buffers shorter than this are sorted by comparison: a radix sort's
/// passes over its digit counts would cost more than they save.
const RADIX_MIN: usize = 1024;

/// Sorts a sketch's buffer by value in `total_cmp` order. The order of
/// equal values decides only the order their weights are added in; when
/// the weights are `counts` (whole numbers whose sums stay below 2^24),
/// every order gives the same float32 sums, so a radix sort (stable, three
/// passes of 11 bits over the values' bits made order-preserving) may
/// replace the comparison sort: 4-5 % of a one-thread fit on the 228 320
/// rows. Row weights keep the comparison sort and its order.
fn sort_queue(queue: &mut [(f32, f32)], counts: bool) {
    if !counts || queue.len() < RADIX_MIN {
        queue.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        return;
    }
    // Flipping the sign bit of a positive float, and every bit of a
    // negative one, orders the bits as total_cmp orders the floats.
    let key = |v: f32| {
        let b = v.to_bits();
        if b >> 31 == 1 {
            !b
        } else {
            b ^ 0x8000_0000
        }
    };
    let value = |k: u32| f32::from_bits(if k >> 31 == 1 { k ^ 0x8000_0000 } else { !k });
    let mut from: Vec<(u32, f32)> = queue.iter().map(|&(v, w)| (key(v), w)).collect();
    let mut to = vec![(0u32, 0f32); from.len()];
    for shift in [0u32, 11, 22] {
        let digit = |k: u32| ((k >> shift) & 0x7FF) as usize;
        let mut count = [0usize; 2048];
        for &(k, _) in &from {
            count[digit(k)] += 1;
        }
        // A digit every value shares moves nothing.
        if count.contains(&from.len()) {
            continue;
        }
        let mut at = 0;
        for c in count.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &(k, w) in &from {
            let d = digit(k);
            to[count[d]] = (k, w);
            count[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    for (q, &(k, w)) in queue.iter_mut().zip(&from) {
        *q = (value(k), w);
    }
}

/// Merges two summaries of disjoint sets of values.
fn combine(a: &[Entry], b: &[Entry]) -> Vec<Entry> {
    if a.is_empty() {
        return b.to_vec();
    }
    if b.is_empty() {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    let (mut a_prev_rmin, mut b_prev_rmin) = (0f32, 0f32);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.value == y.value {
            out.push(Entry {
                value: x.value,
                rmin: x.rmin + y.rmin,
                rmax: x.rmax + y.rmax,
                wmin: x.wmin + y.wmin,
            });
            a_prev_rmin = x.rmin_next();
            b_prev_rmin = y.rmin_next();
            i += 1;
            j += 1;
        } else if x.value < y.value {
            out.push(x.shifted(b_prev_rmin, y.rmax_prev()));
            a_prev_rmin = x.rmin_next();
            i += 1;
        } else {
            out.push(y.shifted(a_prev_rmin, x.rmax_prev()));
            b_prev_rmin = y.rmin_next();
            j += 1;
        }
    }
    // What is left of one side lies above all of the other.
    let (a_rmax, b_rmax) = (a[a.len() - 1].rmax, b[b.len() - 1].rmax);
    out.extend(a[i..].iter().map(|x| x.shifted(b_prev_rmin, b_rmax)));
    out.extend(b[j..].iter().map(|y| y.shifted(a_prev_rmin, a_rmax)));
    // Rounding can break the ranks' order; restore it.
    let (mut prev_rmin, mut prev_rmax) = (0f32, 0f32);
    for e in &mut out {
        if e.rmin < prev_rmin {
            e.rmin = prev_rmin;
        } else {
            prev_rmin = e.rmin;
        }
        if e.rmax < prev_rmax {
            e.rmax = prev_rmax;
        }
        if e.rmax < e.rmin_next() {
            e.rmax = e.rmin_next();
        }
        prev_rmax = e.rmax;
    }
    out
}

/// Cut values for one feature from its summary (`n` non-missing values),
/// by XGBoost's rule (`MakeCuts`): the summary is pruned to `8 x max_bin`
/// entries, then to `max_bin + 1`; every kept value but the smallest and,
/// when the summary was pruned, the largest becomes a cut, and a last cut
/// above the largest value closes the range. Also returns the "min
/// value" below the smallest. All in float32, as XGBoost computes them.
fn feature_cuts(summary: &[Entry], n: usize, max_bin: usize) -> (Vec<f32>, f32) {
    let intermediate = n.min(max_bin * 8);
    let max_num_bins = intermediate.min(max_bin);
    let pruned = if n == 0 {
        Vec::new()
    } else {
        prune(&prune(summary, intermediate), max_num_bins + 1)
    };
    let min_val = match pruned.first() {
        Some(e) => e.value - e.value.abs() - 1e-5,
        // A feature without values.
        None => 1e-5,
    };
    let mut cuts: Vec<f32> = Vec::with_capacity(max_num_bins + 1);
    for e in pruned.iter().take(pruned.len().min(max_num_bins)).skip(1) {
        if cuts.last().is_none_or(|&last| e.value > last) {
            cuts.push(e.value);
        }
    }
    let top = pruned.last().map_or(min_val, |e| e.value);
    cuts.push(top + (top.abs() + 1e-5));
    (cuts, min_val)
}

/// Keeps at most `max` entries of a summary, the first and the last among
/// them, choosing the rest at equal steps of rank (XGBoost's summary
/// prune, in its float32 arithmetic).
fn prune(src: &[Entry], max: usize) -> Vec<Entry> {
    if src.len() <= max {
        return src.to_vec();
    }
    let last = src.len() - 1;
    let begin = src[0].rmax;
    let range = src[last].rmin - begin;
    let steps = max.saturating_sub(1);
    let mut out = vec![src[0]];
    let (mut i, mut kept) = (1, 0);
    for k in 1..steps {
        let dx2 = 2.0 * ((k as f32 * range) / steps as f32 + begin);
        while i < last && dx2 >= src[i + 1].rmax + src[i + 1].rmin {
            i += 1;
        }
        if i == last {
            break;
        }
        // Between entries i and i + 1: keep the one whose rank is nearer.
        let pick = if dx2 < src[i].rmin_next() + src[i + 1].rmax_prev() {
            i
        } else {
            i + 1
        };
        if pick != kept {
            out.push(src[pick]);
            kept = pick;
        }
    }
    if kept != last {
        out.push(src[last]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the row-major bins are one byte, and that they agree with
    /// the feature-major slots.
    fn narrow_and_consistent(b: &Binned) -> bool {
        for r in 0..b.rows {
            for f in 0..b.width {
                assert_eq!(b.row_slot(r, f), usize::from(b.col_slots[f * b.rows + r]));
            }
        }
        matches!(b.row_bins, RowBins::Narrow(_))
    }

    #[test]
    fn one_byte_bins_where_every_bin_and_missing_slot_fits_a_byte() {
        // 256 distinct values: 256 bins, no missing slot in use.
        let dense: Vec<f32> = (0..256).map(|v| v as f32).collect();
        let b = Binned::new(&dense, 1, None, 256).unwrap();
        assert_eq!(b.cuts[0].len(), 256);
        assert!(narrow_and_consistent(&b));
        // The same and a missing value: 256 bins and a missing slot.
        let mut with_nan = dense.clone();
        with_nan.push(f32::NAN);
        let b = Binned::new(&with_nan, 1, None, 256).unwrap();
        assert!(!narrow_and_consistent(&b));
        // 255 bins and a missing slot fit.
        let b = Binned::new(&with_nan[1..], 1, None, 256).unwrap();
        assert_eq!(b.cuts[0].len(), 255);
        assert!(narrow_and_consistent(&b));
        // More than 256 bins.
        let many: Vec<f32> = (0..600).map(|v| v as f32).collect();
        assert!(!narrow_and_consistent(
            &Binned::new(&many, 1, None, 1000).unwrap()
        ));
        // So many features that 256 slots each would not fit a u16.
        let wide: Vec<f32> = (0..300 * 3).map(|v| (v % 7) as f32).collect();
        let b = Binned::new(&wide, 300, None, 256).unwrap();
        assert!(!narrow_and_consistent(&b));
        assert!(b.slots <= usize::from(MISSING));
    }

    #[test]
    fn bins_match_the_saved_comparison() {
        let x = [1.0f32, 5.0, 3.0, f32::NAN, 3.0, 2.0];
        let b = Binned::new(&x, 1, None, 256).unwrap();
        // XGBoost's cuts: the values above the smallest, and one above
        // the largest (5 + (5 + 1e-5)).
        assert_eq!(b.cuts[0], vec![2.0, 3.0, 5.0, 10.00001]);
        assert_eq!(b.min_vals[0], -1e-5);
        let bins: Vec<u16> = (0..6).map(|r| b.bin(r, 0)).collect();
        assert_eq!(bins, vec![0, 3, 2, MISSING, 2, 1]);
        // bin <= b  <=>  v < cuts[b]
        for (i, &v) in x.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            for (k, &c) in b.cuts[0].iter().enumerate() {
                assert_eq!(bins[i] as usize <= k, v < c);
            }
        }
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let x: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let b = Binned::new(&x, 1, None, 16).unwrap();
        assert!(
            b.cuts[0].len() <= 16 && b.cuts[0].len() >= 15,
            "{}",
            b.cuts[0].len()
        );
        let mut counts = [0usize; 16];
        for r in 0..x.len() {
            counts[b.bin(r, 0) as usize] += 1;
        }
        assert!(
            counts
                .iter()
                .filter(|&&c| c > 0)
                .all(|&c| c > 400 && c < 900),
            "{counts:?}"
        );
    }

    #[test]
    fn a_large_weighted_shuffled_column_is_cut_within_the_sketch_error() {
        // 200 000 rows in scrambled order, each value 4 times, some rows
        // weighing 0 or 2: far more than the sketch's buffer, so summaries
        // are merged and pruned through several levels.
        let n = 200_000usize;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 50_000) as f32).collect();
        let w: Vec<f32> = (0..n)
            .map(|i| match (i % 10, i % 7) {
                (0, _) => 0.0,
                (_, 0) => 2.0,
                _ => 1.0,
            })
            .collect();
        let b = Binned::new(&x, 1, Some(&w), 64).unwrap();
        let cuts = &b.cuts[0];
        assert!(cuts.len() <= 64 && cuts.len() >= 61, "{} cuts", cuts.len());
        assert!(cuts.windows(2).all(|p| p[0] < p[1]));
        let mut weight = vec![0f64; cuts.len()];
        for r in 0..n {
            weight[b.bin(r, 0) as usize] += f64::from(w[r]);
        }
        let total: f64 = weight.iter().sum();
        // Each cut's rank is within total / (8 x 64) of its target, so a
        // bin's weight is within a quarter of total / 64.
        let target = total / cuts.len() as f64;
        for (k, &bw) in weight.iter().enumerate() {
            assert!(
                (bw - target).abs() <= 0.3 * target,
                "bin {k}: weight {bw}, expected about {target}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_sketch_that_fits_its_buffer_is_the_exact_summary(
            values in proptest::collection::vec(proptest::num::f32::ANY, 0..300),
        ) {
            // Distinct values in `total_cmp` order (equal values, -0 and
            // +0 among them, are one entry), with their counts as ranks.
            let values: Vec<f32> = values.into_iter().filter(|v| !v.is_nan()).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f32::total_cmp);
            let mut want: Vec<(f32, f32)> = Vec::new();
            for v in sorted {
                match want.last_mut() {
                    Some((last, w)) if *last == v => *w += 1.0,
                    _ => want.push((v, 1.0)),
                }
            }
            let mut sketch = Sketch::new(values.len(), 256, false);
            for &v in &values {
                sketch.push(v, 1.0);
            }
            let summary = sketch.summary();
            proptest::prop_assert_eq!(summary.len(), want.len());
            let mut below = 0.0;
            for (e, &(v, w)) in summary.iter().zip(&want) {
                // -0 and +0 are one value; which sign stands for it
                // depends on the order the rows came in, as in XGBoost.
                proptest::prop_assert_eq!(e.value, v);
                proptest::prop_assert_eq!((e.rmin, e.rmax, e.wmin), (below, below + w, w));
                below += w;
            }
        }

        /// The radix sort orders a buffer as the comparison sort does:
        /// the same values in the same order (equal ones may swap
        /// weights, which are then counts, whose sums do not depend on
        /// the order), the same multiset of pairs.
        #[test]
        fn the_radix_sort_orders_as_total_cmp(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f32::ANY,
                    proptest::strategy::Strategy::prop_map(-3i32..3, |v| v as f32),
                    proptest::sample::select(vec![0.0f32, -0.0, f32::MIN_POSITIVE, -1e-45]),
                ],
                RADIX_MIN..RADIX_MIN + 600,
            ),
        ) {
            let queue: Vec<(f32, f32)> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, &v)| (v, (i % 5 + 1) as f32))
                .collect();
            let mut want = queue.clone();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut got = queue;
            sort_queue(&mut got, true);
            let bits = |q: &[(f32, f32)]| q.iter().map(|p| p.0.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&got), bits(&want));
            got.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn every_bin_counts_the_cuts_at_or_below_its_value(
            raw in proptest::collection::vec((-50i32..50, 0u8..10), 1..400),
            max_bin in 2usize..40,
        ) {
            // Few distinct values (with repeats and missing ones), on two
            // features, so both the exact and the quantile cuts are used.
            let x: Vec<f32> = raw
                .iter()
                .flat_map(|&(v, m)| {
                    let v = v as f32 / 4.0;
                    [if m == 0 { f32::NAN } else { v }, v * v]
                })
                .collect();
            let b = Binned::new(&x, 2, None, max_bin).unwrap();
            for f in 0..2 {
                proptest::prop_assert!(b.cuts[f].len() <= max_bin);
                proptest::prop_assert!(b.cuts[f].windows(2).all(|w| w[0] < w[1]));
                for r in 0..raw.len() {
                    let v = x[r * 2 + f];
                    let want = if v.is_nan() {
                        MISSING
                    } else {
                        b.cuts[f].partition_point(|&c| c <= v) as u16
                    };
                    proptest::prop_assert_eq!(b.bin(r, f), want);
                    proptest::prop_assert_eq!(b.row_slot(r, f), usize::from(b.col_slots[f * b.rows + r]));
                }
            }
        }
    }
}

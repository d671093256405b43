//! Quantile bins: each feature's values are cut into at most `max_bin`
//! ranges once, before training, so split finding works on small
//! histograms instead of sorted values.

use rayon::prelude::*;

/// Bin index of a missing value.
pub(crate) const MISSING: u16 = u16::MAX;

/// Cut points of every feature and the binned training matrix.
pub(crate) struct Binned {
    /// Per feature, ascending cut values: a value `v` falls in bin
    /// `#{c in cuts : c <= v}`, so "bin <= b" is exactly "v < cuts[b]",
    /// the comparison the saved tree makes.
    pub cuts: Vec<Vec<f32>>,
    /// Offset of each feature's first bin in a node histogram.
    pub offsets: Vec<usize>,
    /// Total histogram slots (bins of all features, plus one missing slot
    /// per feature).
    pub slots: usize,
    /// Row-major histogram slots (feature offset + bin, or the feature's
    /// missing slot), so building a histogram is one indexed add per value.
    pub row_slots: Vec<u16>,
    /// The same slots feature-major (`rows` per feature), for partitioning
    /// a node by one feature with dense reads.
    pub col_slots: Vec<u16>,
    /// Rows.
    pub rows: usize,
    /// Features per row.
    pub width: usize,
}

impl Binned {
    /// Bins `x` (row-major, `width` features) with at most `max_bin` bins
    /// per feature, cut at weighted quantiles of the non-missing values.
    pub fn new(x: &[f32], width: usize, weights: Option<&[f32]>, max_bin: usize) -> Binned {
        let rows = x.len() / width.max(1);
        // Slots of all features must fit a u16.
        let max_bin = max_bin.clamp(
            2,
            (usize::from(MISSING) / width.max(1))
                .saturating_sub(2)
                .max(2),
        );
        // Each feature's column of slots is its own piece of `col_slots`,
        // filled with bins local to the feature while its sorted values
        // are at hand; the feature's offset is added once all cuts are
        // known.
        let mut col_slots = vec![0u16; rows * width];
        let cuts: Vec<Vec<f32>> = col_slots
            .par_chunks_mut(rows.max(1))
            .enumerate()
            .map(|(f, col)| feature_bins(x, width, f, weights, max_bin, col))
            .collect();
        let mut offsets = Vec::with_capacity(width);
        let mut slots = 0;
        for c in &cuts {
            offsets.push(slots);
            // Bins 0..=cuts.len(), then the missing slot.
            slots += c.len() + 2;
        }
        col_slots
            .par_chunks_mut(rows.max(1))
            .zip(&offsets)
            .for_each(|(col, &off)| {
                for s in col {
                    *s += off as u16;
                }
            });
        let mut row_slots = vec![0u16; rows * width];
        row_slots
            .par_chunks_mut(width.max(1) * 4096)
            .enumerate()
            .for_each(|(c, block)| {
                let first = c * 4096;
                for (k, row) in block.chunks_mut(width.max(1)).enumerate() {
                    for (f, slot) in row.iter_mut().enumerate() {
                        *slot = col_slots[f * rows + first + k];
                    }
                }
            });
        Binned {
            cuts,
            offsets,
            slots,
            row_slots,
            col_slots,
            rows,
            width,
        }
    }

    /// Histogram slot of feature `f`'s missing values.
    pub fn missing_slot(&self, f: usize) -> usize {
        self.offsets[f] + self.cuts[f].len() + 1
    }

    /// Bin of row `r`'s feature `f`, `MISSING` for a missing value.
    pub fn bin(&self, r: usize, f: usize) -> u16 {
        let slot = self.col_slots[f * self.rows + r] as usize;
        if slot == self.missing_slot(f) {
            MISSING
        } else {
            (slot - self.offsets[f]) as u16
        }
    }
}

/// Cuts feature `f` and writes each row's bin (local to the feature; the
/// missing slot is one past the last bin) into `col`.
fn feature_bins(
    x: &[f32],
    width: usize,
    f: usize,
    weights: Option<&[f32]>,
    max_bin: usize,
    col: &mut [u16],
) -> Vec<f32> {
    let rows = col.len();
    // (order key of the value, row), sorted by key only and stably, so
    // equal values keep row order and their weights add up in that order.
    let mut order: Vec<u64> = (0..rows)
        .filter_map(|r| {
            let v = x[r * width + f];
            (!v.is_nan()).then(|| (u64::from(order_key(v)) << 32) | r as u64)
        })
        .collect();
    radix_sort_high_half(&mut order);
    let value = |e: u64| x[(e as u32 as usize) * width + f];
    let mut distinct: Vec<(f32, f64)> = Vec::new();
    for &e in &order {
        let (v, w) = (
            value(e),
            weights.map_or(1.0, |w| f64::from(w[e as u32 as usize])),
        );
        match distinct.last_mut() {
            Some((last, acc)) if *last == v => *acc += w,
            _ => distinct.push((v, w)),
        }
    }
    let cuts = feature_cuts(&distinct, max_bin);
    col.fill((cuts.len() + 1) as u16);
    let mut bin = 0;
    for &e in &order {
        let v = value(e);
        while bin < cuts.len() && cuts[bin] <= v {
            bin += 1;
        }
        col[e as u32 as usize] = bin as u16;
    }
    cuts
}

/// A key whose unsigned order is `f32::total_cmp`'s order.
fn order_key(v: f32) -> u32 {
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// Stable LSD radix sort by the high 32 bits (three 11-bit digits).
fn radix_sort_high_half(v: &mut Vec<u64>) {
    let mut from = std::mem::take(v);
    let mut to = vec![0u64; from.len()];
    for shift in [32, 43, 54] {
        let digit = |e: u64| ((e >> shift) & 0x7ff) as usize;
        let mut start = [0usize; 2049];
        for &e in &from {
            start[digit(e) + 1] += 1;
        }
        for d in 0..2048 {
            start[d + 1] += start[d];
        }
        for &e in &from {
            let d = digit(e);
            to[start[d]] = e;
            start[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *v = from;
}

/// Cut values for one feature from its distinct values (ascending) with
/// their summed weights: distinct values become their own bins when there
/// are few; otherwise cuts sit at equal steps of cumulative weight.
fn feature_cuts(distinct: &[(f32, f64)], max_bin: usize) -> Vec<f32> {
    if distinct.len() <= 1 {
        return Vec::new();
    }
    if distinct.len() <= max_bin {
        // A cut at every distinct value but the first: each value its bin.
        return distinct[1..].iter().map(|d| d.0).collect();
    }
    let total: f64 = distinct.iter().map(|d| d.1).sum();
    let step = total / max_bin as f64;
    let mut cuts = Vec::with_capacity(max_bin);
    let mut acc = 0.0;
    let mut next = step;
    for (i, &(_, w)) in distinct.iter().enumerate() {
        acc += w;
        if acc >= next && i + 1 < distinct.len() {
            cuts.push(distinct[i + 1].0);
            while next <= acc {
                next += step;
            }
        }
    }
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_the_saved_comparison() {
        let x = [1.0f32, 5.0, 3.0, f32::NAN, 3.0, 2.0];
        let b = Binned::new(&x, 1, None, 256);
        assert_eq!(b.cuts[0], vec![2.0, 3.0, 5.0]);
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
        let b = Binned::new(&x, 1, None, 16);
        assert!(
            b.cuts[0].len() <= 16 && b.cuts[0].len() >= 14,
            "{}",
            b.cuts[0].len()
        );
        let mut counts = [0usize; 17];
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

    proptest::proptest! {
        #[test]
        fn radix_order_is_a_stable_sort_by_total_order(
            values in proptest::collection::vec(proptest::num::f32::ANY, 0..300),
        ) {
            let mut keyed: Vec<u64> = values
                .iter()
                .enumerate()
                .map(|(r, &v)| (u64::from(order_key(v)) << 32) | r as u64)
                .collect();
            radix_sort_high_half(&mut keyed);
            let ours: Vec<usize> = keyed.iter().map(|&e| e as u32 as usize).collect();
            let mut want: Vec<usize> = (0..values.len()).collect();
            want.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            proptest::prop_assert_eq!(ours, want);
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
            let b = Binned::new(&x, 2, None, max_bin);
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
                    proptest::prop_assert_eq!(b.row_slots[r * 2 + f], b.col_slots[f * b.rows + r]);
                }
            }
        }
    }
}

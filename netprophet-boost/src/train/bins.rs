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
        let cuts: Vec<Vec<f32>> = (0..width)
            .into_par_iter()
            .map(|f| {
                let mut values: Vec<(f32, f32)> = (0..rows)
                    .filter_map(|r| {
                        let v = x[r * width + f];
                        (!v.is_nan()).then(|| (v, weights.map_or(1.0, |w| w[r])))
                    })
                    .collect();
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                feature_cuts(&values, max_bin)
            })
            .collect();
        let mut offsets = Vec::with_capacity(width);
        let mut slots = 0;
        for c in &cuts {
            offsets.push(slots);
            // Bins 0..=cuts.len(), then the missing slot.
            slots += c.len() + 2;
        }
        let slot_of = |f: usize, v: f32| -> u16 {
            if v.is_nan() {
                (offsets[f] + cuts[f].len() + 1) as u16
            } else {
                (offsets[f] + cuts[f].partition_point(|&c| c <= v)) as u16
            }
        };
        let row_slots: Vec<u16> = x
            .par_chunks(width.max(1))
            .flat_map_iter(|row| row.iter().enumerate().map(move |(f, &v)| slot_of(f, v)))
            .collect();
        let mut col_slots = vec![0u16; row_slots.len()];
        for (r, row) in row_slots.chunks(width.max(1)).enumerate() {
            for (f, &slot) in row.iter().enumerate() {
                col_slots[f * rows + r] = slot;
            }
        }
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

/// Cut values for one feature from its (value, weight) pairs sorted by
/// value: distinct values become their own bins when there are few;
/// otherwise cuts sit at equal steps of cumulative weight.
fn feature_cuts(values: &[(f32, f32)], max_bin: usize) -> Vec<f32> {
    let mut distinct: Vec<(f32, f64)> = Vec::new();
    for &(v, w) in values {
        match distinct.last_mut() {
            Some((last, acc)) if *last == v => *acc += f64::from(w),
            _ => distinct.push((v, f64::from(w))),
        }
    }
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
}

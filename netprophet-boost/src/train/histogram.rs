//! Gradient histograms (XGBoost's `hist/histogram.h`): per node, the sums
//! of gradients and hessians of its rows in every bin of every feature.
//!
//! Every bin adds its rows' gradients in ascending row order, one float64
//! chain per bin, as XGBoost does on one thread: so the sums, the gains
//! and the trees are bit for bit XGBoost's, whatever the number of
//! threads here. Parallel work is split by feature (each thread owns the
//! bins of some features and walks all the node's rows), never by rows,
//! whose partial sums would add up in another order.

use rayon::prelude::*;

use std::ops::Range;

use super::bins::{Binned, RowBins, MAX_HOT, NARROW_SLOTS, SPARE};
use crate::prefetch::ROWS_AHEAD;

/// A row's gradient and hessian as computed, in float32 (as XGBoost keeps
/// them): half the bytes of [`GradPair`], which matters because histogram
/// building reads them in row order from a partitioned row list.
///
/// `repr(C)`: the vector gradient kernel writes a row's two values as two
/// consecutive floats.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub(crate) struct Grad32 {
    pub g: f32,
    pub h: f32,
}

impl From<Grad32> for GradPair {
    #[inline]
    fn from(x: Grad32) -> GradPair {
        GradPair {
            g: f64::from(x.g),
            h: f64::from(x.h),
        }
    }
}

/// Sums of gradients and hessians (histogram bins, node totals), in
/// float64 (XGBoost's `GradStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct GradPair {
    pub g: f64,
    pub h: f64,
}

impl std::ops::AddAssign for GradPair {
    #[inline]
    fn add_assign(&mut self, o: Self) {
        self.g += o.g;
        self.h += o.h;
    }
}

impl std::ops::Add for GradPair {
    type Output = GradPair;
    #[inline]
    fn add(self, o: Self) -> GradPair {
        GradPair {
            g: self.g + o.g,
            h: self.h + o.h,
        }
    }
}

impl std::ops::Sub for GradPair {
    type Output = GradPair;
    #[inline]
    fn sub(self, o: Self) -> GradPair {
        GradPair {
            g: self.g - o.g,
            h: self.h - o.h,
        }
    }
}

/// Nodes with fewer rows are built by one thread: splitting the work by
/// feature costs each thread a walk over the node's rows.
pub(crate) const PARALLEL_ROWS: usize = 8192;

/// The histogram of `rows` (ascending row numbers).
pub(crate) fn build_hist(binned: &Binned, grad: &[Grad32], rows: &[u32]) -> Vec<GradPair> {
    let mut hist = vec![GradPair::default(); binned.slots];
    let threads = rayon::current_num_threads();
    let groups = if rows.len() < PARALLEL_ROWS || threads < 2 {
        1
    } else {
        threads.min(binned.width)
    };
    if groups <= 1 {
        fill(binned, grad, rows, 0..binned.width, &mut hist);
        return hist;
    }
    // Consecutive features per group; each group's bins are one piece of
    // the histogram.
    let width = binned.width;
    let mut pieces = Vec::with_capacity(groups);
    let mut rest: &mut [GradPair] = &mut hist;
    let mut taken = 0;
    for g in 0..groups {
        let (start, end) = (g * width / groups, (g + 1) * width / groups);
        let end_slot = if end == width {
            binned.slots
        } else {
            binned.offsets[end]
        };
        let (piece, tail) = rest.split_at_mut(end_slot - taken);
        taken = end_slot;
        rest = tail;
        pieces.push((start..end, piece));
    }
    dearest_first(binned, &mut pieces);
    pieces.into_par_iter().for_each(|(features, piece)| {
        fill(binned, grad, rows, features, piece);
    });
    hist
}

/// Orders the pieces of a histogram dearest first: the calling thread
/// fills the first piece at once, while the others wait for a thread to
/// take them (after a wake-up, when it slept). A piece costs a walk over
/// its features, and a hot bin among them a second add for its rows.
/// Instrumented on two threads, the root's piece holding the hot feature
/// took 75-88 ms of a fit against 60 ms; first, it cut the whole fit to
/// 0.97 of the time (ten alternated runs, 0.93-1.04).
fn dearest_first(binned: &Binned, pieces: &mut [(Range<usize>, &mut [GradPair])]) {
    let cost = |features: &Range<usize>| features.len() + binned.hot_in(features).count();
    pieces.sort_by_key(|(features, _)| std::cmp::Reverse(cost(features)));
}

/// Adds `rows` to the bins of `features` (consecutive), whose slots start
/// `piece` (offset `binned.offsets[features.start]`).
fn fill(
    binned: &Binned,
    grad: &[Grad32],
    rows: &[u32],
    features: Range<usize>,
    piece: &mut [GradPair],
) {
    match &binned.row_bins {
        RowBins::Narrow(bins) => fill_narrow(binned, bins, grad, rows, features, piece),
        RowBins::Wide(slots) => fill_wide(binned, slots, grad, rows, features, piece),
    }
}

/// [`fill`] from one-byte bins: each feature's first 256 slots are an
/// array a byte indexes.
fn fill_narrow(
    binned: &Binned,
    bins: &[u8],
    grad: &[Grad32],
    rows: &[u32],
    features: Range<usize>,
    piece: &mut [GradPair],
) {
    // Each feature's slots, in order: the first 256 of them.
    let mut regions: Vec<&mut [GradPair; NARROW_SLOTS]> = Vec::with_capacity(features.len());
    let base = binned.offsets[features.start];
    let mut rest = piece;
    let mut taken = base;
    for f in features.clone() {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(binned.offsets[f] - taken);
        // Every feature has at least 256 slots when the bins are narrow.
        let Some((region, tail)) = tail.split_first_chunk_mut::<NARROW_SLOTS>() else {
            return;
        };
        regions.push(region);
        rest = tail;
        taken = binned.offsets[f] + NARROW_SLOTS;
    }
    // The hot bins of these features, by position in `regions`.
    let mut hot = [(0usize, 0u8); MAX_HOT];
    let mut n_hot = 0;
    for (slot, &(f, bin)) in hot.iter_mut().zip(binned.hot_in(&features)) {
        *slot = (f - features.start, bin);
        n_hot += 1;
    }
    let hot = &hot[..n_hot];
    if hot.is_empty() {
        fill_narrow_unrolled::<false>(binned, bins, grad, rows, features.start, regions, hot);
    } else {
        fill_narrow_unrolled::<true>(binned, bins, grad, rows, features.start, regions, hot);
    }
}

/// [`fill_narrow_rows`] with the number of features a constant where it
/// is a common one, so that the per-row loop unrolls.
#[inline(always)]
fn fill_narrow_unrolled<const HOT: bool>(
    binned: &Binned,
    bins: &[u8],
    grad: &[Grad32],
    rows: &[u32],
    first: usize,
    mut regions: Vec<&mut [GradPair; NARROW_SLOTS]>,
    hot: &[(usize, u8)],
) {
    macro_rules! by_width {
        ($($n:literal)*) => {
            match regions.len() {
                $($n => {
                    if let Ok(mut regions) = <[_; $n]>::try_from(regions) {
                        fill_narrow_rows::<HOT>(binned, bins, grad, rows, first, &mut regions, hot);
                    }
                })*
                _ => fill_narrow_rows::<HOT>(binned, bins, grad, rows, first, &mut regions, hot),
            }
        };
    }
    by_width!(1 2 3 4 5 6 7 8 9);
}

/// [`fill_narrow`] for the features from `first` whose slots are
/// `regions`. Inlined into each caller: where `regions` is an array, its
/// length is a constant and the per-row loop unrolls.
///
/// `HOT`: some of the features have a hot bin (`hot`: position in
/// `regions`, bin; see [`Binned::hot`]). Its rows point at spare slots in
/// the row-major bytes, so the slot loop adds them there, where nobody
/// reads them, and no two consecutive rows wait for one slot; the bin
/// itself is summed in a register, each row adding its gradient or
/// +0.0. Adding +0.0 changes no sum (one that starts at +0.0 is never
/// -0.0), so the bin gets the same adds in the same order.
#[inline(always)]
fn fill_narrow_rows<const HOT: bool>(
    binned: &Binned,
    bins: &[u8],
    grad: &[Grad32],
    rows: &[u32],
    first: usize,
    regions: &mut [&mut [GradPair; NARROW_SLOTS]],
    hot: &[(usize, u8)],
) {
    let width = binned.width;
    let n = regions.len();
    let mut sums = [GradPair::default(); MAX_HOT];
    let mut add = |row: &[u8], gp: GradPair| {
        for (region, &bin) in regions.iter_mut().zip(row) {
            region[usize::from(bin)] += gp;
        }
        if HOT {
            for (sum, &(k, _)) in sums.iter_mut().zip(hot) {
                let take = u64::from(row.get(k).is_some_and(|&b| b >= SPARE)).wrapping_neg();
                sum.g += f64::from_bits(gp.g.to_bits() & take);
                sum.h += f64::from_bits(gp.h.to_bits() & take);
            }
        }
    };
    if let Some(all) = consecutive(rows) {
        // The root's rows (without row sampling) are every row in order:
        // read straight through, which the hardware prefetcher follows.
        let rows = bins[all.start * width..all.end * width].chunks_exact(width);
        for (row, &g) in rows.zip(&grad[all]) {
            add(&row[first..first + n], GradPair::from(g));
        }
    } else {
        for (i, &r) in rows.iter().enumerate() {
            prefetch_row(bins, width, grad, rows, i, first);
            let r = r as usize;
            let at = r * width + first;
            add(&bins[at..at + n], GradPair::from(grad[r]));
        }
    }
    if HOT {
        for (sum, &(k, bin)) in sums.iter().zip(hot) {
            if let Some(region) = regions.get_mut(k) {
                region[usize::from(bin)] = *sum;
            }
        }
    }
}

/// The range `rows` covers when it holds every row of it in order.
fn consecutive(rows: &[u32]) -> Option<Range<usize>> {
    let (&first, &last) = (rows.first()?, rows.last()?);
    let (first, last) = (first as usize, last as usize);
    // Ascending and distinct, so as many as the span means all of it.
    (last.checked_sub(first)? + 1 == rows.len()).then_some(first..last + 1)
}

/// [`fill`] from two-byte histogram slots.
fn fill_wide(
    binned: &Binned,
    slots: &[u16],
    grad: &[Grad32],
    rows: &[u32],
    features: Range<usize>,
    piece: &mut [GradPair],
) {
    // With the number of features a constant the per-row loop unrolls;
    // the common widths get their own copy.
    macro_rules! by_width {
        ($($n:literal)*) => {
            match features.len() {
                $($n => fill_wide_n::<$n>(binned, slots, grad, rows, features.start, piece),)*
                _ => fill_wide_any(binned, slots, grad, rows, features, piece),
            }
        };
    }
    by_width!(1 2 3 4 5 6 7 8 9);
}

/// Asks for the cache lines of the row [`ROWS_AHEAD`] after `rows[i]`:
/// below the root a node's rows are scattered over the whole matrix, and
/// each one's bins and gradient would be a cache miss.
#[inline(always)]
fn prefetch_row<T>(
    matrix: &[T],
    width: usize,
    grad: &[Grad32],
    rows: &[u32],
    i: usize,
    first: usize,
) {
    if let Some(&ahead) = rows.get(i + ROWS_AHEAD) {
        let ahead = ahead as usize;
        if let Some(s) = matrix.get(ahead * width + first) {
            crate::prefetch::read(s);
        }
        if let Some(g) = grad.get(ahead) {
            crate::prefetch::read(g);
        }
    }
}

/// [`fill_wide`] for any number of features.
fn fill_wide_any(
    binned: &Binned,
    slots: &[u16],
    grad: &[Grad32],
    rows: &[u32],
    features: Range<usize>,
    piece: &mut [GradPair],
) {
    let width = binned.width;
    let base = binned.offsets[features.start];
    for (i, &r) in rows.iter().enumerate() {
        prefetch_row(slots, width, grad, rows, i, features.start);
        let r = r as usize;
        let gp = GradPair::from(grad[r]);
        let row = &slots[r * width + features.start..r * width + features.end];
        let (quads, rest) = row.as_chunks::<4>();
        for quad in quads {
            for &slot in quad {
                piece[usize::from(slot) - base] += gp;
            }
        }
        for &slot in rest {
            piece[usize::from(slot) - base] += gp;
        }
    }
}

/// [`fill_wide`] for `N` features from `first`.
#[inline(always)]
fn fill_wide_n<const N: usize>(
    binned: &Binned,
    slots: &[u16],
    grad: &[Grad32],
    rows: &[u32],
    first: usize,
    piece: &mut [GradPair],
) {
    let width = binned.width;
    let base = binned.offsets[first];
    for (i, &r) in rows.iter().enumerate() {
        prefetch_row(slots, width, grad, rows, i, first);
        let r = r as usize;
        let gp = GradPair::from(grad[r]);
        let at = r * width + first;
        for &slot in &slots[at..at + N] {
            piece[usize::from(slot) - base] += gp;
        }
    }
}

/// The root's gradient totals as XGBoost sums them: from the first
/// feature's bins when no value is missing, else row by row in order.
pub(crate) fn root_sum(
    binned: &Binned,
    hist: &[GradPair],
    grad: &[Grad32],
    rows: &[u32],
) -> GradPair {
    let mut sum = GradPair::default();
    if binned.dense {
        for &s in &hist[binned.offsets[0]..binned.missing_slot(0)] {
            sum += s;
        }
    } else {
        for &r in rows {
            sum += GradPair::from(grad[r as usize]);
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_the_same_bits_on_any_number_of_threads() {
        // One-byte and two-byte bins, each with an unrolled width and a
        // width above the unrolled ones.
        for (width, max_bin, narrow) in [
            (5, 64, true),
            (5, 1000, false),
            (12, 64, true),
            (12, 1000, false),
        ] {
            same_bits(width, max_bin, narrow);
        }
    }

    fn same_bits(width: usize, max_bin: usize, narrow: bool) {
        let n = 5 * PARALLEL_ROWS + 3;
        let x: Vec<f32> = (0..n * width)
            .map(|i| {
                if i % 11 == 0 {
                    f32::NAN
                } else if i % width == 0 {
                    // A feature of three values in runs of rows, so
                    // consecutive rows often share a bin.
                    ((i / width / 37) % 3) as f32
                } else {
                    ((i * 7919) % 100_003) as f32 / 7.0
                }
            })
            .collect();
        // Binned on two threads, a bin that repeats is summed in a
        // register; on one, it is not.
        for bin_threads in [1, 2] {
            let binned = rayon::ThreadPoolBuilder::new()
                .num_threads(bin_threads)
                .build()
                .unwrap()
                .install(|| Binned::new(&x, width, None, max_bin).unwrap());
            same_bits_binned(&binned, width, max_bin, narrow, bin_threads > 1);
        }
    }

    fn same_bits_binned(binned: &Binned, width: usize, max_bin: usize, narrow: bool, hot: bool) {
        let n = binned.rows;
        assert_eq!(
            matches!(binned.row_bins, RowBins::Narrow(_)),
            narrow,
            "{width} {max_bin}"
        );
        // The runs of feature 0 make its commonest bin hot (one-byte bins).
        assert_eq!(
            binned.hot.first().map(|h| h.0),
            (narrow && hot).then_some(0)
        );
        let grad: Vec<Grad32> = (0..n)
            .map(|i| Grad32 {
                g: ((i * 31) % 97) as f32 / 13.0 - 3.0,
                h: ((i * 17) % 89) as f32 / 89.0 + 0.01,
            })
            .collect();
        // Scattered rows, and every row of a range (read straight through).
        for rows in [
            (0..n as u32).filter(|r| r % 3 != 1).collect::<Vec<_>>(),
            (0..n as u32).collect(),
            (7..n as u32 - 5).collect(),
        ] {
            same_bits_of(binned, &grad, &rows, width, max_bin);
        }
    }

    fn same_bits_of(binned: &Binned, grad: &[Grad32], rows: &[u32], width: usize, max_bin: usize) {
        let n = binned.rows;
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| build_hist(binned, grad, rows));
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| build_hist(binned, grad, rows));
        // The plain definition, from the column-major slots: each bin a
        // chain over the rows in order.
        let mut want = vec![GradPair::default(); binned.slots];
        for &r in rows {
            for f in 0..width {
                let slot = usize::from(binned.col_slots[f * n + r as usize]);
                want[slot] += GradPair::from(grad[r as usize]);
            }
        }
        // Every bin and missing slot; the padding after them holds what
        // nobody reads (a hot bin's rows, added to spare slots).
        let read: Vec<usize> = (0..width)
            .flat_map(|f| binned.offsets[f]..=binned.missing_slot(f))
            .collect();
        for k in read {
            let (a, b, c) = (one[k], three[k], want[k]);
            assert_eq!(
                (a.g.to_bits(), a.h.to_bits()),
                (c.g.to_bits(), c.h.to_bits()),
                "{width} {max_bin}: {k}"
            );
            assert_eq!(
                (b.g.to_bits(), b.h.to_bits()),
                (c.g.to_bits(), c.h.to_bits()),
                "{width} {max_bin}: {k}"
            );
        }
    }
}

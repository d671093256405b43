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

use super::bins::Binned;
use crate::prefetch::ROWS_AHEAD;

/// A row's gradient and hessian as computed, in float32 (as XGBoost keeps
/// them): half the bytes of [`GradPair`], which matters because histogram
/// building reads them in row order from a partitioned row list.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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
    pieces.into_par_iter().for_each(|(features, piece)| {
        fill(binned, grad, rows, features, piece);
    });
    hist
}

/// Adds `rows` to the bins of `features` (consecutive), whose slots start
/// `piece` (offset `binned.offsets[features.start]`).
fn fill(
    binned: &Binned,
    grad: &[Grad32],
    rows: &[u32],
    features: std::ops::Range<usize>,
    piece: &mut [GradPair],
) {
    // With the number of features a constant the per-row loop unrolls;
    // the common widths get their own copy.
    match features.len() {
        1 => fill_n::<1>(binned, grad, rows, features.start, piece),
        2 => fill_n::<2>(binned, grad, rows, features.start, piece),
        3 => fill_n::<3>(binned, grad, rows, features.start, piece),
        4 => fill_n::<4>(binned, grad, rows, features.start, piece),
        5 => fill_n::<5>(binned, grad, rows, features.start, piece),
        6 => fill_n::<6>(binned, grad, rows, features.start, piece),
        7 => fill_n::<7>(binned, grad, rows, features.start, piece),
        8 => fill_n::<8>(binned, grad, rows, features.start, piece),
        9 => fill_n::<9>(binned, grad, rows, features.start, piece),
        _ => fill_any(binned, grad, rows, features, piece),
    }
}

/// Asks for the cache lines of the row [`ROWS_AHEAD`] after `rows[i]`:
/// below the root a node's rows are scattered over the whole matrix, and
/// each one's bins and gradient would be a cache miss.
#[inline(always)]
fn prefetch_row(binned: &Binned, grad: &[Grad32], rows: &[u32], i: usize, first: usize) {
    if let Some(&ahead) = rows.get(i + ROWS_AHEAD) {
        let ahead = ahead as usize;
        if let Some(s) = binned.row_slots.get(ahead * binned.width + first) {
            crate::prefetch::read(s);
        }
        if let Some(g) = grad.get(ahead) {
            crate::prefetch::read(g);
        }
    }
}

/// [`fill`] for any number of features.
fn fill_any(
    binned: &Binned,
    grad: &[Grad32],
    rows: &[u32],
    features: std::ops::Range<usize>,
    piece: &mut [GradPair],
) {
    let width = binned.width;
    let base = binned.offsets[features.start];
    for (i, &r) in rows.iter().enumerate() {
        prefetch_row(binned, grad, rows, i, features.start);
        let r = r as usize;
        let gp = GradPair::from(grad[r]);
        let slots = &binned.row_slots[r * width + features.start..r * width + features.end];
        let (quads, rest) = slots.as_chunks::<4>();
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

/// [`fill`] for `N` features from `first`.
#[inline(always)]
fn fill_n<const N: usize>(
    binned: &Binned,
    grad: &[Grad32],
    rows: &[u32],
    first: usize,
    piece: &mut [GradPair],
) {
    let width = binned.width;
    let base = binned.offsets[first];
    for (i, &r) in rows.iter().enumerate() {
        prefetch_row(binned, grad, rows, i, first);
        let r = r as usize;
        let gp = GradPair::from(grad[r]);
        let at = r * width + first;
        for &slot in &binned.row_slots[at..at + N] {
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
        let n = 5 * PARALLEL_ROWS + 3;
        let width = 5;
        let x: Vec<f32> = (0..n * width)
            .map(|i| {
                if i % 11 == 0 {
                    f32::NAN
                } else {
                    ((i * 7919) % 1000) as f32 / 7.0
                }
            })
            .collect();
        let binned = Binned::new(&x, width, None, 64).unwrap();
        let grad: Vec<Grad32> = (0..n)
            .map(|i| Grad32 {
                g: ((i * 31) % 97) as f32 / 13.0 - 3.0,
                h: ((i * 17) % 89) as f32 / 89.0 + 0.01,
            })
            .collect();
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 1).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| build_hist(&binned, &grad, &rows));
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| build_hist(&binned, &grad, &rows));
        // The plain definition: each bin a chain over the rows in order.
        let mut want = vec![GradPair::default(); binned.slots];
        for &r in &rows {
            for f in 0..width {
                let slot = binned.row_slots[r as usize * width + f] as usize;
                want[slot] += GradPair::from(grad[r as usize]);
            }
        }
        for (k, ((a, b), c)) in one.iter().zip(&three).zip(&want).enumerate() {
            assert_eq!(
                (a.g.to_bits(), a.h.to_bits()),
                (c.g.to_bits(), c.h.to_bits()),
                "{k}"
            );
            assert_eq!(
                (b.g.to_bits(), b.h.to_bits()),
                (c.g.to_bits(), c.h.to_bits()),
                "{k}"
            );
        }
    }
}

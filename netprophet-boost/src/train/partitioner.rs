//! Row partitioning (XGBoost's `common_row_partitioner.h`): a node's rows
//! are a range of one row buffer, in ascending row order, and a split
//! moves its left rows to the front of the range and its right rows
//! behind them, each side keeping its order. Where the CPU has AVX-512,
//! sixteen rows at a time go through `crate::simd` (the same partition).

use rayon::prelude::*;

use super::bins::Binned;
use super::histogram::PARALLEL_ROWS;
use crate::prefetch::ROWS_AHEAD;

/// Which way a split sends a row, from the feature's column of slots.
///
/// A feature's slots are its bins in order and then its missing slot, so
/// the rows going right are those whose slot lies in one range: from the
/// bin after the split's up to the last bin (missing values going left)
/// or the missing slot (missing values going right). One subtraction and
/// one unsigned comparison test that range.
#[derive(Clone, Copy)]
pub(crate) struct SplitTest<'a> {
    slots: &'a [u16],
    /// The first slot going right: the split's bin plus one, plus the
    /// feature's first slot.
    start: u32,
    /// How many slots from `start` go right.
    span: u32,
}

impl<'a> SplitTest<'a> {
    /// The test of a split of `feature` after `bin` (`-1`: below every
    /// value), missing values going left when `default_left`.
    pub fn new(binned: &'a Binned, feature: usize, bin: i32, default_left: bool) -> Self {
        // Slots are u16 and `bin` is at least -1 and below the missing
        // slot, so `start` is at most the missing slot.
        let start = (binned.offsets[feature] as i64 + i64::from(bin) + 1) as u32;
        let missing = binned.missing_slot(feature) as u32;
        SplitTest {
            slots: &binned.col_slots[feature * binned.rows..(feature + 1) * binned.rows],
            start,
            span: missing - start + u32::from(!default_left),
        }
    }

    /// Asks for the cache line of `row`'s slot, to be tested soon.
    #[inline(always)]
    pub fn prefetch(&self, row: u32) {
        if let Some(s) = self.slots.get(row as usize) {
            crate::prefetch::read(s);
        }
    }

    /// Whether `row` goes left.
    #[inline]
    pub fn goes_left(&self, row: u32) -> bool {
        // Below `start` the subtraction wraps to a large number.
        u32::from(self.slots[row as usize]).wrapping_sub(self.start) >= self.span
    }
}

/// Which way rows go, for [`partition`].
pub(crate) trait RowTest: Sync {
    /// Whether `row` goes left.
    fn goes_left(&self, row: u32) -> bool;
    /// A hint that `row` is tested soon.
    fn prefetch(&self, _row: u32) {}
    /// The feature's column of slots and the range test (the first slot
    /// going right, how many go right), for the vector kernel.
    fn column(&self) -> Option<(&[u16], u32, u32)> {
        None
    }
}

impl RowTest for SplitTest<'_> {
    #[inline(always)]
    fn goes_left(&self, row: u32) -> bool {
        SplitTest::goes_left(self, row)
    }
    #[inline(always)]
    fn prefetch(&self, row: u32) {
        SplitTest::prefetch(self, row);
    }
    fn column(&self) -> Option<(&[u16], u32, u32)> {
        Some((self.slots, self.start, self.span))
    }
}

/// Any rule, for the tests.
#[cfg(test)]
impl<F: Fn(u32) -> bool + Sync> RowTest for F {
    fn goes_left(&self, row: u32) -> bool {
        self(row)
    }
}

/// Moves the rows going left to the front of `rows`, in their order, and
/// the rows going right to the front of `scratch`, in theirs; returns how
/// many go left.
///
/// Branch-free: every row is written to both sides and only the side it
/// belongs to advances, since which way a row goes is unpredictable to the
/// CPU. Writing left rows in place is safe because the write position
/// never passes the read position.
fn partition_piece(rows: &mut [u32], scratch: &mut [u32], test: &impl RowTest) -> usize {
    let n = rows.len();
    let scratch = &mut scratch[..n];
    let (mut l, mut i) = (0usize, 0usize);
    if let Some((slots, start, span)) = test.column() {
        (i, l) = crate::simd::partition_blocks(rows, scratch, slots, start, span);
    }
    while i < n {
        if let Some(&ahead) = rows.get(i + ROWS_AHEAD) {
            test.prefetch(ahead);
        }
        let row = rows[i];
        let go_left = test.goes_left(row);
        // Of the first `i` rows, `l` went left and `i - l` right: both
        // write positions are at most `i`.
        rows[l] = row;
        scratch[i - l] = row;
        l += usize::from(go_left);
        i += 1;
    }
    l
}

/// Stable partition of `rows` (left rows first) using `scratch`, which is
/// at least as long; returns how many go left. Large nodes (the root and
/// its children) are cut into pieces partitioned in parallel, then joined.
pub(crate) fn partition(rows: &mut [u32], scratch: &mut [u32], test: &impl RowTest) -> usize {
    let n = rows.len();
    let scratch = &mut scratch[..n];
    if n < 4 * PARALLEL_ROWS || rayon::current_num_threads() < 2 {
        let l = partition_piece(rows, scratch, test);
        rows[l..].copy_from_slice(&scratch[..n - l]);
        return l;
    }
    let piece = n.div_ceil(2 * rayon::current_num_threads());
    let lefts: Vec<usize> = rows
        .par_chunks_mut(piece)
        .zip(scratch.par_chunks_mut(piece))
        .map(|(rows, scratch)| partition_piece(rows, scratch, test))
        .collect();
    // Left rows move down (never past a piece's own start), then the right
    // rows come back from scratch behind them.
    let mut at = 0;
    for (p, &l) in lefts.iter().enumerate() {
        rows.copy_within(p * piece..p * piece + l, at);
        at += l;
    }
    let n_left = at;
    for (p, &l) in lefts.iter().enumerate() {
        let r = piece.min(n - p * piece) - l;
        rows[at..at + r].copy_from_slice(&scratch[p * piece..p * piece + r]);
        at += r;
    }
    n_left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_stable_in_one_piece_and_in_parallel_pieces() {
        // Both sizes: one serial piece, and several joined pieces.
        for n in [1000, 10 * PARALLEL_ROWS + 7] {
            let rows: Vec<u32> = (0..n as u32).map(|i| i * 3 + 1).collect();
            let goes_left = |r: u32| r.wrapping_mul(2_654_435_761) % 7 < 3;
            let mut parted = rows.clone();
            let mut scratch = vec![0; n + 5];
            let n_left = partition(&mut parted, &mut scratch, &goes_left);
            let want: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&r| goes_left(r))
                .chain(rows.iter().copied().filter(|&r| !goes_left(r)))
                .collect();
            assert_eq!(parted, want, "{n} rows");
            assert_eq!(n_left, rows.iter().filter(|&&r| goes_left(r)).count());
        }
    }

    #[test]
    fn a_split_partitions_alike_through_the_vector_kernel() {
        // A real split's column (what the AVX-512 kernel reads, where the
        // CPU has it), whose last row the kernel must leave to the scalar
        // loop; both sizes, every row and some.
        let n = 10 * PARALLEL_ROWS + 5;
        let x: Vec<f32> = (0..n)
            .flat_map(|i| {
                [
                    (i % 7) as f32,
                    if i % 9 == 0 {
                        f32::NAN
                    } else {
                        ((i * 7919) % 503) as f32
                    },
                ]
            })
            .collect();
        let binned = Binned::new(&x, 2, None, 256).unwrap();
        for (bin, default_left) in [(100, true), (3, false), (-1, true)] {
            let test = SplitTest::new(&binned, 1, bin, default_left);
            for rows in [
                (0..n as u32).collect::<Vec<_>>(),
                (0..n as u32).filter(|r| r % 5 != 2).collect(),
                (0..1000u32).collect(),
            ] {
                let want: Vec<u32> = rows
                    .iter()
                    .copied()
                    .filter(|&r| test.goes_left(r))
                    .chain(rows.iter().copied().filter(|&r| !test.goes_left(r)))
                    .collect();
                let mut parted = rows.clone();
                let mut scratch = vec![0; rows.len()];
                let n_left = partition(&mut parted, &mut scratch, &test);
                assert_eq!(parted, want, "split after {bin}");
                assert_eq!(n_left, rows.iter().filter(|&&r| test.goes_left(r)).count());
            }
        }
    }

    #[test]
    fn a_split_below_every_value_sends_only_missing_values_left() {
        let x = [1.0f32, f32::NAN, 3.0, 2.0];
        let binned = Binned::new(&x, 1, None, 256).unwrap();
        let below = SplitTest::new(&binned, 0, -1, true);
        let left: Vec<bool> = (0..4).map(|r| below.goes_left(r)).collect();
        assert_eq!(left, [false, true, false, false]);
        // After the last bin: every value left, missing right.
        let last = binned.cuts[0].len() as i32 - 1;
        let above = SplitTest::new(&binned, 0, last, false);
        let left: Vec<bool> = (0..4).map(|r| above.goes_left(r)).collect();
        assert_eq!(left, [true, false, true, true]);
    }

    proptest::proptest! {
        #[test]
        fn a_split_sends_left_the_bins_up_to_its_own_and_missing_values_by_default(
            raw in proptest::collection::vec((-30i32..30, 0u8..8), 1..300),
            other in proptest::collection::vec(-5i32..5, 300),
            max_bin in 2usize..300,
            pick in 0usize..1000,
            default_left: bool,
        ) {
            // Two features, so the second one's slots start after the
            // first one's; the first has missing values.
            let x: Vec<f32> = raw
                .iter()
                .zip(&other)
                .flat_map(|(&(v, m), &o)| [if m == 0 { f32::NAN } else { v as f32 / 3.0 }, o as f32])
                .collect();
            let binned = Binned::new(&x, 2, None, max_bin).unwrap();
            for f in 0..2 {
                let bins = binned.cuts[f].len() as i32;
                // Every split from below the first bin to after the last.
                let bin = (pick as i32 % (bins + 1)) - 1;
                let test = SplitTest::new(&binned, f, bin, default_left);
                for r in 0..raw.len() {
                    let b = binned.bin(r, f);
                    let want = if b == crate::train::bins::MISSING {
                        default_left
                    } else {
                        i32::from(b) <= bin
                    };
                    proptest::prop_assert_eq!(test.goes_left(r as u32), want, "row {} bin {}", r, b);
                }
            }
        }
    }
}

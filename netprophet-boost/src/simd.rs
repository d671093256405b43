//! The two vector kernels that need `unsafe`, both AVX-512 on x86-64
//! (detected at run time; elsewhere, or without it, they do nothing and
//! the scalar code does all the work):
//!
//! - partitioning a node's rows sixteen at a time: it gathers sixteen
//!   rows' slots of the split feature at once, where the scalar loop waits
//!   on one scattered load per row, and compresses each side's rows into
//!   place in order: the same partition, so no model changes;
//! - scoring one row through sixteen trees at a time
//!   ([`sum_row_by_lanes`]): every split of the sixteen trees is tested
//!   (31 a tree at depth 5, where a walk tests 5), but sixteen tests are
//!   one compare, and no test waits on the one before; the leaves are
//!   then added one by one in boosting order, so the sum's bits are the
//!   walk's. One row of the original model (200 trees, depth 5): fastest
//!   of 400 bursts 361-384 ns against the scalar walk's 576-580 ns (five
//!   alternated pairs, AMD Zen 5); the safe, portable walks tried before
//!   it are described in the README's scoring section.
#![allow(unsafe_code)]

/// Whether this CPU runs the AVX-512 kernels (detected once by std).
#[inline]
pub(crate) fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Partitions the leading blocks of sixteen rows of `rows`: the rows
/// whose slot `s` (in `slots`, the split feature's column, at the row's
/// index) has `s - start >= span` (wrapping) go left, to the front of
/// `rows` in order; the others go to the front of `scratch` in order.
/// Returns how many rows were taken (a multiple of 16; the caller
/// finishes the rest) and how many went left. Takes none without
/// AVX-512.
pub(crate) fn partition_blocks(
    rows: &mut [u32],
    scratch: &mut [u32],
    slots: &[u16],
    start: u32,
    span: u32,
) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F and POPCNT, checked just above,
        // which are all the kernel's target features.
        return unsafe { x86::partition_avx512(rows, scratch, slots, start, span) };
    }
    let _ = (rows, scratch, slots, start, span);
    (0, 0)
}

/// Trees scored together by [`sum_row_by_lanes`]: one per vector lane.
pub(crate) const TREE_LANES: usize = 16;

/// Adds to `m`, in boosting order, the leaf each of the first `trees`
/// trees gives `row`, for complete trees of depth `depth` (1 to 5) in the
/// lane layout: the trees in groups of [`TREE_LANES`], each group's
/// `2^depth` heap slots in order (slot 0 unused), each slot's entry in
/// `thresholds` and `features` holding that slot of the group's sixteen
/// trees; `leaves` the trees' `2^depth` leaf values one tree after
/// another. A feature byte is the split's feature (bits 0-3) with bit 4
/// set when a missing value goes left; such a split's threshold must not
/// be -inf or NaN. A row goes right at a split when its value is not
/// below the threshold, or is missing (NaN) and bit 4 is clear, as in the
/// scalar walk.
///
/// `None` (nothing done) without AVX-512, for a row wider than 16
/// values, for another depth, or when the arrays are too short for
/// `trees`. Split features of 16 or more would be read as their low four
/// bits: the caller lays out only forests whose features are below 16.
pub(crate) fn sum_row_by_lanes(
    row: &[f32],
    thresholds: &[[f32; TREE_LANES]],
    features: &[[u8; TREE_LANES]],
    leaves: &[f32],
    depth: u32,
    trees: usize,
    m: f32,
) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if avx512() && row.len() <= TREE_LANES && (1..=5).contains(&depth) {
        let slots = 1usize << depth;
        let groups = trees.div_ceil(TREE_LANES);
        let fits = thresholds.len() >= groups * slots
            && features.len() >= groups * slots
            && leaves.len() >= trees * slots
            && leaves.len() <= i32::MAX as usize;
        if !fits {
            return None;
        }
        let (thresholds, features) = (&thresholds[..groups * slots], &features[..groups * slots]);
        // SAFETY: the CPU has AVX-512F, checked just above; the kernels'
        // size requirements were checked just above too.
        return Some(unsafe {
            match depth {
                1 => x86::sum_row_avx512::<2>(row, thresholds, features, leaves, trees, m),
                2 => x86::sum_row_avx512::<4>(row, thresholds, features, leaves, trees, m),
                3 => x86::sum_row_avx512::<8>(row, thresholds, features, leaves, trees, m),
                4 => x86::sum_row_avx512::<16>(row, thresholds, features, leaves, trees, m),
                _ => x86::sum_row_avx512::<32>(row, thresholds, features, leaves, trees, m),
            }
        });
    }
    let _ = (row, thresholds, features, leaves, depth, trees, m);
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// How many rows ahead the kernel asks for slots.
    const AHEAD: usize = 64;

    /// [`super::partition_blocks`] on AVX-512F.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and POPCNT. Every memory access is
    /// in bounds: see the comments at each one.
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn partition_avx512(
        rows: &mut [u32],
        scratch: &mut [u32],
        slots: &[u16],
        start: u32,
        span: u32,
    ) -> (usize, usize) {
        let n = rows.len().min(scratch.len());
        // The gather reads four bytes at a row's slot (the slot and the
        // next): in bounds for row indexes below `slots.len() - 1`. Its
        // indexes are signed 32-bit, so they must also stay below 2^31.
        let limit = slots.len().saturating_sub(1).min(i32::MAX as usize);
        let vstart = _mm512_set1_epi32(start as i32);
        let vspan = _mm512_set1_epi32(span as i32);
        let vlimit = _mm512_set1_epi32(limit as i32);
        let low = _mm512_set1_epi32(0xFFFF);
        let (mut i, mut l) = (0usize, 0usize);
        while i + 16 <= n {
            // The rows below the root are scattered: ask for the slots of
            // the rows a few blocks ahead, or the gather waits on memory.
            // A node's rows ascend, so a block's slots lie on a few lines
            // (a 64-byte line holds 32): one row in four is asked for.
            // Every row (16 loads and 16 requests a block, most for lines
            // already asked for) took 1.03-1.08x the time of a one-thread
            // fit (six alternated pairs), one in eight about the same.
            if let Some(ahead) = rows.get(i + AHEAD..i + AHEAD + 16) {
                for &r in ahead.iter().step_by(4) {
                    if let Some(s) = slots.get(r as usize) {
                        crate::prefetch::read(s);
                    }
                }
            }
            // SAFETY: i + 16 <= n <= rows.len().
            let idx = unsafe { _mm512_loadu_si512(rows.as_ptr().add(i).cast()) };
            if _mm512_cmpge_epu32_mask(idx, vlimit) != 0 {
                break;
            }
            // SAFETY: every index is below `limit` (checked above), so
            // each 4-byte read at byte 2 x index lies within `slots`.
            let got = unsafe { _mm512_i32gather_epi32::<2>(idx, slots.as_ptr().cast()) };
            let d = _mm512_sub_epi32(_mm512_and_si512(got, low), vstart);
            let right = _mm512_cmplt_epu32_mask(d, vspan);
            let left = !right;
            let r = i - l;
            // SAFETY: l <= i and r <= i (each side has taken at most the
            // i rows read so far), so both 16-lane stores end at or
            // before i + 16 <= n, within `rows` and `scratch`; the rows
            // they overwrite in `rows` have been read already.
            unsafe {
                _mm512_storeu_si512(
                    rows.as_mut_ptr().add(l).cast(),
                    _mm512_maskz_compress_epi32(left, idx),
                );
                _mm512_storeu_si512(
                    scratch.as_mut_ptr().add(r).cast(),
                    _mm512_maskz_compress_epi32(right, idx),
                );
            }
            l += left.count_ones() as usize;
            i += 16;
        }
        (i, l)
    }

    /// [`super::sum_row_by_lanes`] on AVX-512F for trees of `SLOTS` heap
    /// slots (2 to 32, so a tree's split results fit one 32-bit lane).
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `row` has at most 16 values;
    /// `thresholds` and `features` hold exactly the `trees.div_ceil(16)`
    /// groups of `SLOTS` entries; `leaves` holds at least `trees x SLOTS`
    /// values and fewer than 2^31.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum_row_avx512<const SLOTS: usize>(
        row: &[f32],
        thresholds: &[[f32; 16]],
        features: &[[u8; 16]],
        leaves: &[f32],
        trees: usize,
        mut m: f32,
    ) -> f32 {
        let width = (1u32 << row.len()) - 1;
        // SAFETY: the mask selects the row's values only (at most 16, by
        // the contract); masked-off lanes are not read.
        let x = unsafe { _mm512_maskz_loadu_ps(width as u16, row.as_ptr()) };
        // The row as the splits where a missing value goes left see it:
        // a missing value is -inf, below every threshold they have (the
        // caller lays out no such split at -inf or NaN).
        let missing = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        let x_left = _mm512_mask_mov_ps(x, missing, _mm512_set1_ps(f32::NEG_INFINITY));
        let (thresholds, _) = thresholds.as_chunks::<SLOTS>();
        let (features, _) = features.as_chunks::<SLOTS>();
        // A group's leaves are added two groups later: the adds are one
        // chain, each waiting on the one before, and a group's gather
        // would otherwise stall it; meanwhile the next groups' tests,
        // which wait on nothing, fill the gaps.
        const DELAY: usize = 2;
        let mut found = [[0.0f32; 16]; DELAY];
        let mut add = |out: &[f32; 16], first: usize| {
            // The group's trees within the forest (the caller passes
            // exactly its groups, so first < trees).
            for &leaf in &out[..(trees - first).min(16)] {
                m += leaf;
            }
        };
        let groups = thresholds.len();
        for (g, (t, f)) in thresholds.iter().zip(features).enumerate() {
            // SAFETY: this function's contract, and g x 16 < trees (there
            // are exactly trees.div_ceil(16) groups).
            let got = unsafe { group_leaves::<SLOTS>(x, x_left, t, f, leaves, g * 16, trees) };
            let slot = &mut found[g % DELAY];
            if g >= DELAY {
                add(slot, (g - DELAY) * 16);
            }
            // SAFETY: `slot` holds 16 values.
            unsafe { _mm512_storeu_ps(slot.as_mut_ptr(), got) };
        }
        for g in groups.saturating_sub(DELAY)..groups {
            add(&found[g % DELAY], g * 16);
        }
        m
    }

    /// The leaves row `x` reaches in the sixteen trees from `first`, those
    /// from `trees` on +0.0; `x_left` is `x` with its missing values -inf.
    ///
    /// # Safety
    /// As [`sum_row_avx512`]; `first < trees`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn group_leaves<const SLOTS: usize>(
        x: __m512,
        x_left: __m512,
        thresholds: &[[f32; 16]; SLOTS],
        features: &[[u8; 16]; SLOTS],
        leaves: &[f32],
        first: usize,
        trees: usize,
    ) -> __m512 {
        // Bit n of a lane: the row goes right at its tree's slot n.
        let mut right = _mm512_setzero_si512();
        let mut bit = _mm512_set1_epi32(1);
        for n in 1..SLOTS {
            bit = _mm512_add_epi32(bit, bit);
            // SAFETY: both point at whole arrays of 16 values.
            let (t, f) = unsafe {
                (
                    _mm512_loadu_ps(thresholds[n].as_ptr()),
                    _mm_loadu_si128(features[n].as_ptr().cast()),
                )
            };
            // The feature (bits 0-3) in `x`, or in `x_left` where a
            // missing value goes left (bit 4).
            let v = _mm512_permutex2var_ps(x, _mm512_cvtepu8_epi32(f), x_left);
            // Not below the threshold, or missing (NaN, only in `x`).
            let goes = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(v, t);
            right = _mm512_mask_or_epi32(right, goes, right, bit);
        }
        let one = _mm512_set1_epi32(1);
        let mut k = one;
        for _ in 0..SLOTS.trailing_zeros() {
            let r = _mm512_and_si512(_mm512_srlv_epi32(right, k), one);
            k = _mm512_add_epi32(_mm512_add_epi32(k, k), r);
        }
        // k is now in [SLOTS, 2 SLOTS): leaf k - SLOTS of its tree.
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let tree = _mm512_add_epi32(_mm512_set1_epi32(first as i32), lane);
        let at = _mm512_add_epi32(
            _mm512_mullo_epi32(tree, _mm512_set1_epi32(SLOTS as i32)),
            _mm512_sub_epi32(k, _mm512_set1_epi32(SLOTS as i32)),
        );
        let valid = ((1u32 << (trees - first).min(16)) - 1) as u16;
        // SAFETY: a valid lane's tree is below `trees`, so its index,
        // (tree x SLOTS) + a leaf below SLOTS, is below trees x SLOTS
        // <= leaves.len() < 2^31; other lanes are not read.
        unsafe { _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), valid, at, leaves.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The kernel and the scalar loop after it partition like the
        /// definition, for any rows (any order, repeats, the column's
        /// last index, which the gather must not take) and any range.
        #[test]
        fn the_kernel_partitions_as_the_definition(
            slots in proptest::collection::vec(0u16..40, 1..200),
            picks in proptest::collection::vec(0usize..1000, 0..120),
            start in 0u32..45,
            span in 0u32..45,
        ) {
            let rows: Vec<u32> = picks.iter().map(|&p| (p % slots.len()) as u32).collect();
            let right = |r: u32| u32::from(slots[r as usize]).wrapping_sub(start) < span;
            let want_left: Vec<u32> = rows.iter().copied().filter(|&r| !right(r)).collect();
            let want_right: Vec<u32> = rows.iter().copied().filter(|&r| right(r)).collect();

            let mut got = rows.clone();
            let mut scratch = vec![u32::MAX; rows.len()];
            let (done, mut l) = partition_blocks(&mut got, &mut scratch, &slots, start, span);
            proptest::prop_assert_eq!(done % 16, 0);
            proptest::prop_assert!(done <= rows.len() && l <= done);
            for i in done..rows.len() {
                let r = got[i];
                let to_right = right(r);
                got[l] = r;
                scratch[i - l] = r;
                l += usize::from(!to_right);
            }
            proptest::prop_assert_eq!(&got[..l], &want_left[..]);
            proptest::prop_assert_eq!(&scratch[..rows.len() - l], &want_right[..]);
            // With AVX-512, every whole block below the last index is
            // taken by the kernel.
            if avx512() {
                let last = slots.len() as u32 - 1;
                let blocks = rows.chunks_exact(16).take_while(|b| b.iter().all(|&r| r < last)).count();
                proptest::prop_assert_eq!(done, 16 * blocks);
            }
        }
    }
}

//! The vector kernels that need `unsafe`, all AVX-512 on x86-64
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
//!   it are described in the README's scoring section;
//! - the leaf values of the last tree for sixteen rows at a time
//!   ([`leaf_blocks`]): the partition's gather and test, then a scatter
//!   of each row's leaf value;
//! - binary:logistic's gradients sixteen rows at a time
//!   ([`logistic_blocks`]), with an exponential that repeats glibc's
//!   `expf` step for step (and is used only where it gives this
//!   platform's `expf` exactly): one call of `expf` a row was a tenth of
//!   a one-thread fit.
#![allow(unsafe_code)]

use crate::train::Grad32;

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

/// Writes a split's leaf values for the leading blocks of sixteen rows of
/// `rows` (ascending, distinct): `left` for a row whose slot `s` (in
/// `slots`, the split feature's column, at the row's index) has
/// `s - start >= span` (wrapping), `right` for the others, as the
/// partition sends them; row `r`'s value goes to `out[r - first]`.
/// Returns how many rows were done (a multiple of 16); the caller does
/// the rest. Stops at a block with a row outside `slots` (less its last
/// index) or `out`, and does nothing without AVX-512.
#[allow(clippy::too_many_arguments)]
pub(crate) fn leaf_blocks(
    rows: &[u32],
    slots: &[u16],
    start: u32,
    span: u32,
    (left, right): (f32, f32),
    first: u32,
    out: &mut [f32],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F and POPCNT, checked just above,
        // which are all the kernel's target features.
        return unsafe { x86::leaves_avx512(rows, slots, start, span, left, right, first, out) };
    }
    let _ = (rows, slots, start, span, left, right, first, out);
    0
}

/// binary:logistic's gradient and hessian of the leading blocks of
/// sixteen rows, bit for bit what the scalar code computes from `expf`:
/// `p = 1 / (1 + exp(-m))`, `g = (p - y) w`, `h = max(p (1 - p), 1e-16) w`,
/// all in float32. Stops before the first block with a margin of
/// magnitude 88 or more (or NaN), which the vector exponential does not
/// cover, and returns how many rows it did (a multiple of 16); the caller
/// does the next block and calls again. Does nothing unless
/// [`vector_exp_agrees`].
pub(crate) fn logistic_blocks(margin: &[f32], y: &[f32], w: &[f32], grad: &mut [Grad32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if vector_exp_agrees() {
        let n = margin.len().min(y.len()).min(w.len()).min(grad.len());
        let (margin, y, w, grad) = (&margin[..n], &y[..n], &w[..n], &mut grad[..n]);
        // SAFETY: the CPU has AVX-512F (the probe passes only with it);
        // the four slices have the same length.
        return unsafe { x86::logistic_avx512(margin, y, w, grad) };
    }
    let _ = (margin, y, w, grad);
    0
}

/// `2^(i/32)` for `i` in `0..32`, correctly rounded to float64: the table
/// of the exponential in glibc's `expf` (since glibc 2.27; the algorithm
/// is ARM's optimized-routines `expf`, which also names the polynomial
/// below). Computed exactly (decimal arithmetic, 60 digits) and rounded.
#[cfg(target_arch = "x86_64")]
const EXP2_32THS: [u64; 32] = [
    0x3ff0000000000000,
    0x3ff059b0d3158574,
    0x3ff0b5586cf9890f,
    0x3ff11301d0125b51,
    0x3ff172b83c7d517b,
    0x3ff1d4873168b9aa,
    0x3ff2387a6e756238,
    0x3ff29e9df51fdee1,
    0x3ff306fe0a31b715,
    0x3ff371a7373aa9cb,
    0x3ff3dea64c123422,
    0x3ff44e086061892d,
    0x3ff4bfdad5362a27,
    0x3ff5342b569d4f82,
    0x3ff5ab07dd485429,
    0x3ff6247eb03a5585,
    0x3ff6a09e667f3bcd,
    0x3ff71f75e8ec5f74,
    0x3ff7a11473eb0187,
    0x3ff82589994cce13,
    0x3ff8ace5422aa0db,
    0x3ff93737b0cdc5e5,
    0x3ff9c49182a3f090,
    0x3ffa5503b23e255d,
    0x3ffae89f995ad3ad,
    0x3ffb7f76f2fb5e47,
    0x3ffc199bdd85529c,
    0x3ffcb720dcef9069,
    0x3ffd5818dcfba487,
    0x3ffdfc97337b9b5f,
    0x3ffea4afa2a490da,
    0x3fff50765b6e4540,
];

/// Float32 values whose `expf` differs when the steps of glibc's
/// algorithm are rounded one by one instead of fused (found by trying all
/// 2 237 661 184 floats of magnitude below 88): a platform whose `expf`
/// is built without fused multiply-adds gives another result for them.
const FMA_WITNESSES: [u32; 2] = [0x4202_422f, 0xc27c_65d9];

/// Whether [`logistic_blocks`] runs here: the CPU has AVX-512 and the
/// vector exponential gives exactly what this platform's `f32::exp`
/// gives, checked once on probe values.
/// It follows glibc's `expf` (with fused multiply-adds, the variant glibc
/// picks on every CPU with AVX-512) step for step, which equals it on all
/// 2 237 661 184 floats of magnitude below 88 (the `#[ignore]`d test
/// `the_vector_exp_is_expf_on_every_float_below_88`); another libm
/// (musl, macOS, Windows, an older glibc) may round some values
/// differently, and then the gradients, which must be XGBoost's on the
/// same platform, keep the scalar `expf`. The probe: the values that tell
/// a fused build from an unfused one, 0, the smallest subnormals, the
/// ends of the range, and 8 190 values spread over it (8 206 in all).
pub(crate) fn vector_exp_agrees() -> bool {
    static AGREES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AGREES.get_or_init(|| {
        // Without AVX-512, exp16 gives nothing and the probe fails.
        let below_88 = 88.0f32.to_bits();
        let spread = (1..4096u32).map(|k| k * (below_88 / 4096));
        let probe: Vec<f32> = FMA_WITNESSES
            .into_iter()
            .chain([0, 1, 2, 0x007f_ffff, 0x0080_0000, below_88 - 1])
            .chain(spread)
            .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
            .collect();
        probe.chunks(16).all(|c| {
            let mut x = [0.0f32; 16];
            x[..c.len()].copy_from_slice(c);
            exp16(x).is_some_and(|e| {
                e.iter()
                    .zip(x)
                    .all(|(e, x)| e.to_bits() == x.exp().to_bits())
            })
        })
    })
}

/// The vector exponential of sixteen floats of magnitude below 88
/// (`None` for any other, or without AVX-512): for the probe and tests.
fn exp16(x: [f32; 16]) -> Option<[f32; 16]> {
    #[cfg(target_arch = "x86_64")]
    if avx512() && x.iter().all(|v| v.abs() < 88.0) {
        let mut out = [0.0f32; 16];
        // SAFETY: the CPU has AVX-512F, checked just above; both arrays
        // hold sixteen values.
        unsafe {
            use std::arch::x86_64::*;
            let v = _mm512_loadu_ps(x.as_ptr());
            _mm512_storeu_ps(out.as_mut_ptr(), x86::exp_avx512(v));
        }
        return Some(out);
    }
    let _ = x;
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::train::Grad32;
    use std::arch::x86_64::*;

    /// How many rows ahead the kernels ask for slots.
    const AHEAD: usize = 64;

    /// A split's range test on sixteen rows at a time, shared by the
    /// partition and the leaf kernels: a row goes right when its slot `s`
    /// in the feature's column has `s - start < span` (wrapping).
    struct RangeTest<'a> {
        slots: &'a [u16],
        limit: __m512i,
        start: __m512i,
        span: __m512i,
    }

    impl<'a> RangeTest<'a> {
        #[target_feature(enable = "avx512f")]
        fn new(slots: &'a [u16], start: u32, span: u32) -> Self {
            // The gather reads four bytes at a row's slot (the slot and
            // the next): in bounds for row indexes below
            // `slots.len() - 1`. Its indexes are signed 32-bit, so they
            // must also stay below 2^31.
            let limit = slots.len().saturating_sub(1).min(i32::MAX as usize);
            RangeTest {
                slots,
                limit: _mm512_set1_epi32(limit as i32),
                start: _mm512_set1_epi32(start as i32),
                span: _mm512_set1_epi32(span as i32),
            }
        }

        /// Asks for the slots of the rows a few blocks after block `i` of
        /// `rows`. The rows below the root are scattered, and the gather
        /// would wait on memory; a node's rows ascend, so a block's slots
        /// lie on a few lines (a 64-byte line holds 32) and one row in
        /// four is asked for. Every row (16 loads and 16 requests a
        /// block, most for lines already asked for) took 1.03-1.08x the
        /// time of a one-thread fit (six alternated pairs), one in eight
        /// about the same.
        fn prefetch_ahead(&self, rows: &[u32], i: usize) {
            if let Some(ahead) = rows.get(i + AHEAD..i + AHEAD + 16) {
                for &r in ahead.iter().step_by(4) {
                    if let Some(s) = self.slots.get(r as usize) {
                        crate::prefetch::read(s);
                    }
                }
            }
        }

        /// The lanes of `idx` (sixteen row indexes) whose rows go right;
        /// `None` when a row lies past what the gather may read.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn goes_right(&self, idx: __m512i) -> Option<__mmask16> {
            if _mm512_cmpge_epu32_mask(idx, self.limit) != 0 {
                return None;
            }
            // SAFETY: every index is below `limit` (checked above), so
            // each 4-byte read at byte 2 x index lies within `slots`.
            let got = unsafe { _mm512_i32gather_epi32::<2>(idx, self.slots.as_ptr().cast()) };
            let slot = _mm512_and_si512(got, _mm512_set1_epi32(0xFFFF));
            let d = _mm512_sub_epi32(slot, self.start);
            Some(_mm512_cmplt_epu32_mask(d, self.span))
        }
    }

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
        let test = RangeTest::new(slots, start, span);
        let (mut i, mut l) = (0usize, 0usize);
        while i + 16 <= n {
            test.prefetch_ahead(rows, i);
            // SAFETY: i + 16 <= n <= rows.len().
            let idx = unsafe { _mm512_loadu_si512(rows.as_ptr().add(i).cast()) };
            let Some(right) = test.goes_right(idx) else {
                break;
            };
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

    /// [`super::leaf_blocks`] on AVX-512F.
    ///
    /// # Safety
    /// The CPU must support AVX-512F. Every memory access is in bounds:
    /// see the comments at each one.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn leaves_avx512(
        rows: &[u32],
        slots: &[u16],
        start: u32,
        span: u32,
        left: f32,
        right: f32,
        first: u32,
        out: &mut [f32],
    ) -> usize {
        let test = RangeTest::new(slots, start, span);
        let vfirst = _mm512_set1_epi32(first as i32);
        let vlen = _mm512_set1_epi32(out.len().min(i32::MAX as usize) as i32);
        let (vleft, vright) = (_mm512_set1_ps(left), _mm512_set1_ps(right));
        let mut i = 0;
        while i + 16 <= rows.len() {
            test.prefetch_ahead(rows, i);
            // SAFETY: i + 16 <= rows.len().
            let idx = unsafe { _mm512_loadu_si512(rows.as_ptr().add(i).cast()) };
            let at = _mm512_sub_epi32(idx, vfirst);
            if _mm512_cmpge_epu32_mask(at, vlen) != 0 {
                break;
            }
            let Some(goes_right) = test.goes_right(idx) else {
                break;
            };
            let value = _mm512_mask_mov_ps(vleft, goes_right, vright);
            // SAFETY: every `at` is below out.len() and 2^31 (checked
            // above). Only a store: a gather of the margins here would
            // wait for the block before's scatter to reach the cache.
            unsafe { _mm512_i32scatter_ps::<4>(out.as_mut_ptr(), at, value) };
            i += 16;
        }
        i
    }

    /// [`super::logistic_blocks`] on AVX-512F.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; the four slices have one length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn logistic_avx512(
        margin: &[f32],
        y: &[f32],
        w: &[f32],
        grad: &mut [Grad32],
    ) -> usize {
        let n = margin.len();
        let one = _mm512_set1_ps(1.0);
        let floor = _mm512_set1_ps(1e-16);
        let limit = _mm512_set1_ps(88.0);
        // Lane i of the two outputs takes g or h of row i / 2.
        let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let second =
            _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, the length of all four slices; Grad32
            // is two f32 (repr(C)), so sixteen of them are 32 floats.
            unsafe {
                let x = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_loadu_ps(margin.as_ptr().add(i)));
                // NaN compares false: not in range.
                if _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(x), limit) != 0xFFFF {
                    break;
                }
                let e = exp_avx512(x);
                let p = _mm512_div_ps(one, _mm512_add_ps(one, e));
                let yv = _mm512_loadu_ps(y.as_ptr().add(i));
                let wv = _mm512_loadu_ps(w.as_ptr().add(i));
                let g = _mm512_mul_ps(_mm512_sub_ps(p, yv), wv);
                // max(a, b) is b when a is NaN, as f32::max(a, b) is.
                let h = _mm512_mul_ps(
                    _mm512_max_ps(_mm512_mul_ps(p, _mm512_sub_ps(one, p)), floor),
                    wv,
                );
                let out = grad.as_mut_ptr().add(i).cast::<f32>();
                _mm512_storeu_ps(out, _mm512_permutex2var_ps(g, first, h));
                _mm512_storeu_ps(out.add(16), _mm512_permutex2var_ps(g, second, h));
            }
            i += 16;
        }
        i
    }

    /// `expf` of sixteen floats of magnitude below 88, as glibc computes
    /// it with fused multiply-adds (`sysdeps/ieee754/flt-32/e_expf.c`):
    /// in float64, `x = (k + r) ln2 / 32` with `k` an integer and
    /// `|r| <= 1/2`, `2^(k/32)` from the table and the exponent, `2^(r/32)`
    /// from a cubic, the product rounded once to float32. Each step is the
    /// same operation, fused where glibc's is.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn exp_avx512(x: __m512) -> __m512 {
        let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
        let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
            _mm512_castps_pd(x),
        )));
        let (lo, hi) = (exp_f64x8(lo), exp_f64x8(hi));
        let lo = _mm512_castps256_ps512(_mm512_cvtpd_ps(lo));
        let hi = _mm512_cvtpd_ps(hi);
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castps_pd(lo),
            _mm256_castps_pd(hi),
        ))
    }

    /// The float64 part of [`exp_avx512`] for eight values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp_f64x8(x: __m512d) -> __m512d {
        // 32 / ln 2, and 1.5 x 2^52: added to a value below 2^51, it
        // leaves the value rounded to an integer in the low mantissa bits.
        let inv_ln2_n = _mm512_set1_pd(f64::from_bits(0x4047_1547_652b_82fe));
        let shift = _mm512_set1_pd(f64::from_bits(0x4338_0000_0000_0000));
        let c0 = _mm512_set1_pd(f64::from_bits(0x3ebc_6af8_4b91_2394));
        let c1 = _mm512_set1_pd(f64::from_bits(0x3f2e_bfce_50fa_c4f3));
        let c2 = _mm512_set1_pd(f64::from_bits(0x3f96_2e42_ff0c_52d6));
        let z = _mm512_fmadd_pd(inv_ln2_n, x, shift);
        let ki = _mm512_castpd_si512(z);
        let kd = _mm512_sub_pd(z, shift);
        let r = _mm512_fmsub_pd(inv_ln2_n, x, kd);
        // 2^(k/32): the table's 2^((k mod 32)/32), its exponent raised
        // by k div 32 (the bits of ki above the low five, shifted into
        // the exponent field; wrapping, as negative k borrows).
        let table = |at: usize| {
            let t = &super::EXP2_32THS;
            _mm512_setr_epi64(
                t[at] as i64,
                t[at + 1] as i64,
                t[at + 2] as i64,
                t[at + 3] as i64,
                t[at + 4] as i64,
                t[at + 5] as i64,
                t[at + 6] as i64,
                t[at + 7] as i64,
            )
        };
        let low16 = _mm512_permutex2var_epi64(table(0), ki, table(8));
        let high16 = _mm512_permutex2var_epi64(table(16), ki, table(24));
        let upper = _mm512_test_epi64_mask(ki, _mm512_set1_epi64(16));
        let t = _mm512_mask_mov_epi64(low16, upper, high16);
        let s = _mm512_castsi512_pd(_mm512_add_epi64(
            t,
            _mm512_slli_epi64::<52>(_mm512_srli_epi64::<5>(ki)),
        ));
        let zz = _mm512_fmadd_pd(c0, r, c1);
        let r2 = _mm512_mul_pd(r, r);
        let y = _mm512_fmadd_pd(c2, r, _mm512_set1_pd(1.0));
        let y = _mm512_fmadd_pd(zz, r2, y);
        _mm512_mul_pd(y, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares the vector exponential with `f32::exp` on every float of
    /// magnitude below 88 whose bit pattern is `k x step` (either sign).
    fn exp_matches_expf(step: u32) {
        let below_88 = 88.0f32.to_bits();
        let mut bits = (0..below_88 / step).map(|k| k * step).chain(FMA_WITNESSES);
        let mut misses = Vec::new();
        loop {
            let mut x = [0.0f32; 16];
            let mut filled = 0;
            for (slot, b) in x.chunks_mut(2).zip(bits.by_ref()) {
                slot[0] = f32::from_bits(b);
                slot[1] = -f32::from_bits(b);
                filled += 2;
            }
            if filled == 0 {
                break;
            }
            let Some(e) = exp16(x) else {
                return; // no AVX-512 here: nothing to compare
            };
            for (e, x) in e.iter().zip(x) {
                if e.to_bits() != x.exp().to_bits() && misses.len() < 10 {
                    misses.push((x, *e, x.exp()));
                }
            }
        }
        // On a platform whose expf is not glibc's, misses are allowed,
        // but then the training must not use the kernel.
        if vector_exp_agrees() {
            assert!(
                misses.is_empty(),
                "vector exp differs from expf: {misses:?}"
            );
        } else {
            let mut grad = [Grad32::default(); 16];
            assert_eq!(
                logistic_blocks(&[0.5; 16], &[1.0; 16], &[1.0; 16], &mut grad),
                0
            );
        }
    }

    #[test]
    fn the_vector_exp_is_expf_on_a_sweep_of_floats_below_88() {
        exp_matches_expf(9_973);
    }

    /// All 2 237 661 184 floats of magnitude below 88 (ten seconds in a
    /// release build: `cargo test --release -p netprophet-boost --lib
    /// -- --ignored the_vector_exp_is_expf_on_every_float_below_88`).
    #[test]
    #[ignore]
    fn the_vector_exp_is_expf_on_every_float_below_88() {
        exp_matches_expf(1);
    }

    /// On glibc (2.27 or later, 2018) the probe must pass wherever the
    /// kernel can run: a kernel that strays from glibc's steps would
    /// otherwise only be switched off, and go unnoticed.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_vector_exp_agrees_with_glibc() {
        assert_eq!(vector_exp_agrees(), avx512());
    }

    #[test]
    fn the_vector_exp_declines_what_it_does_not_cover() {
        for bad in [88.0, -88.0, f32::INFINITY, f32::NAN, f32::MAX] {
            let mut x = [1.0f32; 16];
            x[7] = bad;
            assert_eq!(exp16(x), None);
        }
        // The gradient kernel stops at a block holding such a margin.
        let mut margin = vec![0.5f32; 48];
        margin[20] = -90.0;
        let (y, w) = (vec![1.0f32; 48], vec![1.0f32; 48]);
        let mut grad = vec![Grad32::default(); 48];
        let done = logistic_blocks(&margin, &y, &w, &mut grad);
        assert_eq!(done, if vector_exp_agrees() { 16 } else { 0 });
        assert_eq!(
            logistic_blocks(&margin[32..], &y[32..], &w[32..], &mut grad[32..]),
            done
        );
    }

    /// A split's range test, as the kernels apply it: the definition.
    fn goes_right(slots: &[u16], start: u32, span: u32, r: u32) -> bool {
        u32::from(slots[r as usize]).wrapping_sub(start) < span
    }

    /// The rows a kernel takes with AVX-512: every whole block of sixteen
    /// before the first that holds a row it must not take.
    fn whole_blocks(rows: &[u32], takes: impl Fn(u32) -> bool) -> usize {
        16 * rows
            .chunks_exact(16)
            .take_while(|b| b.iter().all(|&r| takes(r)))
            .count()
    }

    /// A feature's column of slots, rows of it (any order, repeats, the
    /// column's last index, which the gather must not take) and a range.
    fn range_case() -> impl proptest::strategy::Strategy<Value = (Vec<u16>, Vec<u32>, u32, u32)> {
        let parts = (
            proptest::collection::vec(0u16..40, 1..200),
            proptest::collection::vec(0usize..1000, 0..120),
            0u32..45,
            0u32..45,
        );
        proptest::strategy::Strategy::prop_map(parts, |(slots, picks, start, span)| {
            let rows = picks.iter().map(|&p| (p % slots.len()) as u32).collect();
            (slots, rows, start, span)
        })
    }

    proptest::proptest! {
        /// The kernel and the scalar loop after it partition like the
        /// definition, for any rows and any range.
        #[test]
        fn the_kernel_partitions_as_the_definition(
            (slots, rows, start, span) in range_case(),
        ) {
            let right = |r: u32| goes_right(&slots, start, span, r);
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
                proptest::prop_assert_eq!(done, whole_blocks(&rows, |r| r < last));
            }
        }

        /// The leaf kernel writes each row's value where the partition
        /// sends the row, and nothing else, for ascending rows (its
        /// contract) at any offset into the output.
        #[test]
        fn the_leaf_kernel_writes_what_the_partition_sends(
            (slots, mut rows, start, span) in range_case(),
            first in 0u32..20,
        ) {
            rows.sort_unstable();
            rows.dedup();
            rows.retain(|&r| r >= first);
            let (left, right) = (-1.5f32, 2.25f32);
            // Room for rows up to 150 past `first`: some lie outside.
            let mut out = vec![f32::NAN; 150];
            let done = leaf_blocks(&rows, &slots, start, span, (left, right), first, &mut out);
            proptest::prop_assert_eq!(done % 16, 0);
            proptest::prop_assert!(done <= rows.len());
            let mut want = vec![f32::NAN; 150];
            for &r in &rows[..done] {
                let to_right = goes_right(&slots, start, span, r);
                want[(r - first) as usize] = if to_right { right } else { left };
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&out), bits(&want));
            if avx512() {
                let last = slots.len() as u32 - 1;
                proptest::prop_assert_eq!(done, whole_blocks(&rows, |r| r < last && r - first < 150));
            }
        }
    }
}

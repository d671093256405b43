//! The one vector kernel that needs `unsafe`: partitioning a node's rows
//! sixteen at a time with AVX-512 on x86-64 (detected at run time;
//! elsewhere, or without it, it takes no rows and the scalar loop does all
//! the work). It gathers sixteen rows' slots of the split feature at once,
//! where the scalar loop waits on one scattered load per row, and
//! compresses each side's rows into place in order: the same partition,
//! so no model changes.
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
            if let Some(ahead) = rows.get(i + AHEAD..i + AHEAD + 16) {
                for &r in ahead {
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

//! A reader that bounds the length of one line.
//!
//! A CSV reader holds a whole record before it hands it on, so an input
//! without line breaks (a device such as `/dev/zero`, a binary file given
//! by mistake) would make it grow its buffer until memory runs out.
//! Wrapped in [`LineLimit`], such an input fails with an error naming the
//! line as soon as the line passes the bound.
//!
//! ```
//! use std::io::Read;
//! use netprophet_core::bounded::LineLimit;
//!
//! let mut ok = String::new();
//! LineLimit::new(&b"a,b\n1,2\n"[..], 8).read_to_string(&mut ok).unwrap();
//! assert_eq!(ok, "a,b\n1,2\n");
//!
//! let err = LineLimit::new(&b"a,b\n123456789\n"[..], 8)
//!     .read_to_end(&mut Vec::new())
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "line 2 is longer than 8 bytes without a line break");
//! ```

use std::io::{self, Read};

/// The bound on one line of a CSV of feature rows or minutes: far beyond
/// any real row (a few hundred bytes, a few thousand with every feature
/// set) and small enough to hold.
pub const MAX_CSV_LINE: usize = 1 << 20;

/// Wraps a reader and fails once a line grows past `max` bytes (not
/// counting its `\n`); everything before that is passed on unchanged.
#[derive(Debug)]
pub struct LineLimit<R> {
    inner: R,
    max: usize,
    /// Bytes of the current line read so far.
    run: usize,
    /// Line breaks read so far.
    breaks: u64,
}

impl<R> LineLimit<R> {
    /// Bounds each line of `inner` to `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        LineLimit {
            inner,
            max,
            run: 0,
            breaks: 0,
        }
    }

    /// A line longer than the bound, numbered from 1.
    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "line {} is longer than {} bytes without a line break",
                self.breaks + 1,
                self.max
            ),
        )
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.run > self.max {
            // Asked again after the error: the answer stays the same.
            return Err(self.too_long());
        }
        let n = self.inner.read(buf)?;
        // Each piece up to a line break ends a line; the piece after the
        // last one continues into the next read.
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf[..n]).chain([n]) {
            self.run += end - start;
            if self.run > self.max {
                return Err(self.too_long());
            }
            if end < n {
                self.run = 0;
                self.breaks += 1;
            }
            start = end + 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hands out its bytes a few at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_endless_line_fails_instead_of_filling_memory() {
        let mut csv = csv::Reader::from_reader(LineLimit::new(io::repeat(0), 4096));
        let err = csv.headers().unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1 is longer than 4096 bytes without a line break"),
            "{err}"
        );
    }

    #[test]
    fn the_error_stays_once_given() {
        let mut r = LineLimit::new(&b"abcdef"[..], 3);
        let mut buf = [0u8; 2];
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        assert!(r.read(&mut [0u8; 8]).is_err());
        assert!(r.read(&mut [0u8; 8]).is_err());
    }

    proptest! {
        /// Whatever the lines and however the bytes arrive, the input
        /// passes unchanged exactly when no line is longer than the bound,
        /// and otherwise the error names the first such line.
        #[test]
        fn passes_or_names_the_first_long_line(
            lines in prop::collection::vec(prop::collection::vec(0u8..=255, 0..40), 0..12),
            max in 0usize..30,
            step in 1usize..50,
            last_break in any::<bool>(),
        ) {
            let lines: Vec<Vec<u8>> = lines
                .into_iter()
                .map(|l| l.into_iter().filter(|&b| b != b'\n').collect())
                .collect();
            let mut bytes = lines.join(&b'\n');
            if last_break && !lines.is_empty() {
                bytes.push(b'\n');
            }
            let mut out = Vec::new();
            let got = LineLimit::new(Trickle(&bytes, step), max).read_to_end(&mut out);
            match lines.iter().position(|l| l.len() > max) {
                None => {
                    prop_assert!(got.is_ok());
                    prop_assert_eq!(out, bytes);
                }
                Some(i) => {
                    let err = got.unwrap_err();
                    prop_assert_eq!(
                        err.to_string(),
                        format!("line {} is longer than {max} bytes without a line break", i + 1)
                    );
                }
            }
        }
    }
}

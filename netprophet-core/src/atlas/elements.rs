//! Cutting the elements of one top-level JSON array out of a byte stream
//! without parsing them: a structural scan (depth, strings, escapes) finds
//! where each element starts and ends, so elements can be parsed in
//! parallel, or copied out, as the bytes arrive.

use std::io::{self, BufRead};
use std::ops::Range;

/// The largest single result the readers accept: an NDJSON line or a
/// JSON-array element of more than 16 MiB is refused. An Atlas ping result
/// is well under 10 KiB, so anything this long is not one; without a bound,
/// one endless line would be buffered until memory ran out.
pub const MAX_ELEMENT_BYTES: usize = 16 << 20;

/// A malformed array: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArrayError {
    /// Line of the failure, from 1.
    pub(crate) line: usize,
    /// Column of the failure, from 1.
    pub(crate) column: usize,
    /// What is wrong.
    pub(crate) message: &'static str,
}

impl std::fmt::Display for ArrayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ArrayError {}

/// The message of an element over [`MAX_ELEMENT_BYTES`].
const TOO_LONG: &str = "an element is longer than the 16 MiB limit on one result";

/// Finds the elements of a top-level JSON array in a buffer that grows at
/// its end and is drained at its front.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArrayCutter {
    scan: usize,
    start: Option<usize>,
    depth: u32,
    in_str: bool,
    escaped: bool,
    done: bool,
    line: usize,
    column: usize,
    /// The longest element accepted.
    max: usize,
}

impl Default for ArrayCutter {
    fn default() -> Self {
        Self::with_max(MAX_ELEMENT_BYTES)
    }
}

impl ArrayCutter {
    /// A cutter that refuses elements longer than `max` bytes.
    pub(crate) fn with_max(max: usize) -> Self {
        ArrayCutter {
            scan: 0,
            start: None,
            depth: 0,
            in_str: false,
            escaped: false,
            done: false,
            line: 1,
            column: 0,
            max,
        }
    }

    fn error(&self, message: &'static str) -> ArrayError {
        ArrayError {
            line: self.line,
            column: self.column,
            message,
        }
    }

    /// Scans `buf` on from where the last call stopped and appends the
    /// range of every element that ended, untrimmed of white space.
    pub(crate) fn cut(
        &mut self,
        buf: &[u8],
        out: &mut Vec<Range<usize>>,
    ) -> Result<(), ArrayError> {
        // Every byte of the input passes here: the state is worked on as a
        // local copy, which stays in registers, and stored back once.
        let mut st = *self;
        let before = out.len();
        let mut result = st.scan_to(buf, out);
        // Checked once per block, not per byte: an element that ended in
        // this block, or one still open, may not exceed the bound (the
        // caller keeps an open element's bytes, so this bounds its memory).
        let longest = out[before..].iter().map(|r| r.len()).max().unwrap_or(0);
        let open = st.start.map_or(0, |s| st.scan - s);
        if result.is_ok() && longest.max(open) > st.max {
            result = Err(st.error(TOO_LONG));
        }
        *self = st;
        result
    }

    #[inline(always)]
    fn scan_to(&mut self, buf: &[u8], out: &mut Vec<Range<usize>>) -> Result<(), ArrayError> {
        while self.scan < buf.len() {
            let c = buf[self.scan];
            if c == b'\n' {
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
            }
            if self.done {
                if !c.is_ascii_whitespace() {
                    return Err(self.error("trailing characters after the array"));
                }
            } else if self.in_str {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_str = false;
                }
            } else {
                self.structural(c, out)?;
            }
            self.scan += 1;
        }
        Ok(())
    }

    /// One byte outside strings.
    #[inline(always)]
    fn structural(&mut self, c: u8, out: &mut Vec<Range<usize>>) -> Result<(), ArrayError> {
        match c {
            _ if c.is_ascii_whitespace() => return Ok(()),
            b']' | b'}' => {
                if self.depth == 0 {
                    return Err(self.error("unbalanced closing bracket"));
                }
                self.depth -= 1;
                if self.depth == 0 {
                    out.extend(self.start.take().map(|s| s..self.scan));
                    self.done = true;
                }
                return Ok(());
            }
            b',' if self.depth == 1 => {
                let Some(s) = self.start.take() else {
                    return Err(self.error("an empty element"));
                };
                out.push(s..self.scan);
                return Ok(());
            }
            _ if self.depth == 0 && c != b'[' => return Err(self.error("expected `[`")),
            _ => {}
        }
        if self.depth == 1 && self.start.is_none() {
            self.start = Some(self.scan);
        }
        match c {
            b'[' | b'{' => self.depth += 1,
            b'"' => self.in_str = true,
            _ => {}
        }
        Ok(())
    }

    /// Bytes at the front of the buffer no element still needs.
    pub(crate) fn keep_from(&self) -> usize {
        self.start.unwrap_or(self.scan)
    }

    /// Tells the cutter that `n` bytes were drained from the buffer's
    /// front (at most [`ArrayCutter::keep_from`]).
    pub(crate) fn drained(&mut self, n: usize) {
        self.scan -= n;
        if let Some(s) = self.start.as_mut() {
            *s -= n;
        }
    }

    /// At the end of the input: an error unless the array was closed.
    pub(crate) fn finish(&self) -> Result<(), ArrayError> {
        if self.done {
            Ok(())
        } else {
            Err(self.error("the array ends before its closing `]` (truncated?)"))
        }
    }
}

/// Appends input to `block` until it holds `size` bytes, or `size` more
/// bytes when it already held that many (a line or element longer than a
/// block is still being read), or the input ends; returns whether it
/// ended. Every call thus reads something or reports the end: callers
/// that carry an unfinished line over to the next block never wait on a
/// fill that reads nothing.
pub(crate) fn fill_block(
    input: &mut dyn BufRead,
    block: &mut Vec<u8>,
    size: usize,
) -> io::Result<bool> {
    let target = if block.len() >= size {
        block.len() + size
    } else {
        size
    };
    while block.len() < target {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(true);
        }
        let n = chunk.len();
        block.extend_from_slice(chunk);
        input.consume(n);
    }
    Ok(false)
}

/// Calls `each` with every element of the JSON array read from `input`
/// (its bytes, trimmed of white space), in order, as the input arrives;
/// returns how many there were. A malformed or truncated array, or an
/// element longer than [`MAX_ELEMENT_BYTES`], is an
/// [`io::ErrorKind::InvalidData`] error saying where.
pub fn for_each_element(
    input: &mut dyn BufRead,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let invalid = |e: ArrayError| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut cutter = ArrayCutter::default();
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    let mut n = 0u64;
    loop {
        let eof = fill_block(input, &mut buf, 64 << 10)?;
        ranges.clear();
        cutter.cut(&buf, &mut ranges).map_err(invalid)?;
        for r in &ranges {
            each(buf[r.clone()].trim_ascii())?;
        }
        n += ranges.len() as u64;
        let keep = cutter.keep_from();
        buf.drain(..keep);
        cutter.drained(keep);
        if eof {
            cutter.finish().map_err(invalid)?;
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for_each_element(&mut text.as_bytes(), |e| {
            out.push(String::from_utf8(e.to_vec()).unwrap());
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn elements_with_brackets_and_escapes_inside_strings() {
        let got = elements(" [ {\"a\": \"x]\\\"},\"}, [1, 2] , \"s\" ,3 ]\n").unwrap();
        assert_eq!(got, ["{\"a\": \"x]\\\"},\"}", "[1, 2]", "\"s\"", "3"]);
        assert!(elements("[]").unwrap().is_empty());
    }

    #[test]
    fn an_element_split_across_blocks_is_found_once_it_ends() {
        let mut cutter = ArrayCutter::default();
        let mut buf = br#"[{"a": "],"}, 2"#.to_vec();
        let mut found = Vec::new();
        cutter.cut(&buf, &mut found).unwrap();
        assert_eq!(&buf[found[0].clone()], br#"{"a": "],"}"#);
        // The second element is not known to be complete yet.
        assert_eq!(found.len(), 1);
        let keep = cutter.keep_from();
        buf.drain(..keep);
        cutter.drained(keep);
        buf.extend_from_slice(b"]");
        found.clear();
        cutter.cut(&buf, &mut found).unwrap();
        assert_eq!(buf[found[0].clone()].trim_ascii(), b"2");
        assert!(cutter.finish().is_ok());
    }

    #[test]
    fn malformed_arrays_say_where() {
        for (text, what) in [
            ("[1, 2", "truncated"),
            ("[1,, 2]", "empty element"),
            ("{\"a\": 1}", "expected `[`"),
            ("[1] 2", "trailing"),
            ("[1]]", "trailing"),
        ] {
            let e = elements(text).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{text}");
            assert!(e.to_string().contains(what), "{text}: {e}");
        }
    }
}

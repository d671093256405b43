//! Streaming readers for Atlas result archives.
//!
//! An archive is what the Atlas API returns, stored as is: one result
//! object per line (NDJSON), optionally gzip-compressed, or the API's own
//! JSON array. Results are handed to the caller one at a time, so memory
//! is bounded by what the caller keeps, never by the file size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::value::RawValue;

use super::elements::{fill_block, ArrayCutter, ArrayError, MAX_ELEMENT_BYTES};
use super::result::{
    parse_result, ParseOutcome, ParseStats, PingResult, Sample, SampleFilter, SkipReason,
};

/// Reading an archive failed as a whole (a bad line is counted instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The archive.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The gzip stream ends early or is corrupt.
    #[error("{}: truncated or corrupt gzip data ({source})", path.display())]
    Gzip {
        /// The archive.
        path: PathBuf,
        /// The cause reported by the decoder.
        source: io::Error,
    },
    /// A JSON array archive is cut off or not an array of objects.
    #[error("{}: the JSON array is malformed at line {line}, column {column}: {message}", path.display())]
    Array {
        /// The archive.
        path: PathBuf,
        /// Line of the failure.
        line: usize,
        /// Column of the failure.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A line runs on far past the bound on one result without a line
    /// break: the input is no archive (a device such as `/dev/zero`, a
    /// binary file), and skipping to the line's end could read forever.
    #[error("{}: line {line} runs past {} without a line break; not an NDJSON archive", path.display(), byte_size(*max))]
    EndlessLine {
        /// The archive.
        path: PathBuf,
        /// The line's number.
        line: u64,
        /// Bytes read of it before giving up.
        max: usize,
    },
    /// Nothing in the archive gave a latency sample.
    #[error("{}: no usable ping sample in {results} results ({summary})", path.display())]
    NoSamples {
        /// The archive.
        path: PathBuf,
        /// How many results were seen.
        results: u64,
        /// Skip counts, e.g. `malformed 3, ipv6 10`, and where the first
        /// malformed record is.
        summary: String,
    },
}

/// Counts bytes as they are read, so a progress bar can follow the
/// compressed input of a gzip archive.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A source whose first read failed (while peeking for gzip): it reports
/// that error once, then the end.
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// A streaming reader over one archive.
///
/// ```
/// use netprophet_core::atlas::ArchiveReader;
///
/// let ndjson = br#"{"prb_id":7,"timestamp":60,"result":[{"rtt":1.5},{"x":"*"}]}
/// not json
/// "#;
/// let mut reader = ArchiveReader::from_reader("inline", &ndjson[..]);
/// let mut probes = vec![];
/// let stats = reader.for_each_result(|r| probes.push(r.probe_id)).unwrap();
/// assert_eq!(probes, [7]);
/// assert_eq!(stats.malformed[0].line, 2);
/// ```
pub struct ArchiveReader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    gzip: bool,
    bytes: Arc<AtomicU64>,
    total: Option<u64>,
    block: usize,
    max_element: usize,
}

impl ArchiveReader {
    /// Opens a file; gzip is recognised by its magic bytes, not its name.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| ReadError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io_err)?;
        let total = file.metadata().ok().map(|m| m.len());
        let mut reader = Self::detect(path.clone(), file).map_err(io_err)?;
        reader.total = total;
        Ok(reader)
    }

    /// Wraps `source`, decompressing it when it starts with gzip's magic
    /// bytes.
    fn detect(path: PathBuf, source: impl Read + Send + 'static) -> io::Result<Self> {
        let bytes = Arc::new(AtomicU64::new(0));
        let mut raw = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: source,
                count: bytes.clone(),
            },
        );
        let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        Ok(ArchiveReader {
            path,
            input,
            gzip,
            bytes,
            total: None,
            block: FILE_BLOCK,
            max_element: MAX_ELEMENT_BYTES,
        })
    }

    /// Reads from any byte source (NDJSON or a JSON array, gzip-compressed
    /// or not); `name` is used in messages. A source that fails on its
    /// first read is reported by the first call that reads results.
    pub fn from_reader(name: &str, reader: impl Read + Send + 'static) -> Self {
        Self::detect(PathBuf::from(name), reader).unwrap_or_else(|e| ArchiveReader {
            path: PathBuf::from(name),
            input: Box::new(BufReader::new(Failing(Some(e)))),
            gzip: false,
            bytes: Arc::new(AtomicU64::new(0)),
            total: None,
            block: FILE_BLOCK,
            max_element: MAX_ELEMENT_BYTES,
        })
    }

    /// The same reader with a smaller read block and bound on one result,
    /// so tests can put block boundaries and over-long results anywhere
    /// in a small input. Production code uses the defaults.
    #[doc(hidden)]
    pub fn with_limits(mut self, block: usize, max_element: usize) -> Self {
        self.block = block.max(1);
        self.max_element = max_element.max(1);
        self
    }

    /// A counter of input bytes consumed so far (compressed bytes for gzip),
    /// readable from another thread while the archive is being read.
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.bytes.clone()
    }

    /// Size of the input file in bytes, when known.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total
    }

    /// The archive's path (or name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls `f` with every result that parses; malformed lines and
    /// skipped kinds are counted in the returned stats (malformed ones with
    /// their line numbers). Fails only when the input cannot be read.
    pub fn for_each_result(
        &mut self,
        f: impl FnMut(PingResult) + Send,
    ) -> Result<ParseStats, ReadError> {
        Stream {
            path: self.path.clone(),
            input: &mut *self.input,
            gzip: self.gzip,
            block: self.block,
            max_element: self.max_element,
        }
        .for_each_result(f)
    }

    /// Reads every result into latency samples that pass `filter`.
    /// Fails with [`ReadError::NoSamples`] when none does.
    pub fn samples(
        &mut self,
        filter: &SampleFilter,
        mut f: impl FnMut(&[Sample]) + Send,
    ) -> Result<ParseStats, ReadError> {
        let mut kept = ParseStats::default();
        let mut buf = Vec::with_capacity(8);
        let read = self.for_each_result(|r| {
            buf.clear();
            if filter.samples(&r, &mut kept, &mut buf) {
                f(&buf);
            }
        })?;
        let mut stats = read;
        stats.merge(&kept);
        if stats.samples == 0 {
            let mut summary = summary(&stats);
            if let Some(m) = stats.malformed.first() {
                // Say what the first bad record is, so the one error line
                // is enough to act on.
                summary.push_str(&format!("; line {}: {}", m.line, m.message));
            }
            return Err(ReadError::NoSamples {
                path: self.path.clone(),
                results: stats.results,
                summary,
            });
        }
        Ok(stats)
    }
}

/// One pass over any byte stream (a file, a decompressor, an HTTP body).
struct Stream<'a> {
    path: PathBuf,
    input: &'a mut dyn BufRead,
    gzip: bool,
    /// Bytes cut into lines or elements and parsed in parallel at a time.
    block: usize,
    /// The longest line or element accepted.
    max_element: usize,
}

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Block size for files: large enough that parallel parsing amortises its
/// hand-offs.
const FILE_BLOCK: usize = 1 << 20;
/// Block size for live streams: a quarter of a file's, which keeps a
/// refresh's buffers (the block and the parsed results of two blocks in
/// flight) small on a 1 GiB machine at no measurable cost in speed.
const STREAM_BLOCK: usize = 256 << 10;

impl Stream<'_> {
    fn io_error(&self) -> impl Fn(io::Error) -> ReadError {
        let (path, gzip) = (self.path.clone(), self.gzip);
        move |source| {
            if gzip {
                ReadError::Gzip {
                    path: path.clone(),
                    source,
                }
            } else {
                ReadError::Io {
                    path: path.clone(),
                    source,
                }
            }
        }
    }

    /// Calls `f` with every result that parses; malformed lines and
    /// skipped kinds are counted in the returned stats (malformed ones with
    /// their line numbers). Fails only when the input cannot be read.
    fn for_each_result(
        &mut self,
        mut f: impl FnMut(PingResult) + Send,
    ) -> Result<ParseStats, ReadError> {
        let mut stats = ParseStats::default();
        let io_error = self.io_error();
        // A UTF-8 byte order mark (editors and Windows tools write one) is
        // not part of the first result; left in, it made that line
        // malformed.
        if self
            .input
            .fill_buf()
            .map_err(&io_error)?
            .starts_with(UTF8_BOM)
        {
            self.input.consume(UTF8_BOM.len());
        }
        let first = loop {
            let buf = self.input.fill_buf().map_err(&io_error)?;
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => break Some(buf[i]),
                None if buf.is_empty() => break None,
                None => {
                    let n = buf.len();
                    self.input.consume(n);
                }
            }
        };
        match first {
            None => {}
            Some(b'[') => self.read_array(&mut stats, &mut f)?,
            Some(_) => self.read_lines(&mut stats, &mut f)?,
        }
        Ok(stats)
    }

    fn read_lines(
        &mut self,
        stats: &mut ParseStats,
        f: &mut (impl FnMut(PingResult) + Send),
    ) -> Result<(), ReadError> {
        // Lines are parsed in parallel a block at a time and handed on in
        // file order; JSON parsing is the cost, and blocks keep memory
        // bounded whatever the file size.
        let block_size = self.block;
        let io_error = self.io_error();
        let mut block: Vec<u8> = Vec::with_capacity(block_size + (64 << 10));
        let mut number = 0u64;
        let mut pending: Option<Vec<Parsed>> = None;
        // How much of `block` is known to hold no newline: a line longer
        // than a block is searched only where it grew.
        let mut searched = 0;
        // Set while the rest of an over-long line is read and dropped, with
        // how much of it has been: one result is at most `max_element`
        // bytes, so a line many times longer ends the read instead of
        // being skipped for as long as the input lasts.
        let mut discarding = false;
        let mut discarded = 0usize;
        let endless = self.max_element.saturating_mul(ENDLESS_LINE_FACTOR);
        let endless_line = |line| ReadError::EndlessLine {
            path: self.path.clone(),
            line,
            max: endless,
        };
        loop {
            let eof = fill_block(&mut *self.input, &mut block, block_size).map_err(&io_error)?;
            if discarding {
                let end = memchr::memchr(b'\n', &block);
                discarded = discarded.saturating_add(end.unwrap_or(block.len()));
                // Decided by the line's length alone, not by where the
                // blocks happen to end.
                if discarded > endless {
                    return Err(endless_line(number));
                }
                match end {
                    Some(i) => {
                        block.drain(..=i);
                        discarding = false;
                    }
                    None => block.clear(),
                }
                if discarding && !eof {
                    continue;
                }
            }
            let cut = match memchr::memrchr(b'\n', &block[searched..]) {
                _ if eof => block.len(),
                Some(i) => searched + i + 1,
                None if block.len() > self.max_element => {
                    // One line longer than any result: counted as malformed
                    // (after the lines before it, to keep the order) and
                    // dropped up to its newline without being held.
                    number += 1;
                    for p in pending.take().into_iter().flatten() {
                        p.deliver(stats, f);
                    }
                    stats.malformed(number, too_long(self.max_element));
                    discarded = block.len();
                    block.clear();
                    block.shrink_to(block_size + (64 << 10));
                    searched = 0;
                    discarding = true;
                    continue;
                }
                None => {
                    // One line longer than a block: read on.
                    searched = block.len();
                    continue;
                }
            };
            searched = 0;
            let mut lines: Vec<(u64, &[u8])> = Vec::with_capacity(cut / 256);
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &block[..cut])
                .map(|i| i + 1)
                .chain(
                    // A last line without a newline (end of file).
                    (cut > 0 && block[cut - 1] != b'\n').then_some(cut),
                )
            {
                let line = number + 1 + lines.len() as u64;
                if stored_len(&block[start..end]) > endless {
                    // The bound of a line read in pieces above, so the
                    // outcome does not depend on where the blocks end.
                    return Err(endless_line(line));
                }
                lines.push((line, &block[start..end]));
                start = end;
            }
            number += lines.len() as u64;
            // Parse this block while the previous one is handed on, so the
            // caller's work overlaps the parsing.
            let max = self.max_element;
            pending = Some(parse_while_delivering(
                &lines,
                |(n, l)| parse_line(l, *n, max),
                pending.take(),
                stats,
                f,
            ));
            block.drain(..cut);
            if block.capacity() > 2 * block_size + (64 << 10) {
                // A long line grew the block; give the memory back.
                block.shrink_to(block_size + (64 << 10));
            }
            if eof {
                for p in pending.into_iter().flatten() {
                    p.deliver(stats, f);
                }
                return Ok(());
            }
        }
    }

    fn read_array(
        &mut self,
        stats: &mut ParseStats,
        f: &mut (impl FnMut(PingResult) + Send),
    ) -> Result<(), ReadError> {
        // As for lines: elements are cut out of blocks by a small
        // structural scanner, parsed in parallel and delivered in order.
        // Each element is then fully parsed, so the scanner only has to
        // find where elements start and end.
        let block_size = self.block;
        let io_error = self.io_error();
        let path = self.path.clone();
        let bad = |e: ArrayError| ReadError::Array {
            path: path.clone(),
            line: e.line,
            column: e.column,
            message: e.message.to_string(),
        };
        let mut buf: Vec<u8> = Vec::with_capacity(block_size + (64 << 10));
        let mut cutter = ArrayCutter::with_max(self.max_element);
        let mut index = 0u64;
        let mut pending: Option<Vec<Parsed>> = None;
        loop {
            let eof = fill_block(&mut *self.input, &mut buf, block_size).map_err(&io_error)?;
            let mut ranges: Vec<Range<usize>> = Vec::new();
            cutter.cut(&buf, &mut ranges).map_err(&bad)?;
            let first = index;
            index += ranges.len() as u64;
            let block = &buf;
            let numbered: Vec<(u64, Range<usize>)> = (first + 1..).zip(ranges).collect();
            pending = Some(parse_while_delivering(
                &numbered,
                |(n, r)| parse_one(block[r.clone()].trim_ascii(), *n),
                pending.take(),
                stats,
                f,
            ));
            let keep = cutter.keep_from();
            buf.drain(..keep);
            cutter.drained(keep);
            if buf.capacity() > 2 * block_size + (64 << 10) && buf.len() <= block_size {
                // A long element grew the buffer; give the memory back.
                buf.shrink_to(block_size + (64 << 10));
            }
            if eof {
                for p in pending.into_iter().flatten() {
                    p.deliver(stats, f);
                }
                return cutter.finish().map_err(&bad);
            }
        }
    }
}

/// Streams the results of any reader (an HTTP response body, say) without
/// buffering it: NDJSON or a JSON array, as [`ArchiveReader`] reads files.
/// `name` is used in messages.
pub fn read_stream(
    name: &str,
    input: &mut dyn BufRead,
    f: impl FnMut(PingResult) + Send,
) -> Result<ParseStats, ReadError> {
    Stream {
        path: PathBuf::from(name),
        input,
        gzip: false,
        block: STREAM_BLOCK,
        max_element: MAX_ELEMENT_BYTES,
    }
    .for_each_result(f)
}

/// `reason n, reason n` for the non-zero skip counts, or `nothing skipped`.
pub fn summary(stats: &ParseStats) -> String {
    let parts: Vec<String> = stats
        .skipped()
        .iter()
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect();
    if parts.is_empty() {
        "nothing skipped".to_string()
    } else {
        parts.join(", ")
    }
}

/// One line's outcome, computed in parallel and delivered in order.
enum Parsed {
    Empty,
    Result(PingResult),
    Skip(SkipReason),
    Malformed(u64, String),
    /// A line holding a whole API page (a JSON array).
    Page(Vec<Parsed>),
}

impl Parsed {
    fn deliver(self, stats: &mut ParseStats, f: &mut impl FnMut(PingResult)) {
        match self {
            Parsed::Empty => {}
            Parsed::Result(r) => {
                stats.results += 1;
                f(r)
            }
            Parsed::Skip(reason) => {
                stats.results += 1;
                stats.add(reason, 1);
            }
            Parsed::Malformed(line, message) => stats.malformed(line, message),
            Parsed::Page(items) => {
                for p in items {
                    p.deliver(stats, f);
                }
            }
        }
    }
}

/// Parses `items` in parallel while the previous block's results are
/// handed on in order, so the caller's work overlaps the parsing.
fn parse_while_delivering<T: Sync>(
    items: &[T],
    parse: impl Fn(&T) -> Parsed + Sync,
    previous: Option<Vec<Parsed>>,
    stats: &mut ParseStats,
    f: &mut (impl FnMut(PingResult) + Send),
) -> Vec<Parsed> {
    rayon::join(
        || {
            items
                .par_iter()
                .with_min_len(64)
                .map(&parse)
                .collect::<Vec<Parsed>>()
        },
        || {
            for p in previous.into_iter().flatten() {
                p.deliver(stats, f);
            }
        },
    )
    .0
}

fn parse_one(json: &[u8], line: u64) -> Parsed {
    match parse_result(json) {
        Ok(r) => Parsed::Result(r),
        Err(ParseOutcome::Skip(reason)) => Parsed::Skip(reason),
        Err(ParseOutcome::Error(e)) => Parsed::Malformed(line, e.to_string()),
    }
}

/// How many times the bound on one result a line may run before the
/// reader stops instead of skipping it ([`ReadError::EndlessLine`]).
const ENDLESS_LINE_FACTOR: usize = 4;

/// A line's length as stored, without its newline: what the bounds on a
/// line are on, as when a line is dropped before its end has been read.
fn stored_len(line: &[u8]) -> usize {
    line.strip_suffix(b"\n").unwrap_or(line).len()
}

/// The message for a line over the bound (normally [`MAX_ELEMENT_BYTES`]).
fn too_long(max: usize) -> String {
    if max >= 1 << 20 {
        format!(
            "the line is longer than the {} MiB limit on one result",
            max >> 20
        )
    } else {
        format!("the line is longer than the {max}-byte limit on one result")
    }
}

/// `64 MiB` for whole mebibytes, else `10000 bytes`.
fn byte_size(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn parse_line(line: &[u8], number: u64, max: usize) -> Parsed {
    if stored_len(line) > max {
        return Parsed::Malformed(number, too_long(max));
    }
    let text = line.trim_ascii();
    if text.is_empty() {
        return Parsed::Empty;
    }
    if text[0] == b'[' {
        return match serde_json::from_slice::<Vec<&RawValue>>(text) {
            Ok(items) => Parsed::Page(
                items
                    .iter()
                    .map(|item| parse_one(item.get().as_bytes(), number))
                    .collect(),
            ),
            Err(e) => Parsed::Malformed(number, e.to_string()),
        };
    }
    parse_one(text, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_array_form_streams_elements() {
        let json = br#"[{"prb_id":1,"timestamp":60,"result":[{"rtt":2.0}]},
            {"prb_id":"x"},
            {"prb_id":2,"timestamp":61,"result":[{"x":"*"}]}]"#;
        let mut r = ArchiveReader::from_reader("a.json", &json[..]);
        let mut got = vec![];
        let stats = r
            .samples(&SampleFilter::default(), |s| got.extend_from_slice(s))
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(stats.count(SkipReason::Malformed), 1);
        assert_eq!(stats.malformed[0].line, 2, "element number");
        assert_eq!(stats.results, 3);
    }

    #[test]
    fn truncated_array_is_an_error_naming_the_file() {
        let json = br#"[{"prb_id":1,"timestamp":60,"result":[{"rtt":2.0}]}, {"prb_"#;
        let err = ArchiveReader::from_reader("cut.json", &json[..])
            .for_each_result(|_| {})
            .unwrap_err();
        assert!(err.to_string().starts_with("cut.json:"), "{err}");
    }

    #[test]
    fn no_samples_is_an_error_that_says_why() {
        let nd = b"{\"prb_id\":1,\"timestamp\":60,\"af\":6,\"result\":[{\"rtt\":1}]}\nnope\n";
        let err = ArchiveReader::from_reader("v6.ndjson", &nd[..])
            .samples(&SampleFilter::default(), |_| {})
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no usable ping sample in 2 results"), "{msg}");
        assert!(
            msg.contains("malformed 1") && msg.contains("ipv6 1"),
            "{msg}"
        );
    }

    /// A source of zero bytes without end, as `/dev/zero` reads.
    struct Zeros;

    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_line_ends_the_read_with_its_number() {
        let head = b"{\"prb_id\":1,\"timestamp\":60,\"result\":[{\"rtt\":1}]}\n".to_vec();
        let endless = std::io::Cursor::new(head).chain(Zeros);
        let err = ArchiveReader::from_reader("zeros", endless)
            .with_limits(512, 1000)
            .for_each_result(|_| {})
            .unwrap_err();
        assert!(
            matches!(err, ReadError::EndlessLine { line: 2, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "zeros: line 2 runs past 4000 bytes without a line break; not an NDJSON archive"
        );
    }

    #[test]
    fn a_long_line_is_skipped_or_ends_the_read_by_its_length_alone() {
        let result = b"{\"prb_id\":1,\"timestamp\":60,\"result\":[{\"rtt\":1}]}\n";
        for len in [1001, 3999, 4000, 4001, 9000] {
            for block in [1, 7, 512, 1 << 16] {
                let mut bytes = result.to_vec();
                bytes.extend(std::iter::repeat_n(b'x', len));
                bytes.push(b'\n');
                bytes.extend_from_slice(result);
                let mut n = 0;
                let got = ArchiveReader::from_reader("long", std::io::Cursor::new(bytes))
                    .with_limits(block, 1000)
                    .for_each_result(|_| n += 1);
                if len > 4000 {
                    assert!(
                        matches!(got, Err(ReadError::EndlessLine { line: 2, .. })),
                        "{len} {block}: {got:?}"
                    );
                } else {
                    let stats = got.unwrap();
                    assert_eq!(
                        (n, stats.count(SkipReason::Malformed)),
                        (2, 1),
                        "{len} {block}"
                    );
                }
            }
        }
    }
}

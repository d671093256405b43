//! Plain RTT time series: one ping result per line, as CSV.
//!
//! Published latency datasets rarely keep the raw Atlas JSON; they keep a
//! time and an RTT per line, for instance `epoch;rtt;cp` in the RIPE Atlas
//! traces of `WenqinSHAO/rtt`. This module reads such files into the same
//! [`Sample`]s the Atlas reader produces, so every later step (bins,
//! features, labels) is shared:
//!
//! - the delimiter is `,`, `;` or a tab, whichever the header uses most;
//! - times are any form [`parse_utc`] accepts (`2016-10-01 00:03:14`,
//!   `14/10/2016 21:17`, Unix seconds), always UTC;
//! - a negative RTT is a result without a reply (a lost ping);
//! - the probe comes from a probe column when there is one, otherwise from
//!   the file name (`11119.csv` is probe 11119);
//! - CRLF line ends and a UTF-8 byte-order mark are accepted; gzip when
//!   the name ends in `.gz`.
//!
//! Anything else is an error that names the file and the line: a trace is
//! a dataset someone chose, so a bad line is a reason to stop, not to guess.
//!
//! ```
//! use netprophet_core::atlas::SampleFilter;
//! use netprophet_core::traces::{TraceColumns, TraceReader};
//!
//! let csv = "epoch;rtt;cp\r\n14/10/2016 21:17;178.92;0\r\n14/10/2016 21:21;-3;0\r\n";
//! let mut samples = vec![];
//! let stats = TraceReader::new("11119.csv", TraceColumns::default())
//!     .read(csv.as_bytes(), &SampleFilter::default(), |s| samples.extend_from_slice(s))
//!     .unwrap();
//! assert_eq!((stats.results, stats.samples), (2, 1));
//! assert_eq!(samples[0].probe_id, 11119);
//! assert_eq!(samples[1].rtt, None); // negative: lost
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::atlas::{ParseStats, Sample, SampleFilter, SkipReason};
use crate::time::parse_utc;

/// Longest line accepted, in bytes. A trace line is a time and a few
/// numbers; anything longer is not a trace, and reading it whole would let
/// one line take all memory.
pub const MAX_LINE_BYTES: usize = 4096;

/// Largest RTT accepted, in milliseconds (ten minutes). Atlas gives up on a
/// ping after seconds; a larger value is corrupt data, and letting it in
/// would swamp every mean it touches.
pub const MAX_RTT_MS: f64 = 600_000.0;

/// Default names of the time column, tried in order.
pub const TIME_COLUMNS: [&str; 4] = ["epoch", "timestamp", "time", "date"];
/// Default names of the RTT column, tried in order.
pub const RTT_COLUMNS: [&str; 4] = ["rtt", "rtt_ms", "latency", "min_rtt"];
/// Default names of the probe column, tried in order.
pub const PROBE_COLUMNS: [&str; 4] = ["probe_id", "prb_id", "probe", "probe_ids"];

/// Which columns hold the time, the RTT and (optionally) the probe.
/// `None` looks for the usual names ([`TIME_COLUMNS`], [`RTT_COLUMNS`],
/// [`PROBE_COLUMNS`]), case-insensitively.
///
/// ```
/// use netprophet_core::traces::TraceColumns;
/// let columns = TraceColumns::default().rtt("latency_ms").probe("node");
/// assert_eq!(columns.time, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceColumns {
    /// Name of the time column.
    pub time: Option<String>,
    /// Name of the RTT column (milliseconds; negative = lost).
    pub rtt: Option<String>,
    /// Name of the probe column; without one the probe id is taken from
    /// the file name.
    pub probe: Option<String>,
}

impl TraceColumns {
    /// The time column is `name`.
    pub fn time(mut self, name: impl Into<String>) -> Self {
        self.time = Some(name.into());
        self
    }

    /// The RTT column is `name`.
    pub fn rtt(mut self, name: impl Into<String>) -> Self {
        self.rtt = Some(name.into());
        self
    }

    /// The probe column is `name`.
    pub fn probe(mut self, name: impl Into<String>) -> Self {
        self.probe = Some(name.into());
        self
    }
}

/// Reading a trace failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The header does not name the columns needed.
    #[error("{}: {message}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is missing, with the columns that are there.
        message: String,
    },
    /// A line is malformed.
    #[error("{}: line {line}: {message}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Reads one RTT trace.
#[derive(Clone, Debug)]
pub struct TraceReader {
    path: PathBuf,
    columns: TraceColumns,
}

/// Where each needed field is on a line.
struct Layout {
    delimiter: u8,
    time: usize,
    rtt: usize,
    probe: Option<usize>,
    fixed_probe: Option<u64>,
}

impl TraceReader {
    /// A reader for the trace at `path` (the name is used in errors and,
    /// without a probe column, for the probe id).
    pub fn new(path: impl AsRef<Path>, columns: TraceColumns) -> Self {
        TraceReader {
            path: path.as_ref().to_path_buf(),
            columns,
        }
    }

    /// Opens the file (gunzipping `.gz`) and reads it; see [`TraceReader::read`].
    pub fn read_file(
        &self,
        filter: &SampleFilter,
        f: impl FnMut(&[Sample]),
    ) -> Result<ParseStats, TraceError> {
        let file = File::open(&self.path).map_err(|source| self.io(source))?;
        if is_gzip(&self.path) {
            self.read(flate2::read::MultiGzDecoder::new(file), filter, f)
        } else {
            self.read(file, filter, f)
        }
    }

    /// Reads a trace from `input`, handing samples to `f` in batches.
    /// `filter` keeps only its probes and window; lost pings become samples
    /// without an RTT (counted as [`SkipReason::Timeout`], as an Atlas
    /// timeout is).
    pub fn read(
        &self,
        input: impl Read,
        filter: &SampleFilter,
        mut f: impl FnMut(&[Sample]),
    ) -> Result<ParseStats, TraceError> {
        let mut input = BufReader::with_capacity(64 << 10, input);
        let mut stats = ParseStats::default();
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0u64;
        let mut layout: Option<Layout> = None;
        let mut batch: Vec<Sample> = Vec::with_capacity(4096);
        loop {
            buf.clear();
            let n = read_line(&mut input, &mut buf).map_err(|source| self.io(source))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.len() > MAX_LINE_BYTES {
                return Err(self.line(
                    line_no,
                    format!("longer than {MAX_LINE_BYTES} bytes; not an RTT trace line"),
                ));
            }
            let mut text = std::str::from_utf8(&buf)
                .map_err(|_| self.line(line_no, "not UTF-8 text".into()))?;
            if line_no == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let Some(lay) = &layout else {
                layout = Some(self.layout(text)?);
                continue;
            };
            stats.results += 1;
            let Some(sample) = self.parse_line(lay, text, line_no)? else {
                continue;
            };
            if !filter.keeps_probe(sample.probe_id) {
                stats.add(SkipReason::OtherProbe, 1);
                continue;
            }
            if !filter.keeps_time(sample.timestamp) {
                stats.add(SkipReason::OutsideWindow, 1);
                continue;
            }
            stats.used_results += 1;
            match sample.rtt {
                Some(_) => stats.samples += 1,
                None => stats.add(SkipReason::Timeout, 1),
            }
            batch.push(sample);
            if batch.len() == batch.capacity() {
                f(&batch);
                batch.clear();
            }
        }
        if layout.is_none() {
            return Err(TraceError::Header {
                path: self.path.clone(),
                message: "empty file: no header line".into(),
            });
        }
        if !batch.is_empty() {
            f(&batch);
        }
        Ok(stats)
    }

    fn layout(&self, header: &str) -> Result<Layout, TraceError> {
        let delimiter = delimiter_of(header);
        let names: Vec<&str> = split(header, delimiter).collect();
        let available = || names.join(&(delimiter as char).to_string());
        let find = |given: &Option<String>, defaults: &[&str]| -> Option<usize> {
            match given {
                Some(name) => names.iter().position(|n| n.eq_ignore_ascii_case(name)),
                None => defaults
                    .iter()
                    .find_map(|d| names.iter().position(|n| n.eq_ignore_ascii_case(d))),
            }
        };
        let need = |given: &Option<String>, defaults: &[&str], what: &str, flag: &str| {
            find(given, defaults).ok_or_else(|| TraceError::Header {
                path: self.path.clone(),
                message: match given {
                    Some(name) => format!(
                        "no {what} column `{name}` in the header (columns: {})",
                        available()
                    ),
                    None => format!(
                        "no {what} column (looked for {}; columns: {}); name it with {flag}",
                        defaults.join(", "),
                        available()
                    ),
                },
            })
        };
        let time = need(&self.columns.time, &TIME_COLUMNS, "time", "--time-column")?;
        let rtt = need(&self.columns.rtt, &RTT_COLUMNS, "RTT", "--rtt-column")?;
        let probe = match &self.columns.probe {
            Some(_) => Some(need(
                &self.columns.probe,
                &PROBE_COLUMNS,
                "probe",
                "--probe-column",
            )?),
            None => find(&None, &PROBE_COLUMNS),
        };
        let fixed_probe = match probe {
            Some(_) => None,
            None => Some(
                probe_from_name(&self.path).ok_or_else(|| TraceError::Header {
                    path: self.path.clone(),
                    message: format!(
                        "no probe column (looked for {}) and the file name does not start with a \
                     probe id (such as 11119.csv); name the column with --probe-column",
                        PROBE_COLUMNS.join(", ")
                    ),
                })?,
            ),
        };
        Ok(Layout {
            delimiter,
            time,
            rtt,
            probe,
            fixed_probe,
        })
    }

    fn parse_line(
        &self,
        lay: &Layout,
        text: &str,
        line: u64,
    ) -> Result<Option<Sample>, TraceError> {
        let mut time = None;
        let mut rtt = None;
        let mut probe = None;
        for (i, field) in split(text, lay.delimiter).enumerate() {
            if i == lay.time {
                time = Some(field);
            } else if i == lay.rtt {
                rtt = Some(field);
            } else if Some(i) == lay.probe {
                probe = Some(field);
            }
        }
        let (Some(time), Some(rtt)) = (time, rtt) else {
            return Err(self.line(
                line,
                format!(
                    "too few fields (expected `{}`-separated values as in the header)",
                    lay.delimiter as char
                ),
            ));
        };
        let timestamp = parse_utc(time).ok_or_else(|| {
            self.line(
                line,
                format!(
                    "time {time:?} is not a UTC time (YYYY-MM-DD HH:MM:SS, DD/MM/YYYY HH:MM or Unix seconds)"
                ),
            )
        })?;
        let value: f64 = rtt
            .parse()
            .map_err(|_| self.line(line, format!("rtt {rtt:?} is not a number")))?;
        if !value.is_finite() || value > MAX_RTT_MS {
            return Err(self.line(
                line,
                format!("rtt {rtt} is not a round-trip time in milliseconds (0 to {MAX_RTT_MS})"),
            ));
        }
        let probe_id = match (lay.fixed_probe, probe) {
            (Some(p), _) => p,
            (None, Some(p)) => p
                .parse()
                .map_err(|_| self.line(line, format!("probe {p:?} is not a whole number")))?,
            (None, None) => return Err(self.line(line, "no probe field".into())),
        };
        Ok(Some(Sample {
            timestamp,
            probe_id,
            // Negative values mark a result without a reply.
            rtt: (value >= 0.0).then_some(value),
        }))
    }

    fn io(&self, source: std::io::Error) -> TraceError {
        TraceError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn line(&self, line: u64, message: String) -> TraceError {
        TraceError::Line {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

/// Whether the CSV header `line` (its first line) is a plain RTT trace's,
/// with a time and an RTT column by the given or default names, rather
/// than a feature CSV (which has `avg_latency`).
pub fn is_trace_header(line: &str, columns: &TraceColumns) -> bool {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let names: Vec<&str> = split(line.trim_end(), delimiter_of(line)).collect();
    let has = |given: &Option<String>, defaults: &[&str]| match given {
        Some(n) => names.iter().any(|h| h.eq_ignore_ascii_case(n)),
        None => defaults
            .iter()
            .any(|d| names.iter().any(|h| h.eq_ignore_ascii_case(d))),
    };
    !names.contains(&"avg_latency")
        && has(&columns.time, &TIME_COLUMNS)
        && has(&columns.rtt, &RTT_COLUMNS)
}

/// The first line of a (possibly gzipped) file, at most
/// [`MAX_LINE_BYTES`] long, for sniffing its kind.
pub fn first_line(path: &Path) -> std::io::Result<String> {
    let file = File::open(path)?;
    let reader: Box<dyn Read> = if is_gzip(path) {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut input = BufReader::new(reader.take(MAX_LINE_BYTES as u64 + 1));
    let mut buf = Vec::new();
    input.read_until(b'\n', &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Reads one line (with its end) into `buf`, stopping early once it is
/// longer than [`MAX_LINE_BYTES`] so a file without line ends cannot
/// exhaust memory.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(total);
        }
        let (used, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        buf.extend_from_slice(&available[..used]);
        input.consume(used);
        total += used;
        if done || buf.len() > MAX_LINE_BYTES {
            return Ok(total);
        }
    }
}

/// The header's most frequent of `,`, `;` and tab (`,` on a tie).
fn delimiter_of(header: &str) -> u8 {
    let count = |c: u8| header.bytes().filter(|&b| b == c).count();
    [b';', b'\t'].into_iter().fold(
        b',',
        |best, c| if count(c) > count(best) { c } else { best },
    )
}

/// Fields of a line, trimmed and with surrounding double quotes removed.
fn split(line: &str, delimiter: u8) -> impl Iterator<Item = &str> {
    line.split(delimiter as char).map(|f| {
        let f = f.trim();
        f.strip_prefix('"')
            .and_then(|g| g.strip_suffix('"'))
            .unwrap_or(f)
    })
}

/// `11119.csv` and `11119.csv.gz` are probe 11119.
fn probe_from_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.split('.').next()?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(name: &str, text: &str, columns: TraceColumns) -> Result<Vec<Sample>, TraceError> {
        let mut out = vec![];
        TraceReader::new(name, columns).read(text.as_bytes(), &SampleFilter::default(), |s| {
            out.extend_from_slice(s)
        })?;
        Ok(out)
    }

    #[test]
    fn both_published_date_forms_and_crlf() {
        let a = read(
            "1.csv",
            "epoch;rtt;cp\n2016-10-01 00:03:14;234.7;0\n",
            TraceColumns::default(),
        )
        .unwrap();
        let b = read(
            "1.csv",
            "\u{feff}epoch;rtt;cp\r\n01/10/2016 00:03;234.7;0\r\n",
            TraceColumns::default(),
        )
        .unwrap();
        assert_eq!(a[0].timestamp, b[0].timestamp + 14);
        assert_eq!((a[0].rtt, b[0].rtt), (Some(234.7), Some(234.7)));
    }

    #[test]
    fn probe_column_or_file_name() {
        let s = read(
            "x.csv",
            "time,rtt_ms,prb_id\n1700000000,12.5,6001\n1700000240,13,6002\n",
            TraceColumns::default(),
        )
        .unwrap();
        assert_eq!(
            s.iter().map(|s| s.probe_id).collect::<Vec<_>>(),
            [6001, 6002]
        );
        let err = read(
            "x.csv",
            "epoch;rtt\n1700000000;1\n",
            TraceColumns::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("x.csv: no probe column"), "{err}");
        assert_eq!(
            read(
                "dir/42.csv.gz",
                "epoch;rtt\n1700000000;1\n",
                TraceColumns::default()
            )
            .unwrap()[0]
                .probe_id,
            42
        );
    }

    #[test]
    fn named_columns() {
        let cols = TraceColumns {
            time: Some("when".into()),
            rtt: Some("ms".into()),
            probe: Some("who".into()),
        };
        let s = read("t.csv", "who,when,ms\n7,1700000000,3.5\n", cols.clone()).unwrap();
        assert_eq!((s[0].probe_id, s[0].rtt), (7, Some(3.5)));
        let err = read("t.csv", "who,when,rtt\n7,1700000000,3.5\n", cols)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.csv: no RTT column `ms` in the header (columns: who,when,rtt)"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            (
                "epoch;rtt\n2016-10-01 00:03:14;fast\n",
                "line 2: rtt \"fast\" is not a number",
            ),
            (
                "epoch;rtt\n\n2016-13-01 00:03:14;1\n",
                "line 3: time \"2016-13-01 00:03:14\"",
            ),
            ("epoch;rtt\n2016-10-01 00:03:14\n", "line 2: too few fields"),
            (
                "epoch;rtt\n2016-10-01 00:03:14;1e308\n",
                "line 2: rtt 1e308 is not",
            ),
            (
                "epoch;rtt\n2016-10-01 00:03:14;inf\n",
                "line 2: rtt inf is not",
            ),
            ("", "empty file"),
            ("a;b\n1;2\n", "no time column (looked for epoch"),
        ];
        for (text, want) in cases {
            let err = read("9.csv", text, TraceColumns::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("9.csv: "), "{err}");
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
        let long = format!("epoch;rtt\n{}\n", "1".repeat(10 * MAX_LINE_BYTES));
        let err = read("9.csv", &long, TraceColumns::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: longer than 4096 bytes"), "{err}");
    }

    #[test]
    fn filter_and_counts() {
        let filter = SampleFilter::new().probes([2]);
        let mut n = 0;
        let stats = TraceReader::new("t.csv", TraceColumns::default())
            .read(
                "probe,epoch,rtt\n1,1700000000,1\n2,1700000000,2\n2,1700000240,-1\n".as_bytes(),
                &filter,
                |s| n += s.len(),
            )
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(stats.results, 3);
        assert_eq!(stats.samples, 1);
        assert_eq!(stats.count(SkipReason::OtherProbe), 1);
        assert_eq!(stats.count(SkipReason::Timeout), 1);
    }

    #[test]
    fn sniffing_tells_traces_from_feature_csvs() {
        let d = TraceColumns::default();
        assert!(is_trace_header("epoch;rtt;cp\r\n", &d));
        assert!(is_trace_header("\u{feff}timestamp,rtt\n", &d));
        assert!(!is_trace_header(
            "timestamp,avg_latency,jitter,rtt_min,rtt_max,packet_count\n",
            &d
        ));
        assert!(!is_trace_header("{\"fw\":5100}\n", &d));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = TraceReader::new("1.csv", TraceColumns::default())
                .read(&bytes[..], &SampleFilter::default(), |_| {});
        }

        #[test]
        fn arbitrary_lines_after_a_header_never_panic(body in "[0-9;,/:. \\-\r\nae]{0,300}") {
            let text = format!("epoch;rtt;cp\n{body}");
            let _ = read("1.csv", &text, TraceColumns::default());
        }
    }
}

//! Labelled training rows and the feature CSV format.
//!
//! The CSV has the original system's `training_data.csv` columns
//! (timestamp, the eight features, threshold, is_degraded,
//! target_5m_degraded), so files written here and the original file are
//! read the same way. Columns are always found by name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::bounded::{LineLimit, MAX_CSV_LINE};
use crate::features::FeatureFrame;
use crate::labels::Labels;
use crate::time::{format_utc, parse_utc};

/// Name of the target column.
pub const TARGET_COLUMN: &str = "target_5m_degraded";

/// Reading or building a dataset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV is malformed.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },
    /// A required column is absent.
    #[error("{}: no column `{column}` (columns: {available})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The columns that are there.
        available: String,
    },
    /// Two columns have the same name, so which one is meant is unknown.
    #[error("{}: column `{column}` appears more than once in the header", path.display())]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        column: String,
    },
    /// A Parquet feature table is malformed or cannot be written.
    #[error("{}: {message}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A feature name is not one this crate computes.
    #[error(transparent)]
    UnknownFeature(#[from] crate::schema::UnknownFeature),
    /// No row survived (all had a missing feature or target).
    #[error("{0}: no complete labelled row")]
    Empty(String),
}

/// Labelled rows, features in a named order; row-major.
///
/// Values are `f32`, the precision trees split and score in (XGBoost
/// converts its input to float32 too), so rows go to the trainer and the
/// predictor without a copy. A missing value is NaN: trees route it down
/// the branch learnt for missing values.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Dataset {
    /// Feature names, in column order.
    pub feature_names: Vec<String>,
    /// Row-major feature values, `rows x feature_names.len()`; NaN is
    /// missing.
    pub x: Vec<f32>,
    /// Target per row: 1 = degraded `horizon` minutes later.
    pub y: Vec<u8>,
    /// Minute of each row, Unix seconds.
    pub timestamps: Vec<i64>,
    /// Probe of each row (0 when unknown).
    pub probe_ids: Vec<u64>,
    /// Whether each row's own minute is degraded (for the persistence
    /// baseline); empty when the input does not say.
    pub degraded_now: Vec<u8>,
}

impl Dataset {
    /// No rows yet, with these feature columns.
    pub fn new<S: AsRef<str>>(feature_names: &[S]) -> Dataset {
        Dataset {
            feature_names: feature_names
                .iter()
                .map(|n| n.as_ref().to_string())
                .collect(),
            ..Dataset::default()
        }
    }

    /// Appends one row: its features (in column order), target, minute,
    /// probe, and whether its minute is degraded now.
    ///
    /// # Errors
    /// When `x` does not have one value per feature column.
    pub fn push_row(
        &mut self,
        x: &[f32],
        y: bool,
        timestamp: i64,
        probe: u64,
        degraded_now: bool,
    ) -> Result<(), DatasetError> {
        if x.len() != self.width() {
            return Err(DatasetError::Csv {
                path: PathBuf::from("(row)"),
                message: format!("{} values for {} features", x.len(), self.width()),
            });
        }
        self.x.extend_from_slice(x);
        self.y.push(u8::from(y));
        self.timestamps.push(timestamp);
        self.probe_ids.push(probe);
        self.degraded_now.push(u8::from(degraded_now));
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.feature_names.len()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        let w = self.width();
        &self.x[i * w..(i + 1) * w]
    }

    /// Number of positive rows.
    pub fn positives(&self) -> usize {
        self.y.iter().filter(|&&y| y == 1).count()
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let w = self.width();
        let mut x = Vec::with_capacity(indices.len() * w);
        for &i in indices {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            feature_names: self.feature_names.clone(),
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            timestamps: indices.iter().map(|&i| self.timestamps[i]).collect(),
            probe_ids: indices.iter().map(|&i| self.probe_ids[i]).collect(),
            degraded_now: if self.degraded_now.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.degraded_now[i]).collect()
            },
        }
    }

    /// Room for `rows` more rows in every column, allocated once.
    pub fn reserve_exact(&mut self, rows: usize) {
        self.x.reserve_exact(rows * self.width());
        self.y.reserve_exact(rows);
        self.timestamps.reserve_exact(rows);
        self.probe_ids.reserve_exact(rows);
        self.degraded_now.reserve_exact(rows);
    }

    /// Appends `other`'s rows (same features, in the same order).
    ///
    /// # Errors
    /// When the feature names differ.
    pub fn append(&mut self, other: Dataset) -> Result<(), DatasetError> {
        if other.feature_names != self.feature_names {
            return Err(DatasetError::Csv {
                path: PathBuf::from("(rows)"),
                message: format!(
                    "cannot join rows of features {:?} to rows of {:?}",
                    other.feature_names, self.feature_names
                ),
            });
        }
        let keep_now = !self.degraded_now.is_empty() || self.is_empty();
        self.x.extend_from_slice(&other.x);
        self.y.extend_from_slice(&other.y);
        self.timestamps.extend_from_slice(&other.timestamps);
        self.probe_ids.extend_from_slice(&other.probe_ids);
        if keep_now && other.degraded_now.len() == other.y.len() {
            self.degraded_now.extend_from_slice(&other.degraded_now);
        } else {
            self.degraded_now.clear();
        }
        Ok(())
    }

    /// Only the rows without a missing feature (what the original system
    /// trained on: it dropped every incomplete row).
    pub fn complete_rows(&self) -> Dataset {
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| self.row(i).iter().all(|v| !v.is_nan()))
            .collect();
        self.subset(&keep)
    }

    /// The labels as `f32` (what the trainer takes).
    pub fn y_f32(&self) -> Vec<f32> {
        self.y.iter().map(|&v| f32::from(v)).collect()
    }

    /// Rows sorted by time (then probe), as chronological splits need.
    pub fn sorted_by_time(&self) -> Dataset {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by_key(|&i| (self.timestamps[i], self.probe_ids[i]));
        self.subset(&idx)
    }

    /// Training rows from labelled frames: every row with a target, in
    /// frame order. Features may be missing (NaN), as the jitter of a
    /// minute with one reply is; [`Dataset::complete_rows`] drops such
    /// rows when a method needs complete ones.
    pub fn from_frames<'a, S: AsRef<str>>(
        frames: impl IntoIterator<Item = (&'a FeatureFrame, &'a Labels)>,
        feature_names: &[S],
    ) -> Result<Dataset, DatasetError> {
        let mut d = Dataset::new(feature_names);
        for (frame, labels) in frames {
            let columns = frame.columns(feature_names)?;
            for i in 0..frame.len() {
                let Some(target) = labels.target[i] else {
                    continue;
                };
                d.x.extend(columns.iter().map(|c| c[i] as f32));
                d.y.push(u8::from(target));
                d.timestamps.push(frame.timestamp[i]);
                d.probe_ids.push(frame.probe_id.unwrap_or(0));
                d.degraded_now.push(u8::from(labels.now[i]));
            }
        }
        if d.is_empty() {
            return Err(DatasetError::Empty("the labelled frames".into()));
        }
        Ok(d)
    }

    /// Reads labelled rows from a feature CSV: the named feature columns and
    /// `target_5m_degraded`; `timestamp` and `probe_id` when present. Rows
    /// without a target are dropped; missing features stay missing.
    pub fn read_csv<S: AsRef<str>>(
        path: &Path,
        feature_names: &[S],
    ) -> Result<Dataset, DatasetError> {
        let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_csv_reader(path, file, feature_names)
    }

    /// As [`Dataset::read_csv`], from any reader; `path` names it in errors.
    pub fn from_csv_reader<S: AsRef<str>>(
        path: &Path,
        reader: impl Read,
        feature_names: &[S],
    ) -> Result<Dataset, DatasetError> {
        let csv_err = |message: String| DatasetError::Csv {
            path: path.to_path_buf(),
            message,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(LineLimit::new(reader, MAX_CSV_LINE));
        let headers = rdr.headers().map_err(|e| csv_err(e.to_string()))?.clone();
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let missing = |column: &str| DatasetError::MissingColumn {
            path: path.to_path_buf(),
            column: column.to_string(),
            available: headers.iter().collect::<Vec<_>>().join(","),
        };
        let cols: Vec<usize> = feature_names
            .iter()
            .map(|n| find(n.as_ref()).ok_or_else(|| missing(n.as_ref())))
            .collect::<Result<_, _>>()?;
        let target_col = find(TARGET_COLUMN).ok_or_else(|| missing(TARGET_COLUMN))?;
        let ts_col = find("timestamp");
        let probe_col = find("probe_id");
        let degraded_col = find("is_degraded");
        let mut d = Dataset::new(feature_names);
        let mut values = Vec::with_capacity(cols.len());
        for (i, record) in rdr.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| csv_err(e.to_string()))?;
            let cell = |c: usize| number(&record, c, line, &headers).map_err(csv_err);
            let target = cell(target_col)?;
            if target.is_nan() {
                continue;
            }
            if target != 0.0 && target != 1.0 {
                return Err(csv_err(format!(
                    "line {line}: target {target} is not 0 or 1"
                )));
            }
            values.clear();
            for &c in &cols {
                values.push(cell(c)? as f32);
            }
            let timestamp = match ts_col.map(|c| record.get(c).unwrap_or("")) {
                Some(text) => parse_utc(text).ok_or_else(|| {
                    csv_err(format!("line {line}: timestamp {text:?} is not a UTC time"))
                })?,
                None => i as i64 * 60,
            };
            let probe = match probe_col.map(|c| record.get(c).unwrap_or("").trim()) {
                Some(p) if !p.is_empty() => p.parse::<u64>().map_err(|_| {
                    csv_err(format!("line {line}: probe_id {p:?} is not a whole number"))
                })?,
                _ => 0,
            };
            if let Some(c) = degraded_col {
                d.degraded_now.push(u8::from(cell(c)? == 1.0));
            }
            d.x.extend_from_slice(&values);
            d.y.push(target as u8);
            d.timestamps.push(timestamp);
            d.probe_ids.push(probe);
        }
        if d.is_empty() {
            return Err(DatasetError::Empty(path.display().to_string()));
        }
        Ok(d)
    }
}

/// Column `c` of `record` (CSV line `line`) as a number, or a message
/// naming the line, the column and the text.
fn number(
    record: &csv::StringRecord,
    c: usize,
    line: usize,
    headers: &csv::StringRecord,
) -> Result<f64, String> {
    let v = record.get(c).unwrap_or("");
    parse_cell(v).ok_or_else(|| {
        format!(
            "line {line}, column `{}`: {:?} is not a number",
            headers.get(c).unwrap_or("?"),
            v.trim()
        )
    })
}

/// Parses one CSV cell as a number: empty, `nan` (any case) and `NA` are
/// missing (`Some(NaN)`), as pandas writes and reads them; `None` when the
/// text is not a number.
///
/// ```
/// use netprophet_core::dataset::parse_cell;
/// assert_eq!(parse_cell(" 12.5 "), Some(12.5));
/// assert!(parse_cell("NaN").is_some_and(f64::is_nan));
/// assert!(parse_cell("").is_some_and(f64::is_nan));
/// assert_eq!(parse_cell("fast"), None);
/// ```
pub fn parse_cell(text: &str) -> Option<f64> {
    let v = text.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("nan") || v == "NA" {
        return Some(f64::NAN);
    }
    v.parse().ok()
}

/// Per-probe frames rebuilt from a feature CSV's per-minute columns
/// (timestamp, avg_latency, jitter, rtt_min, rtt_max, packet_count, and
/// probe_id when present), with the CSV's own labels when it has
/// `is_degraded` and `target_5m_degraded`. Rows of one probe must be
/// consecutive minutes, as `netprophet features` and the original system
/// write them, except across a gap longer than the forward-fill limit
/// ([`crate::features::FeatureConfig::max_fill`]), which starts a new
/// frame (segment).
pub fn read_minutes_csv(path: &Path) -> Result<Vec<(FeatureFrame, Option<Labels>)>, DatasetError> {
    read_minutes_csv_with(path, crate::features::FeatureConfig::default())
}

/// [`read_minutes_csv`] with `config`'s rolling window and forward-fill
/// limit (a model's own, say).
pub fn read_minutes_csv_with(
    path: &Path,
    config: crate::features::FeatureConfig,
) -> Result<Vec<(FeatureFrame, Option<Labels>)>, DatasetError> {
    all_probes(|each| for_each_probe_csv(path, config, each))
}

/// Every probe's frames from a reader that hands them over a probe at a
/// time ([`for_each_probe_csv`], `parquet::for_each_probe_parquet`).
pub(crate) fn all_probes(
    read: impl FnOnce(
        &mut dyn FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), DatasetError>,
    ) -> Result<(), DatasetError>,
) -> Result<Vec<(FeatureFrame, Option<Labels>)>, DatasetError> {
    let mut all = Vec::new();
    read(&mut |frames| {
        all.extend(frames);
        Ok(())
    })?;
    Ok(all)
}

/// [`read_minutes_csv_with`] a probe at a time: `each` gets one probe's
/// frames as soon as the file moves on to another probe, so a large file
/// is never held whole (the frames handed over, one after another, are
/// the ones [`read_minutes_csv_with`] returns).
///
/// # Errors
/// As [`read_minutes_csv`] ([`DatasetError::Empty`] for a file without
/// rows, after handing over nothing), or what `each` returns.
pub fn for_each_probe_csv<E: From<DatasetError>>(
    path: &Path,
    config: crate::features::FeatureConfig,
    mut each: impl FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), E>,
) -> Result<(), E> {
    let csv_err = |message: String| DatasetError::Csv {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::Reader::from_reader(LineLimit::new(file, MAX_CSV_LINE));
    let headers = rdr.headers().map_err(|e| csv_err(e.to_string()))?.clone();
    let cols = MinuteColumns::find(path, &headers)?;
    let mut segments = Segments::new(config, cols.probe.is_some(), cols.labels.is_some());
    for (i, record) in rdr.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| csv_err(e.to_string()))?;
        let num = |c: usize| number(&record, c, line, &headers).map_err(csv_err);
        let ts_text = record.get(cols.minute[0]).unwrap_or("");
        let ts = parse_utc(ts_text).ok_or_else(|| {
            csv_err(format!(
                "line {line}: timestamp {ts_text:?} is not a UTC time"
            ))
        })?;
        let probe = match cols.probe {
            Some(c) => num(c)? as u64,
            None => 0,
        };
        let mut minute = [0.0; 5];
        for (v, &c) in minute.iter_mut().zip(&cols.minute[1..]) {
            *v = num(c)?;
        }
        let labels = match cols.labels {
            Some((d, t)) => Some([(d, num(d)?), (t, num(t)?)]),
            None => None,
        };
        if let Some(frames) = segments.take_before(probe) {
            each(frames)?;
        }
        segments
            .push(ts, probe, minute, labels.map(|l| [l[0].1, l[1].1]))
            .map_err(|(what, column)| {
                let at = match (column, labels) {
                    (Some(k), Some(l)) => {
                        format!(", column `{}`", headers.get(l[k].0).unwrap_or("?").trim())
                    }
                    _ => String::new(),
                };
                csv_err(format!("line {line}{at}: {what}"))
            })?;
    }
    // A probe's frames are taken only when a row of the next is pushed,
    // so none are left here only when there was no row at all.
    match segments.finish() {
        Some(frames) => each(frames),
        None => Err(DatasetError::Empty(path.display().to_string()).into()),
    }
}

/// Per-probe segments built row by row from per-minute columns, shared by
/// the feature CSV and Parquet readers so both cut segments, and reject
/// rows, by the same rules.
pub(crate) struct Segments {
    config: crate::features::FeatureConfig,
    with_probe: bool,
    with_labels: bool,
    segments: Vec<Segment>,
}

impl Segments {
    pub(crate) fn new(
        config: crate::features::FeatureConfig,
        with_probe: bool,
        with_labels: bool,
    ) -> Segments {
        Segments {
            config,
            with_probe,
            with_labels,
            segments: Vec::new(),
        }
    }

    /// Adds one minute: `minute` is avg_latency, jitter, rtt_min, rtt_max,
    /// packet_count; `labels` is_degraded and the target (NaN: missing).
    /// The error says what is wrong and, for a label, which of the two
    /// (0 or 1).
    pub(crate) fn push(
        &mut self,
        ts: i64,
        probe: u64,
        minute: [f64; 5],
        labels: Option<[f64; 2]>,
    ) -> Result<(), (String, Option<usize>)> {
        // A new probe, or the same probe after a gap longer than the
        // forward-fill limit (a new segment, as `netprophet features`
        // writes them), starts a new frame.
        let max_fill = self.config.max_fill as f64;
        let new_segment = self.segments.last().is_none_or(|g| {
            g.probe != probe
                || g.cols[0]
                    .last()
                    .is_some_and(|&last| ts as f64 - last > (max_fill + 1.0) * 60.0)
        });
        if new_segment {
            self.segments.push(Segment::new(probe));
        }
        let Some(g) = self.segments.last_mut() else {
            return Err(("no segment".into(), None));
        };
        if let Some(&last) = g.cols[0].last() {
            if ts as f64 - last != 60.0 {
                return Err((
                    format!(
                        "{} does not follow the previous row by one minute \
                         (rows of a probe are consecutive minutes; a gap longer than {} minutes \
                         starts a new segment)",
                        format_utc(ts),
                        self.config.max_fill
                    ),
                    None,
                ));
            }
        }
        if let Some([d, t]) = labels {
            let degraded = parse_label(d, false).map_err(|what| (what, Some(0)))?;
            let target = parse_label(t, true).map_err(|what| (what, Some(1)))?;
            g.degraded.push(degraded == Some(true));
            g.target.push(target);
        }
        g.cols[0].push(ts as f64);
        for (col, v) in g.cols.iter_mut().skip(1).zip(minute) {
            col.push(v);
        }
        Ok(())
    }

    /// The frames so far (`None` when no row was pushed), leaving no
    /// segment behind.
    pub(crate) fn take(&mut self) -> Option<Vec<(FeatureFrame, Option<Labels>)>> {
        let empty = Segments::new(self.config, self.with_probe, self.with_labels);
        std::mem::replace(self, empty).finish()
    }

    /// When `probe` is not the last row's, the frames so far: another
    /// probe starts a new segment anyway, so they are complete.
    pub(crate) fn take_before(
        &mut self,
        probe: u64,
    ) -> Option<Vec<(FeatureFrame, Option<Labels>)>> {
        if self.segments.last().is_some_and(|g| g.probe != probe) {
            self.take()
        } else {
            None
        }
    }

    /// The frames, or `None` when no row was pushed.
    pub(crate) fn finish(self) -> Option<Vec<(FeatureFrame, Option<Labels>)>> {
        if self.segments.is_empty() {
            return None;
        }
        let (probe, labels, config) = (self.with_probe, self.with_labels, self.config);
        Some(
            self.segments
                .into_iter()
                .map(|g| g.into_frame(probe, labels, config))
                .collect(),
        )
    }
}

/// Where a feature CSV keeps what [`read_minutes_csv`] reads.
struct MinuteColumns {
    /// timestamp, avg_latency, jitter, rtt_min, rtt_max, packet_count.
    minute: [usize; 6],
    probe: Option<usize>,
    /// is_degraded and the target.
    labels: Option<(usize, usize)>,
}

impl MinuteColumns {
    fn find(path: &Path, headers: &csv::StringRecord) -> Result<MinuteColumns, DatasetError> {
        // Columns are found by name, so a repeated name would silently pick
        // one of the two.
        let mut names: Vec<&str> = headers
            .iter()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(DatasetError::DuplicateColumn {
                path: path.to_path_buf(),
                column: w[0].to_string(),
            });
        }
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| DatasetError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                available: headers.iter().collect::<Vec<_>>().join(","),
            })
        };
        Ok(MinuteColumns {
            minute: [
                need("timestamp")?,
                need("avg_latency")?,
                need("jitter")?,
                need("rtt_min")?,
                need("rtt_max")?,
                need("packet_count")?,
            ],
            probe: find("probe_id"),
            labels: find("is_degraded").zip(find(TARGET_COLUMN)),
        })
    }
}

/// One probe's consecutive minutes as read, before they become a frame.
struct Segment {
    probe: u64,
    cols: [Vec<f64>; 6],
    degraded: Vec<bool>,
    target: Vec<Option<bool>>,
}

impl Segment {
    fn new(probe: u64) -> Segment {
        Segment {
            probe,
            cols: Default::default(),
            degraded: Vec::new(),
            target: Vec::new(),
        }
    }

    fn into_frame(
        self,
        with_probe: bool,
        with_labels: bool,
        config: crate::features::FeatureConfig,
    ) -> (FeatureFrame, Option<Labels>) {
        let [ts, avg, jitter, min, max, count] = self.cols;
        let mut frame = FeatureFrame::from_minutes(
            ts.iter().map(|&t| t as i64).collect(),
            avg,
            jitter,
            min,
            max,
            count
                .iter()
                .map(|&c| if c.is_nan() { 0 } else { c as u32 })
                .collect(),
            config,
        );
        frame.probe_id = with_probe.then_some(self.probe);
        let labels = with_labels.then(|| Labels {
            threshold: vec![f64::NAN; self.degraded.len()],
            now: self.degraded.clone(),
            is_degraded: self.degraded,
            target: self.target,
        });
        (frame, labels)
    }
}

/// A label cell: 0 or 1, or (where `missing_ok`, as for a target at the
/// end of a series) missing; anything else is a broken file, not a healthy
/// row.
fn parse_label(v: f64, missing_ok: bool) -> Result<Option<bool>, String> {
    if v == 0.0 || v == 1.0 {
        Ok(Some(v == 1.0))
    } else if v.is_nan() && missing_ok {
        Ok(None)
    } else {
        Err(format!(
            "{v} is not a label (0 or 1{})",
            if missing_ok { ", or empty" } else { "" }
        ))
    }
}

/// Formats a float like Python's `repr` for the values that occur here
/// (`1.0`, `26.766299890804596`); NaN is an empty cell.
pub fn fmt_float(v: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

/// Appends [`fmt_float`]'s text to `out` without allocating.
pub fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Shortest round-trip digits, as Python's repr; ryu is several times
    // faster than core::fmt here, which matters for multi-GB outputs.
    let mut buf = ryu::Buffer::new();
    out.push_str(buf.format_finite(v));
}

/// The header of the feature CSV; `probe_id` is added when `with_probe`.
pub fn csv_header(with_labels: bool, with_probe: bool) -> Vec<&'static str> {
    let mut h = vec!["timestamp"];
    h.extend_from_slice(&crate::schema::FEATURE_COLUMNS);
    if with_labels {
        h.extend_from_slice(&["threshold", "is_degraded", TARGET_COLUMN]);
    }
    if with_probe {
        h.push("probe_id");
    }
    h
}

/// Name of the target column for `target`: the original system's
/// `target_5m_degraded`, or `target_sustained` / `target_onset`.
pub fn target_column(target: crate::labels::Target) -> String {
    match target {
        crate::labels::Target::Original => TARGET_COLUMN.to_string(),
        other => format!("target_{}", other.name()),
    }
}

/// What a feature CSV holds beyond the eight features.
#[derive(Clone, Debug, Default)]
pub struct CsvLayout {
    /// Label columns for this target (threshold, is_degraded, target).
    pub labels: Option<crate::labels::Target>,
    /// A probe_id column.
    pub probe: bool,
    /// More feature columns, by name (see [`FeatureFrame::columns`]).
    pub extra: Vec<String>,
}

impl CsvLayout {
    /// The header line's names.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = vec!["timestamp".into()];
        h.extend(crate::schema::FEATURE_COLUMNS.iter().map(|s| s.to_string()));
        h.extend(self.extra.iter().cloned());
        if let Some(t) = self.labels {
            h.extend(["threshold".to_string(), "is_degraded".to_string()]);
            h.push(target_column(t));
        }
        if self.probe {
            h.push("probe_id".into());
        }
        h
    }
}

/// Writes one frame's rows (and labels, when given) as feature CSV lines,
/// without the header.
pub fn write_csv_rows(
    out: &mut impl Write,
    frame: &FeatureFrame,
    labels: Option<&Labels>,
    with_probe: bool,
) -> std::io::Result<()> {
    write_csv_rows_with(out, frame, labels, with_probe, &[])
}

/// As [`write_csv_rows`], with `extra` columns (in [`CsvLayout::extra`]'s
/// order) after the eight features. Labels or a column of another length
/// than the frame are an `InvalidInput` error, and nothing is written.
///
/// Every cell is a number or a timestamp, so nothing ever needs quoting;
/// the lines are built by hand (ryu for the floats, the date formatted once
/// a day) because this is the hot loop of multi-GB exports, where a
/// general CSV writer's per-field escaping checks buy nothing.
pub fn write_csv_rows_with(
    out: &mut impl Write,
    frame: &FeatureFrame,
    labels: Option<&Labels>,
    with_probe: bool,
    extra: &[Vec<f64>],
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let n = frame.len();
    let label_lens = labels.map(|l| [l.threshold.len(), l.is_degraded.len(), l.target.len()]);
    if extra.iter().any(|c| c.len() != n)
        || label_lens.is_some_and(|lens| lens.iter().any(|&len| len != n))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("labels or extra columns do not have the frame's {n} rows"),
        ));
    }
    let mut line = String::with_capacity(256);
    // The date part only changes once a day; format it then.
    let mut day = i64::MIN;
    let mut date = String::new();
    for (i, r) in frame.rows().enumerate() {
        line.clear();
        let d = r.timestamp.div_euclid(86_400);
        if d != day {
            day = d;
            date = format_utc(d * 86_400)[..10].to_string();
        }
        let s = r.timestamp.rem_euclid(86_400);
        let _ = write!(
            line,
            "{date} {:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        );
        for v in [r.avg_latency, r.jitter, r.rtt_min, r.rtt_max] {
            line.push(',');
            push_float(&mut line, v);
        }
        let _ = write!(line, ",{}", r.packet_count);
        for v in [r.latency_change_5m, r.rolling_mean, r.rolling_std] {
            line.push(',');
            push_float(&mut line, v);
        }
        for col in extra {
            line.push(',');
            push_float(&mut line, col[i]);
        }
        if let Some(l) = labels {
            line.push(',');
            push_float(&mut line, l.threshold[i]);
            line.push_str(if l.is_degraded[i] { ",1," } else { ",0," });
            match l.target[i] {
                Some(true) => line.push_str("1.0"),
                Some(false) => line.push_str("0.0"),
                None => {}
            }
        }
        if with_probe {
            let _ = write!(line, ",{}", frame.probe_id.unwrap_or(0));
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_of_another_length_are_an_error_not_a_panic() {
        let n = 4;
        let frame = FeatureFrame::from_minutes(
            (0..n as i64).map(|i| i * 60).collect(),
            vec![10.0; n],
            vec![f64::NAN; n],
            vec![10.0; n],
            vec![10.0; n],
            vec![1; n],
            crate::features::FeatureConfig::default(),
        );
        let mut out = Vec::new();
        write_csv_rows_with(&mut out, &frame, None, false, &[vec![1.0; n]]).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), n);
        let mut out = Vec::new();
        let err =
            write_csv_rows_with(&mut out, &frame, None, false, &[vec![1.0; n - 1]]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(out.is_empty(), "nothing is written before the check");
    }

    #[test]
    fn floats_look_like_python() {
        assert_eq!(fmt_float(0.0), "0.0");
        assert_eq!(fmt_float(1.0), "1.0");
        assert_eq!(fmt_float(26.766299890804596), "26.766299890804596");
        assert_eq!(fmt_float(f64::NAN), "");
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let csv = "timestamp,a,target_5m_degraded\n2026-01-01 00:00:00,1.5,0.0\n2026-01-01 00:01:00,x,1.0\n";
        let err = Dataset::from_csv_reader(Path::new("t.csv"), csv.as_bytes(), &["a".to_string()])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv: line 3, column `a`: \"x\" is not a number"
        );
        let err = Dataset::from_csv_reader(Path::new("t.csv"), csv.as_bytes(), &["b".to_string()])
            .unwrap_err();
        assert!(err.to_string().contains("no column `b`"), "{err}");
    }
}

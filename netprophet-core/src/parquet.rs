//! Feature tables as Apache Parquet files: the rows `netprophet features`
//! writes, in a columnar, compressed, typed form that pandas, pyarrow,
//! DuckDB, Spark and Dask read as they are.
//!
//! # Schema
//!
//! One row per probe and minute, the columns of the feature CSV in the
//! same order (see [`CsvLayout::header`]), always with `probe_id`:
//!
//! | column | Parquet type | unit, meaning |
//! |---|---|---|
//! | `timestamp` | `INT64 TIMESTAMP(MILLIS, UTC)`, required | start of the minute |
//! | `avg_latency`, `jitter`, `rtt_min`, `rtt_max` | `DOUBLE`, optional | ms |
//! | `packet_count` | `INT64`, required | replies in the minute |
//! | `latency_change_5m`, `rolling_mean`, `rolling_std` | `DOUBLE`, optional | ms |
//! | more features (`--feature-set`) | `DOUBLE`, optional | as [`crate::schema::Feature`] documents each |
//! | `threshold` | `DOUBLE`, optional | ms (with labels) |
//! | `is_degraded` | `BOOLEAN`, required | with labels |
//! | `target_5m_degraded` (or `target_sustained`, `target_onset`) | `BOOLEAN`, optional | with labels; null where the horizon runs past the data |
//! | `probe_id` | `INT64`, required | Atlas probe id |
//!
//! A missing value (NaN in netprophet, an empty cell in the CSV) is a
//! Parquet **null**, never a NaN: pandas reads it back as NaN, DuckDB and
//! Spark as NULL, and reading the file here gives NaN again. Values are
//! the same `f64` the CSV holds, bit for bit (the CSV writes the shortest
//! text that round-trips). The file's key-value metadata carries
//! `netprophet.feature_names`: the model feature columns, comma-separated,
//! in order.
//!
//! Files are written in row groups of [`ROW_GROUP_ROWS`] rows, snappy
//! compressed. A directory is read as one table: every `*.parquet` file
//! under it, in path order, so the hive-style layout
//! `day=YYYY-MM-DD/probes=A-B/part.parquet` reads back whole.
//!
//! Reading is bounded: a file that is not Parquet, is cut short or has a
//! flipped byte is an error naming the file, not a panic (a panic inside
//! the parquet crate is caught and reported the same way).

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescriptor, Type};

use crate::dataset::{target_column, CsvLayout, DatasetError, Segments, TARGET_COLUMN};
use crate::features::{FeatureConfig, FeatureFrame};
use crate::labels::Labels;

/// Rows per row group: large enough for good compression and few
/// metadata entries, small enough (about 10 MB of features) that a reader
/// holds one at a time comfortably.
pub const ROW_GROUP_ROWS: usize = 1 << 17;

/// Most files a directory may hold; more is a wrong path, not a table.
pub const MAX_FILES: usize = 1_000_000;

/// Deepest directory nesting searched (the hive layout uses two levels).
const MAX_DEPTH: usize = 8;

fn parquet_err(path: &Path, message: impl std::fmt::Display) -> DatasetError {
    DatasetError::Parquet {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes feature rows to a Parquet file, a row group at a time.
///
/// ```
/// use netprophet_core::dataset::CsvLayout;
/// use netprophet_core::features::{FeatureConfig, FeatureFrame};
/// use netprophet_core::parquet::{read_minutes_parquet, ParquetWriter};
///
/// let frame = FeatureFrame::from_minutes(
///     vec![0, 60, 120],
///     vec![10.0, f64::NAN, 12.0],
///     vec![0.5; 3],
///     vec![9.0; 3],
///     vec![11.0; 3],
///     vec![3, 0, 3],
///     FeatureConfig::default(),
/// );
/// let mut w = ParquetWriter::new(Vec::new(), CsvLayout::default(), "t.parquet").unwrap();
/// w.write_frame(&frame, None, &[]).unwrap();
/// let (bytes, rows) = w.into_inner().unwrap();
/// assert_eq!(rows, 3);
/// assert_eq!(&bytes[..4], b"PAR1");
/// ```
pub struct ParquetWriter<W: Write + Send> {
    path: PathBuf,
    layout: CsvLayout,
    writer: SerializedFileWriter<W>,
    buffer: Buffer,
    rows: u64,
}

/// One row group's columns as they are gathered.
#[derive(Default)]
struct Buffer {
    timestamp: Vec<i64>,
    /// The seven DOUBLE features, the extra ones, then the threshold.
    doubles: Vec<Vec<f64>>,
    packet_count: Vec<i64>,
    degraded: Vec<bool>,
    target: Vec<Option<bool>>,
    probe: Vec<i64>,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer of `layout`'s columns (always with `probe_id`) to `out`;
    /// `path` names it in errors.
    ///
    /// # Errors
    /// When a column name cannot be a Parquet field name.
    pub fn new(
        out: W,
        mut layout: CsvLayout,
        path: impl Into<PathBuf>,
    ) -> Result<Self, DatasetError> {
        let path = path.into();
        layout.probe = true;
        let header = layout.header();
        let mut fields = Vec::with_capacity(header.len());
        let extra_and_threshold = layout.extra.len() + usize::from(layout.labels.is_some());
        for name in &header {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(parquet_err(
                    &path,
                    format!("column name {name:?} is not a plain identifier"),
                ));
            }
            let (physical, required, logical) = match name.as_str() {
                "timestamp" => (
                    PhysicalType::INT64,
                    true,
                    Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
                ),
                "packet_count" | "probe_id" => (PhysicalType::INT64, true, None),
                "is_degraded" => (PhysicalType::BOOLEAN, true, None),
                n if layout.labels.is_some_and(|t| target_column(t) == n) => {
                    (PhysicalType::BOOLEAN, false, None)
                }
                _ => (PhysicalType::DOUBLE, false, None),
            };
            let repetition = if required {
                parquet::basic::Repetition::REQUIRED
            } else {
                parquet::basic::Repetition::OPTIONAL
            };
            let field = Type::primitive_type_builder(name, physical)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .build()
                .map_err(|e| parquet_err(&path, e))?;
            fields.push(Arc::new(field));
        }
        let schema = Type::group_type_builder("netprophet_features")
            .with_fields(fields)
            .build()
            .map_err(|e| parquet_err(&path, e))?;
        let names: Vec<&str> = crate::schema::FEATURE_COLUMNS
            .iter()
            .copied()
            .chain(layout.extra.iter().map(String::as_str))
            .collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("netprophet {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "netprophet.feature_names".to_string(),
                names.join(","),
            )]))
            .build();
        let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))
            .map_err(|e| parquet_err(&path, e))?;
        Ok(ParquetWriter {
            path,
            buffer: Buffer {
                doubles: vec![Vec::new(); 7 + extra_and_threshold],
                ..Buffer::default()
            },
            layout,
            writer,
            rows: 0,
        })
    }

    /// Adds one frame's rows, its labels (when the layout has them) and
    /// `extra` columns in [`CsvLayout::extra`]'s order.
    ///
    /// # Errors
    /// When labels or extra columns do not match the layout or the frame,
    /// or writing fails.
    pub fn write_frame(
        &mut self,
        frame: &FeatureFrame,
        labels: Option<&Labels>,
        extra: &[Vec<f64>],
    ) -> Result<(), DatasetError> {
        self.write_rows(frame, labels, extra, 0..frame.len())
    }

    /// As [`ParquetWriter::write_frame`], rows `rows` of the frame only
    /// (one day of it, say).
    ///
    /// # Errors
    /// As [`ParquetWriter::write_frame`], and when `rows` is not within
    /// the frame.
    pub fn write_rows(
        &mut self,
        frame: &FeatureFrame,
        labels: Option<&Labels>,
        extra: &[Vec<f64>],
        rows: std::ops::Range<usize>,
    ) -> Result<(), DatasetError> {
        let n = frame.len();
        if rows.start > rows.end || rows.end > n {
            return Err(parquet_err(&self.path, "rows outside the frame"));
        }
        if extra.len() != self.layout.extra.len() || extra.iter().any(|c| c.len() != n) {
            return Err(parquet_err(
                &self.path,
                "extra columns do not match the layout",
            ));
        }
        if self.layout.labels.is_some() != labels.is_some()
            || labels.is_some_and(|l| {
                l.target.len() != n || l.is_degraded.len() != n || l.threshold.len() != n
            })
        {
            return Err(parquet_err(&self.path, "labels do not match the layout"));
        }
        let mut start = rows.start;
        while start < rows.end {
            let room = ROW_GROUP_ROWS - self.buffer.timestamp.len();
            let end = rows.end.min(start + room);
            let b = &mut self.buffer;
            b.timestamp.extend(
                frame.timestamp[start..end]
                    .iter()
                    .map(|t| t.saturating_mul(1000)),
            );
            let doubles = [
                &frame.avg_latency,
                &frame.jitter,
                &frame.rtt_min,
                &frame.rtt_max,
                &frame.latency_change_5m,
                &frame.rolling_mean,
                &frame.rolling_std,
            ];
            let mut cols = b.doubles.iter_mut();
            // The sources first: zip takes from its first iterator before it
            // knows the second is done, which would skip the threshold.
            for (src, col) in doubles.into_iter().chain(extra).zip(cols.by_ref()) {
                col.extend_from_slice(&src[start..end]);
            }
            b.packet_count
                .extend(frame.packet_count[start..end].iter().map(|&c| i64::from(c)));
            if let Some(l) = labels {
                if let Some(col) = cols.next() {
                    col.extend_from_slice(&l.threshold[start..end]);
                }
                b.degraded.extend_from_slice(&l.is_degraded[start..end]);
                b.target.extend_from_slice(&l.target[start..end]);
            }
            let probe = frame.probe_id.unwrap_or(0);
            let probe = i64::try_from(probe)
                .map_err(|_| parquet_err(&self.path, format!("probe id {probe} is too large")))?;
            b.probe.extend(std::iter::repeat_n(probe, end - start));
            if b.timestamp.len() == ROW_GROUP_ROWS {
                self.flush()?;
            }
            start = end;
        }
        Ok(())
    }

    /// Writes the gathered rows as one row group.
    fn flush(&mut self) -> Result<(), DatasetError> {
        let b = std::mem::take(&mut self.buffer);
        if b.timestamp.is_empty() {
            self.buffer = b;
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e: parquet::errors::ParquetError| parquet_err(&path, e);
        let mut group = self.writer.next_row_group().map_err(err)?;
        let mut doubles = b.doubles.iter();
        let mut column = 0usize;
        while let Some(mut col) = group.next_column().map_err(err)? {
            let name = self.layout.header()[column].clone();
            column += 1;
            let wrong = || parquet_err(&path, format!("column {name} has an unexpected type"));
            match (name.as_str(), col.untyped()) {
                ("timestamp", ColumnWriter::Int64ColumnWriter(w)) => {
                    w.write_batch(&b.timestamp, None, None).map_err(err)?;
                }
                ("packet_count", ColumnWriter::Int64ColumnWriter(w)) => {
                    w.write_batch(&b.packet_count, None, None).map_err(err)?;
                }
                ("probe_id", ColumnWriter::Int64ColumnWriter(w)) => {
                    w.write_batch(&b.probe, None, None).map_err(err)?;
                }
                ("is_degraded", ColumnWriter::BoolColumnWriter(w)) => {
                    w.write_batch(&b.degraded, None, None).map_err(err)?;
                }
                (_, ColumnWriter::BoolColumnWriter(w)) => {
                    let values: Vec<bool> = b.target.iter().flatten().copied().collect();
                    let levels: Vec<i16> =
                        b.target.iter().map(|t| i16::from(t.is_some())).collect();
                    w.write_batch(&values, Some(&levels), None).map_err(err)?;
                }
                (_, ColumnWriter::DoubleColumnWriter(w)) => {
                    let src = doubles.next().ok_or_else(wrong)?;
                    let values: Vec<f64> = src.iter().copied().filter(|v| !v.is_nan()).collect();
                    let levels: Vec<i16> = src.iter().map(|v| i16::from(!v.is_nan())).collect();
                    w.write_batch(&values, Some(&levels), None).map_err(err)?;
                }
                _ => return Err(wrong()),
            }
            col.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        self.rows += b.timestamp.len() as u64;
        // Keep the allocations for the next group.
        let mut b = b;
        b.timestamp.clear();
        b.packet_count.clear();
        b.probe.clear();
        b.degraded.clear();
        b.target.clear();
        b.doubles.iter_mut().for_each(Vec::clear);
        self.buffer = b;
        Ok(())
    }

    /// Writes what is left and the footer; returns the rows written.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(self) -> Result<u64, DatasetError> {
        Ok(self.into_inner()?.1)
    }

    /// As [`ParquetWriter::finish`], handing back the output as well (the
    /// bytes, for a writer into a `Vec<u8>`).
    ///
    /// # Errors
    /// When writing fails.
    pub fn into_inner(mut self) -> Result<(W, u64), DatasetError> {
        self.flush()?;
        let out = self
            .writer
            .into_inner()
            .map_err(|e| parquet_err(&self.path, e))?;
        Ok((out, self.rows))
    }
}

/// Whether `path` is read as Parquet: a `.parquet` file, or a directory
/// (a partitioned table).
pub fn is_parquet_input(path: &Path) -> bool {
    path.is_dir()
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// The Parquet files of `path`: itself when it is a file, else every
/// `*.parquet` file under it (hidden files and directories, such as
/// unfinished atomic writes, skipped), in path order.
///
/// # Errors
/// When a directory cannot be listed, holds no Parquet file, or holds
/// more than [`MAX_FILES`].
pub fn parquet_files(path: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![(path.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| DatasetError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| DatasetError::Io {
                path: dir.clone(),
                source,
            })?;
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|source| DatasetError::Io {
                path: p.clone(),
                source,
            })?;
            if kind.is_dir() && depth < MAX_DEPTH {
                stack.push((p, depth + 1));
            } else if kind.is_file() && p.extension().is_some_and(|e| e == "parquet") {
                files.push(p);
                if files.len() > MAX_FILES {
                    return Err(parquet_err(
                        path,
                        format!("more than {MAX_FILES} Parquet files"),
                    ));
                }
            }
        }
    }
    if files.is_empty() {
        return Err(parquet_err(path, "no .parquet file in this directory"));
    }
    files.sort();
    Ok(files)
}

/// The column names of a Parquet file (the first file of a directory).
///
/// # Errors
/// When the file cannot be opened or is not Parquet.
pub fn column_names(path: &Path) -> Result<Vec<String>, DatasetError> {
    let file = parquet_files(path)?.remove(0);
    guarded(&file, || {
        let reader = open(&file)?;
        Ok(reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect())
    })
}

/// Runs `f`, turning a panic inside the parquet crate into an error that
/// names `path`.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, DatasetError>) -> Result<T, DatasetError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(parquet_err(
            path,
            "malformed Parquet file (the reader failed)",
        ))
    })
}

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    SerializedFileReader::new(file).map_err(|e| parquet_err(path, e))
}

/// Reads the columns `names` of one Parquet file as `f64`, in file order:
/// `None` for a name the file does not have. Nulls are NaN, booleans 0 or
/// 1, timestamps Unix seconds (whatever their unit), integers as they are.
///
/// # Errors
/// When the file cannot be read, is not Parquet, is damaged, or a column
/// is of a kind that is not a number (text, nested).
pub fn read_columns(path: &Path, names: &[&str]) -> Result<Vec<Option<Vec<f64>>>, DatasetError> {
    let mut out: Vec<Option<Vec<f64>>> = Vec::new();
    for_each_row_group(path, names, |cols| {
        if out.is_empty() {
            out = cols;
            return Ok::<(), DatasetError>(());
        }
        for (all, col) in out.iter_mut().zip(cols) {
            if let (Some(all), Some(col)) = (all.as_mut(), col) {
                all.extend(col);
            }
        }
        Ok(())
    })?;
    if out.is_empty() {
        // A file without row groups: its columns, empty.
        let names_in_file = column_names(path)?;
        out = names
            .iter()
            .map(|n| names_in_file.iter().any(|c| c == n).then(Vec::new))
            .collect();
    }
    Ok(out)
}

/// [`read_columns`] one row group at a time: `each` gets the group's
/// columns (`None` for a name the file does not have), so a large file
/// is never held whole.
fn for_each_row_group<E: From<DatasetError>>(
    path: &Path,
    names: &[&str],
    mut each: impl FnMut(Vec<Option<Vec<f64>>>) -> Result<(), E>,
) -> Result<(), E> {
    let (reader, index, groups) = guarded(path, || {
        let reader = open(path)?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let index: Vec<Option<usize>> = names
            .iter()
            .map(|n| {
                schema
                    .columns()
                    .iter()
                    .position(|c| c.path().parts() == [*n])
            })
            .collect();
        let groups = reader.num_row_groups();
        Ok((reader, index, groups))
    })?;
    for g in 0..groups {
        let cols = guarded(path, || {
            let schema = reader.metadata().file_metadata().schema_descr();
            let group = reader.get_row_group(g).map_err(|e| parquet_err(path, e))?;
            let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| {
                parquet_err(path, format!("row group {g} has a negative row count"))
            })?;
            let mut out = Vec::with_capacity(index.len());
            for col in &index {
                let Some(c) = col else {
                    out.push(None);
                    continue;
                };
                let descr = schema.column(*c);
                let column = group
                    .get_column_reader(*c)
                    .map_err(|e| parquet_err(path, e))?;
                let mut values = Vec::with_capacity(rows.min(ROW_GROUP_ROWS * 8));
                read_column(path, &descr, column, rows, &mut values)?;
                out.push(Some(values));
            }
            Ok(out)
        })?;
        each(cols)?;
    }
    Ok(())
}

/// Appends `rows` values of one column chunk to `out`.
fn read_column(
    path: &Path,
    descr: &ColumnDescriptor,
    reader: ColumnReader,
    rows: usize,
    out: &mut Vec<f64>,
) -> Result<(), DatasetError> {
    let name = descr.name().to_string();
    let bad = |what: String| parquet_err(path, format!("column `{name}`: {what}"));
    if descr.max_rep_level() > 0 {
        return Err(bad("a repeated (list) column is not a number".into()));
    }
    let divisor = match descr.logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => match t.unit {
            TimeUnit::MILLIS => 1_000,
            TimeUnit::MICROS => 1_000_000,
            TimeUnit::NANOS => 1_000_000_000,
            #[allow(unreachable_patterns)]
            _ => 1,
        },
        _ => 1,
    };
    let max_def = descr.max_def_level();
    let mut levels: Vec<i16> = Vec::new();
    macro_rules! drain {
        ($r:expr, $conv:expr) => {{
            let mut values = Vec::new();
            let mut left = rows;
            while left > 0 {
                let before = values.len();
                levels.clear();
                let (records, _, _) = $r
                    .read_records(left.min(65_536), Some(&mut levels), None, &mut values)
                    .map_err(|e| bad(e.to_string()))?;
                if records == 0 {
                    return Err(bad(format!("{left} of {rows} values missing")));
                }
                let new = &values[before..];
                if max_def == 0 {
                    out.extend(new.iter().map($conv));
                } else {
                    let mut it = new.iter();
                    for &l in levels.iter().take(records) {
                        out.push(if l == max_def {
                            it.next()
                                .map($conv)
                                .ok_or_else(|| bad("fewer values than levels".into()))?
                        } else {
                            f64::NAN
                        });
                    }
                }
                values.clear();
                left -= records.min(left);
            }
        }};
    }
    match reader {
        ColumnReader::DoubleColumnReader(mut r) => drain!(r, |v: &f64| *v),
        ColumnReader::FloatColumnReader(mut r) => drain!(r, |v: &f32| f64::from(*v)),
        ColumnReader::Int32ColumnReader(mut r) => drain!(r, |v: &i32| f64::from(*v)),
        ColumnReader::Int64ColumnReader(mut r) => {
            drain!(r, |v: &i64| (v.div_euclid(divisor)) as f64)
        }
        ColumnReader::BoolColumnReader(mut r) => drain!(r, |v: &bool| f64::from(u8::from(*v))),
        _ => return Err(bad(format!("{} is not a number", descr.physical_type()))),
    }
    Ok(())
}

/// Per-probe frames rebuilt from a Parquet feature table (a file or a
/// directory of them) as [`crate::dataset::read_minutes_csv`] rebuilds
/// them from a CSV: the per-minute columns, `probe_id` when present, and
/// the table's own labels when it has `is_degraded` and
/// `target_5m_degraded`. Rows are taken in (probe, time) order whatever
/// the files' order, so a table split by day and probe range reads as one;
/// a minute given twice is an error. All frames at once: see
/// [`for_each_probe_parquet`] to take them a probe at a time.
///
/// # Errors
/// As [`read_columns`], and when a required column is missing or rows of
/// a probe are not consecutive minutes.
pub fn read_minutes_parquet(
    path: &Path,
    config: FeatureConfig,
) -> Result<Vec<(FeatureFrame, Option<Labels>)>, DatasetError> {
    crate::dataset::all_probes(|each| for_each_probe_parquet(path, config, each))
}

/// The per-minute columns [`for_each_probe_parquet`] reads.
const MINUTE_NAMES: [&str; 9] = [
    "timestamp",
    "avg_latency",
    "jitter",
    "rtt_min",
    "rtt_max",
    "packet_count",
    "probe_id",
    "is_degraded",
    TARGET_COLUMN,
];

/// Rows in a Parquet table (a file or a directory), from the files'
/// footers alone.
///
/// # Errors
/// When a file cannot be read or is not Parquet.
pub fn row_count(path: &Path) -> Result<u64, DatasetError> {
    let mut rows = 0u64;
    for file in parquet_files(path)? {
        let n = guarded(&file, || {
            Ok(open(&file)?.metadata().file_metadata().num_rows())
        })?;
        rows = rows.saturating_add(u64::try_from(n).unwrap_or(0));
    }
    Ok(rows)
}

/// As [`read_minutes_parquet`], handing `each` one probe's frames at a
/// time, in probe order within each group of files.
///
/// Memory is bounded by a group, not the table: files that differ only in
/// a `day=...` folder (the `probes=A-B` ranges `netprophet features
/// --partition` writes) form a group, read, sorted and cut into frames
/// on their own, when no probe appears in two groups (checked first, from
/// the `probe_id` column alone); otherwise, and for a single file, the
/// whole table is one group.
///
/// # Errors
/// As [`read_minutes_parquet`] ([`DatasetError::Empty`] for a table
/// without rows, after handing over nothing), or what `each` returns.
pub fn for_each_probe_parquet<E: From<DatasetError>>(
    path: &Path,
    config: FeatureConfig,
    mut each: impl FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), E>,
) -> Result<(), E> {
    let files = parquet_files(path)?;
    let (mut with_probe, mut with_labels) = (true, true);
    for file in &files {
        let names = column_names(file)?;
        let has = |n: &str| names.iter().any(|c| c == n);
        for need in &MINUTE_NAMES[..6] {
            if !has(need) {
                return Err(DatasetError::MissingColumn {
                    path: file.clone(),
                    column: need.to_string(),
                    available: names.join(","),
                }
                .into());
            }
        }
        with_probe &= has("probe_id");
        with_labels &= has("is_degraded") && has(TARGET_COLUMN);
    }
    let mut any = false;
    let mut counted = |frames: Vec<(FeatureFrame, Option<Labels>)>| {
        any |= !frames.is_empty();
        each(frames)
    };
    for group in groups(path, &files, with_probe)? {
        read_group(path, &group, config, with_probe, with_labels, &mut counted)?;
    }
    if !any {
        return Err(DatasetError::Empty(path.display().to_string()).into());
    }
    Ok(())
}

/// The files of `files` grouped by their folders below `root` other than
/// `day=...` ones, when no probe is in two groups; else one group.
fn groups(
    root: &Path,
    files: &[PathBuf],
    with_probe: bool,
) -> Result<Vec<Vec<PathBuf>>, DatasetError> {
    let mut by_key: std::collections::BTreeMap<Vec<String>, Vec<PathBuf>> = Default::default();
    for file in files {
        let rel = file.strip_prefix(root).unwrap_or(file);
        let key: Vec<String> = rel
            .parent()
            .into_iter()
            .flat_map(Path::components)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .filter(|c| !c.starts_with("day="))
            .collect();
        by_key.entry(key).or_default().push(file.clone());
    }
    if by_key.len() < 2 || !with_probe {
        return Ok(vec![files.to_vec()]);
    }
    let mut owner: std::collections::HashMap<u64, usize> = Default::default();
    for (g, group) in by_key.values().enumerate() {
        for file in group {
            let probes = read_columns(file, &["probe_id"])?
                .remove(0)
                .unwrap_or_default();
            for p in probes {
                if *owner.entry(p as u64).or_insert(g) != g {
                    return Ok(vec![files.to_vec()]);
                }
            }
        }
    }
    Ok(by_key.into_values().collect())
}

/// Reads one group of files, sorts its rows by (probe, time) and hands
/// `each` its probes' frames one probe at a time. Files already in that
/// order (as `features --output` writes them) are read a row group at a
/// time and never held whole.
fn read_group<E: From<DatasetError>>(
    path: &Path,
    files: &[PathBuf],
    config: FeatureConfig,
    with_probe: bool,
    with_labels: bool,
    each: &mut impl FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), E>,
) -> Result<(), E> {
    let mut feed = Feed::new(path, config, with_probe, with_labels);
    if in_probe_time_order(files, with_probe)? {
        let mut at = 0;
        for file in files {
            for_each_row_group(file, &MINUTE_NAMES, |cols| {
                let rows = cols[0].as_ref().map_or(0, Vec::len);
                let value = |c: usize, k: usize| cols[c].as_ref().map_or(f64::NAN, |v| v[k]);
                for k in 0..rows {
                    feed.row(at + k, |c| value(c, k), each)?;
                }
                at += rows;
                Ok::<(), E>(())
            })?;
        }
        return feed.finish(each);
    }
    let mut table: Vec<Vec<f64>> = vec![Vec::new(); MINUTE_NAMES.len()];
    for file in files {
        let cols = read_columns(file, &MINUTE_NAMES)?;
        let rows = cols[0].as_ref().map_or(0, Vec::len);
        for (i, col) in cols.into_iter().enumerate() {
            match col {
                Some(c) => table[i].extend(c),
                None => table[i].extend(std::iter::repeat_n(f64::NAN, rows)),
            }
        }
    }
    let n = table[0].len();
    let probe_of = |i: usize| if with_probe { table[6][i] } else { 0.0 };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        probe_of(a)
            .total_cmp(&probe_of(b))
            .then(table[0][a].total_cmp(&table[0][b]))
    });
    for &i in &order {
        feed.row(i, |c| table[c][i], each)?;
    }
    drop(order);
    drop(table);
    feed.finish(each)
}

/// Whether the rows of `files`, in file order, are already sorted by
/// (probe, time) with every timestamp and probe id present: then the
/// sort would leave them as they are.
fn in_probe_time_order(files: &[PathBuf], with_probe: bool) -> Result<bool, DatasetError> {
    let mut last: Option<(f64, f64)> = None;
    let mut sorted = true;
    for file in files {
        for_each_row_group(file, &[MINUTE_NAMES[0], MINUTE_NAMES[6]], |cols| {
            let (Some(ts), probes) = (&cols[0], &cols[1]) else {
                sorted = false;
                return Ok::<(), DatasetError>(());
            };
            for (k, &t) in ts.iter().enumerate() {
                let p = match probes {
                    Some(p) if with_probe => p[k],
                    _ => 0.0,
                };
                if !sorted || t.is_nan() || p.is_nan() {
                    sorted = false;
                    return Ok(());
                }
                if let Some((lp, lt)) = last {
                    if p.total_cmp(&lp).then(t.total_cmp(&lt)).is_lt() {
                        sorted = false;
                        return Ok(());
                    }
                }
                last = Some((p, t));
            }
            Ok(())
        })?;
        if !sorted {
            return Ok(false);
        }
    }
    Ok(sorted)
}

/// Rows of a group, in (probe, time) order, into one probe's frames at a
/// time.
struct Feed<'a> {
    path: &'a Path,
    with_probe: bool,
    with_labels: bool,
    segments: Segments,
    current: Option<f64>,
}

impl<'a> Feed<'a> {
    fn new(path: &'a Path, config: FeatureConfig, with_probe: bool, with_labels: bool) -> Self {
        Feed {
            path,
            with_probe,
            with_labels,
            segments: Segments::new(config, with_probe, with_labels),
            current: None,
        }
    }

    /// Row `i` of the group, its columns (in `MINUTE_NAMES` order) read
    /// through `value`; a new probe hands the last one's frames to `each`.
    fn row<E: From<DatasetError>>(
        &mut self,
        i: usize,
        value: impl Fn(usize) -> f64,
        each: &mut impl FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), E>,
    ) -> Result<(), E> {
        let ts = value(0);
        let probe = if self.with_probe { value(6) } else { 0.0 };
        if ts.is_nan() || probe.is_nan() || probe < 0.0 {
            return Err(
                parquet_err(self.path, format!("row {i}: no timestamp or probe id")).into(),
            );
        }
        // Probes are compared as stored (f64), as the sort orders them.
        if self.current.is_some_and(|c| c != probe) {
            each(self.segments.take().unwrap_or_default())?;
        }
        self.current = Some(probe);
        let minute = [value(1), value(2), value(3), value(4), value(5)];
        let labels = self.with_labels.then(|| [value(7), value(8)]);
        let path = self.path;
        self.segments
            .push(ts as i64, probe as u64, minute, labels)
            .map_err(|(what, column)| {
                let at = column.map_or(String::new(), |k| {
                    format!(", column `{}`", MINUTE_NAMES[7 + k])
                });
                parquet_err(path, format!("probe {probe}{at}: {what}"))
            })?;
        Ok(())
    }

    /// Hands the last probe's frames to `each`.
    fn finish<E>(
        self,
        each: &mut impl FnMut(Vec<(FeatureFrame, Option<Labels>)>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.segments.finish() {
            Some(frames) => each(frames),
            None => Ok(()),
        }
    }
}

/// The columns `names` of a Parquet table (a file or a directory, files in
/// path order) as row-major `f32` rows, rounded once from the stored
/// `f64` as XGBoost rounds its input.
///
/// # Errors
/// As [`read_columns`], and when a name is not a column.
pub fn read_matrix(path: &Path, names: &[String]) -> Result<Vec<f32>, DatasetError> {
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    for file in parquet_files(path)? {
        let cols = read_columns(&file, &wanted)?;
        let mut present = Vec::with_capacity(cols.len());
        for (col, name) in cols.into_iter().zip(names) {
            present.push(col.ok_or_else(|| DatasetError::MissingColumn {
                path: file.clone(),
                column: name.clone(),
                available: column_names(&file).map(|c| c.join(",")).unwrap_or_default(),
            })?);
        }
        let n = present.first().map_or(0, Vec::len);
        rows.reserve(n * present.len());
        for i in 0..n {
            rows.extend(present.iter().map(|c| c[i] as f32));
        }
    }
    Ok(rows)
}

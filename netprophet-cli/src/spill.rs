//! Labelled rows kept on disk, for training and evaluating past memory
//! (`train --out-of-core`, `evaluate --protocol ... --out-of-core`):
//! features are written to an unnamed temporary file as each probe is
//! read, and read back in batches; only the labels and each probe's row
//! range stay in memory (a byte a row and a few words a probe).
//!
//! The file is created with `tempfile_in`, so it has no name and the
//! system removes it when the command ends, whether it succeeds, fails or
//! is killed. Rows kept in time order (what `train` without `--calibrate`
//! trains on) are first written probe by probe, each probe sorted, then
//! merged into a second file: the order is exactly the in-memory
//! `Dataset::sorted_by_time`, so the model is the same bit for bit.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use netprophet_boost::train::RowBatches;
use netprophet_boost::ModelError;
use netprophet_core::dataset::Dataset;

/// Rows read from the file at a time.
const CHUNK_ROWS: usize = 16_384;

/// Bytes of the read buffers of all probes together while merging.
const MERGE_BUFFER_BYTES: usize = 32 << 20;

/// A temporary rows file failed.
#[derive(Debug, thiserror::Error)]
#[error("temporary rows file in {}: {source}", dir.display())]
pub struct SpillError {
    dir: PathBuf,
    source: std::io::Error,
}

/// Labelled rows on disk: `f32` features, row-major, little-endian.
pub struct Spill {
    dir: PathBuf,
    file: File,
    /// The features' names, in file order.
    names: Vec<String>,
    width: usize,
    rows: usize,
    /// Label of each row.
    pub y: Vec<u8>,
    /// Runs of rows of one probe, in file order (probe-ordered rows only).
    blocks: Vec<(u64, Range<usize>)>,
    /// While rows are collected for the time-ordered file: each appended
    /// piece's rows, and their (time, probe) keys in a second file.
    keys: Option<(File, Vec<Range<usize>>)>,
}

impl Spill {
    /// An empty file in `dir` for rows of the features `names`; with
    /// `by_time`, rows are later merged into time order
    /// ([`Spill::into_time_order`]).
    pub fn new<S: AsRef<str>>(dir: &Path, names: &[S], by_time: bool) -> Result<Spill, SpillError> {
        let io = |source| SpillError {
            dir: dir.to_path_buf(),
            source,
        };
        let file = tempfile::tempfile_in(dir).map_err(io)?;
        let keys = if by_time {
            Some((tempfile::tempfile_in(dir).map_err(io)?, Vec::new()))
        } else {
            None
        };
        Ok(Spill {
            dir: dir.to_path_buf(),
            file,
            names: names.iter().map(|n| n.as_ref().to_string()).collect(),
            width: names.len(),
            rows: 0,
            y: Vec::new(),
            blocks: Vec::new(),
            keys,
        })
    }

    fn error(&self, source: std::io::Error) -> SpillError {
        SpillError {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Features per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The features' names, in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Runs of consecutive rows of one probe, in row order: for rows kept
    /// probe by probe (in time order, probes alternate nearly every row,
    /// so no runs are kept and this is empty).
    pub fn blocks(&self) -> &[(u64, Range<usize>)] {
        &self.blocks
    }

    /// Appends `d`'s rows (of this spill's width). For a time-ordered
    /// spill `d` must be sorted by (time, probe).
    pub fn append(&mut self, d: &Dataset) -> Result<(), SpillError> {
        let mut bytes = Vec::with_capacity(d.x.len() * 4);
        for v in &d.x {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.write_all(&bytes).map_err(|e| self.error(e))?;
        if let Some((keys, pieces)) = self.keys.as_mut() {
            let mut kb = Vec::with_capacity(d.len() * 16);
            for (t, p) in d.timestamps.iter().zip(&d.probe_ids) {
                kb.extend_from_slice(&t.to_le_bytes());
                kb.extend_from_slice(&p.to_le_bytes());
            }
            if let Err(e) = keys.write_all(&kb) {
                return Err(self.error(e));
            }
            pieces.push(self.rows..self.rows + d.len());
        }
        for (i, &p) in d.probe_ids.iter().enumerate() {
            push_block(&mut self.blocks, p, self.rows + i);
        }
        self.y.extend_from_slice(&d.y);
        self.rows += d.len();
        Ok(())
    }

    /// The rows merged into time order (then probe, then the order they
    /// were appended): a new file, the old one dropped.
    pub fn into_time_order(mut self) -> Result<Spill, SpillError> {
        let Some((mut keys, pieces)) = self.keys.take() else {
            return Ok(self);
        };
        let mut out = Spill::new(&self.dir, &self.names, false)?;
        let row_bytes = self.width * 4;
        let per_piece =
            (MERGE_BUFFER_BYTES / pieces.len().max(1) / (row_bytes + 16)).clamp(16, 4096);
        let mut cursors: Vec<Cursor> = pieces
            .into_iter()
            .map(|rows| Cursor {
                rows,
                x: Vec::new(),
                keys: Vec::new(),
                at: 0,
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            c.refill(&mut self.file, &mut keys, row_bytes, per_piece)
                .map_err(|e| self.error(e))?;
            if let Some(k) = c.key() {
                heap.push(Reverse((k, i)));
            }
        }
        let mut x = Vec::with_capacity(CHUNK_ROWS * row_bytes);
        let mut y = Vec::with_capacity(self.rows);
        while let Some(Reverse((_, i))) = heap.pop() {
            let c = &mut cursors[i];
            let row = c.rows.start + c.at;
            x.extend_from_slice(&c.x[c.at * row_bytes..(c.at + 1) * row_bytes]);
            y.push(self.y[row]);
            c.at += 1;
            if c.at * 16 == c.keys.len() {
                c.rows.start += c.at;
                c.refill(&mut self.file, &mut keys, row_bytes, per_piece)
                    .map_err(|e| self.error(e))?;
            }
            if let Some(k) = c.key() {
                heap.push(Reverse((k, i)));
            }
            if x.len() >= CHUNK_ROWS * row_bytes {
                out.file.write_all(&x).map_err(|e| self.error(e))?;
                x.clear();
            }
        }
        out.file.write_all(&x).map_err(|e| self.error(e))?;
        out.rows = y.len();
        out.y = y;
        Ok(out)
    }

    /// The columns `cols` of the rows `idx`, in that order, in batches.
    pub fn batches<'a>(&'a self, idx: &'a [u32], cols: &'a [usize]) -> SpillBatches<'a> {
        SpillBatches {
            spill: self,
            idx,
            cols,
        }
    }

    /// Calls `visit` with the columns `cols` of the rows `idx` in batches
    /// of whole rows, in that order, reading only the chunks of the file
    /// that hold some (once per ascending run of `idx`).
    pub fn for_each_batch<E: From<SpillError>>(
        &self,
        idx: &[u32],
        cols: &[usize],
        visit: &mut dyn FnMut(&[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        let outside =
            |what: String| self.error(std::io::Error::new(std::io::ErrorKind::InvalidInput, what));
        if let Some(&c) = cols.iter().find(|&&c| c >= self.width) {
            return Err(outside(format!(
                "column {c} of rows of {} features asked for",
                self.width
            ))
            .into());
        }
        let row_bytes = self.width * 4;
        let mut file = &self.file;
        let mut bytes = vec![0u8; CHUNK_ROWS * row_bytes];
        let mut batch: Vec<f32> = Vec::with_capacity(CHUNK_ROWS * cols.len());
        let mut rest = idx;
        while let Some(&first) = rest.first() {
            let first = first as usize;
            if first >= self.rows {
                return Err(outside(format!("row {first} of {} asked for", self.rows)).into());
            }
            let start = first - first % CHUNK_ROWS;
            let end = (start + CHUNK_ROWS).min(self.rows);
            // The rows from here that ascend within this chunk: a whole
            // run of a probe, or everything for ascending `idx`; any
            // order works, each step back costs a read.
            let mut take = 1;
            while take < rest.len() && rest[take] > rest[take - 1] && (rest[take] as usize) < end {
                take += 1;
            }
            let bytes = &mut bytes[..(end - start) * row_bytes];
            file.seek(SeekFrom::Start((start * row_bytes) as u64))
                .and_then(|_| file.read_exact(bytes))
                .map_err(|e| self.error(e))?;
            batch.clear();
            for &i in &rest[..take] {
                let row = &bytes[(i as usize - start) * row_bytes..][..row_bytes];
                batch.extend(cols.iter().map(|&c| {
                    let b = &row[c * 4..c * 4 + 4];
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
                }));
            }
            visit(&batch)?;
            rest = &rest[take..];
        }
        Ok(())
    }

    /// The columns `cols` of the rows `idx`, in that order, in memory.
    pub fn read_rows(&self, idx: &[u32], cols: &[usize]) -> Result<Vec<f32>, SpillError> {
        let mut x = Vec::with_capacity(idx.len() * cols.len());
        self.for_each_batch(idx, cols, &mut |b| {
            x.extend_from_slice(b);
            Ok::<(), SpillError>(())
        })?;
        Ok(x)
    }

    /// Every column's index, for reading whole rows.
    pub fn all_columns(&self) -> Vec<usize> {
        (0..self.width).collect()
    }
}

/// Extends the last run when `probe` continues it.
fn push_block(blocks: &mut Vec<(u64, Range<usize>)>, probe: u64, row: usize) {
    match blocks.last_mut() {
        Some((p, r)) if *p == probe && r.end == row => r.end = row + 1,
        _ => blocks.push((probe, row..row + 1)),
    }
}

/// One appended piece while merging: its rows not yet merged, and a
/// buffer of the next ones.
struct Cursor {
    rows: Range<usize>,
    x: Vec<u8>,
    keys: Vec<u8>,
    at: usize,
}

impl Cursor {
    /// Reads the next rows of the piece (none when it is done).
    fn refill(
        &mut self,
        x: &mut File,
        keys: &mut File,
        row_bytes: usize,
        rows: usize,
    ) -> std::io::Result<()> {
        let n = rows.min(self.rows.len());
        self.at = 0;
        self.x.resize(n * row_bytes, 0);
        self.keys.resize(n * 16, 0);
        if n > 0 {
            x.seek(SeekFrom::Start((self.rows.start * row_bytes) as u64))?;
            x.read_exact(&mut self.x)?;
            keys.seek(SeekFrom::Start((self.rows.start * 16) as u64))?;
            keys.read_exact(&mut self.keys)?;
        }
        Ok(())
    }

    fn word(&self, k: usize) -> [u8; 8] {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.keys[self.at * 16 + k * 8..self.at * 16 + k * 8 + 8]);
        w
    }

    /// The current row's (time, probe), when there is one.
    fn key(&self) -> Option<(i64, u64)> {
        (self.at * 16 < self.keys.len()).then(|| {
            (
                i64::from_le_bytes(self.word(0)),
                u64::from_le_bytes(self.word(1)),
            )
        })
    }
}

/// The rows of a [`Spill`] the trainer reads: a selection, in batches.
pub struct SpillBatches<'a> {
    spill: &'a Spill,
    idx: &'a [u32],
    cols: &'a [usize],
}

impl RowBatches for SpillBatches<'_> {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        self.spill.for_each_batch(self.idx, self.cols, visit)
    }
}

/// The file's errors reach the trainer as the source's own.
impl From<SpillError> for ModelError {
    fn from(e: SpillError) -> ModelError {
        ModelError::Batches(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(probe: u64, times: &[i64], width: usize) -> Dataset {
        let names: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
        let mut d = Dataset::new(&names);
        for (k, &t) in times.iter().enumerate() {
            for f in 0..width {
                d.x.push(if f == 1 && k % 3 == 0 {
                    f32::NAN
                } else {
                    (probe * 1000 + t as u64 * 10 + f as u64) as f32
                });
            }
            d.y.push(u8::from(t % 2 == 0));
            d.timestamps.push(t);
            d.probe_ids.push(probe);
            d.degraded_now.push(0);
        }
        d
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn merged_rows_are_the_in_memory_time_order() {
        let dir = tempfile::tempdir().unwrap();
        // Probes with equal times, a probe in two pieces, an empty piece.
        let pieces = [
            dataset(7, &[1, 2, 5, 9, 9], 3),
            dataset(3, &[0, 2, 2, 8], 3),
            dataset(7, &[10, 11], 3),
            dataset(5, &[], 3),
            dataset(1, &[2, 3, 4, 20, 21, 22], 3),
        ];
        let mut spill = Spill::new(dir.path(), &["f0", "f1", "f2"], true).unwrap();
        let mut all = Dataset::new(&["f0", "f1", "f2"]);
        for p in &pieces {
            spill.append(&p.sorted_by_time()).unwrap();
            all.append(p.clone()).unwrap();
        }
        let spill = spill.into_time_order().unwrap();
        let want = all.sorted_by_time();
        assert_eq!(spill.rows(), want.len());
        assert_eq!(spill.y, want.y);
        let idx: Vec<u32> = (0..spill.rows() as u32).collect();
        let all = spill.all_columns();
        assert_eq!(bits(&spill.read_rows(&idx, &all).unwrap()), bits(&want.x));
        // Some columns, in another order.
        let got = spill.read_rows(&idx, &[2, 0]).unwrap();
        let want_cols: Vec<f32> = (0..want.len())
            .flat_map(|i| [want.row(i)[2], want.row(i)[0]])
            .collect();
        assert_eq!(bits(&got), bits(&want_cols));
        assert!(spill.read_rows(&idx, &[3]).is_err());
        assert!(spill.blocks().is_empty());
        // A selection reads only its rows, across chunks, in its order.
        let some = [0u32, 4, 5, 16, 2, 3, 15, 1];
        let got = spill.read_rows(&some, &all).unwrap();
        let want_some: Vec<f32> = some
            .iter()
            .flat_map(|&i| want.row(i as usize).to_vec())
            .collect();
        assert_eq!(bits(&got), bits(&want_some));
    }

    #[test]
    fn many_rows_cross_chunks_and_merge_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), &["f0", "f1"], true).unwrap();
        let mut all = Dataset::new(&["f0", "f1"]);
        for probe in 0..5u64 {
            let times: Vec<i64> = (0..9000).map(|i| i * 3 + probe as i64 % 3).collect();
            let d = dataset(probe, &times, 2);
            spill.append(&d).unwrap();
            all.append(d).unwrap();
        }
        let spill = spill.into_time_order().unwrap();
        let want = all.sorted_by_time();
        let idx: Vec<u32> = (0..spill.rows() as u32).step_by(7).collect();
        let got = spill.read_rows(&idx, &spill.all_columns()).unwrap();
        let want_x: Vec<f32> = idx
            .iter()
            .flat_map(|&i| want.row(i as usize).to_vec())
            .collect();
        assert_eq!(bits(&got), bits(&want_x));
        assert_eq!(spill.y, want.y);
        // Runs in another order (probes of a cross-probe fold, shuffled).
        let runs: Vec<u32> = [(30_000u32..36_000), (0..9_000), (20_000..20_010)]
            .into_iter()
            .flatten()
            .collect();
        let got = spill.read_rows(&runs, &[1]).unwrap();
        let want_x: Vec<f32> = runs.iter().map(|&i| want.row(i as usize)[1]).collect();
        assert_eq!(bits(&got), bits(&want_x));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the pieces (repeated and interleaved probes, equal
        /// times, empty pieces), the merged file is the in-memory sort.
        #[test]
        fn any_pieces_merge_into_the_in_memory_order(
            pieces in proptest::collection::vec(
                (0u64..4, proptest::collection::vec(0i64..50, 0..40)),
                0..12,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut spill = Spill::new(dir.path(), &["f0", "f1"], true).unwrap();
            let mut all = Dataset::new(&["f0", "f1"]);
            for (k, (probe, times)) in pieces.iter().enumerate() {
                let mut d = dataset(*probe, times, 2);
                // Rows of equal (time, probe) in two pieces differ, so
                // the order of ties is checked too.
                for v in &mut d.x {
                    *v += (k * 100_000) as f32;
                }
                spill.append(&d.sorted_by_time()).unwrap();
                all.append(d).unwrap();
            }
            let spill = spill.into_time_order().unwrap();
            let want = all.sorted_by_time();
            proptest::prop_assert_eq!(&spill.y, &want.y);
            let idx: Vec<u32> = (0..spill.rows() as u32).collect();
            let got = spill.read_rows(&idx, &spill.all_columns()).unwrap();
            proptest::prop_assert_eq!(bits(&got), bits(&want.x));
        }
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = Spill::new(Path::new("/nonexistent/spill-dir"), &["f0", "f1"], false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("temporary rows file in /nonexistent/spill-dir:"),
            "{err}"
        );
    }
}

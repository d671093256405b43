//! Parquet feature tables against the feature CSV: the same rows bit for
//! bit (missing values as nulls), the same frames read back, and damaged
//! files refused with an error that names them.

use std::path::{Path, PathBuf};

use netprophet_core::atlas::{ArchiveReader, SampleFilter};
use netprophet_core::dataset::{
    parse_cell, read_minutes_csv, write_csv_rows_with, CsvLayout, DatasetError,
};
use netprophet_core::features::{FeatureConfig, FeatureFrame, ProbeCollector, RELATIVE};
use netprophet_core::labels::{label, LabelConfig, Labels, Target};
use netprophet_core::parquet::{read_columns, read_minutes_parquet, ParquetWriter};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("np-parquet-tables-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The generated day's five probes, framed and labelled (sustained
/// target, so some targets are missing at the ends), with the relative
/// columns.
fn frames() -> Vec<(FeatureFrame, Labels, Vec<Vec<f64>>)> {
    let archive =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/core/generated_24h.ndjson.gz");
    let mut probes = ProbeCollector::new();
    ArchiveReader::open(&archive)
        .unwrap()
        .samples(&SampleFilter::default(), |s| probes.extend(s))
        .unwrap();
    let config = LabelConfig::for_target(Target::Sustained);
    let mut out = Vec::new();
    for id in probes.probe_ids() {
        for frame in probes.probe_frames(id, FeatureConfig::default()) {
            let labels = label(&frame, config);
            let extra = frame.columns(&extra_names()).unwrap();
            out.push((frame, labels, extra));
        }
    }
    assert!(out.len() >= 5);
    out
}

/// The relative columns that are not among the eight.
fn extra_names() -> Vec<String> {
    RELATIVE
        .iter()
        .filter(|n| !netprophet_core::schema::FEATURE_COLUMNS.contains(n))
        .map(|s| s.to_string())
        .collect()
}

/// A frame's column as bit patterns, so NaNs compare equal.
fn column_bits(f: &FeatureFrame, name: &str) -> Vec<u64> {
    f.column(name)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn layout() -> CsvLayout {
    CsvLayout {
        labels: Some(Target::Sustained),
        probe: true,
        extra: extra_names(),
    }
}

fn write_both(name: &str) -> (PathBuf, PathBuf) {
    let csv_path = dir().join(format!("{name}.csv"));
    let pq_path = dir().join(format!("{name}.parquet"));
    let mut csv = format!("{}\n", layout().header().join(",")).into_bytes();
    let mut w = ParquetWriter::new(Vec::new(), layout(), &pq_path).unwrap();
    for (frame, labels, extra) in frames() {
        write_csv_rows_with(&mut csv, &frame, Some(&labels), true, &extra).unwrap();
        w.write_frame(&frame, Some(&labels), &extra).unwrap();
    }
    let (bytes, rows) = w.into_inner().unwrap();
    assert_eq!(
        rows as usize,
        csv.iter().filter(|&&b| b == b'\n').count() - 1
    );
    std::fs::write(&csv_path, csv).unwrap();
    std::fs::write(&pq_path, bytes).unwrap();
    (csv_path, pq_path)
}

#[test]
fn parquet_holds_the_csv_rows_bit_for_bit() {
    let (csv_path, pq_path) = write_both("same");
    let header = layout().header();
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let columns = read_columns(&pq_path, &names).unwrap();
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let (mut rows, mut missing) = (0, 0);
    for (i, record) in rdr.records().enumerate() {
        let record = record.unwrap();
        for (c, name) in names.iter().enumerate() {
            let text = &record[c];
            let ours = columns[c].as_ref().unwrap()[i];
            let theirs = if *name == "timestamp" {
                netprophet_core::time::parse_utc(text).unwrap() as f64
            } else {
                parse_cell(text).unwrap()
            };
            if theirs.is_nan() {
                missing += 1;
                assert!(ours.is_nan(), "row {i} {name}: {ours} for an empty cell");
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "row {i} {name}: {text}");
            }
        }
        rows += 1;
    }
    assert_eq!(columns[0].as_ref().unwrap().len(), rows);
    // Missing values are there to be kept: rolling columns at the start,
    // targets at the end of each probe.
    assert!(missing > 100, "{missing}");
}

#[test]
fn parquet_and_csv_read_back_as_the_same_frames() {
    let (csv_path, pq_path) = write_both("frames");
    let from_csv = read_minutes_csv(&csv_path).unwrap();
    let from_parquet = read_minutes_parquet(&pq_path, FeatureConfig::default()).unwrap();
    assert_eq!(from_csv.len(), from_parquet.len());
    for ((a, la), (b, lb)) in from_csv.iter().zip(&from_parquet) {
        assert_eq!(a.probe_id, b.probe_id);
        assert_eq!(a.timestamp, b.timestamp);
        assert_eq!(a.packet_count, b.packet_count);
        for name in ["avg_latency", "rolling_std", "zscore", "latency_change_5m"] {
            assert_eq!(column_bits(a, name), column_bits(b, name), "{name}");
        }
        // The sustained target is not the original one: neither file's
        // own labels are read as the original target's.
        assert_eq!(la.is_some(), lb.is_some());
    }
}

/// A damaged file is an error naming it, never a panic, whatever byte is
/// cut or flipped.
#[test]
fn damaged_parquet_is_an_error_naming_the_file() {
    let (_, pq_path) = write_both("damaged");
    let good = std::fs::read(&pq_path).unwrap();
    let bad_path = dir().join("bad.parquet");
    let check = |bytes: &[u8], what: &str| {
        std::fs::write(&bad_path, bytes).unwrap();
        let result = read_minutes_parquet(&bad_path, FeatureConfig::default());
        if let Err(e) = &result {
            let msg = e.to_string();
            assert!(msg.contains("bad.parquet"), "{what}: {msg}");
            assert!(!msg.contains('\n'), "{what}: one line: {msg}");
            assert!(
                !msg.contains("the reader failed"),
                "{what}: the parquet crate panicked: {msg}"
            );
        }
        result.is_err()
    };
    // Every cut is refused (the footer is at the end).
    let step = (good.len() / 97).max(1);
    for len in (0..good.len()).step_by(step) {
        assert!(
            check(&good[..len], &format!("cut at {len}")),
            "cut at {len}"
        );
    }
    // Flips in the footer and data pages: an error or, where the flipped
    // byte only changes a value, a table; never a panic.
    let mut refused = 0;
    let positions: Vec<usize> = (0..good.len())
        .step_by(step)
        .chain(good.len() - 200..good.len())
        .collect();
    for &at in &positions {
        let mut bytes = good.clone();
        bytes[at] ^= 0x5a;
        refused += usize::from(check(&bytes, &format!("flip at {at}")));
    }
    assert!(
        refused > positions.len() / 10,
        "{refused} of {}",
        positions.len()
    );
    std::fs::write(&bad_path, b"not parquet at all").unwrap();
    let err = read_minutes_parquet(&bad_path, FeatureConfig::default()).unwrap_err();
    assert!(matches!(err, DatasetError::Parquet { .. }), "{err}");
}

/// A table split over several files (by day and probe range) reads as the
/// one file does, whatever order the files come in.
#[test]
fn a_directory_reads_as_one_table() {
    let (_, pq_path) = write_both("whole");
    let split = dir().join("split");
    let _ = std::fs::remove_dir_all(&split);
    for (k, (frame, labels, extra)) in frames().iter().enumerate().rev() {
        let mid = frame.len() / 2;
        for (part, rows) in [(0, 0..mid), (1, mid..frame.len())] {
            let sub = split.join(format!("day={part}/probes={k}"));
            std::fs::create_dir_all(&sub).unwrap();
            let mut w = ParquetWriter::new(Vec::new(), layout(), "part").unwrap();
            w.write_rows(frame, Some(labels), extra, rows).unwrap();
            std::fs::write(sub.join("part.parquet"), w.into_inner().unwrap().0).unwrap();
        }
    }
    let whole = read_minutes_parquet(&pq_path, FeatureConfig::default()).unwrap();
    let parts = read_minutes_parquet(&split, FeatureConfig::default()).unwrap();
    assert_eq!(whole.len(), parts.len());
    for ((a, la), (b, lb)) in whole.iter().zip(&parts) {
        assert_eq!((a.probe_id, a.len()), (b.probe_id, b.len()));
        assert_eq!(a.timestamp, b.timestamp);
        for name in ["avg_latency", "jitter", "rolling_mean", "zscore"] {
            let (x, y) = (a.column(name).unwrap(), b.column(name).unwrap());
            let same = x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{name} of probe {:?}", a.probe_id);
        }
        assert_eq!(la, lb);
    }
    let err = read_minutes_parquet(&dir().join("nothing-here"), FeatureConfig::default());
    assert!(err.is_err());
}

/// A table larger than a row group, written in (probe, time) order, is
/// read a row group at a time (a probe's rows cross a group boundary);
/// the same rows with the probes in another order are sorted in memory.
/// Both give the same frames.
#[test]
fn sorted_tables_stream_by_row_group_and_read_as_unsorted_ones_do() {
    let base = frames();
    let copies = netprophet_core::parquet::ROW_GROUP_ROWS
        / base.iter().map(|f| f.0.len()).sum::<usize>()
        + 2;
    let mut all = Vec::new();
    for k in 0..copies as u64 {
        for (frame, labels, extra) in &base {
            let mut frame = frame.clone();
            // Probe ids stay below 1e9, so each copy sorts after the last.
            frame.probe_id = frame.probe_id.map(|p| p + 1_000_000_000 * (k + 1));
            all.push((frame, labels.clone(), extra.clone()));
        }
    }
    let write = |name: &str, order: &mut dyn Iterator<Item = usize>| {
        let path = dir().join(name);
        let mut w = ParquetWriter::new(Vec::new(), layout(), &path).unwrap();
        for i in order {
            let (frame, labels, extra) = &all[i];
            w.write_frame(frame, Some(labels), extra).unwrap();
        }
        std::fs::write(&path, w.into_inner().unwrap().0).unwrap();
        path
    };
    let sorted = write("sorted.parquet", &mut (0..all.len()));
    let shuffled = write(
        "shuffled.parquet",
        &mut (0..all.len()).map(|i| (i * 7 + 3) % all.len()),
    );
    let a = read_minutes_parquet(&sorted, FeatureConfig::default()).unwrap();
    let b = read_minutes_parquet(&shuffled, FeatureConfig::default()).unwrap();
    assert_eq!(a.len(), b.len());
    assert!(a.len() >= all.len());
    for ((fa, la), (fb, lb)) in a.iter().zip(&b) {
        assert_eq!((fa.probe_id, &fa.timestamp), (fb.probe_id, &fb.timestamp));
        for name in ["avg_latency", "rolling_std", "zscore"] {
            assert_eq!(column_bits(fa, name), column_bits(fb, name), "{name}");
        }
        assert_eq!(la, lb);
    }
}

/// A feature CSV is handed over a probe at a time, and the pieces are
/// the frames read all at once.
#[test]
fn a_feature_csv_streams_one_probe_at_a_time() {
    let (csv_path, _) = write_both("per-probe");
    let whole = read_minutes_csv(&csv_path).unwrap();
    let mut pieces: Vec<Vec<(FeatureFrame, Option<Labels>)>> = Vec::new();
    netprophet_core::dataset::for_each_probe_csv(&csv_path, FeatureConfig::default(), |f| {
        pieces.push(f);
        Ok::<(), DatasetError>(())
    })
    .unwrap();
    let mut probes: Vec<Option<u64>> = whole.iter().map(|f| f.0.probe_id).collect();
    probes.dedup();
    assert_eq!(pieces.len(), probes.len());
    for piece in &pieces {
        assert!(piece.iter().all(|f| f.0.probe_id == piece[0].0.probe_id));
    }
    let joined: Vec<_> = pieces.into_iter().flatten().collect();
    assert_eq!(joined.len(), whole.len());
    for ((a, la), (b, lb)) in joined.iter().zip(&whole) {
        assert_eq!((a.probe_id, &a.timestamp), (b.probe_id, &b.timestamp));
        assert_eq!(la, lb);
    }
}

//! The history features are the same numbers whichever way the minutes
//! arrive: built in batch from a real trace, streamed sample by sample as
//! the live refresh builds them, or read back from the feature CSV that
//! `netprophet features` writes.

use std::path::Path;

use netprophet_core::atlas::{Sample, SampleFilter};
use netprophet_core::dataset::{read_minutes_csv, write_csv_rows, CsvLayout};
use netprophet_core::features::{
    FeatureConfig, FeatureFrame, FeatureRow, ProbeCollector, StreamingFeatures,
};
use netprophet_core::history::ALL;
use netprophet_core::traces::{TraceColumns, TraceReader};

fn trace(name: &str) -> Vec<Sample> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/data/rtt-traces")
        .join(name);
    let mut samples = Vec::new();
    TraceReader::new(&path, TraceColumns::default())
        .read_file(&SampleFilter::default(), |s| samples.extend_from_slice(s))
        .unwrap();
    samples
}

fn history(rows: &[FeatureRow]) -> Vec<Vec<f64>> {
    let names: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    FeatureFrame::from_rows(Some(1), rows, FeatureConfig::default())
        .columns(&names)
        .unwrap()
}

fn bits(cols: &[Vec<f64>]) -> Vec<Vec<u64>> {
    cols.iter()
        .map(|c| {
            c.iter()
                .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
                .collect()
        })
        .collect()
}

#[test]
fn batch_streaming_and_feature_csv_agree_bit_for_bit() {
    // 11323: day-first dates, CRLF, 96 lost pings and a 24-minute gap.
    for name in ["11323.csv", "13746.csv"] {
        let samples = trace(name);
        let mut probes = ProbeCollector::new();
        probes.extend(&samples);
        let id = probes.probe_ids()[0];
        let frames = probes.probe_frames(id, FeatureConfig::default());
        let batch_rows: Vec<FeatureRow> = frames.iter().flat_map(|f| f.rows()).collect();
        // Per segment, as the batch path computes them.
        let names: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
        let mut batch: Vec<Vec<f64>> = vec![Vec::new(); ALL.len()];
        for f in &frames {
            for (all, col) in batch.iter_mut().zip(f.columns(&names).unwrap()) {
                all.extend(col);
            }
        }

        // Streamed sample by sample, as `refresh` builds minutes.
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut rows = Vec::new();
        for s in &samples {
            live.push(s.timestamp, s.rtt, &mut rows).unwrap();
        }
        live.close_through(batch_rows.last().unwrap().timestamp, &mut rows);
        assert_eq!(rows.len(), batch_rows.len(), "{name}");
        assert_eq!(bits(&history(&rows)), bits(&batch), "{name}: streaming");

        // Written as a feature CSV and read back, as `predict` does.
        let mut csv = CsvLayout::default().header().join(",");
        csv.push('\n');
        let mut body = Vec::new();
        for f in &frames {
            write_csv_rows(&mut body, f, None, false).unwrap();
        }
        csv.push_str(std::str::from_utf8(&body).unwrap());
        let dir = std::env::temp_dir().join(format!("np-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, csv).unwrap();
        let mut from_csv: Vec<Vec<f64>> = vec![Vec::new(); ALL.len()];
        for (frame, _) in read_minutes_csv(&path).unwrap() {
            for (all, col) in from_csv.iter_mut().zip(frame.columns(&names).unwrap()) {
                all.extend(col);
            }
        }
        assert_eq!(bits(&from_csv), bits(&batch), "{name}: feature CSV");
    }
}

#[test]
fn segments_restart_the_history_in_batch_and_streaming_alike() {
    // With a 10-minute fill limit the 24-minute gap of 11323 ends a
    // segment: both paths start every history feature afresh after it.
    let config = FeatureConfig::default().max_fill(10);
    let samples = trace("11323.csv");
    let mut probes = ProbeCollector::new();
    probes.extend(&samples);
    let frames = probes.probe_frames(probes.probe_ids()[0], config);
    assert_eq!(frames.len(), 2);
    let names: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    let mut batch: Vec<Vec<f64>> = vec![Vec::new(); ALL.len()];
    for f in &frames {
        for (all, col) in batch.iter_mut().zip(f.columns(&names).unwrap()) {
            all.extend(col);
        }
    }
    let mut live = StreamingFeatures::new(config);
    let mut rows = Vec::new();
    for s in &samples {
        live.push(s.timestamp, s.rtt, &mut rows).unwrap();
    }
    live.close_through(frames[1].timestamp.last().copied().unwrap(), &mut rows);
    let streamed = FeatureFrame::from_rows(Some(1), &rows, config)
        .columns(&names)
        .unwrap();
    assert_eq!(bits(&streamed), bits(&batch));
    // The first minute after the gap knows nothing of the day before it.
    let after = frames[0].len();
    let spikes = ALL.iter().position(|n| *n == "spikes_1440m").unwrap();
    assert_eq!(batch[spikes][after], 0.0);
}

//! Atlas results -> features, against the pandas reference pipeline
//! (`fixtures/pandas_pipeline.py`, outputs written by
//! `fixtures/generate_core_fixtures.py` with pinned pandas).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use netprophet_core::atlas::{ArchiveReader, Sample, SampleFilter, SkipReason};
use netprophet_core::features::{FeatureConfig, ProbeCollector, StreamingFeatures};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::rolling::BinStats;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read_csv(path: PathBuf) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut text = String::new();
    let file = std::fs::File::open(&path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .unwrap();
    } else {
        std::io::BufReader::new(file)
            .read_to_string(&mut text)
            .unwrap();
    }
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        f64::NAN
                    } else {
                        c.parse().unwrap()
                    }
                })
                .collect()
        })
        .collect();
    (header, rows)
}

fn close(a: f64, b: f64, worst: &mut f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    *worst = worst.max((a - b).abs());
    (a - b).abs() <= 1e-9
}

fn all_samples(path: PathBuf) -> (Vec<Sample>, netprophet_core::atlas::ParseStats) {
    let mut samples = vec![];
    let stats = ArchiveReader::open(path)
        .unwrap()
        .samples(&SampleFilter::default(), |s| samples.extend_from_slice(s))
        .unwrap();
    (samples, stats)
}

#[test]
fn real_firmware_variants_give_the_reference_samples() {
    let (samples, stats) = all_samples(fixtures().join("data/ping-firmware-variants.ndjson"));
    let (_, expected) = read_csv(fixtures().join("core/firmware_variants_samples.csv"));
    assert_eq!(samples.len(), expected.len());
    for (s, e) in samples.iter().zip(&expected) {
        assert_eq!(s.timestamp as f64, e[0]);
        assert_eq!(s.probe_id as f64, e[1]);
        assert_eq!(s.rtt.unwrap_or(f64::NAN).to_bits(), e[2].to_bits(), "{s:?}");
    }
    assert_eq!(stats.results, 15);
    assert_eq!(
        stats.count(SkipReason::AggregateOnly),
        2,
        "firmware 0 and 1"
    );
    assert_eq!(stats.count(SkipReason::Duplicate), 4);
    assert_eq!(stats.count(SkipReason::Timeout), 4);

    let mut bins: HashMap<(u64, i64), BinStats> = HashMap::new();
    for s in &samples {
        let bin = bins.entry((s.probe_id, s.timestamp / 60 * 60)).or_default();
        if let Some(rtt) = s.rtt {
            bin.push(rtt);
        }
    }
    let (_, minutes) = read_csv(fixtures().join("core/firmware_variants_minutes.csv"));
    let mut worst = 0.0;
    for m in &minutes {
        let b = bins[&(m[0] as u64, m[1] as i64)];
        for (ours, theirs) in [b.mean(), b.std(), b.min(), b.max(), b.count() as f64]
            .iter()
            .zip(&m[2..])
        {
            assert!(close(*ours, *theirs, &mut worst), "{m:?}");
        }
    }
    eprintln!("firmware variants: max abs error {worst:e}");
}

#[test]
fn generated_day_matches_pandas_features_and_labels() {
    let path = fixtures().join("core/generated_24h.ndjson.gz");
    let (samples, stats) = all_samples(path);
    assert_eq!(stats.count(SkipReason::Malformed), 2);
    let lines: Vec<u64> = stats.malformed.iter().map(|m| m.line).collect();
    assert_eq!(lines, vec![101, 1001]);
    assert_eq!(stats.count(SkipReason::Ipv6), 1);
    assert_eq!(stats.count(SkipReason::NotPing), 1);

    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("core/generated_24h_summary.json")).unwrap(),
    )
    .unwrap();
    let lost = samples.iter().filter(|s| s.rtt.is_none()).count();
    assert_eq!(stats.samples, summary["samples"].as_u64().unwrap());
    assert_eq!(lost as u64, summary["lost"].as_u64().unwrap());

    let mut probes = ProbeCollector::new();
    probes.extend(&samples);
    assert_eq!(probes.most_active(), summary["most_active"].as_u64());
    let frames = probes.frames(FeatureConfig::default());

    let (header, expected) = read_csv(fixtures().join("core/generated_24h_features.csv.gz"));
    assert_eq!(header[..2], ["probe_id", "timestamp"]);
    let mut rows = vec![];
    for f in &frames {
        let l = label(f, LabelConfig::default());
        for (i, r) in f.rows().enumerate() {
            let mut v = vec![f.probe_id.unwrap() as f64, r.timestamp as f64];
            for name in &header[2..10] {
                v.push(r.get(name).unwrap());
            }
            v.push(l.threshold[i]);
            v.push(f64::from(u8::from(l.is_degraded[i])));
            v.push(l.target[i].map_or(f64::NAN, |t| f64::from(u8::from(t))));
            rows.push(v);
        }
    }
    assert_eq!(rows.len(), expected.len());
    assert_eq!(rows.len() as u64, summary["rows"].as_u64().unwrap());
    let mut worst = 0.0;
    for (ours, theirs) in rows.iter().zip(&expected) {
        for (c, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                close(*a, *b, &mut worst),
                "{} at {:?}: {a} vs {b}",
                header[c],
                &ours[..2]
            );
        }
    }
    let positives = rows.iter().filter(|r| r[12] == 1.0).count();
    assert_eq!(positives as u64, summary["positives"].as_u64().unwrap());
    eprintln!(
        "generated day: {} rows, max abs error {worst:e}",
        rows.len()
    );

    // The 3 h outage of one probe is longer than the forward-fill limit:
    // its rows come as two segments, as pandas' do.
    assert_eq!(frames.len(), probes.probe_ids().len() + 1);

    // The streaming builder gives the same rows, bit for bit, segments
    // included.
    for id in probes.probe_ids() {
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut out = vec![];
        let mut mine: Vec<&Sample> = samples.iter().filter(|s| s.probe_id == id).collect();
        mine.sort_by_key(|s| s.timestamp);
        for s in mine {
            live.push(s.timestamp, s.rtt, &mut out).unwrap();
        }
        let batch: Vec<_> = frames
            .iter()
            .filter(|f| f.probe_id == Some(id))
            .flat_map(|f| f.rows())
            .collect();
        live.close_through(batch.last().unwrap().timestamp, &mut out);
        assert_eq!(out.len(), batch.len());
        for (a, b) in out.iter().zip(&batch) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "probe {id}");
        }
    }
}

#[test]
fn streaming_equals_batch_on_real_results() {
    // The real firmware-variant results: probe 165 measured in 2012 and
    // 2013, months apart: one segment per result, not months of
    // forward-filled minutes.
    let (samples, _) = all_samples(fixtures().join("data/ping-firmware-variants.ndjson"));
    let mut probes = ProbeCollector::new();
    probes.extend(&samples);
    for id in probes.probe_ids() {
        let frames = probes.probe_frames(id, FeatureConfig::default());
        let frame = netprophet_core::features::FeatureFrame::from_rows(
            Some(id),
            &frames.iter().flat_map(|f| f.rows()).collect::<Vec<_>>(),
            FeatureConfig::default(),
        );
        let mut mine: Vec<&Sample> = samples.iter().filter(|s| s.probe_id == id).collect();
        mine.sort_by_key(|s| s.timestamp);
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut rows = Vec::new();
        for s in mine {
            live.push(s.timestamp, s.rtt, &mut rows).unwrap();
        }
        live.close_through(*frame.timestamp.last().unwrap(), &mut rows);
        assert_eq!(rows.len(), frame.len(), "probe {id}");
        for (i, r) in rows.iter().enumerate() {
            assert!(same_row(r, &frame.row(i)), "probe {id} row {i}");
        }
        // And bin by bin, as the live refresh feeds it.
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut by_bin = Vec::new();
        for (minute, bin) in probes.probe(id).unwrap().bins() {
            live.push_bin(minute, bin, &mut by_bin).unwrap();
        }
        live.close_through(*frame.timestamp.last().unwrap(), &mut by_bin);
        assert_eq!(by_bin.len(), rows.len());
        assert!(
            by_bin.iter().zip(&rows).all(|(a, b)| same_row(a, b)),
            "probe {id} by bin"
        );
    }
}

/// Bit-for-bit equality of two rows (NaN equals NaN).
fn same_row(
    a: &netprophet_core::features::FeatureRow,
    b: &netprophet_core::features::FeatureRow,
) -> bool {
    let bits = |r: &netprophet_core::features::FeatureRow| {
        [
            r.avg_latency,
            r.jitter,
            r.rtt_min,
            r.rtt_max,
            r.latency_change_5m,
            r.rolling_mean,
            r.rolling_std,
            r.minutes_since_sample,
        ]
        .map(f64::to_bits)
    };
    a.timestamp == b.timestamp
        && a.packet_count == b.packet_count
        && a.lost == b.lost
        && bits(a) == bits(b)
}

//! The parser never panics, and feature invariants hold, on arbitrary and
//! mutated input.

use netprophet_core::atlas::{parse_result, ArchiveReader, ParseOutcome, SampleFilter};
use netprophet_core::features::{FeatureConfig, FeatureFrame, ProbeBins, StreamingFeatures};
use proptest::prelude::*;

const REAL: &str = include_str!("../../fixtures/data/ping-firmware-variants.ndjson");

fn real_lines() -> Vec<&'static str> {
    REAL.lines().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_result(&bytes);
        let mut reader = ArchiveReader::from_reader("fuzz", std::io::Cursor::new(bytes));
        let _ = reader.samples(&SampleFilter::default(), |_| {});
    }

    #[test]
    fn mutated_real_lines_never_panic(
        line in 0usize..15,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = real_lines()[line].as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let keep = cut.index(bytes.len() + 1);
        match parse_result(&bytes[..keep]) {
            Ok(r) => {
                // Whatever parsed must be usable downstream.
                let mut stats = Default::default();
                let mut out = vec![];
                SampleFilter::default().samples(&r, &mut stats, &mut out);
                for s in out {
                    if let Some(rtt) = s.rtt {
                        prop_assert!(rtt.is_finite() && rtt >= 0.0);
                    }
                }
            }
            Err(ParseOutcome::Error(e)) => prop_assert!(!e.to_string().is_empty()),
            Err(ParseOutcome::Skip(_)) => {}
        }
    }

    #[test]
    fn feature_invariants_and_streaming_equals_batch(
        samples in proptest::collection::vec((0i64..4 * 3600, proptest::option::weighted(0.85, 0.1f64..500.0)), 1..300),
    ) {
        let mut sorted = samples;
        sorted.sort_by_key(|s| s.0);
        let mut bins = ProbeBins::default();
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut rows = vec![];
        for &(t, rtt) in &sorted {
            bins.push(t, rtt);
            live.push(t, rtt, &mut rows).unwrap();
        }
        let frame = FeatureFrame::from_bins(Some(1), bins.bins(), FeatureConfig::default());
        live.close_through(*frame.timestamp.last().unwrap(), &mut rows);
        prop_assert_eq!(rows.len(), frame.len());
        let replies = sorted.iter().filter(|s| s.1.is_some()).count() as u32;
        prop_assert_eq!(frame.packet_count.iter().sum::<u32>(), replies);
        prop_assert_eq!(
            frame.lost.iter().sum::<u32>() as usize,
            sorted.len() - replies as usize
        );
        for (i, r) in frame.rows().enumerate() {
            prop_assert_eq!(format!("{:?}", r), format!("{:?}", rows[i]));
            if !r.avg_latency.is_nan() {
                prop_assert!(r.rtt_min <= r.avg_latency + 1e-9 && r.avg_latency <= r.rtt_max + 1e-9);
                prop_assert!(r.rolling_std.is_nan() || r.rolling_std >= 0.0);
                prop_assert!(r.jitter.is_nan() || r.jitter >= 0.0);
            }
            if i > 0 {
                prop_assert_eq!(r.timestamp - frame.timestamp[i - 1], 60);
            }
        }
    }
}

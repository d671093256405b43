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
        let frames = FeatureFrame::from_bins(Some(1), &bins.bins(), FeatureConfig::default());
        let all: Vec<_> = frames.iter().flat_map(|f| f.rows()).collect();
        let frame = FeatureFrame::from_rows(Some(1), &all, FeatureConfig::default());
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
                // Consecutive minutes, or a new segment after a gap longer
                // than the forward-fill limit.
                let step = r.timestamp - frame.timestamp[i - 1];
                let max_fill = FeatureConfig::default().max_fill as i64;
                prop_assert!(step == 60 || step > (max_fill + 1) * 60, "step {}", step);
            }
        }
        // No more than max_fill invented minutes in a row.
        let mut empty = 0;
        for r in frame.rows() {
            empty = if r.packet_count + r.lost == 0 { empty + 1 } else { 0 };
            prop_assert!(empty <= FeatureConfig::default().max_fill);
        }
    }
}

fn same(
    a: &Result<netprophet_core::atlas::PingResult, ParseOutcome>,
    b: &Result<netprophet_core::atlas::PingResult, ParseOutcome>,
) -> bool {
    // Reply(NaN) never comes from the fast path, so Debug equality is exact
    // enough, and error messages must agree too.
    format!("{a:?}") == format!("{b:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn fast_path_agrees_with_serde_on_mutated_lines(
        line in 0usize..15,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"{}[]:,\"\\ 0123456789.-eE+nulltrfax*".to_vec())), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = real_lines()[line].as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let keep = bytes.len() - cut.index(bytes.len() / 8 + 1);
        let bytes = &bytes[..keep];
        let fast = parse_result(bytes);
        let slow = netprophet_core::atlas::result::parse_with_serde(bytes);
        prop_assert!(same(&fast, &slow), "{}\nfast {:?}\nserde {:?}", String::from_utf8_lossy(bytes), fast, slow);
    }

    #[test]
    fn fast_path_agrees_with_serde_on_generated_results(
        prb in prop_oneof![Just("6001".to_string()), Just("\"6001\"".to_string()), Just("null".to_string()), Just("-3".to_string()), Just("1.5e3".to_string())],
        kind in prop_oneof![Just(None), Just(Some("\"ping\"")), Just(Some("\"traceroute\"")), Just(Some("7"))],
        packets in proptest::collection::vec(prop_oneof![
            Just(r#"{"rtt":7.78}"#), Just(r#"{"x":"*"}"#), Just(r#"{"error":"boom"}"#),
            Just(r#"{"rtt":1.5,"dup":1}"#), Just(r#"{"rtt":2,"late":3}"#), Just(r#"{"rtt":"3.25"}"#),
            Just(r#"{"rtt":null}"#), Just(r#"{"dup":null,"rtt":4}"#), Just(r#"{"rtt":1,"rtt":2}"#),
            Just(r#"{"srcaddr":"10.0.0.1","x":"*"}"#), Just(r#"{"rtt":1e999}"#), Just("5"),
        ], 0..5),
        extra in prop_oneof![Just(""), Just(r#","af":6"#), Just(r#","dst_addr":"2001:db8::1""#), Just(r#","addr":"10.0.0.1","af":4"#), Just(r#","x":{"a":[1,{"b":null}]}"#), Just(r#","timestamp":9"#), Just(r#","prb\u005fid":1"#)],
    ) {
        let mut json = format!(r#"{{"prb_id":{prb},"timestamp":1770595200,"result":[{}]{extra}"#, packets.join(","));
        if let Some(k) = kind {
            json.push_str(&format!(r#","type":{k}"#));
        }
        json.push('}');
        let fast = parse_result(json.as_bytes());
        let slow = netprophet_core::atlas::result::parse_with_serde(json.as_bytes());
        prop_assert!(same(&fast, &slow), "{}\nfast {:?}\nserde {:?}", json, fast, slow);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The API's JSON array form gives exactly what the same objects give
    /// one per line, whatever the whitespace and however blocks fall.
    #[test]
    fn json_array_equals_ndjson(
        picks in proptest::collection::vec(0usize..15, 0..60),
        spaces in proptest::collection::vec(prop::sample::select(vec!["", " ", "\n", " \n\t"]), 0..60),
        tricky in any::<bool>(),
    ) {
        let lines = real_lines();
        let mut objs: Vec<String> = picks.iter().map(|&i| lines[i].to_string()).collect();
        if tricky {
            // Brackets, commas and escaped quotes inside strings.
            objs.push(r#"{"prb_id":9,"timestamp":120,"name":"a],[b\"c{","result":[{"rtt":1.5},{"error":"x,]"}]}"#.to_string());
        }
        let sp = |i: usize| spaces.get(i % spaces.len().max(1)).copied().unwrap_or("");
        let mut array = String::from("[");
        for (i, o) in objs.iter().enumerate() {
            if i > 0 {
                array.push(',');
            }
            array.push_str(sp(i));
            array.push_str(o);
            array.push_str(sp(i + 1));
        }
        array.push(']');
        let ndjson = objs.join("\n");
        let collect = |text: String| {
            let mut got = vec![];
            let stats = ArchiveReader::from_reader("x", std::io::Cursor::new(text.into_bytes()))
                .for_each_result(|r| got.push(format!("{r:?}")))
                .unwrap();
            (got, stats.results)
        };
        let (a, na) = collect(array);
        let (b, nb) = collect(ndjson);
        prop_assert_eq!(a, b);
        prop_assert_eq!(na, nb);
    }
}

#[test]
fn broken_arrays_are_errors_with_a_position() {
    for (text, want) in [
        (
            r#"[{"prb_id":1,"timestamp":60,"result":[{"rtt":1}]}"#,
            "truncated",
        ),
        (r#"[{"prb_id":1,"timestamp":60}] x"#, "trailing characters"),
        (
            r#"[{"prb_id":1,"timestamp":60},,{"prb_id":2,"timestamp":60}]"#,
            "an empty element",
        ),
        (r#"[{"prb_id":1,"timestamp":60}]]"#, "trailing characters"),
    ] {
        let err =
            ArchiveReader::from_reader("bad.json", std::io::Cursor::new(text.as_bytes().to_vec()))
                .for_each_result(|_| {})
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("bad.json: the JSON array is malformed at line 1"),
            "{err}"
        );
        assert!(err.contains(want), "{text}: {err}");
    }
}

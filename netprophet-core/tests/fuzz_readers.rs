//! Generated-input properties for the Atlas readers (NDJSON, gzip, JSON
//! arrays, block boundaries, over-long results), the result parser and
//! the feature-CSV reader. None may panic, run longer than the watchdog's
//! limit or take the process past its memory limit; reading with any
//! block size (and compressed or not) must give what the default gives.
//!
//! `cargo test` runs a few hundred cases per property; CI runs them in
//! release with `NETPROPHET_FUZZ_SCALE` raised (see `.ci/run`).

#[path = "support/watchdog.rs"]
mod watchdog;

use std::io::Write;

use netprophet_core::atlas::{parse_result, ArchiveReader, ParseStats, PingResult, ReadError};
use proptest::prelude::*;
use watchdog::{case, run};

const REAL: &str = include_str!("../../fixtures/data/ping-firmware-variants.ndjson");

fn real_lines() -> Vec<&'static str> {
    REAL.lines().collect()
}

/// One record of a generated archive.
fn record() -> impl Strategy<Value = Vec<u8>> {
    let lines = real_lines();
    let n = lines.len();
    let real = (0..n).prop_map(move |i| real_lines()[i].as_bytes().to_vec());
    let mutated = (
        0..n,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut b = real_lines()[i].as_bytes().to_vec();
            for (at, v) in edits {
                let k = at.index(b.len());
                b[k] = v;
            }
            let keep = cut.index(b.len() + 1);
            b.truncate(keep);
            b
        });
    let padded = (0..n, 0usize..3000).prop_map(|(i, pad)| {
        let line = real_lines()[i];
        // An unused field of any length: a valid result of any size.
        format!("{{\"pad\":\"{}\",{}", "p".repeat(pad), &line[1..]).into_bytes()
    });
    let _ = lines;
    prop_oneof![
        4 => real,
        3 => mutated,
        2 => padded,
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(Vec::new()),
        1 => Just(b"   \t ".to_vec()),
        1 => Just(b"[1, {\"prb_id\": 3}]".to_vec()),
    ]
}

/// Probe, timestamp and packets of every result, and the stats.
type Outcome = Result<(Vec<(u64, i64, usize)>, ParseStats), String>;

fn read(bytes: Vec<u8>, limits: Option<(usize, usize)>) -> Outcome {
    let mut reader = ArchiveReader::from_reader("fuzz", std::io::Cursor::new(bytes));
    if let Some((block, max)) = limits {
        reader = reader.with_limits(block, max);
    }
    let mut got = Vec::new();
    reader
        .for_each_result(|r: PingResult| got.push((r.probe_id, r.timestamp, r.packets.len())))
        .map(|stats| (got, stats))
        .map_err(|e: ReadError| match e {
            // Where a structural error is noticed depends on the block.
            ReadError::Array { message, .. } => format!("array: {message}"),
            other => other.to_string(),
        })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn ndjson_reads_the_same_whatever_the_block_and_compression() {
    let strategy = (
        prop::collection::vec(record(), 0..12),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        1usize..700,
    );
    run(
        "ndjson",
        400,
        strategy,
        |(records, crlf, bom, compress, block)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            for r in &records {
                bytes.extend_from_slice(r);
                bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            // Plain text that opens with the gzip magic is read as gzip
            // (the reader decides by the first two bytes), so it has no
            // plain reading to compare with.
            prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
            // A bound that some padded records pass and most do not.
            let max = 2500;
            let input = if compress {
                gzip(&bytes)
            } else {
                bytes.clone()
            };
            let (small, whole) = case("ndjson", &bytes, || {
                (
                    read(input, Some((block, max))),
                    read(bytes.clone(), Some((1 << 20, max))),
                )
            });
            prop_assert_eq!(small, whole);
            Ok(())
        },
    );
}

#[test]
fn arrays_read_the_same_whatever_the_block_and_as_ndjson() {
    let strategy = (
        prop::collection::vec(record(), 0..10),
        prop::sample::select(vec!["", " ", "\n", "\r\n  "]),
        1usize..500,
        any::<bool>(),
    );
    run("array", 300, strategy, |(records, ws, block, compress)| {
        // Only records that are JSON values can be array elements; an
        // array as a line is a whole API page, as an element one result.
        let elements: Vec<&Vec<u8>> = records
            .iter()
            .filter(|r| serde_json::from_slice::<serde_json::Value>(r).is_ok_and(|v| !v.is_array()))
            .collect();
        let mut array = b"[".to_vec();
        let mut ndjson = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(ws.as_bytes());
            array.extend_from_slice(e);
            ndjson.extend_from_slice(e);
            ndjson.push(b'\n');
        }
        array.extend_from_slice(ws.as_bytes());
        array.push(b']');
        let max = 2500;
        let input = if compress {
            gzip(&array)
        } else {
            array.clone()
        };
        let (small, whole, lines) = case("array", &array, || {
            (
                read(input, Some((block, max))),
                read(array.clone(), Some((1 << 20, max))),
                read(ndjson.clone(), Some((1 << 20, max))),
            )
        });
        prop_assert_eq!(&small, &whole);
        // A result is the same whether it came as an element or a line
        // (an over-long one fails the array but is skipped as a line). An
        // element with a newline between its tokens is valid JSON in an
        // array (pretty-printed) but two broken lines as NDJSON, so only
        // one-line elements are compared.
        let one_line = elements.iter().all(|e| !e.contains(&b'\n'));
        if let (true, Ok((a, sa)), Ok((b, sb))) = (one_line, &whole, &lines) {
            prop_assert_eq!(a, b);
            prop_assert_eq!(sa.results, sb.results);
            prop_assert_eq!(sa.samples, sb.samples);
        }
        Ok(())
    });
}

#[test]
fn mutated_and_cut_arrays_never_panic_or_hang() {
    let strategy = (
        prop::collection::vec(record(), 1..6),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        1usize..300,
    );
    run(
        "array-mutated",
        300,
        strategy,
        |(records, edits, cut, block)| {
            let mut array = b"[".to_vec();
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    array.push(b',');
                }
                array.extend_from_slice(r);
            }
            array.push(b']');
            for (at, v) in edits {
                let k = at.index(array.len());
                array[k] = v;
            }
            array.truncate(cut.index(array.len() + 1).max(1));
            case("array-mutated", &array, || {
                let _ = read(array.clone(), Some((block, 1000)));
            });
            Ok(())
        },
    );
}

#[test]
fn arbitrary_bytes_and_gzip_never_panic() {
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..600),
        any::<bool>(),
        1usize..64,
    );
    run("bytes", 300, strategy, |(bytes, compress, block)| {
        let input = if compress {
            gzip(&bytes)
        } else {
            bytes.clone()
        };
        case("bytes", &bytes, || {
            let _ = parse_result(&bytes);
            let _ = read(input, Some((block, 100)));
        });
        Ok(())
    });
}

#[test]
fn truncated_gzip_is_an_error_not_a_panic() {
    let strategy = (
        prop::collection::vec(record(), 1..6),
        any::<prop::sample::Index>(),
    );
    run("gzip-cut", 200, strategy, |(records, cut)| {
        let text: Vec<u8> = records.join(&b'\n');
        let z = gzip(&text);
        let k = cut.index(z.len());
        case("gzip-cut", &z[..k], || {
            let _ = read(z[..k].to_vec(), Some((64, 4096)));
        });
        Ok(())
    });
}

#[test]
fn parse_result_agrees_with_itself_on_mutations() {
    let strategy = record();
    run("parse", 400, strategy, |bytes| {
        let a = case("parse", &bytes, || parse_result(&bytes));
        // Parsing is a pure function of the bytes.
        prop_assert_eq!(a, parse_result(&bytes));
        Ok(())
    });
}

/// The first lines of the real training CSV, as a base for mutations.
fn csv_base() -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/data/training_data.csv"
    ))
    .unwrap();
    text.lines()
        .take(25)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

#[test]
fn the_feature_csv_reader_never_panics() {
    let base = csv_base();
    let dir = std::env::temp_dir().join(format!("np-fuzz-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rows.csv");
    let cells = prop::sample::select(vec![
        "",
        "nan",
        "NA",
        "0",
        "1",
        "2",
        "-1",
        "1e308",
        "-inf",
        "x",
        "2026-02-09 07:21:00",
        ",",
        "\"",
        "\n",
    ]);
    let strategy = (
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..5),
        prop::collection::vec((any::<prop::sample::Index>(), cells), 0..4),
        any::<prop::sample::Index>(),
    );
    run("csv", 150, strategy, |(edits, inserts, cut)| {
        let mut bytes = base.clone();
        for (at, s) in inserts {
            let k = at.index(bytes.len());
            bytes.splice(k..k, s.bytes());
        }
        for (at, v) in edits {
            let k = at.index(bytes.len());
            bytes[k] = v;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        std::fs::write(&path, &bytes).unwrap();
        case("csv", &bytes, || {
            if let Ok(frames) = netprophet_core::dataset::read_minutes_csv(&path) {
                for (frame, labels) in frames {
                    let _ = frame.len();
                    if let Some(l) = labels {
                        prop_assert_eq!(l.is_degraded.len(), frame.len());
                    }
                }
            }
            Ok(())
        })?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first lines of two real RTT traces (both date forms, CRLF), as
/// bases for mutations.
fn trace_bases() -> Vec<Vec<u8>> {
    ["17783.csv", "11323.csv"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(format!(
                "{}/../fixtures/data/rtt-traces/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            bytes[..bytes.len().min(2000)].to_vec()
        })
        .collect()
}

#[test]
fn the_rtt_trace_reader_never_panics_and_names_the_line() {
    use netprophet_core::atlas::SampleFilter;
    use netprophet_core::traces::{TraceColumns, TraceReader};
    let bases = trace_bases();
    let pieces = prop::sample::select(vec![
        "",
        ";",
        ",",
        "\t",
        "\r\n",
        "\n",
        "-3",
        "1e308",
        "nan",
        "inf",
        "\u{feff}",
        "\"",
        "31/02/2016 00:00",
        "2016-13-01 00:00:00",
        "99999999999999",
        "epoch;rtt",
    ]);
    let strategy = (
        0usize..2,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..5),
        prop::collection::vec((any::<prop::sample::Index>(), pieces), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    run(
        "trace",
        200,
        strategy,
        |(which, edits, inserts, cut, compress)| {
            let mut bytes = bases[which].clone();
            for (at, s) in inserts {
                let k = at.index(bytes.len());
                bytes.splice(k..k, s.bytes());
            }
            for (at, b) in edits {
                let k = at.index(bytes.len());
                bytes[k] = b;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let input = if compress {
                gzip(&bytes)
            } else {
                bytes.clone()
            };
            let result = case("trace", &bytes, || {
                let reader = TraceReader::new("6001.csv", TraceColumns::default());
                if compress {
                    reader.read(
                        flate2::read::MultiGzDecoder::new(&input[..]),
                        &SampleFilter::default(),
                        |_| {},
                    )
                } else {
                    reader.read(&input[..], &SampleFilter::default(), |_| {})
                }
            });
            if let Err(e) = result {
                // Every error names the input; a line error names the line.
                let text = e.to_string();
                prop_assert!(text.starts_with("6001.csv: "), "{}", text);
            }
            Ok(())
        },
    );
}

/// Found by the fuzzer: a result with a newline between two of its
/// tokens is one valid element of a (pretty-printed) array, read whole at
/// any block size, but two broken lines as NDJSON, which are skipped,
/// never a panic or an error.
#[test]
fn a_result_broken_over_two_lines_is_an_array_element_but_not_a_line() {
    let line = real_lines()
        .into_iter()
        .find(|l| l.contains("\"max\":"))
        .unwrap();
    let broken = line.replacen("\"max\":", "\"max\":\n", 1);
    let array = format!("[\n{broken}\n]").into_bytes();
    let (whole, _) = read(array.clone(), None).unwrap();
    assert_eq!(whole.len(), 1);
    for block in [1, 7, 64, 4096] {
        let (got, _) = read(array.clone(), Some((block, 1 << 20))).unwrap();
        assert_eq!(got, whole, "block {block}");
    }
    let (lines, stats) = read(format!("{broken}\n").into_bytes(), None).unwrap();
    assert!(lines.is_empty());
    // Two lines seen, both malformed, none used.
    assert_eq!((stats.results, stats.used_results), (2, 0));
    assert_eq!(
        stats.count(netprophet_core::atlas::SkipReason::Malformed),
        2
    );
}

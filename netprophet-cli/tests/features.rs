//! `netprophet features` end to end on the generated Atlas-format day,
//! against the pandas reference output.

mod common;

use std::io::Read;

use common::{fixtures, netprophet, s, stderr, tmp};

fn pandas_rows(probe: &str) -> Vec<Vec<String>> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(fixtures().join("core/generated_24h_features.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r[0] == probe)
        .collect()
}

fn num(v: &str) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.parse().unwrap()
    }
}

#[test]
fn most_active_probe_with_labels_matches_pandas() {
    let out_path = tmp("features.csv");
    let archive = fixtures().join("core/generated_24h.ndjson.gz");
    let out = netprophet(&[
        "features",
        "--input",
        s(&archive),
        "--output",
        s(&out_path),
        "--labels",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("skipped: malformed 2"), "{err}");
    assert!(err.contains("first malformed input at line 101"), "{err}");
    assert!(err.contains("(6004)"), "the most active probe: {err}");

    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "timestamp,avg_latency,jitter,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std,threshold,is_degraded,target_5m_degraded"
    );
    let ours: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let theirs = pandas_rows("6004");
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(&theirs) {
        let ts = netprophet_core::time::parse_utc(o[0]).unwrap();
        assert_eq!(ts.to_string(), t[1]);
        for c in 1..12 {
            let (a, b) = (num(o[c]), num(&t[c + 1]));
            assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "{} col {c}: {a} vs {b}",
                o[0]
            );
        }
    }
}

#[test]
fn all_probes_carry_a_probe_column() {
    let archive = fixtures().join("core/generated_24h.ndjson.gz");
    let out = netprophet(&["features", "--input", s(&archive), "--all", "--output", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",probe_id"));
    // As many rows as the pandas reference writes (its 3 h outage is a
    // gap between two segments, not 180 forward-filled minutes).
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("core/generated_24h_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        text.lines().count() as u64,
        summary["rows"].as_u64().unwrap() + 1
    );
}

#[test]
fn bad_inputs_fail_clearly_and_keep_the_last_good_output() {
    // A folder of its own: the check for leftover temporary files below
    // must not see another test's output being written beside it.
    let out_path = tmp("kept").join("kept.csv");
    std::fs::create_dir_all(out_path.parent().unwrap()).unwrap();
    std::fs::write(&out_path, "last good\n").unwrap();
    let archive = fixtures().join("core/generated_24h.ndjson.gz");
    let cut = tmp("cut.ndjson.gz");
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    let out = netprophet(&["features", "--input", s(&cut), "--output", s(&out_path)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("netprophet: error: "), "{err}");
    assert!(
        err.contains("cut.ndjson.gz: truncated or corrupt gzip data"),
        "{err}"
    );

    let out = netprophet(&[
        "features",
        "--input",
        s(&archive),
        "--probe",
        "42",
        "--output",
        s(&out_path),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no usable ping sample"),
        "{}",
        stderr(&out)
    );

    let empty = tmp("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let out = netprophet(&["features", "--input", s(&empty), "--output", s(&out_path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no usable ping sample in 0 results"),
        "{}",
        stderr(&out)
    );

    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "last good\n");
    let leftovers: Vec<_> = std::fs::read_dir(out_path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left behind");
}

//! Archives built to break the readers: lines and elements longer than a
//! read block or than any result, byte order marks, absurd rtts. Each read
//! runs under a deadline, so a hang fails the test instead of stalling it.

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use netprophet_core::atlas::{
    for_each_element, read_stream, ArchiveReader, ParseStats, ReadError, SampleFilter, SkipReason,
    MAX_ELEMENT_BYTES,
};

const GOOD: &str = r#"{"prb_id":7,"timestamp":60,"result":[{"rtt":1.5},{"x":"*"}]}"#;

/// Runs `f` on another thread and fails if it takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the reader did not finish in time (hang)")
}

fn read_bytes(name: &str, bytes: Vec<u8>) -> Result<(Vec<u64>, ParseStats), ReadError> {
    let name = name.to_string();
    within(60, move || {
        let mut probes = Vec::new();
        let stats = ArchiveReader::from_reader(&name, std::io::Cursor::new(bytes))
            .for_each_result(|r| probes.push(r.probe_id))?;
        Ok((probes, stats))
    })
}

#[test]
fn a_line_longer_than_a_block_is_read_not_spun_on() {
    // 1 MiB + 1 byte: one byte more than a file block (the issue's case).
    let mut text = "x".repeat((1 << 20) + 1).into_bytes();
    text.push(b'\n');
    let (probes, stats) = read_bytes("big.ndjson", text.clone()).unwrap();
    assert!(probes.is_empty());
    assert_eq!(stats.count(SkipReason::Malformed), 1);
    // And with a valid result after it, that result is read.
    text.extend_from_slice(GOOD.as_bytes());
    text.push(b'\n');
    let (probes, stats) = read_bytes("big.ndjson", text).unwrap();
    assert_eq!(probes, [7]);
    assert_eq!(stats.malformed[0].line, 1);
}

#[test]
fn a_valid_result_longer_than_a_block_parses() {
    // A result padded past one block by an unused field is still a result.
    let padded = format!(
        r#"{{"pad":"{}","prb_id":9,"timestamp":60,"result":[{{"rtt":2.0}}]}}"#,
        "p".repeat(3 << 20)
    );
    let text = format!("{GOOD}\n{padded}\n{GOOD}\n");
    let (probes, stats) = read_bytes("padded.ndjson", text.into_bytes()).unwrap();
    assert_eq!(probes, [7, 9, 7]);
    assert_eq!(stats.count(SkipReason::Malformed), 0);
}

#[test]
fn a_line_over_the_limit_is_counted_and_skipped_in_bounded_memory() {
    // Streamed from a generator, never held whole: 40 MiB without a newline.
    let huge = std::io::repeat(b'y').take(40 << 20);
    let tail = format!("\n{GOOD}\n");
    let input = std::io::Cursor::new(format!("{GOOD}\n").into_bytes())
        .chain(huge)
        .chain(std::io::Cursor::new(tail.into_bytes()));
    let (probes, stats) = within(60, move || {
        let mut probes = Vec::new();
        let stats = ArchiveReader::from_reader("huge.ndjson", input)
            .for_each_result(|r| probes.push(r.probe_id))
            .unwrap();
        (probes, stats)
    });
    assert_eq!(probes, [7, 7]);
    assert_eq!(stats.count(SkipReason::Malformed), 1);
    assert_eq!(stats.malformed[0].line, 2);
    assert!(
        stats.malformed[0].message.contains("16 MiB"),
        "{}",
        stats.malformed[0].message
    );
}

#[test]
fn a_file_line_longer_than_a_block_does_not_hang_the_file_reader() {
    let dir = std::env::temp_dir().join(format!("np-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.ndjson");
    let mut text = "x".repeat((1 << 20) + 1);
    text.push('\n');
    text.push_str(GOOD);
    std::fs::write(&path, text).unwrap();
    let p = path.clone();
    let probes = within(60, move || {
        let mut probes = Vec::new();
        ArchiveReader::open(&p)
            .unwrap()
            .samples(&SampleFilter::default(), |s| {
                probes.extend(s.iter().map(|s| s.probe_id))
            })
            .unwrap();
        probes
    });
    assert_eq!(probes, [7, 7]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn array_elements_longer_than_a_block_parse_and_over_the_limit_fail() {
    let padded = format!(
        r#"{{"pad":"{}","prb_id":9,"timestamp":60,"result":[{{"rtt":2.0}}]}}"#,
        "p".repeat(3 << 20)
    );
    let text = format!("[{GOOD},{padded},{GOOD}]");
    let (probes, _) = read_bytes("padded.json", text.into_bytes()).unwrap();
    assert_eq!(probes, [7, 9, 7]);

    let huge = format!("[{GOOD},\"{}\"]", "z".repeat(MAX_ELEMENT_BYTES + 10));
    let err = read_bytes("huge.json", huge.into_bytes()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("huge.json:") && msg.contains("longer than the 16 MiB limit"),
        "{msg}"
    );
}

#[test]
fn live_streams_with_long_elements_do_not_spin() {
    // The API path reads in 256 KiB blocks.
    let padded = format!(
        r#"{{"pad":"{}","prb_id":9,"timestamp":60,"result":[{{"rtt":2.0}}]}}"#,
        "p".repeat(300 << 10)
    );
    let body = format!("[{padded},{GOOD}]").into_bytes();
    let probes = within(60, move || {
        let mut probes = Vec::new();
        read_stream("Atlas response", &mut &body[..], |r| {
            probes.push(r.probe_id)
        })
        .unwrap();
        probes
    });
    assert_eq!(probes, [9, 7]);
    let huge = format!("[\"{}\"]", "z".repeat(MAX_ELEMENT_BYTES + 1)).into_bytes();
    let err = within(60, move || {
        read_stream("Atlas response", &mut &huge[..], |_| {}).unwrap_err()
    });
    assert!(err.to_string().contains("16 MiB"), "{err}");
}

#[test]
fn fetch_copies_elements_longer_than_its_block_and_refuses_huge_ones() {
    let padded = format!(r#"{{"pad":"{}"}}"#, "p".repeat(200 << 10));
    let body = format!("[{padded},{GOOD}]").into_bytes();
    let sizes = within(60, move || {
        let mut sizes = Vec::new();
        for_each_element(&mut &body[..], |e| {
            sizes.push(e.len());
            Ok(())
        })
        .unwrap();
        sizes
    });
    assert_eq!(sizes, [padded.len(), GOOD.len()]);
    let huge = std::io::Cursor::new(b"[\"".to_vec()).chain(std::io::repeat(b'z').take(40 << 20));
    let err = within(60, move || {
        for_each_element(&mut std::io::BufReader::new(huge), |_| Ok(())).unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("16 MiB"), "{err}");
}

#[test]
fn a_byte_order_mark_does_not_cost_the_first_result() {
    for text in [
        format!("\u{feff}{GOOD}\n{GOOD}\n"),
        format!("\u{feff}[{GOOD},{GOOD}]"),
        format!("\u{feff}\n  {GOOD}\n{GOOD}"),
    ] {
        let (probes, stats) = read_bytes("bom.ndjson", text.clone().into_bytes()).unwrap();
        assert_eq!(probes, [7, 7], "{text:?}");
        assert_eq!(stats.count(SkipReason::Malformed), 0, "{text:?}");
    }
}

#[test]
fn absurd_rtts_are_counted_as_bad_not_averaged() {
    let text = r#"{"prb_id":1,"timestamp":60,"result":[{"rtt":1e308},{"rtt":600000.5},{"rtt":600000},{"rtt":5}]}"#;
    let mut rtts = Vec::new();
    let stats = ArchiveReader::from_reader("rtt.ndjson", text.as_bytes())
        .samples(&SampleFilter::default(), |s| {
            rtts.extend(s.iter().filter_map(|s| s.rtt))
        })
        .unwrap();
    assert_eq!(rtts, [600000.0, 5.0]);
    assert_eq!(stats.count(SkipReason::BadRtt), 2);
}

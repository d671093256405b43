//! Shared set-up for netprophet's criterion benchmarks (see the `[[bench]]`
//! targets in this package's manifest) and the side-by-side scripts.

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The real feature rows of `fixtures/data/training_data.csv` in the
/// 8-feature training order, row-major, missing values as NaN.
pub fn real_rows() -> Vec<f32> {
    let text = std::fs::read_to_string(fixtures().join("data/training_data.csv"))
        .expect("fixtures/data/training_data.csv");
    feature_rows(&text)
}

/// The feature rows of a CSV laid out as `training_data.csv` (a timestamp,
/// then the 8 features in training order), row-major, missing as NaN.
pub fn feature_rows(text: &str) -> Vec<f32> {
    text.lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .skip(1)
                .take(8)
                .map(|c| c.parse::<f64>().map_or(f32::NAN, |v| v as f32))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `n` rows drawn cyclically from the real rows.
pub fn rows(n: usize) -> Vec<f32> {
    let real = real_rows();
    real.chunks(8).cycle().take(n).flatten().copied().collect()
}

/// Writes a GENERATED archive in the shape of RIPE Atlas msm 1001 results
/// (firmware 5xxx fields, 3 packets every 240 s per probe), one result per
/// line, round by round (each probe in time order), as the API returns a
/// window.
///
/// This is synthetic data for benchmarks that need more telemetry than the
/// real fixtures hold; it is never presented as measurements. Latency per
/// probe is a base level plus a slow random walk and occasional congestion
/// episodes; about 2 % of packets time out and some results carry errors,
/// duplicates or late replies, so every parser path is exercised.
///
/// Returns the number of lines written.
pub fn write_atlas_archive(
    out: &mut impl std::io::Write,
    probes: usize,
    hours: u32,
    seed: u64,
) -> std::io::Result<u64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    const START: i64 = 1_770_595_200; // 2026-02-09 00:00:00 UTC
    struct Probe {
        id: u64,
        offset: i64,
        base: f64,
        walk: f64,
        episode_until: i64,
        extra: f64,
    }
    let mut ps: Vec<Probe> = (0..probes)
        .map(|i| Probe {
            id: 1_000_000 + i as u64 * 7,
            offset: rng.random_range(0..240),
            base: 3.0 + rng.random::<f64>() * 180.0,
            walk: 0.0,
            episode_until: 0,
            extra: 0.0,
        })
        .collect();
    let mut lines = 0;
    let mut line = String::with_capacity(600);
    for round in 0..(hours as i64 * 3600 / 240) {
        for p in ps.iter_mut() {
            let ts = START + round * 240 + p.offset;
            p.walk = (p.walk + (rng.random::<f64>() - 0.5) * 0.4).clamp(-5.0, 5.0);
            if ts >= p.episode_until && rng.random::<f64>() < 0.004 {
                p.episode_until = ts + rng.random_range(300..2400);
                p.extra = [8.0, 20.0, 60.0, 150.0][rng.random_range(0..4)];
            }
            let level = p.base + p.walk + if ts < p.episode_until { p.extra } else { 0.0 };
            line.clear();
            let mut rtts = Vec::with_capacity(4);
            let mut result = String::with_capacity(120);
            for k in 0..3 {
                if k > 0 {
                    result.push(',');
                }
                let u = rng.random::<f64>();
                if u < 0.02 {
                    result.push_str(r#"{"x":"*"}"#);
                } else if u < 0.022 {
                    result.push_str(r#"{"error":"sendto failed: Network is unreachable"}"#);
                } else {
                    let rtt =
                        ((level + rng.random::<f64>() * 1.5).max(0.2) * 1000.0).round() / 1000.0;
                    rtts.push(rtt);
                    result.push_str(&format!(r#"{{"rtt":{rtt}}}"#));
                }
            }
            let dup = rng.random::<f64>() < 0.003;
            if dup {
                result.push_str(&format!(
                    r#",{{"rtt":{},"dup":1}}"#,
                    rtts.first().copied().unwrap_or(level)
                ));
            }
            let rcvd = rtts.len();
            let (min, max, avg) = if rcvd == 0 {
                (-1.0, -1.0, -1.0)
            } else {
                let sum: f64 = rtts.iter().sum();
                (
                    rtts.iter().copied().fold(f64::INFINITY, f64::min),
                    rtts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    (sum / rcvd as f64 * 1000.0).round() / 1000.0,
                )
            };
            writeln!(
                out,
                r#"{{"fw":5100,"mver":"2.6.4","lts":{lts},"dst_name":"193.0.14.129","af":4,"dst_addr":"193.0.14.129","src_addr":"192.168.1.{src}","proto":"ICMP","ttl":54,"size":32,"result":[{result}],"dup":{dupn},"rcvd":{rcvd},"sent":3,"min":{min},"max":{max},"avg":{avg},"msm_id":1001,"prb_id":{id},"timestamp":{ts},"msm_name":"Ping","from":"198.51.100.{src}","type":"ping","step":240,"stored_timestamp":{stored}}}"#,
                lts = rng.random_range(1..60),
                src = p.id % 250,
                dupn = u8::from(dup),
                id = p.id,
                stored = ts + 70,
            )?;
            lines += 1;
        }
    }
    Ok(lines)
}

/// `n` GENERATED rows of 8 features with 1 % minority (every 100th row),
/// from an integer hash, so that `compare_smote.py` builds the very same
/// rows in NumPy. Returns (row-major x, y).
pub fn smote_rows(n: usize) -> (Vec<f64>, Vec<u8>) {
    let mut x = Vec::with_capacity(n * 8);
    let mut y = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let label = u8::from(i % 100 == 0);
        for d in 0..8u64 {
            let h = (i * 2_654_435_761 + d * 40_503) % 1_000_003;
            x.push(h as f64 / 1000.0 + f64::from(label) * 5.0);
        }
        y.push(label);
    }
    (x, y)
}

//! `netprophet fetch`: download a window of RIPE Atlas results into an
//! archive of the API's own result objects, one per line.
//!
//! Chunks are written to `<out>.parts/` as they arrive (each file
//! atomically), so an interrupted run resumes without downloading finished
//! chunks again; when all are there they are merged into `<out>` (gzip when
//! it ends in `.gz`), atomically, and the parts are removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use netprophet_core::atlas::client::{chunks, AtlasClient, Chunk};
use netprophet_core::atlas::for_each_element;

use netprophet_core::shard::Shard;

use crate::atlas_args::{parse_time, AtlasArgs};

/// Arguments of `netprophet fetch`.
#[derive(clap::Args)]
pub struct Args {
    /// Start of the window (UTC).
    #[arg(long, value_parser = parse_time)]
    start: i64,
    /// End of the window (UTC, exclusive).
    #[arg(long, value_parser = parse_time)]
    stop: i64,
    /// Only these probes (repeatable); default all.
    #[arg(long)]
    probe: Vec<u64>,
    /// Output archive (`.gz` to compress).
    #[arg(long)]
    out: PathBuf,
    /// Keep only the results of shard K of N's probes (`prb_id % N ==
    /// K`), so N machines each archive their share with no coordination.
    /// With --probe only that shard's probes are requested; without, the
    /// window is downloaded whole and other probes' results are dropped as
    /// they stream in (a result without a probe id goes to shard 0).
    #[arg(long)]
    shard: Option<Shard>,
    #[command(flatten)]
    atlas: AtlasArgs,
}

/// Copies the elements of a JSON array from `body` to `out`, one per line,
/// as they arrive; fails when the array is incomplete or not an array.
fn write_lines(
    body: &mut dyn std::io::Read,
    out: &mut impl Write,
    shard: Shard,
) -> std::io::Result<u64> {
    let mut kept = 0;
    for_each_element(&mut std::io::BufReader::new(body), |element| {
        if shard != Shard::all() && !shard.contains(probe_of(element)) {
            return Ok(());
        }
        kept += 1;
        out.write_all(element)?;
        out.write_all(b"\n")
    })
    .map(|_| kept)
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the response is not a complete JSON array ({e})"),
        ),
        _ => e,
    })
}

/// The probe a result element is from; 0 (shard 0's) when it names none.
fn probe_of(element: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Probe {
        prb_id: Option<u64>,
    }
    serde_json::from_slice::<Probe>(element)
        .ok()
        .and_then(|p| p.prb_id)
        .unwrap_or(0)
}

fn part_path(dir: &Path, c: Chunk) -> PathBuf {
    dir.join(format!("{}-{}.ndjson", c.start, c.stop))
}

/// Runs `netprophet fetch`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.atlas.config()?;
    let shard = args.shard.unwrap_or_else(Shard::all);
    let probes: Vec<u64> = args
        .probe
        .iter()
        .copied()
        .filter(|&p| shard.contains(p))
        .collect();
    anyhow::ensure!(
        args.probe.is_empty() || !probes.is_empty(),
        "none of the probes asked for is in shard {shard} (prb_id % N == K)"
    );
    let client = AtlasClient::new(config.clone())?;
    let mut parts = args.out.clone().into_os_string();
    parts.push(".parts");
    let parts = PathBuf::from(parts);
    std::fs::create_dir_all(&parts).with_context(|| format!("creating {}", parts.display()))?;
    let all = chunks(args.start, args.stop, config.chunk_seconds);
    let already = all
        .iter()
        .filter(|c| part_path(&parts, **c).exists())
        .count();
    if already > 0 {
        eprintln!(
            "resuming: {already} of {} chunks already fetched",
            all.len()
        );
    }
    let bar = indicatif::ProgressBar::new(all.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "fetching [{bar:30}] {pos}/{len} chunks ({elapsed}, {msg})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_position(already as u64);
    let results = AtomicU64::new(0);
    client.fetch_window(
        args.start,
        args.stop,
        &probes,
        |c| part_path(&parts, c).exists(),
        |c, body| {
            // Stream the array into the part file, one object per line; an
            // incomplete array fails the attempt and leaves no part behind.
            let mut items = 0u64;
            netprophet_core::atomic_file::write_with(&part_path(&parts, c), |f| {
                let mut w = std::io::BufWriter::new(f);
                items = write_lines(body, &mut w, shard)?;
                w.flush()
            })
            .map_err(|e| format!("{e}"))?;
            let n = results.fetch_add(items, Ordering::Relaxed) + items;
            bar.set_message(format!("{n} results"));
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let gzip = args.out.extension().is_some_and(|e| e == "gz");
    let mut lines = 0u64;
    netprophet_core::atomic_file::write_with(&args.out, |f| {
        let mut sink: Box<dyn Write> = if gzip {
            Box::new(flate2::write::GzEncoder::new(
                std::io::BufWriter::new(f),
                flate2::Compression::default(),
            ))
        } else {
            Box::new(std::io::BufWriter::new(f))
        };
        for c in &all {
            let text = std::fs::read(part_path(&parts, *c))?;
            lines += text.iter().filter(|&&b| b == b'\n').count() as u64;
            sink.write_all(&text)?;
        }
        sink.flush()?;
        drop(sink);
        Ok(())
    })
    .with_context(|| format!("writing {}", args.out.display()))?;
    std::fs::remove_dir_all(&parts).with_context(|| format!("removing {}", parts.display()))?;
    eprintln!(
        "wrote {lines} results ({} chunks of msm {}) to {}",
        all.len(),
        config.measurement,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_keeps_only_its_probes_results() {
        let body = br#"[{"prb_id":6001,"result":[]},{"prb_id":6002,"result":[{"rtt":1.5}]},
            {"prb_id":6004},{"type":"ping"},{"prb_id":"x"}]"#;
        let lines = |shard: &str| {
            let mut out = Vec::new();
            let n = write_lines(&mut &body[..], &mut out, shard.parse().unwrap()).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.lines().count() as u64, n);
            text
        };
        let even = lines("0/2");
        assert_eq!(even.lines().count(), 4, "{even}");
        assert!(even.contains("6002") && even.contains("6004") && !even.contains("6001"));
        assert!(even.contains(r#"{"type":"ping"}"#), "no probe id: shard 0");
        let odd = lines("1/2");
        assert_eq!(odd.trim(), r#"{"prb_id":6001,"result":[]}"#);
        assert_eq!(lines("0/1").lines().count(), 5);
        let cut = write_lines(&mut &body[..20], &mut Vec::new(), Shard::all());
        assert!(cut.is_err());
    }
}

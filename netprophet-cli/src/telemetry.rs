//! Archives to feature frames, shared by `features`, `train`, `evaluate`
//! and `refresh`: which probes, progress on a terminal, and a report of
//! what was skipped.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use netprophet_core::atlas::{summary, ArchiveReader, ParseStats, Sample, SampleFilter};
use netprophet_core::features::ProbeCollector;

/// Which probes' frames to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// These probes.
    Probes(Vec<u64>),
    /// The probe with the most replies (what the original system used).
    MostActive,
    /// Every probe.
    All,
}

impl Selection {
    /// From the common `--probe`, `--top`, `--all` flags; `--top` is the
    /// default.
    pub fn from_flags(probes: &[u64], all: bool) -> Selection {
        if !probes.is_empty() {
            let mut p = probes.to_vec();
            p.sort_unstable();
            p.dedup();
            Selection::Probes(p)
        } else if all {
            Selection::All
        } else {
            Selection::MostActive
        }
    }
}

/// Inputs above this size get a progress bar on a terminal.
const PROGRESS_MIN_BYTES: u64 = 16 << 20;

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if total < PROGRESS_MIN_BYTES {
        return indicatif::ProgressBar::hidden();
    }
    // Draws only when stderr is a terminal, so logs and pipes stay clean.
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Streams every input through `filter`, handing samples to `f`.
pub fn read_samples(
    inputs: &[PathBuf],
    filter: &SampleFilter,
    what: &str,
    mut f: impl FnMut(&[Sample]) + Send,
) -> anyhow::Result<ParseStats> {
    let mut total = ParseStats::default();
    for path in inputs {
        let mut reader = ArchiveReader::open(path)?;
        let bar = progress_bar(reader.total_bytes().unwrap_or(0), what);
        let counter = reader.progress();
        let mut seen = 0u64;
        let stats = reader.samples(filter, |s| {
            f(s);
            seen += 1;
            if seen.is_multiple_of(4096) {
                bar.set_position(counter.load(Ordering::Relaxed));
            }
        });
        bar.finish_and_clear();
        total.merge(&stats?);
    }
    Ok(total)
}

/// The selected probes' binned samples, before features are derived.
pub struct LoadedProbes {
    /// Per-probe bins.
    pub probes: ProbeCollector,
    /// Counts over all inputs (of the final pass).
    pub stats: ParseStats,
}

/// Reads the selected probes' samples into per-minute bins; frames are
/// derived from them one probe at a time by the caller, so that many
/// probes never need all their frames in memory at once.
pub fn load_probes(inputs: &[PathBuf], selection: &Selection) -> anyhow::Result<LoadedProbes> {
    if inputs.is_empty() {
        bail!("no input archive given");
    }
    let mut filter = SampleFilter::default();
    if let Selection::Probes(p) = selection {
        filter.probes = Some(p.clone());
    }
    let mut probes = ProbeCollector::new();
    let stats = read_samples(inputs, &filter, "reading", |s| probes.extend(s))?;
    if *selection == Selection::MostActive {
        // One pass keeps every probe's samples compactly (12-16 bytes each);
        // the others are dropped as soon as the most active one is known.
        let top = probes.most_active().context("no probe has a reply")?;
        probes.retain(&[top]);
    }
    if let Selection::Probes(wanted) = selection {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|p| probes.probe(**p).is_none())
            .map(u64::to_string)
            .collect();
        if !missing.is_empty() {
            bail!(
                "no sample from probe {} in {} ({})",
                missing.join(", "),
                describe(inputs),
                summary(&stats)
            );
        }
    }
    Ok(LoadedProbes { probes, stats })
}

/// `a.ndjson` or `a.ndjson and 3 more`.
pub fn describe(inputs: &[PathBuf]) -> String {
    match inputs {
        [one] => one.display().to_string(),
        [first, rest @ ..] => format!("{} and {} more", first.display(), rest.len()),
        [] => "no input".to_string(),
    }
}

/// One line saying what was read and skipped, and where malformed input is.
pub fn report(inputs: &[PathBuf], stats: &ParseStats) -> String {
    let mut line = format!(
        "read {} results ({} samples) from {}; skipped: {}",
        stats.results,
        stats.samples,
        describe(inputs),
        summary(stats)
    );
    if let Some(m) = stats.malformed.first() {
        line.push_str(&format!(
            "; first malformed input at line {}: {}",
            m.line, m.message
        ));
    }
    line
}

//! Archives and RTT traces to feature frames, shared by `features`,
//! `train`, `evaluate`, `tune` and `demo`: which probes, which kind each
//! input is, progress on a terminal, and a report of what was skipped.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use netprophet_core::atlas::{summary, ArchiveReader, ParseStats, Sample, SampleFilter};
use netprophet_core::features::ProbeCollector;
use netprophet_core::shard::Shard;
use netprophet_core::traces::{first_line, is_trace_header, TraceColumns, TraceReader};

/// How plain RTT traces name their columns (flags shared by every command
/// that reads telemetry).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TraceArgs {
    /// RTT traces: the time column (default: the first of epoch,
    /// timestamp, time, date).
    #[arg(long)]
    pub time_column: Option<String>,
    /// RTT traces: the RTT column in ms, negative = lost (default: the
    /// first of rtt, rtt_ms, latency, min_rtt).
    #[arg(long)]
    pub rtt_column: Option<String>,
    /// RTT traces: the probe column (default: probe_id, prb_id or probe
    /// when present, else the probe id the file name starts with).
    #[arg(long)]
    pub probe_column: Option<String>,
}

impl TraceArgs {
    /// The column names for the trace reader.
    pub fn columns(&self) -> TraceColumns {
        let mut c = TraceColumns::default();
        if let Some(n) = &self.time_column {
            c = c.time(n.as_str());
        }
        if let Some(n) = &self.rtt_column {
            c = c.rtt(n.as_str());
        }
        if let Some(n) = &self.probe_column {
            c = c.probe(n.as_str());
        }
        c
    }
}

/// What an input file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// RIPE Atlas results (NDJSON, gzip, JSON array).
    Archive,
    /// A plain RTT time series (CSV with a time and an RTT column).
    Trace,
    /// Per-minute features as `netprophet features` writes them.
    FeatureCsv,
}

/// Tells an input's kind from its name and, for CSV, its header line.
pub fn input_kind(path: &Path, columns: &TraceColumns) -> anyhow::Result<InputKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let csv = [".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz"]
        .iter()
        .any(|e| name.ends_with(e));
    if !csv {
        return Ok(InputKind::Archive);
    }
    let header = first_line(path).with_context(|| format!("reading {}", path.display()))?;
    // A feature CSV names its per-minute columns; any other CSV is read as
    // a trace, whose reader says which columns it lacks.
    let features = header
        .trim_start_matches('\u{feff}')
        .split([',', ';', '\t'])
        .any(|h| h.trim() == "avg_latency");
    Ok(if features && !is_trace_header(&header, columns) {
        InputKind::FeatureCsv
    } else {
        InputKind::Trace
    })
}

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

/// Streams every input (archives and RTT traces) through `filter`,
/// handing samples to `f`.
pub fn read_samples(
    inputs: &[PathBuf],
    traces: &TraceColumns,
    filter: &SampleFilter,
    what: &str,
    mut f: impl FnMut(&[Sample]) + Send,
) -> anyhow::Result<ParseStats> {
    let mut total = ParseStats::default();
    for path in inputs {
        if input_kind(path, traces)? == InputKind::Trace {
            let stats = TraceReader::new(path, traces.clone()).read_file(filter, &mut f)?;
            total.merge(&stats);
            continue;
        }
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
pub fn load_probes(
    inputs: &[PathBuf],
    traces: &TraceColumns,
    selection: &Selection,
) -> anyhow::Result<LoadedProbes> {
    load_probes_sharded(inputs, traces, selection, Shard::all())
}

/// [`load_probes`] for the probes of one shard only: other probes'
/// samples are dropped as they are read, so a shard holds only its own.
pub fn load_probes_sharded(
    inputs: &[PathBuf],
    traces: &TraceColumns,
    selection: &Selection,
    shard: Shard,
) -> anyhow::Result<LoadedProbes> {
    if inputs.is_empty() {
        bail!("no input archive given");
    }
    let mut filter = SampleFilter::default();
    let selection = &match selection {
        Selection::Probes(p) => {
            let mine: Vec<u64> = p.iter().copied().filter(|&id| shard.contains(id)).collect();
            if mine.is_empty() {
                bail!("none of the probes asked for is in shard {shard} (probe_id % N == K)");
            }
            Selection::Probes(mine)
        }
        other => other.clone(),
    };
    if let Selection::Probes(p) = selection {
        filter = filter.probes(p.iter().copied());
    }
    let mut probes = ProbeCollector::new();
    let mut mine = Vec::new();
    let stats = read_samples(inputs, traces, &filter, "reading", |s| {
        if shard == Shard::all() {
            probes.extend(s);
        } else {
            mine.clear();
            mine.extend(s.iter().filter(|x| shard.contains(x.probe_id)).copied());
            probes.extend(&mine);
        }
    })?;
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

impl LoadedProbes {
    /// One line saying what was read and skipped (see [`report`]), and how
    /// many samples lay decades from the rest of their probe (kept, in
    /// segments of their own).
    pub fn report(&self, inputs: &[PathBuf]) -> String {
        let mut line = report(inputs, &self.stats);
        let far = self.probes.out_of_range();
        if far > 0 {
            line.push_str(&format!(
                "; {far} sample(s) more than 68 years from the rest of their probe (kept, each in a segment of its own)"
            ));
        }
        line
    }
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

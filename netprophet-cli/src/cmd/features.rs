//! `netprophet features`: Atlas archives or RTT traces to 1-minute feature
//! rows (CSV), with the columns of the original system's
//! `training_data.csv`, optionally more feature columns and the labels of
//! any target.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use netprophet_core::dataset::{write_csv_rows_with, CsvLayout};
use netprophet_core::labels::label;
use netprophet_core::schema::FEATURE_COLUMNS;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::input::{feature_set, LabelArgs};
use crate::telemetry::{load_probes, Selection, TraceArgs};

/// Arguments of `netprophet features`.
#[derive(clap::Args)]
pub struct Args {
    /// Atlas archive(s) (NDJSON, gzip NDJSON or a JSON array) or plain
    /// RTT traces (CSV with a time and an RTT column).
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Only this probe (repeatable).
    #[arg(long, conflicts_with_all = ["top", "all"])]
    probe: Vec<u64>,
    /// Only the probe with the most replies (the default).
    #[arg(long, conflicts_with = "all")]
    top: bool,
    /// Every probe, one block of rows each, with a probe_id column.
    #[arg(long)]
    all: bool,
    /// Output CSV (`-` for standard output). Written atomically.
    #[arg(long)]
    output: PathBuf,
    /// Add threshold, is_degraded and target columns (the target's name
    /// is target_5m_degraded for the original target, target_sustained
    /// or target_onset otherwise).
    #[arg(long)]
    labels: bool,
    /// More feature columns after the eight original ones: a feature set
    /// as `train --feature-set` takes it (relative+recent, ...). Columns
    /// already among the eight are not repeated.
    #[arg(long)]
    feature_set: Option<String>,
    #[command(flatten)]
    traces: TraceArgs,
    #[command(flatten)]
    label_args: LabelArgs,
}

/// Runs `netprophet features`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let selection = Selection::from_flags(&args.probe, args.all);
    let config = args.label_args.feature_config();
    let label_config = args.label_args.label_config()?;
    let extra: Vec<String> = match &args.feature_set {
        Some(spec) => feature_set(spec)?
            .into_iter()
            .filter(|n| !FEATURE_COLUMNS.contains(&n.as_str()))
            .collect(),
        None => Vec::new(),
    };
    let loaded = load_probes(&args.input, &args.traces.columns(), &selection)?;
    eprintln!("{}", loaded.report(&args.input));
    let ids = loaded.probes.probe_ids();
    let layout = CsvLayout {
        labels: args.labels.then_some(label_config.target),
        probe: selection == Selection::All || ids.len() > 1,
        extra,
    };
    let rows = AtomicUsize::new(0);
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        writeln!(out, "{}", layout.header().join(","))?;
        // Frames are built and formatted in parallel a block of probes at a
        // time, then written in probe order; only one block is in memory.
        for block in ids.chunks(16) {
            let texts: Vec<std::io::Result<Vec<u8>>> = block
                .par_iter()
                .map(|&id| {
                    let mut text = Vec::new();
                    for frame in loaded.probes.probe_frames(id, config) {
                        let labels = args.labels.then(|| label(&frame, label_config));
                        let extra = frame
                            .columns(&layout.extra)
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        write_csv_rows_with(
                            &mut text,
                            &frame,
                            labels.as_ref(),
                            layout.probe,
                            &extra,
                        )?;
                        rows.fetch_add(frame.len(), Ordering::Relaxed);
                    }
                    Ok(text)
                })
                .collect();
            for text in texts {
                out.write_all(text?.as_slice())?;
            }
        }
        out.flush()
    };
    if args.output.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())?;
    } else {
        netprophet_core::atomic_file::write_with(&args.output, |f| write(f))
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    let shown: Vec<String> = ids.iter().take(5).map(u64::to_string).collect();
    eprintln!(
        "wrote {} rows for {} probe(s) ({}{}) to {}",
        rows.into_inner(),
        ids.len(),
        shown.join(", "),
        if ids.len() > 5 { ", ..." } else { "" },
        args.output.display()
    );
    Ok(())
}

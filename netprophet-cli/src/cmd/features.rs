//! `netprophet features`: an Atlas archive to 1-minute feature rows (CSV),
//! with the columns of the original system's `training_data.csv`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use netprophet_core::dataset::{csv_header, write_csv_rows};
use netprophet_core::features::FeatureConfig;
use netprophet_core::labels::{label, LabelConfig};

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::telemetry::{load_probes, report, Selection};

/// Arguments of `netprophet features`.
#[derive(clap::Args)]
pub struct Args {
    /// Atlas archive(s): NDJSON, gzip NDJSON or a JSON array.
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
    /// Add threshold, is_degraded and target_5m_degraded columns.
    #[arg(long)]
    labels: bool,
    /// Rolling window in minutes (1 to 10080).
    #[arg(long, default_value_t = 60, value_parser = crate::flags::minutes)]
    window: usize,
    /// Standard deviations above the rolling mean that count as degraded
    /// (a finite number > 0).
    #[arg(long, default_value_t = 2.5, value_parser = crate::flags::positive)]
    k: f64,
    /// Minutes ahead the target looks (1 to 10080).
    #[arg(long, default_value_t = 5, value_parser = crate::flags::minutes)]
    horizon: usize,
}

/// Runs `netprophet features`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let selection = Selection::from_flags(&args.probe, args.all);
    let config = FeatureConfig {
        window: args.window.max(1),
        ..FeatureConfig::default()
    };
    let label_config = LabelConfig {
        k: args.k,
        window: config.window,
        horizon: args.horizon,
    };
    let loaded = load_probes(&args.input, &selection)?;
    eprintln!("{}", report(&args.input, &loaded.stats));
    let ids = loaded.probes.probe_ids();
    let with_probe = selection == Selection::All || ids.len() > 1;
    let rows = AtomicUsize::new(0);
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        writeln!(out, "{}", csv_header(args.labels, with_probe).join(","))?;
        // Frames are built and formatted in parallel a block of probes at a
        // time, then written in probe order; only one block is in memory.
        for block in ids.chunks(16) {
            let texts: Vec<std::io::Result<Vec<u8>>> = block
                .par_iter()
                .map(|&id| {
                    let mut text = Vec::new();
                    if let Some(frame) = loaded.probes.frame(id, config) {
                        let labels = args.labels.then(|| label(&frame, label_config));
                        write_csv_rows(&mut text, &frame, labels.as_ref(), with_probe)?;
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
        netprophet_boost::atomic_file::write_with(&args.output, |f| write(f))
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

//! `netprophet features`: an Atlas archive to 1-minute feature rows (CSV),
//! with the columns of the original system's `training_data.csv`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use netprophet_core::dataset::{csv_header, write_csv_rows};
use netprophet_core::features::FeatureConfig;
use netprophet_core::labels::{label, LabelConfig};

use crate::telemetry::{load_frames, report, Selection};

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
    /// Rolling window in minutes.
    #[arg(long, default_value_t = 60)]
    window: usize,
    /// Standard deviations above the rolling mean that count as degraded.
    #[arg(long, default_value_t = 2.5)]
    k: f64,
    /// Minutes ahead the target looks.
    #[arg(long, default_value_t = 5)]
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
    let loaded = load_frames(&args.input, &selection, config)?;
    eprintln!("{}", report(&args.input, &loaded.stats));
    let with_probe = selection == Selection::All || loaded.frames.len() > 1;
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        writeln!(out, "{}", csv_header(args.labels, with_probe).join(","))?;
        for frame in &loaded.frames {
            let labels = args.labels.then(|| label(frame, label_config));
            write_csv_rows(&mut out, frame, labels.as_ref(), with_probe)?;
        }
        out.flush()
    };
    if args.output.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())?;
    } else {
        netprophet_boost::atomic_file::write_with(&args.output, |f| write(f))
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    let rows: usize = loaded.frames.iter().map(|f| f.len()).sum();
    let probes: Vec<String> = loaded
        .frames
        .iter()
        .filter_map(|f| f.probe_id.map(|p| p.to_string()))
        .take(5)
        .collect();
    eprintln!(
        "wrote {rows} rows for {} probe(s) ({}{}) to {}",
        loaded.frames.len(),
        probes.join(", "),
        if loaded.frames.len() > 5 { ", ..." } else { "" },
        args.output.display()
    );
    Ok(())
}

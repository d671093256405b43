//! `netprophet features`: Atlas archives or RTT traces to 1-minute feature
//! rows (CSV or Parquet), with the columns of the original system's
//! `training_data.csv`, optionally more feature columns and the labels of
//! any target; for one shard of the probes, and split by day and probe
//! range, when the work is spread over machines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use netprophet_core::dataset::{write_csv_rows_with, CsvLayout};
use netprophet_core::labels::label;
use netprophet_core::schema::FEATURE_COLUMNS;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use netprophet_core::dataset::CsvLayout as Layout;
use netprophet_core::features::FeatureFrame;
use netprophet_core::labels::Labels;
use netprophet_core::parquet::ParquetWriter;
use netprophet_core::shard::Shard;

use crate::input::{feature_set, LabelArgs};
use crate::telemetry::{load_probes_sharded, LoadedProbes, Selection, TraceArgs};

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
    /// Output CSV (`-` for standard output), or Parquet when the name ends
    /// in `.parquet`, or with --partition a directory. Written atomically.
    #[arg(long)]
    output: PathBuf,
    /// Write a directory of Parquet files split by day and probe range,
    /// hive style: `day=YYYY-MM-DD/probes=A-B/part.parquet` (`part-K-of-N`
    /// with --shard, so shards can share the directory).
    #[arg(long)]
    partition: bool,
    /// With --partition: probe ids per range (6000-6999 for 1000).
    #[arg(long, default_value_t = 1000, requires = "partition",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    partition_probes: u64,
    /// Only the probes of shard K of N (`probe_id % N == K`): N machines
    /// each run with their K, with no coordination; the union of their
    /// rows is the rows of one run. Implies --all unless --probe is given.
    #[arg(long, conflicts_with = "top")]
    shard: Option<Shard>,
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
    crate::clobber::refuse_inputs_as_outputs(
        [("--output", args.output.as_path())],
        args.input.iter().map(PathBuf::as_path),
    )?;
    let selection = Selection::from_flags(&args.probe, args.all || args.shard.is_some());
    let shard = args.shard.unwrap_or_else(Shard::all);
    let config = args.label_args.feature_config();
    let label_config = args.label_args.label_config()?;
    let extra: Vec<String> = match &args.feature_set {
        Some(spec) => feature_set(spec)?
            .into_iter()
            .filter(|n| !FEATURE_COLUMNS.contains(&n.as_str()))
            .collect(),
        None => Vec::new(),
    };
    let loaded = load_probes_sharded(&args.input, &args.traces.columns(), &selection, shard)?;
    eprintln!("{}", loaded.report(&args.input));
    let ids = loaded.probes.probe_ids();
    let layout = CsvLayout {
        labels: args.labels.then_some(label_config.target),
        probe: selection == Selection::All || ids.len() > 1,
        extra,
    };
    let parquet = args.partition
        || args
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        let job = ParquetJob {
            loaded: &loaded,
            ids: &ids,
            config,
            label_config: args.labels.then_some(label_config),
            layout: &layout,
        };
        let (rows, files) = if args.partition {
            job.write_partitioned(&args.output, args.partition_probes, shard)?
        } else {
            (job.write_file(&args.output)?, 1)
        };
        eprintln!(
            "wrote {rows} rows for {} probe(s){} to {} ({files} Parquet file(s))",
            ids.len(),
            if shard == Shard::all() {
                String::new()
            } else {
                format!(" of shard {shard}")
            },
            args.output.display()
        );
        return Ok(());
    }
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

/// One probe's frames, with their labels and extra columns.
type ProbeRows = Vec<(FeatureFrame, Option<Labels>, Vec<Vec<f64>>)>;

/// What a Parquet output is made from.
struct ParquetJob<'a> {
    loaded: &'a LoadedProbes,
    ids: &'a [u64],
    config: netprophet_core::features::FeatureConfig,
    label_config: Option<netprophet_core::labels::LabelConfig>,
    layout: &'a Layout,
}

impl ParquetJob<'_> {
    /// Hands the probes' rows to `f` a probe at a time, in probe order;
    /// frames are built in parallel a block of probes at a time, so only
    /// one block is in memory.
    fn for_each_probe(
        &self,
        mut f: impl FnMut(u64, ProbeRows) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for block in self.ids.chunks(16) {
            let built: Vec<anyhow::Result<ProbeRows>> = block
                .par_iter()
                .map(|&id| {
                    self.loaded
                        .probes
                        .probe_frames(id, self.config)
                        .into_iter()
                        .map(|frame| {
                            let labels = self.label_config.map(|c| label(&frame, c));
                            let extra = frame.columns(&self.layout.extra)?;
                            Ok((frame, labels, extra))
                        })
                        .collect()
                })
                .collect();
            for (&id, rows) in block.iter().zip(built) {
                f(id, rows?)?;
            }
        }
        Ok(())
    }

    /// Every row in one Parquet file, written atomically.
    fn write_file(&self, path: &std::path::Path) -> anyhow::Result<u64> {
        let mut rows = 0;
        netprophet_core::atomic_file::write_with(path, |file| {
            let io =
                |e: netprophet_core::dataset::DatasetError| std::io::Error::other(e.to_string());
            let mut w =
                ParquetWriter::new(std::io::BufWriter::new(file), self.layout.clone(), path)
                    .map_err(io)?;
            self.for_each_probe(|_, frames| {
                for (frame, labels, extra) in &frames {
                    w.write_frame(frame, labels.as_ref(), extra)?;
                }
                Ok(())
            })
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
            rows = w.finish().map_err(io)?;
            Ok(())
        })
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(rows)
    }

    /// Rows split by UTC day and probe range into
    /// `dir/day=YYYY-MM-DD/probes=A-B/part.parquet`, each file written
    /// atomically when its probe range is complete (probes come in
    /// ascending order), so memory holds one range's compressed files.
    fn write_partitioned(
        &self,
        dir: &std::path::Path,
        width: u64,
        shard: Shard,
    ) -> anyhow::Result<(u64, usize)> {
        type Open = std::collections::BTreeMap<String, ParquetWriter<Vec<u8>>>;
        let name = if shard == Shard::all() {
            "part.parquet".to_string()
        } else {
            format!("part-{}-of-{}.parquet", shard.index(), shard.count())
        };
        let (mut rows, mut files) = (0u64, 0usize);
        let mut flush = |open: &mut Open| -> anyhow::Result<()> {
            for (sub, w) in std::mem::take(open) {
                let folder = dir.join(&sub);
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
                let path = folder.join(&name);
                let (bytes, n) = w.into_inner()?;
                netprophet_core::atomic_file::write(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                rows += n;
                files += 1;
            }
            Ok(())
        };
        let mut open = Open::new();
        let mut range = None;
        self.for_each_probe(|id, frames| {
            let first = id - id % width;
            if range != Some(first) {
                flush(&mut open)?;
                range = Some(first);
            }
            let probes = format!("probes={first}-{}", first.saturating_add(width - 1));
            for (frame, labels, extra) in &frames {
                // Split the frame at UTC midnights.
                let mut start = 0;
                while start < frame.len() {
                    let day = frame.timestamp[start].div_euclid(86_400);
                    let end = start
                        + frame.timestamp[start..]
                            .iter()
                            .take_while(|t| t.div_euclid(86_400) == day)
                            .count();
                    let date = &netprophet_core::time::format_utc(day * 86_400)[..10];
                    let key = format!("day={date}/{probes}");
                    let w = match open.entry(key) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            let path = dir.join(e.key()).join(&name);
                            e.insert(ParquetWriter::new(Vec::new(), self.layout.clone(), path)?)
                        }
                    };
                    w.write_rows(frame, labels.as_ref(), extra, start..end)?;
                    start = end;
                }
            }
            Ok(())
        })?;
        flush(&mut open)?;
        Ok((rows, files))
    }
}

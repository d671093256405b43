//! Where labelled rows come from, for `train`, `tune` and `evaluate`:
//! Atlas archives, plain RTT traces, feature CSVs and Parquet feature
//! tables (a file or a partitioned directory); which probes; which
//! features (named sets that combine with `+`); and which target.

use std::path::PathBuf;

use anyhow::{bail, Context};
use netprophet_core::dataset::{for_each_probe_csv, Dataset};
use netprophet_core::features::{FeatureConfig, FeatureFrame, EXTENDED, RELATIVE};
use netprophet_core::history::{DAILY, LEVEL, RECENT};
use netprophet_core::labels::{label, LabelConfig, Labels, Target};
use netprophet_core::parquet::{for_each_probe_parquet, is_parquet_input};
use netprophet_core::schema::FEATURE_COLUMNS;

use crate::spill::Spill;
use crate::telemetry::{input_kind, load_probes, InputKind, Selection, TraceArgs};

/// The named feature sets, with what each adds.
pub const FEATURE_SETS: [(&str, &str); 6] = [
    ("base", "the original 8 columns (the compatible default)"),
    (
        "extended",
        "base plus packet loss, time since the last reply, multi-scale windows",
    ),
    (
        "relative",
        "z-score, 1- and 5-minute changes, trend of rolling_std: no absolute level",
    ),
    (
        "recent",
        "spikes over 1 h/4 h/1 day, time since the last, latency against the hour before",
    ),
    (
        "daily",
        "hour of day, spikes around this time yesterday, z-score a day ago",
    ),
    (
        "level",
        "latency and rolling std against the day's measured minutes",
    ),
];

/// The columns of a feature set: one name of [`FEATURE_SETS`] or several
/// joined by `+` (`relative+recent`), in that order without repeats.
pub fn feature_set(spec: &str) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for part in spec.split('+') {
        let cols: Vec<&str> = match part.trim() {
            "base" => FEATURE_COLUMNS.to_vec(),
            "extended" => FEATURE_COLUMNS.iter().chain(&EXTENDED).copied().collect(),
            "relative" => RELATIVE.to_vec(),
            "recent" => RECENT.to_vec(),
            "daily" => DAILY.to_vec(),
            "level" => LEVEL.to_vec(),
            // A single column netprophet computes (asked of an empty frame).
            other if FeatureFrame::default().column(other).is_some() => vec![other],
            other => bail!(
                "unknown feature set `{other}` (expected {}, a feature name, or several joined by +)",
                FEATURE_SETS.map(|(n, _)| n).join(", ")
            ),
        };
        for c in cols {
            if !names.iter().any(|n| n == c) {
                names.push(c.to_string());
            }
        }
    }
    Ok(names)
}

/// What is predicted, and how minutes are formed (flags shared by
/// `features`, `train`, `tune` and `evaluate`).
#[derive(clap::Args, Clone, Debug)]
pub struct LabelArgs {
    /// What to predict: `original` (the minute --horizon ahead is
    /// degraded; the original system's target), `sustained` (the median
    /// of the --span minutes ending --horizon ahead is above the current
    /// threshold by at least --min-rise ms) or `onset` (a sustained
    /// episode ahead while none is under way).
    /// (Default: original; for `evaluate --model`, the target the model
    /// says it predicts.)
    #[arg(long, value_parser = parse_target)]
    pub target: Option<Target>,
    /// Minutes ahead the target looks (default 5 for original, 15 for
    /// sustained and onset).
    #[arg(long, value_parser = crate::flags::minutes)]
    pub horizon: Option<usize>,
    /// Sustained targets: minutes whose median is compared (default 15).
    #[arg(long, value_parser = crate::flags::minutes)]
    pub span: Option<usize>,
    /// Sustained targets: least rise over the rolling mean, ms (default
    /// 2).
    #[arg(long, value_parser = crate::flags::non_negative)]
    pub min_rise: Option<f64>,
    /// Standard deviations above the rolling mean that count as degraded.
    #[arg(long, default_value_t = 2.5, value_parser = crate::flags::positive)]
    pub k: f64,
    /// Rolling window in minutes (features and threshold).
    #[arg(long, default_value_t = 60, value_parser = crate::flags::minutes)]
    pub window: usize,
    /// Most minutes without any observation that are forward filled; a
    /// longer gap starts a new segment.
    #[arg(long, default_value_t = 30, value_parser = crate::flags::minutes_or_zero)]
    pub max_fill: usize,
    /// The target of the model being evaluated, used when `--target` is
    /// not given.
    #[arg(skip)]
    pub model_target: Option<LabelConfig>,
}

fn parse_target(s: &str) -> Result<Target, String> {
    Target::from_name(s).ok_or_else(|| {
        format!(
            "unknown target `{s}` (expected {})",
            Target::ALL.map(Target::name).join(", ")
        )
    })
}

impl LabelArgs {
    /// The labeller's configuration, every bad value reported at once.
    pub fn label_config(&self) -> anyhow::Result<LabelConfig> {
        if let (None, Some(model)) = (self.target, self.model_target) {
            return Ok(model);
        }
        let target = self.target.unwrap_or_default();
        let defaults = LabelConfig::for_target(target);
        let config = LabelConfig::for_target(target)
            .k(self.k)
            .window(self.window)
            .horizon(self.horizon.unwrap_or(defaults.horizon))
            .span(self.span.unwrap_or(defaults.span))
            .min_rise(self.min_rise.unwrap_or(defaults.min_rise));
        let problems = config.problems();
        if !problems.is_empty() {
            bail!("bad target parameters: {}", problems.join("; "));
        }
        Ok(config)
    }

    /// How minutes are formed.
    pub fn feature_config(&self) -> FeatureConfig {
        FeatureConfig::default()
            .window(self.window)
            .max_fill(self.max_fill)
    }

    /// Whether these are the original system's labels (so a feature CSV's
    /// own label columns can be used as they are).
    fn is_original(&self) -> anyhow::Result<bool> {
        Ok(self.label_config()? == LabelConfig::default()
            && self.feature_config() == FeatureConfig::default())
    }
}

/// Where labelled rows come from.
#[derive(clap::Args, Clone, Debug)]
pub struct InputArgs {
    /// Atlas archive(s) (NDJSON, gzip, JSON array), plain RTT traces (CSV
    /// with a time and an RTT column, such as the RIPE Atlas traces of
    /// `epoch;rtt;cp`), or feature CSV(s) as `netprophet features` writes
    /// them (and as the original system's training_data.csv is), or
    /// Parquet feature tables (`.parquet`, or a directory of them as
    /// `features --partition` writes it). A feature table's own labels
    /// are used for the original target.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Only this probe (repeatable). A feature table needs a probe_id
    /// column for it (`features --all` writes one).
    #[arg(long, conflicts_with = "all")]
    pub probe: Vec<u64>,
    /// For archives and traces: every probe (default: the most active
    /// one).
    #[arg(long)]
    pub all: bool,
    /// Feature set: base (the original 8 columns, the compatible
    /// default), extended, relative, recent, daily, level, or several
    /// joined by + (relative+recent). `netprophet train --help` lists
    /// what each holds.
    #[arg(long, default_value = "base", conflicts_with = "features")]
    pub feature_set: String,
    /// Explicit feature names, in model order.
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Drop every row with a missing feature, as the original system did
    /// (`dropna`); needed to reproduce its row set. By default a missing
    /// value stays missing and the trees route it.
    #[arg(long)]
    pub complete_rows: bool,
    #[command(flatten)]
    pub traces: TraceArgs,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Do not print the report of what was read (when the same inputs are
    /// read again).
    #[arg(skip)]
    pub quiet: bool,
}

impl InputArgs {
    /// The feature names to train or score with.
    pub fn feature_names(&self) -> anyhow::Result<Vec<String>> {
        match &self.features {
            Some(f) => Ok(f.clone()),
            None => feature_set(&self.feature_set),
        }
    }

    /// Labelled rows, in time order.
    pub fn load(&self, names: &[String]) -> anyhow::Result<Dataset> {
        Ok(self.load_by_probe(names)?.sorted_by_time())
    }

    /// Labelled rows of `names` from loaded frames, in time order (only
    /// complete ones with `--complete-rows`).
    pub fn rows(
        &self,
        frames: &[(FeatureFrame, Labels)],
        names: &[String],
    ) -> anyhow::Result<Dataset> {
        let d = Dataset::from_frames(frames.iter().map(|(f, l)| (f, l)), names)
            .context("building labelled rows")?;
        Ok(self.complete(d, names)?.sorted_by_time())
    }

    fn complete(&self, d: Dataset, names: &[String]) -> anyhow::Result<Dataset> {
        if !self.complete_rows {
            return Ok(d);
        }
        let d = d.complete_rows();
        if d.is_empty() {
            bail!("no row has every feature ({})", names.join(", "));
        }
        Ok(d)
    }

    /// Labelled rows of `names`, probe by probe (each probe's rows in time
    /// order). Frames are built, labelled and cut one probe at a time, and
    /// the rows are allocated once at their final size, so many probes
    /// over weeks never hold all their frames, nor a grown copy, at once.
    pub fn load_by_probe(&self, names: &[String]) -> anyhow::Result<Dataset> {
        struct Rows<'a> {
            names: &'a [String],
            out: Dataset,
            hint: usize,
        }
        impl FrameSink for Rows<'_> {
            fn sizes_buffers(&self) -> bool {
                true
            }
            fn size_hint(&mut self, minutes: usize) {
                self.hint += minutes;
            }
            fn frames(&mut self, frames: Vec<(FeatureFrame, Labels)>) -> anyhow::Result<()> {
                if frames.is_empty() {
                    return Ok(());
                }
                let d = match Dataset::from_frames(frames.iter().map(|(f, l)| (f, l)), self.names) {
                    Ok(d) => d,
                    // A probe whose every row lacks a target adds nothing.
                    Err(netprophet_core::dataset::DatasetError::Empty(_)) => return Ok(()),
                    Err(e) => return Err(e).context("building labelled rows"),
                };
                if self.out.is_empty() {
                    self.out.reserve_exact(self.hint.max(d.len()));
                }
                self.out.append(d)?;
                Ok(())
            }
        }
        let mut rows = Rows {
            names,
            out: Dataset::new(names),
            hint: 0,
        };
        self.for_each_probe(&mut rows)?;
        if rows.out.is_empty() {
            bail!("no labelled row in the input (every row lacks a target)");
        }
        rows.out.x.shrink_to_fit();
        self.complete(rows.out, names)
    }

    /// Labelled rows of `names` written to a temporary file in `dir` as
    /// each probe is read (only labels and probe ranges stay in memory):
    /// with `by_time`, in the order [`InputArgs::load`] gives, else in
    /// the order of [`InputArgs::load_by_probe`].
    pub fn spill(
        &self,
        names: &[String],
        dir: &std::path::Path,
        by_time: bool,
    ) -> anyhow::Result<Spill> {
        Ok(self.spill_with(names, dir, by_time, false)?.1)
    }

    /// [`InputArgs::spill`] in probe order, with every row's label, time,
    /// probe and degraded-now flag in memory as a [`Dataset`] without
    /// features (what evaluation protocols need of each row besides its
    /// features).
    pub fn spill_with_rows(
        &self,
        names: &[String],
        dir: &std::path::Path,
    ) -> anyhow::Result<(Dataset, Spill)> {
        let (meta, spill) = self.spill_with(names, dir, false, true)?;
        Ok((meta.unwrap_or_else(|| Dataset::new(names)), spill))
    }

    fn spill_with(
        &self,
        names: &[String],
        dir: &std::path::Path,
        by_time: bool,
        keep_rows: bool,
    ) -> anyhow::Result<(Option<Dataset>, Spill)> {
        struct ToDisk<'a> {
            names: &'a [String],
            complete: bool,
            by_time: bool,
            labelled: usize,
            out: Spill,
            meta: Option<Dataset>,
        }
        impl FrameSink for ToDisk<'_> {
            fn frames(&mut self, frames: Vec<(FeatureFrame, Labels)>) -> anyhow::Result<()> {
                if frames.is_empty() {
                    return Ok(());
                }
                let mut d =
                    match Dataset::from_frames(frames.iter().map(|(f, l)| (f, l)), self.names) {
                        Ok(d) => d,
                        Err(netprophet_core::dataset::DatasetError::Empty(_)) => return Ok(()),
                        Err(e) => return Err(e).context("building labelled rows"),
                    };
                drop(frames);
                self.labelled += d.len();
                if self.complete {
                    d = d.complete_rows();
                }
                if self.by_time {
                    d = d.sorted_by_time();
                }
                self.out.append(&d)?;
                if let Some(meta) = self.meta.as_mut() {
                    d.x = Vec::new();
                    meta.append(d)?;
                }
                Ok(())
            }
        }
        let mut sink = ToDisk {
            names,
            complete: self.complete_rows,
            by_time,
            labelled: 0,
            out: Spill::new(dir, names, by_time)?,
            meta: keep_rows.then(|| Dataset::new(names)),
        };
        self.for_each_probe(&mut sink)?;
        if sink.labelled == 0 {
            bail!("no labelled row in the input (every row lacks a target)");
        }
        if sink.out.rows() == 0 {
            bail!("no row has every feature ({})", names.join(", "));
        }
        let spill = if by_time {
            sink.out.into_time_order()?
        } else {
            sink.out
        };
        Ok((sink.meta, spill))
    }

    /// The inputs' labelled frames, all at once (read once; rows for any
    /// feature set are then cut from them with [`InputArgs::rows`]).
    pub fn load_frames(&self) -> anyhow::Result<Vec<(FeatureFrame, Labels)>> {
        struct All(Vec<(FeatureFrame, Labels)>);
        impl FrameSink for All {
            fn frames(&mut self, frames: Vec<(FeatureFrame, Labels)>) -> anyhow::Result<()> {
                self.0.extend(frames);
                Ok(())
            }
        }
        let mut all = All(Vec::new());
        self.for_each_probe(&mut all)?;
        Ok(all.0)
    }

    /// Hands each probe's labelled frames (one per segment) to `sink`.
    fn for_each_probe(&self, sink: &mut dyn FrameSink) -> anyhow::Result<()> {
        let label_config = self.labels.label_config()?;
        let feature_config = self.labels.feature_config();
        let columns = self.traces.columns();
        let mut telemetry = Vec::new();
        // Feature tables in input order; their frames are streamed a
        // probe at a time below, never all held.
        let mut tables: Vec<(Table, &std::path::Path)> = Vec::new();
        let own_labels = self.labels.is_original()?;
        let relabel = |frames: Vec<(FeatureFrame, Option<Labels>)>| -> Vec<(FeatureFrame, Labels)> {
            frames
                .into_iter()
                .map(|(frame, labels)| {
                    let labels = labels
                        .filter(|_| own_labels)
                        .unwrap_or_else(|| label(&frame, label_config));
                    (frame, labels)
                })
                .collect()
        };
        for path in &self.input {
            if is_parquet_input(path) {
                let rows = netprophet_core::parquet::row_count(path)?;
                sink.size_hint(usize::try_from(rows).unwrap_or(usize::MAX));
                tables.push((Table::Parquet, path));
                continue;
            }
            match input_kind(path, &columns)? {
                InputKind::FeatureCsv => {
                    // Counting the lines reads the file once more: only
                    // for a sink that sizes its buffers by it.
                    if sink.sizes_buffers() {
                        sink.size_hint(line_count(path)?);
                    }
                    tables.push((Table::Csv, path));
                }
                InputKind::Archive | InputKind::Trace => telemetry.push(path.clone()),
            }
        }
        let loaded = if telemetry.is_empty() {
            None
        } else {
            let selection = Selection::from_flags(&self.probe, self.all);
            let loaded = load_probes(&telemetry, &columns, &selection)?;
            if !self.quiet {
                eprintln!("{}", loaded.report(&telemetry));
            }
            sink.size_hint(loaded.probes.minutes(feature_config));
            Some(loaded)
        };
        // `--probe` applies to feature tables too.
        let mut matched = 0usize;
        for (kind, path) in tables {
            let mut wanted = |frames| {
                let kept = keep_probes(&self.probe, path, frames)?;
                matched += kept.len();
                anyhow::Ok(kept)
            };
            match kind {
                Table::Csv => for_each_probe_csv(path, FeatureConfig::default(), |frames| {
                    sink.frames(relabel(wanted(frames)?))
                })?,
                Table::Parquet => {
                    for_each_probe_parquet(path, FeatureConfig::default(), |frames| {
                        sink.frames(relabel(wanted(frames)?))
                    })?
                }
            }
        }
        // Without archives or traces every input is a table.
        if loaded.is_none() && !self.probe.is_empty() && matched == 0 {
            let ids: Vec<String> = self.probe.iter().map(u64::to_string).collect();
            anyhow::bail!(
                "no rows of probe {} in the feature table(s)",
                ids.join(", ")
            );
        }
        if let Some(loaded) = loaded {
            for id in loaded.probes.probe_ids() {
                let frames = loaded
                    .probes
                    .probe_frames(id, feature_config)
                    .into_iter()
                    .map(|frame| {
                        let labels = label(&frame, label_config);
                        (frame, labels)
                    })
                    .collect();
                sink.frames(frames)?;
            }
        }
        Ok(())
    }
}

/// The rows of `names` from a Parquet feature table (a file or a
/// directory), for scoring: the table's own columns when it has them all
/// (in file order, files in path order), else computed from its
/// per-minute columns with `config` (in probe and time order).
pub fn parquet_matrix(
    path: &std::path::Path,
    names: &[String],
    config: FeatureConfig,
) -> anyhow::Result<Vec<f32>> {
    let columns = netprophet_core::parquet::column_names(path)?;
    if names.iter().all(|n| columns.contains(n)) {
        return Ok(netprophet_core::parquet::read_matrix(path, names)?);
    }
    let mut data = Vec::new();
    for_each_probe_parquet(path, config, |frames| {
        data.extend(frames_matrix(frames, names)?);
        anyhow::Ok(())
    })?;
    Ok(data)
}

/// The rows of `names` computed from frames, in their order.
pub fn frames_matrix<L>(
    frames: Vec<(FeatureFrame, L)>,
    names: &[String],
) -> anyhow::Result<Vec<f32>> {
    let mut data = Vec::new();
    for (frame, _) in frames {
        data.extend(
            frame
                .matrix(names)
                .context("the model needs a feature netprophet does not compute")?,
        );
    }
    Ok(data)
}

/// The frames of a feature table that belong to `probes` (all when it is
/// empty); a frame knows its probe when the table has a probe column.
fn keep_probes(
    probes: &[u64],
    path: &std::path::Path,
    frames: Vec<(FeatureFrame, Option<Labels>)>,
) -> anyhow::Result<Vec<(FeatureFrame, Option<Labels>)>> {
    if probes.is_empty() {
        return Ok(frames);
    }
    let mut kept = Vec::with_capacity(frames.len());
    for (frame, labels) in frames {
        let Some(id) = frame.probe_id else {
            bail!(
                "{}: --probe needs a probe_id column, and this feature table has none",
                path.display()
            );
        };
        if probes.contains(&id) {
            kept.push((frame, labels));
        }
    }
    Ok(kept)
}

/// The kinds of feature table an input can be.
#[derive(Clone, Copy)]
enum Table {
    Csv,
    Parquet,
}

/// Lines of a file (at least its rows, for sizing buffers once), counted
/// without holding it.
fn line_count(path: &std::path::Path) -> anyhow::Result<usize> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(lines + 1);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
}

/// Receives labelled frames as inputs are read.
trait FrameSink {
    /// Whether [`FrameSink::size_hint`] is used (so a hint that costs a
    /// read is worth computing).
    fn sizes_buffers(&self) -> bool {
        false
    }
    /// The rows about to come (an upper bound), before any frame.
    fn size_hint(&mut self, _minutes: usize) {}
    /// One probe's frames (or one feature CSV's).
    fn frames(&mut self, frames: Vec<(FeatureFrame, Labels)>) -> anyhow::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_sets_combine_without_repeats() {
        let names = feature_set("relative+recent+relative").unwrap();
        assert_eq!(names.len(), RELATIVE.len() + RECENT.len());
        assert_eq!(names[0], "zscore");
        assert_eq!(feature_set("base").unwrap().len(), 8);
        assert_eq!(
            feature_set("relative+minutes_since_sample")
                .unwrap()
                .last()
                .unwrap(),
            "minutes_since_sample"
        );
        let err = feature_set("relative+weekly").unwrap_err().to_string();
        assert!(err.contains("unknown feature set `weekly`"), "{err}");
    }
}

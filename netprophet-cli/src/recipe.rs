//! What `train`, `tune` and `evaluate` share: turning inputs (archives or
//! feature CSVs) into labelled rows, splitting them, and the training
//! recipe (optional SMOTE on the training side, then boosting).

use std::path::PathBuf;

use anyhow::{bail, Context};
use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_boost::{Forest, Predictor};
use netprophet_core::dataset::{read_minutes_csv, Dataset};
use netprophet_core::features::{FeatureConfig, FeatureFrame, EXTENDED, RELATIVE};
use netprophet_core::labels::{label, LabelConfig, Labels};
use netprophet_core::schema::FEATURE_COLUMNS;
use netprophet_core::smote::Smote;
use netprophet_core::split;

use crate::telemetry::{load_probes, report, Selection};

/// Where labelled rows come from.
#[derive(clap::Args, Clone, Debug)]
pub struct InputArgs {
    /// Atlas archive(s) (NDJSON, gzip, JSON array) or feature CSV(s) as
    /// `netprophet features` writes them (and as the original system's
    /// training_data.csv is). A CSV's own labels are used when it has them.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// For archives: only this probe (repeatable).
    #[arg(long, conflicts_with = "all")]
    pub probe: Vec<u64>,
    /// For archives: every probe (default: the most active one).
    #[arg(long)]
    pub all: bool,
    /// Feature set: `base` (the original 8 columns, the compatible
    /// default), `extended` (plus packet loss, time since the last real
    /// sample, multi-scale windows and the trend of rolling_std) or
    /// `relative` (only the z-score, the 1- and 5-minute changes and the
    /// trend of rolling_std: no absolute latency level).
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
}

impl InputArgs {
    /// The feature names to train or score with.
    pub fn feature_names(&self) -> anyhow::Result<Vec<String>> {
        if let Some(f) = &self.features {
            return Ok(f.clone());
        }
        let base = FEATURE_COLUMNS.iter().map(|s| s.to_string());
        Ok(match self.feature_set.as_str() {
            "base" => base.collect(),
            "extended" => base.chain(EXTENDED.iter().map(|s| s.to_string())).collect(),
            "relative" => RELATIVE.iter().map(|s| s.to_string()).collect(),
            other => bail!("unknown feature set `{other}` (expected base, extended or relative)"),
        })
    }

    /// Labelled rows, in time order.
    pub fn load(&self, names: &[String]) -> anyhow::Result<Dataset> {
        self.rows(&self.load_frames()?, names)
    }

    /// Labelled rows of `names` from loaded frames, in time order (only
    /// complete ones with `--complete-rows`).
    pub fn rows(
        &self,
        frames: &[(FeatureFrame, Labels)],
        names: &[String],
    ) -> anyhow::Result<Dataset> {
        let d = rows(frames, names)?;
        if !self.complete_rows {
            return Ok(d);
        }
        let d = d.complete_rows();
        if d.is_empty() {
            bail!("no row has every feature ({})", names.join(", "));
        }
        Ok(d)
    }

    /// The inputs' labelled per-probe frames (read once; rows for any
    /// feature set are then cut from them with [`rows`]).
    pub fn load_frames(&self) -> anyhow::Result<Vec<(FeatureFrame, Labels)>> {
        let mut frames: Vec<(FeatureFrame, Labels)> = Vec::new();
        let (csv, archives): (Vec<PathBuf>, Vec<PathBuf>) = self
            .input
            .iter()
            .cloned()
            .partition(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
        for path in &csv {
            for (frame, labels) in read_minutes_csv(path)? {
                let labels = labels.unwrap_or_else(|| label(&frame, LabelConfig::default()));
                frames.push((frame, labels));
            }
        }
        if !archives.is_empty() {
            let selection = Selection::from_flags(&self.probe, self.all);
            let loaded = load_probes(&archives, &selection)?;
            eprintln!("{}", report(&archives, &loaded.stats));
            for frame in loaded.probes.frames(FeatureConfig::default()) {
                let labels = label(&frame, LabelConfig::default());
                frames.push((frame, labels));
            }
        }
        Ok(frames)
    }
}

/// Labelled rows of `names` from loaded frames, in time order.
pub fn rows(frames: &[(FeatureFrame, Labels)], names: &[String]) -> anyhow::Result<Dataset> {
    let d = Dataset::from_frames(frames.iter().map(|(f, l)| (f, l)), names)
        .context("building labelled rows")?;
    Ok(d.sorted_by_time())
}

/// The training recipe: model parameters and class balancing.
#[derive(clap::Args, Clone, Debug)]
pub struct RecipeArgs {
    /// Boosting rounds.
    #[arg(long, default_value_t = 200)]
    pub n_estimators: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 5)]
    pub max_depth: usize,
    /// Learning rate (eta).
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Minimum hessian sum per child.
    #[arg(long, default_value_t = 1.0)]
    pub min_child_weight: f64,
    /// L2 regularisation of leaf weights.
    #[arg(long, default_value_t = 1.0)]
    pub lambda: f64,
    /// Minimum gain to keep a split.
    #[arg(long, default_value_t = 0.0)]
    pub gamma: f64,
    /// Rows sampled per tree.
    #[arg(long, default_value_t = 1.0)]
    pub subsample: f64,
    /// Features sampled per tree.
    #[arg(long, default_value_t = 1.0)]
    pub colsample_bytree: f64,
    /// Bins per feature.
    #[arg(long, default_value_t = 256)]
    pub max_bin: usize,
    /// Weight of positive rows (an alternative or complement to SMOTE).
    #[arg(long, default_value_t = 1.0)]
    pub scale_pos_weight: f64,
    /// Train without SMOTE.
    #[arg(long)]
    pub no_smote: bool,
    /// SMOTE neighbours.
    #[arg(long, default_value_t = 3)]
    pub smote_k: usize,
    /// SMOTE target minority/majority ratio.
    #[arg(long, default_value_t = 1.0)]
    pub smote_ratio: f64,
    /// Seed of SMOTE and of row/feature sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Model parameters plus optional SMOTE.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Recipe {
    /// Boosting parameters.
    pub params: TrainParams,
    /// SMOTE on the training rows, when used: (k, ratio, seed).
    pub smote: Option<(usize, f64, u64)>,
}

impl RecipeArgs {
    /// The recipe these flags describe.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            params: TrainParams {
                n_estimators: self.n_estimators,
                max_depth: self.max_depth,
                learning_rate: self.learning_rate,
                min_child_weight: self.min_child_weight,
                lambda: self.lambda,
                gamma: self.gamma,
                subsample: self.subsample,
                colsample_bytree: self.colsample_bytree,
                max_bin: self.max_bin,
                scale_pos_weight: self.scale_pos_weight,
                seed: self.seed,
                ..TrainParams::default()
            },
            smote: (!self.no_smote).then_some((self.smote_k, self.smote_ratio, self.seed)),
        }
    }
}

impl Recipe {
    /// Trains on `rows` (SMOTE applies to these rows only).
    pub fn fit(&self, rows: &Dataset) -> anyhow::Result<Forest> {
        let y = rows.y_f32();
        match self.smote {
            Some((k, ratio, seed)) => {
                // SMOTE interpolates between complete rows; missing values
                // take their column's median first (training rows only).
                let filled = fill_missing_with_median(&rows.x, rows.width());
                let out = Smote {
                    k_neighbors: k,
                    ratio,
                    seed,
                }
                .resample(&filled, rows.width(), &rows.y)
                .context("SMOTE on the training rows")?;
                let x: Vec<f32> = out.x.iter().map(|&v| v as f32).collect();
                let y: Vec<f32> = out.y.iter().map(|&v| f32::from(v)).collect();
                let data =
                    TrainData::new(&x, rows.width(), &y).with_feature_names(&rows.feature_names);
                Ok(train(&data, &self.params)?)
            }
            None => {
                let data = TrainData::new(&rows.x, rows.width(), &y)
                    .with_feature_names(&rows.feature_names);
                Ok(train(&data, &self.params)?)
            }
        }
    }
}

/// The rows as `f64` for SMOTE, a missing value replaced by its column's
/// median.
fn fill_missing_with_median(x: &[f32], width: usize) -> Vec<f64> {
    let mut out: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    if !x.iter().any(|v| v.is_nan()) {
        return out;
    }
    for f in 0..width {
        let mut col: Vec<f64> = out
            .iter()
            .skip(f)
            .step_by(width)
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        col.sort_by(f64::total_cmp);
        let median = col.get(col.len() / 2).copied().unwrap_or(0.0);
        for v in out.iter_mut().skip(f).step_by(width) {
            if v.is_nan() {
                *v = median;
            }
        }
    }
    out
}

/// Probabilities of `rows` under `forest`, matching columns by name.
pub fn score(forest: &Forest, names: &[String], rows: &Dataset) -> anyhow::Result<Vec<f64>> {
    let map = netprophet_boost::ColumnMap::by_name(names, &rows.feature_names)?;
    let p = Predictor::new(forest);
    let mut x = Vec::with_capacity(rows.len() * names.len());
    let mut gathered = Vec::with_capacity(names.len());
    for i in 0..rows.len() {
        gathered.clear();
        map.gather(rows.row(i), &mut gathered)?;
        x.extend_from_slice(&gathered);
    }
    Ok(p.predict(&x, names.len())?
        .into_iter()
        .map(f64::from)
        .collect())
}

/// How rows are split into training and test sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitKind {
    /// Earliest rows train, latest rows test (honest for time series).
    Chrono,
    /// Stratified random rows (the original system's; leaks the future).
    Random,
}

/// Splits time-ordered rows.
pub fn split_rows(
    d: &Dataset,
    kind: SplitKind,
    fraction: f64,
    seed: u64,
) -> anyhow::Result<(Dataset, Dataset)> {
    let s = match kind {
        SplitKind::Chrono => split::chronological(d.len(), fraction)?,
        SplitKind::Random => split::stratified_random(&d.y, fraction, seed)?,
    };
    Ok((d.subset(&s.train), d.subset(&s.test)))
}

//! What `train`, `tune` and `evaluate` share: the training recipe
//! (optional SMOTE on the training side, then boosting), scoring, and
//! splitting labelled rows.

use std::borrow::Cow;

use anyhow::Context;
use netprophet_boost::train::{
    train, train_batches, train_batches_with_eval, train_with_eval, BatchData, GrowPolicy, Round,
    TrainData, TrainObjective, TrainParams,
};
use netprophet_boost::{Forest, Predictor};
use netprophet_core::dataset::Dataset;
use netprophet_core::smote::Smote;
use netprophet_core::split;

use crate::spill::Spill;

pub use crate::input::InputArgs;

/// `--objective`: what the trees fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectiveArg {
    /// Log loss on the 0/1 target; the model predicts a probability.
    #[value(name = "binary:logistic")]
    BinaryLogistic,
    /// Squared error on the 0/1 target; the model predicts a score (the
    /// expected target), not a probability.
    #[value(name = "reg:squarederror")]
    SquaredError,
}

/// `--grow-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GrowPolicyArg {
    /// Level by level, to --max-depth.
    Depthwise,
    /// Best split first, to --max-leaves.
    Lossguide,
}

/// One `--monotone NAME=1|-1|0`: the prediction may only rise (1) or only
/// fall (-1) with the named feature.
fn monotone(text: &str) -> Result<(String, i8), String> {
    let (name, dir) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=1, NAME=-1 or NAME=0"))?;
    let dir: i8 = match dir.trim() {
        "1" | "+1" => 1,
        "-1" => -1,
        "0" => 0,
        other => return Err(format!("{other:?} is not 1, -1 or 0 (in {text:?})")),
    };
    Ok((name.trim().to_string(), dir))
}

/// The original system's rounds, depth and learning rate: the defaults of
/// `--n-estimators`, `--max-depth` and `--learning-rate` (XGBoost's own
/// are 100, 6 and 0.3).
pub const ORIGINAL_N_ESTIMATORS: usize = 200;
/// See [`ORIGINAL_N_ESTIMATORS`].
pub const ORIGINAL_MAX_DEPTH: usize = 5;
/// See [`ORIGINAL_N_ESTIMATORS`].
pub const ORIGINAL_LEARNING_RATE: f64 = 0.1;

/// The training recipe: model parameters and class balancing.
#[derive(clap::Args, Clone, Debug)]
pub struct RecipeArgs {
    /// What the trees fit.
    #[arg(long, value_enum, default_value = "binary:logistic")]
    pub objective: ObjectiveArg,
    /// Boosting rounds (default 200). Not for `tune`, whose
    /// --tree-counts sets them.
    #[arg(long)]
    pub n_estimators: Option<usize>,
    /// Maximum tree depth (default 5). Not for `tune` (--max-depths).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Learning rate, eta (default 0.1). Not for `tune`
    /// (--learning-rates).
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Minimum hessian sum per child.
    #[arg(long, default_value_t = 1.0)]
    pub min_child_weight: f64,
    /// L2 regularisation of leaf weights.
    #[arg(long, default_value_t = 1.0)]
    pub lambda: f64,
    /// Minimum gain of a split (XGBoost's min_split_loss): a node whose
    /// best split gains less stays a leaf.
    #[arg(long, default_value_t = 0.0)]
    pub gamma: f64,
    /// L1 regularisation of leaf weights (reg_alpha).
    #[arg(long, default_value_t = 0.0)]
    pub alpha: f64,
    /// Largest leaf weight before the learning rate (0 = no limit).
    #[arg(long, default_value_t = 0.0)]
    pub max_delta_step: f64,
    /// How trees grow.
    #[arg(long, value_enum, default_value_t = GrowPolicyArg::Depthwise)]
    pub grow_policy: GrowPolicyArg,
    /// Most leaves per tree (0 = no limit); with --grow-policy lossguide,
    /// --max-depth 0 leaves the depth free.
    #[arg(long, default_value_t = 0)]
    pub max_leaves: usize,
    /// A monotone constraint, by feature name (repeatable):
    /// `--monotone rolling_std=1` lets the risk only rise with rolling_std.
    #[arg(long, value_parser = monotone)]
    pub monotone: Vec<(String, i8)>,
    /// Rows sampled per tree.
    #[arg(long, default_value_t = 1.0)]
    pub subsample: f64,
    /// Features sampled per tree.
    #[arg(long, default_value_t = 1.0)]
    pub colsample_bytree: f64,
    /// Of the tree's features, those sampled anew for each depth.
    #[arg(long, default_value_t = 1.0)]
    pub colsample_bylevel: f64,
    /// Of the depth's features, those sampled anew for each node.
    #[arg(long, default_value_t = 1.0)]
    pub colsample_bynode: f64,
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
    /// Keep this fraction of the negative (healthy) training rows, each
    /// weighted 1/fraction, chosen at random (seeded): for long series
    /// of a rare event this keeps the information and cuts memory and
    /// time; probabilities stay unbiased in expectation.
    /// (Default 1; 0.25 in `evaluate --protocol`.)
    #[arg(long)]
    pub negatives: Option<f64>,
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
    /// Fraction of negative training rows kept (1 = all), weighted up.
    pub negatives: f64,
    /// Monotone constraints by feature name, turned into the model's
    /// feature order when it is trained. Left out of the stored recipe
    /// when empty, so models trained without any keep their bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monotone: Vec<(String, i8)>,
}

impl RecipeArgs {
    /// The flags a grid search sets itself, when given: `tune` refuses
    /// them instead of quietly training other values (`(flag, the tune
    /// flag to use instead)`).
    pub fn set_by_grid(&self, balancings: &[String]) -> Vec<(&'static str, &'static str)> {
        // --no-smote only contradicts a grid that has smote points.
        let smote = balancings.iter().any(|b| b == "smote");
        self.training_flags_given()
            .into_iter()
            .filter(|&(flag, _)| smote || flag != "--no-smote")
            .collect()
    }

    /// The training flags that were given, among those that can be told
    /// from their defaults (the rounds, the depth, the learning rate and
    /// `--no-smote`), each with the `tune` flag that sets it instead.
    /// (`evaluate --model` trains nothing and refuses them.)
    pub fn training_flags_given(&self) -> Vec<(&'static str, &'static str)> {
        [
            (
                self.n_estimators.is_some(),
                "--n-estimators",
                "--tree-counts",
            ),
            (self.max_depth.is_some(), "--max-depth", "--max-depths"),
            (
                self.learning_rate.is_some(),
                "--learning-rate",
                "--learning-rates",
            ),
            (self.no_smote, "--no-smote", "--balancing without smote"),
        ]
        .into_iter()
        .filter_map(|(given, flag, instead)| given.then_some((flag, instead)))
        .collect()
    }

    /// The recipe these flags describe.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            params: TrainParams::default()
                .objective(match self.objective {
                    ObjectiveArg::BinaryLogistic => TrainObjective::BinaryLogistic,
                    ObjectiveArg::SquaredError => TrainObjective::SquaredError,
                })
                .alpha(self.alpha)
                .max_delta_step(self.max_delta_step)
                .grow_policy(match self.grow_policy {
                    GrowPolicyArg::Depthwise => GrowPolicy::DepthWise,
                    GrowPolicyArg::Lossguide => GrowPolicy::LossGuide,
                })
                .max_leaves(self.max_leaves)
                .colsample_bylevel(self.colsample_bylevel)
                .colsample_bynode(self.colsample_bynode)
                .n_estimators(self.n_estimators.unwrap_or(ORIGINAL_N_ESTIMATORS))
                .max_depth(self.max_depth.unwrap_or(ORIGINAL_MAX_DEPTH))
                .learning_rate(self.learning_rate.unwrap_or(ORIGINAL_LEARNING_RATE))
                .min_child_weight(self.min_child_weight)
                .lambda(self.lambda)
                .gamma(self.gamma)
                .subsample(self.subsample)
                .colsample_bytree(self.colsample_bytree)
                .max_bin(self.max_bin)
                .scale_pos_weight(self.scale_pos_weight)
                .seed(self.seed),
            smote: (!self.no_smote).then_some((self.smote_k, self.smote_ratio, self.seed)),
            negatives: self.negatives.unwrap_or(1.0),
            monotone: self.monotone.clone(),
        }
    }
}

impl Recipe {
    /// Every setting that cannot work, each with the reason.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(self.negatives > 0.0 && self.negatives <= 1.0) {
            out.push(format!("--negatives {} must be in (0, 1]", self.negatives));
        }
        if self.smote.is_some() && self.negatives < 1.0 {
            out.push("--negatives needs --no-smote (SMOTE balances the classes itself)".into());
        }
        out
    }

    /// Why this recipe cannot train from rows on disk, if it cannot:
    /// SMOTE makes its synthetic rows in memory.
    pub fn out_of_core_problem(&self) -> Option<&'static str> {
        self.smote.is_some().then_some(
            "--out-of-core trains without SMOTE, whose synthetic rows are made in memory: \
             add --no-smote (and --negatives F to keep a fraction F of the healthy rows)",
        )
    }

    /// The parameters for a model of features `names`: the monotone
    /// constraints placed by name.
    fn params_for(&self, names: &[String]) -> anyhow::Result<TrainParams> {
        let mut params = self.params.clone();
        if !self.monotone.is_empty() {
            let mut c = vec![0i8; names.len()];
            for (name, dir) in &self.monotone {
                let at = names.iter().position(|n| n == name).with_context(|| {
                    format!(
                        "--monotone {name}: not a feature of the model ({})",
                        names.join(",")
                    )
                })?;
                c[at] = *dir;
            }
            params.monotone_constraints = c;
        }
        Ok(params)
    }

    /// Trains on `data`, with the evaluation rows when there are some
    /// (early stopping, a per-round log through `progress`).
    fn boost(
        &self,
        data: &TrainData<'_>,
        eval: Option<&(Vec<f32>, Vec<f32>)>,
        progress: &mut dyn FnMut(Round),
    ) -> anyhow::Result<Forest> {
        let names = data.feature_names.unwrap_or_default();
        let params = self.params_for(names)?;
        Ok(match eval {
            Some((x, y)) => {
                train_with_eval(data, &TrainData::new(x, data.width, y), &params, progress)?
            }
            None => train(data, &params)?,
        })
    }

    /// Trains on the rows `idx` of `rows`, on the columns `cols` (named
    /// as the model's features), without copying the others: what
    /// evaluation folds need. SMOTE, when on, applies to these rows only.
    pub fn fit_rows(&self, rows: &Dataset, idx: &[u32], cols: &[usize]) -> anyhow::Result<Forest> {
        self.fit_rows_with(rows, idx, cols, None, &mut |_| {})
    }

    /// [`fit_rows`](Self::fit_rows), with the rows `eval` of `rows` as
    /// the evaluation set of early stopping; `progress` sees each round.
    pub fn fit_rows_eval(
        &self,
        rows: &Dataset,
        idx: &[u32],
        cols: &[usize],
        eval: &[u32],
        progress: &mut dyn FnMut(Round),
    ) -> anyhow::Result<Forest> {
        let x = eval
            .iter()
            .flat_map(|&i| cols.iter().map(move |&c| rows.row(i as usize)[c]))
            .collect();
        let y = eval
            .iter()
            .map(|&i| f32::from(rows.y[i as usize]))
            .collect();
        self.fit_rows_with(rows, idx, cols, Some(&(x, y)), progress)
    }

    fn fit_rows_with(
        &self,
        rows: &Dataset,
        idx: &[u32],
        cols: &[usize],
        eval: Option<&(Vec<f32>, Vec<f32>)>,
        progress: &mut dyn FnMut(Round),
    ) -> anyhow::Result<Forest> {
        let problems = self.problems();
        if !problems.is_empty() {
            anyhow::bail!("bad recipe: {}", problems.join("; "));
        }
        let names: Vec<String> = cols
            .iter()
            .map(|&c| rows.feature_names[c].clone())
            .collect();
        let w = rows.width();
        if self.smote.is_some() {
            let idx: Vec<usize> = idx.iter().map(|&i| i as usize).collect();
            let mut sub = rows.subset(&idx);
            if cols.len() != w || cols.iter().enumerate().any(|(i, &c)| i != c) {
                sub.x = (0..sub.len())
                    .flat_map(|r| cols.iter().map(move |&c| (r, c)))
                    .map(|(r, c)| sub.x[r * w + c])
                    .collect();
                sub.feature_names = names;
            }
            return self.fit_eval(&sub, eval, progress);
        }
        let (kept, weight) = self.keep(&rows.y, idx);
        // Consecutive rows of every column (all rows, or a chronological
        // split's earlier part) are trained on in place, without a copy.
        let consecutive = kept.windows(2).all(|p| p[1] == p[0] + 1);
        let every_column = cols.len() == w && cols.iter().enumerate().all(|(i, &c)| i == c);
        let copy: Vec<f32>;
        let x: &[f32] = match kept.first() {
            Some(&first) if consecutive && every_column => {
                let start = first as usize * w;
                &rows.x[start..start + kept.len() * w]
            }
            _ => {
                let mut x = Vec::with_capacity(kept.len() * cols.len());
                for &i in kept.iter() {
                    let row = rows.row(i as usize);
                    x.extend(cols.iter().map(|&c| row[c]));
                }
                copy = x;
                &copy
            }
        };
        let y: Vec<f32> = kept
            .iter()
            .map(|&i| f32::from(rows.y[i as usize]))
            .collect();
        if y.is_empty() {
            anyhow::bail!("no training rows");
        }
        let mut data = TrainData::new(x, cols.len(), &y).with_feature_names(&names);
        data.weight = weight.as_deref();
        self.boost(&data, eval, progress)
    }

    /// The rows of `idx` that train: every positive, and each negative
    /// with probability `negatives`, drawn in row order from the seed;
    /// with their weights (none when every row is kept).
    fn keep<'a>(&self, y: &[u8], idx: &'a [u32]) -> (Cow<'a, [u32]>, Option<Vec<f32>>) {
        if self.negatives >= 1.0 {
            return (Cow::Borrowed(idx), None);
        }
        let mut rng =
            <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(self.params.seed);
        let kept: Vec<u32> = idx
            .iter()
            .copied()
            .filter(|&i| {
                y[i as usize] == 1 || rand::RngExt::random::<f64>(&mut rng) < self.negatives
            })
            .collect();
        let up = (1.0 / self.negatives) as f32;
        let weight = kept
            .iter()
            .map(|&i| if y[i as usize] == 1 { 1.0 } else { up })
            .collect();
        (Cow::Owned(kept), Some(weight))
    }

    /// Trains on the rows `idx` (in that order) of rows on disk, on their
    /// columns `cols`, reading them in batches (see [`crate::spill`]): the
    /// model [`Recipe::fit_rows`] trains on the same rows held in memory,
    /// bit for bit. With `eval`, those rows (read into memory) evaluate
    /// each round for early stopping. SMOTE is not available
    /// ([`Recipe::out_of_core_problem`]).
    pub fn fit_spilled(
        &self,
        spill: &Spill,
        cols: &[usize],
        idx: &[u32],
        eval: Option<&[u32]>,
        progress: &mut dyn FnMut(Round),
    ) -> anyhow::Result<Forest> {
        let problems = self.problems();
        if !problems.is_empty() {
            anyhow::bail!("bad recipe: {}", problems.join("; "));
        }
        if let Some(problem) = self.out_of_core_problem() {
            anyhow::bail!(problem);
        }
        let (kept, weight) = self.keep(&spill.y, idx);
        if kept.is_empty() {
            anyhow::bail!("no training rows");
        }
        let y: Vec<f32> = kept
            .iter()
            .map(|&i| f32::from(spill.y[i as usize]))
            .collect();
        let names: Vec<String> = cols.iter().map(|&c| spill.names()[c].clone()).collect();
        let params = self.params_for(&names)?;
        let mut batches = spill.batches(&kept, cols);
        let mut data = BatchData::new(&mut batches, cols.len(), &y).with_feature_names(&names);
        if let Some(w) = weight.as_deref() {
            data = data.with_weights(w);
        }
        Ok(match eval {
            Some(e) => {
                let x = spill.read_rows(e, cols)?;
                let ey: Vec<f32> = e.iter().map(|&i| f32::from(spill.y[i as usize])).collect();
                train_batches_with_eval(
                    data,
                    &TrainData::new(&x, cols.len(), &ey),
                    &params,
                    progress,
                )?
            }
            None => train_batches(data, &params)?,
        })
    }

    /// Trains on `rows` (SMOTE applies to these rows only).
    pub fn fit(&self, rows: &Dataset) -> anyhow::Result<Forest> {
        self.fit_eval(rows, None, &mut |_| {})
    }

    fn fit_eval(
        &self,
        rows: &Dataset,
        eval: Option<&(Vec<f32>, Vec<f32>)>,
        progress: &mut dyn FnMut(Round),
    ) -> anyhow::Result<Forest> {
        if self.negatives < 1.0 && self.smote.is_none() {
            let idx: Vec<u32> = (0..rows.len() as u32).collect();
            let cols: Vec<usize> = (0..rows.width()).collect();
            return self.fit_rows_with(rows, &idx, &cols, eval, progress);
        }
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
                self.boost(&data, eval, progress)
            }
            None => {
                let data = TrainData::new(&rows.x, rows.width(), &y)
                    .with_feature_names(&rows.feature_names);
                self.boost(&data, eval, progress)
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
    let p = Predictor::new(forest)?;
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

/// [`score`] for the rows `idx` of rows on disk, read in batches: the
/// forest was trained on the file's columns, in its order.
pub fn score_spilled(forest: &Forest, spill: &Spill, idx: &[u32]) -> anyhow::Result<Vec<f64>> {
    let p = Predictor::new(forest)?;
    let mut out = Vec::with_capacity(idx.len());
    spill.for_each_batch::<anyhow::Error>(idx, &spill.all_columns(), &mut |batch| {
        out.extend(p.predict(batch, spill.width())?.into_iter().map(f64::from));
        Ok(())
    })?;
    Ok(out)
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

//! `netprophet train`: labelled rows to a model, saved as XGBoost JSON
//! (with its feature names) that XGBoost and netprophet both load.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use netprophet_boost::calibration::Calibration;
use netprophet_boost::train::{EvalMetric, Round, BEST_ITERATION};
use netprophet_core::warnings::{brier, expected_calibration_error, Binning};

use crate::model_card::{self, ModelCard};
use crate::protocol::{chrono_fold, chrono_fold_blocks, fit_calibration};
use crate::recipe::{score, score_spilled, InputArgs, Recipe, RecipeArgs, SplitKind};
use crate::report::Evaluation;
use crate::spill::Spill;
use netprophet_core::split;

/// Arguments of `netprophet train`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Where to write the model (XGBoost JSON; written atomically).
    #[arg(long)]
    out: PathBuf,
    /// How to hold out test rows.
    #[arg(long, value_enum, default_value_t = SplitKind::Chrono)]
    split: SplitKind,
    /// Fraction of rows held out for testing, in (0, 1).
    #[arg(long, default_value_t = 0.2, value_parser = crate::flags::fraction)]
    test_fraction: f64,
    /// Train on every row (no test report), e.g. for the production model
    /// once a recipe has been evaluated.
    #[arg(long)]
    all_rows: bool,
    /// Decision threshold for the test report, in [0, 1].
    #[arg(long, default_value_t = 0.5, value_parser = crate::flags::probability)]
    threshold: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Calibrate: fit the model on each probe's earlier rows, then fit an
    /// isotonic map from its probabilities to the observed rate, and the
    /// F1-best alarm threshold, on each probe's latest
    /// --validation-fraction of training rows; both are stored in the
    /// model, and predict, refresh and the dashboard use them. The test
    /// rows (without --all-rows) are each probe's latest --test-fraction.
    #[arg(long)]
    calibrate: bool,
    /// With --calibrate: fraction of each probe's training rows that
    /// calibrate; with --early-stopping-rounds: that evaluate each round.
    #[arg(long, default_value_t = 0.2)]
    validation_fraction: f64,
    /// Stop adding trees once the evaluation metric on each probe's latest
    /// --validation-fraction of training rows has not improved for this
    /// many rounds (XGBoost's early stopping: every tree is kept, the best
    /// round is stored in the model as `best_iteration`). Each round's
    /// metric is logged on standard error.
    #[arg(long, value_parser = rounds)]
    early_stopping_rounds: Option<usize>,
    /// The metric early stopping watches (default: logloss, or rmse for
    /// reg:squarederror).
    #[arg(long, value_parser = eval_metric)]
    eval_metric: Option<EvalMetric>,
    /// Keep the rows on disk, not in memory: features are computed a
    /// probe at a time and written to a temporary file (in --spill-dir),
    /// and the trainer reads it in batches, keeping only the binned rows
    /// (4 bytes per feature per row) and about 30 bytes per row. The model
    /// is the one trained in memory on the same rows, bit for bit. Needs
    /// --no-smote; not with --split random.
    #[arg(long)]
    out_of_core: bool,
    /// With --out-of-core: where the temporary rows file goes (default:
    /// the directory of --out). It has no name and is removed when
    /// training ends, even on failure; it takes 4 bytes per feature per
    /// row (twice that while rows are put in time order).
    #[arg(long, requires = "out_of_core")]
    spill_dir: Option<PathBuf>,
}

/// `--early-stopping-rounds`: a whole number of rounds, at least 1.
fn rounds(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("0 rounds would stop before the first; give at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{text:?} is not a whole number of rounds (at least 1)"
        )),
    }
}

fn eval_metric(text: &str) -> Result<EvalMetric, String> {
    EvalMetric::from_name(text)
        .ok_or_else(|| format!("{text:?} is not one of logloss, auc, aucpr, error, rmse"))
}

impl Args {
    /// The recipe, with early stopping when asked for.
    fn recipe(&self) -> Recipe {
        let mut recipe = self.recipe.recipe();
        recipe.params.early_stopping_rounds = self.early_stopping_rounds;
        recipe.params.eval_metric = self.eval_metric;
        recipe
    }

    /// Trains on the rows `fit` of `rows`; with early stopping, the rows
    /// `validation` evaluate each round, logged on standard error as
    /// XGBoost logs them.
    fn fit(
        &self,
        recipe: &Recipe,
        rows: &Rows,
        fit: &[u32],
        validation: &[u32],
    ) -> anyhow::Result<netprophet_boost::Forest> {
        let early = self.early_stopping_rounds.is_some();
        anyhow::ensure!(
            !early || !validation.is_empty(),
            "no validation rows for early stopping (too few rows per probe)"
        );
        let metric = recipe
            .params
            .eval_metric
            .unwrap_or(EvalMetric::default_for(recipe.params.objective));
        let mut log = |r: Round| {
            if let Some(v) = r.eval {
                eprintln!("[{}]\teval-{}:{v:.5}", r.round - 1, metric.name());
            }
        };
        match rows {
            Rows::Memory(d) => {
                let cols: Vec<usize> = (0..d.width()).collect();
                if early {
                    recipe.fit_rows_eval(d, fit, &cols, validation, &mut log)
                } else {
                    recipe.fit_rows(d, fit, &cols)
                }
            }
            Rows::Disk(spill) => recipe.fit_spilled(
                spill,
                &spill.all_columns(),
                fit,
                early.then_some(validation),
                &mut log,
            ),
        }
    }

    /// The labelled rows: in memory, or with --out-of-core on disk; in
    /// time order, or with `by_probe` probe by probe.
    fn rows(&self, names: &[String], by_probe: bool) -> anyhow::Result<Rows> {
        if !self.out_of_core {
            return Ok(Rows::Memory(if by_probe {
                self.input.load_by_probe(names)?
            } else {
                self.input.load(names)?
            }));
        }
        anyhow::ensure!(
            self.all_rows || self.calibrate || matches!(self.split, SplitKind::Chrono),
            "--out-of-core holds out the latest rows (--split chrono), not random ones"
        );
        // Refused before any row is written, not after.
        if let Some(problem) = self.recipe().out_of_core_problem() {
            anyhow::bail!(problem);
        }
        let dir = match &self.spill_dir {
            Some(d) => d.clone(),
            None => match self.out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            },
        };
        Ok(Rows::Disk(self.input.spill(names, &dir, !by_probe)?))
    }
}

/// Labelled rows `train` works on.
enum Rows {
    /// Held in memory.
    Memory(netprophet_core::dataset::Dataset),
    /// On disk (`--out-of-core`).
    Disk(Spill),
}

impl Rows {
    fn len(&self) -> usize {
        self.y().len()
    }

    fn y(&self) -> &[u8] {
        match self {
            Rows::Memory(d) => &d.y,
            Rows::Disk(s) => &s.y,
        }
    }

    fn labels(&self, idx: &[u32]) -> Vec<u8> {
        let y = self.y();
        idx.iter().map(|&i| y[i as usize]).collect()
    }

    /// The forest's probabilities for the rows `idx`.
    fn scores(
        &self,
        forest: &netprophet_boost::Forest,
        names: &[String],
        idx: &[u32],
    ) -> anyhow::Result<Vec<f64>> {
        match self {
            Rows::Memory(d) => {
                let take: Vec<usize> = idx.iter().map(|&i| i as usize).collect();
                score(forest, names, &d.subset(&take))
            }
            Rows::Disk(spill) => score_spilled(forest, spill, idx),
        }
    }

    /// Each probe's earliest rows fit, then validate, its latest test.
    fn fold(&self, test: f64, validation: f64) -> crate::protocol::Fold {
        match self {
            Rows::Memory(d) => chrono_fold(d, test, validation),
            Rows::Disk(s) => chrono_fold_blocks(s.blocks(), test, validation),
        }
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    model: String,
    features: &'a [String],
    recipe: &'a Recipe,
    split: Option<SplitKind>,
    train_rows: usize,
    train_positives: usize,
    train_seconds: f64,
    trees: usize,
    /// With early stopping: the rows that evaluated each round, and the
    /// best round (from 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_rows: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    best_iteration: Option<usize>,
    test: Option<Evaluation>,
}

/// The best round early stopping recorded in `forest`, if it did.
fn best_iteration(forest: &netprophet_boost::Forest) -> Option<usize> {
    forest.attributes.get(BEST_ITERATION)?.parse().ok()
}

/// Runs `netprophet train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    crate::clobber::refuse_inputs_as_outputs(
        [("--out", args.out.as_path())],
        args.input.input.iter().map(PathBuf::as_path),
    )?;
    if args.calibrate {
        return run_calibrated(&args);
    }
    let names = args.input.feature_names()?;
    let recipe = args.recipe();
    let rows = args.rows(&names, false)?;
    // Indices into the time-ordered rows, so no train or test copy is
    // made (the model is the one trained on such copies).
    let (train_idx, test_idx): (Vec<u32>, Vec<u32>) = if args.all_rows {
        ((0..rows.len() as u32).collect(), Vec::new())
    } else {
        match (&rows, args.split) {
            (Rows::Memory(d), SplitKind::Random) => {
                let s = split::stratified_random(&d.y, args.test_fraction, args.recipe.seed)?;
                let u32s = |v: Vec<usize>| v.into_iter().map(|i| i as u32).collect();
                (u32s(s.train), u32s(s.test))
            }
            _ => {
                let cut = split::chronological_cut(rows.len(), args.test_fraction)? as u32;
                ((0..cut).collect(), (cut..rows.len() as u32).collect())
            }
        }
    };
    // With early stopping, the latest training rows (they are in time
    // order) evaluate each round.
    let n = train_idx.len();
    let n_fit = match args.early_stopping_rounds {
        Some(_) => {
            anyhow::ensure!(
                args.validation_fraction > 0.0 && args.validation_fraction < 1.0,
                "--validation-fraction {} must be between 0 and 1",
                args.validation_fraction
            );
            (n as f64 * (1.0 - args.validation_fraction)).round() as usize
        }
        None => n,
    };
    let (fit, validation) = train_idx.split_at(n_fit);
    let started = Instant::now();
    let mut forest = args.fit(&recipe, &rows, fit, validation)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let fit_rows = fit.len();
    describe(&mut forest, &args, &recipe, None, None, fit_rows)?;
    crate::model_card::save_model(&forest, &args.out)?;
    let test = if test_idx.is_empty() {
        None
    } else {
        Some(Evaluation::new(
            &rows.labels(&test_idx),
            &rows.scores(&forest, &names, &test_idx)?,
            args.threshold,
        )?)
    };
    let summary = Summary {
        model: args.out.display().to_string(),
        features: &names,
        recipe: &recipe,
        split: (!args.all_rows).then_some(args.split),
        train_rows: fit_rows,
        train_positives: rows.labels(fit).iter().filter(|&&y| y == 1).count(),
        train_seconds,
        trees: forest.num_trees(),
        validation_rows: args.early_stopping_rounds.map(|_| validation.len()),
        best_iteration: best_iteration(&forest),
        test,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    if let Some(best) = summary.best_iteration {
        println!(
            "early stopping: best round {best} of {} on {} validation rows",
            summary.trees,
            summary.validation_rows.unwrap_or(0)
        );
    }
    println!(
        "trained {} trees on {} rows ({} degraded{}) in {:.3} s; saved {}",
        summary.trees,
        summary.train_rows,
        summary.train_positives,
        if recipe.smote.is_some() {
            ", SMOTE on these rows"
        } else {
            ""
        },
        train_seconds,
        summary.model
    );
    if let Some(t) = &summary.test {
        println!(
            "test ({:?} split, last/held-out {} rows, {} degraded) at threshold {}: {}",
            args.split,
            t.rows,
            t.positives,
            t.threshold,
            t.line()
        );
        println!("{}", t.report);
    }
    Ok(())
}

/// Stores what the model predicts, how it was trained and (when fitted)
/// its calibration in its attributes.
fn describe(
    forest: &mut netprophet_boost::Forest,
    args: &Args,
    recipe: &Recipe,
    calibration: Option<Calibration>,
    threshold: Option<f64>,
    rows: usize,
) -> anyhow::Result<()> {
    let names = forest.feature_names.clone().unwrap_or_default();
    let card = ModelCard {
        target: args.input.labels.label_config()?,
        features: args.input.labels.feature_config(),
        calibration,
        threshold,
        lookback_minutes: netprophet_core::history::lookback_minutes(&names),
    };
    card.write(forest)?;
    forest
        .attributes
        .insert(model_card::RECIPE.into(), serde_json::to_string(recipe)?);
    let inputs: Vec<String> = args
        .input
        .input
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let shown = if inputs.len() > 8 {
        format!("{} and {} more", inputs[..8].join(", "), inputs.len() - 8)
    } else {
        inputs.join(", ")
    };
    forest.attributes.insert(
        model_card::TRAINED_ON.into(),
        format!("{rows} rows of {shown}"),
    );
    Ok(())
}

/// `train --calibrate`.
fn run_calibrated(args: &Args) -> anyhow::Result<()> {
    let names = args.input.feature_names()?;
    let recipe = args.recipe();
    let rows = args.rows(&names, true)?;
    anyhow::ensure!(
        args.validation_fraction > 0.0 && args.validation_fraction < 1.0,
        "--validation-fraction {} must be between 0 and 1",
        args.validation_fraction
    );
    anyhow::ensure!(
        args.all_rows || (args.test_fraction > 0.0 && args.test_fraction < 1.0),
        "--test-fraction {} must be between 0 and 1",
        args.test_fraction
    );
    let test_fraction = if args.all_rows {
        0.0
    } else {
        args.test_fraction
    };
    let fold = rows.fold(test_fraction, args.validation_fraction);
    let started = Instant::now();
    // Early stopping, when asked for, watches the calibration rows.
    let mut forest = args.fit(&recipe, &rows, &fold.fit, &fold.validation)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let scores_of = |idx: &[u32]| rows.scores(&forest, &names, idx);
    let labels_of = |idx: &[u32]| rows.labels(idx);
    let val_y = labels_of(&fold.validation);
    anyhow::ensure!(
        !val_y.is_empty(),
        "no validation rows to calibrate on (too few rows per probe)"
    );
    let (calibration, threshold) = fit_calibration(&scores_of(&fold.validation)?, &val_y)?;
    let threshold = threshold.is_finite().then_some(threshold);
    let test = if fold.test.is_empty() {
        None
    } else {
        let p: Vec<f64> = scores_of(&fold.test)?
            .into_iter()
            .map(|v| calibration.apply(v))
            .collect();
        Some(CalibratedTest::new(&labels_of(&fold.test), &p, threshold)?)
    };
    describe(
        &mut forest,
        args,
        &recipe,
        Some(calibration),
        threshold,
        fold.fit.len(),
    )?;
    crate::model_card::save_model(&forest, &args.out)?;
    let summary = CalibratedSummary {
        model: args.out.display().to_string(),
        features: &names,
        recipe: &recipe,
        train_rows: fold.fit.len(),
        train_positives: labels_of(&fold.fit).iter().filter(|&&y| y == 1).count(),
        validation_rows: fold.validation.len(),
        threshold,
        trees: forest.num_trees(),
        best_iteration: best_iteration(&forest),
        train_seconds,
        test,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        summary.print(args.test_fraction);
    }
    Ok(())
}

/// How a calibrated model did on each probe's latest rows.
#[derive(Serialize)]
struct CalibratedTest {
    #[serde(flatten)]
    eval: Evaluation,
    brier: f64,
    ece: f64,
}

impl CalibratedTest {
    fn new(y: &[u8], p: &[f64], threshold: Option<f64>) -> anyhow::Result<Self> {
        Ok(CalibratedTest {
            // Without a threshold the model never alarms.
            eval: Evaluation::new(y, p, threshold.unwrap_or(1.0))?,
            brier: brier(y, p)?,
            ece: expected_calibration_error(y, p, Binning::EqualWidth(10))?,
        })
    }
}

/// What `train --calibrate` prints.
#[derive(Serialize)]
struct CalibratedSummary<'a> {
    model: String,
    features: &'a [String],
    recipe: &'a Recipe,
    train_rows: usize,
    train_positives: usize,
    validation_rows: usize,
    threshold: Option<f64>,
    train_seconds: f64,
    trees: usize,
    /// With early stopping: the best round (from 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    best_iteration: Option<usize>,
    test: Option<CalibratedTest>,
}

impl CalibratedSummary<'_> {
    fn print(&self, test_fraction: f64) {
        if let Some(best) = self.best_iteration {
            println!(
                "early stopping: best round {best} of {} on the {} calibration rows",
                self.trees, self.validation_rows
            );
        }
        println!(
            "trained {} trees on {} rows ({} degraded) in {:.3} s, calibrated on {} later rows (alarm threshold {}); saved {}",
            self.trees,
            self.train_rows,
            self.train_positives,
            self.train_seconds,
            self.validation_rows,
            self.threshold
                .map_or_else(|| "none: no validation event".into(), |t| format!("{t:.3}")),
            self.model
        );
        if let Some(t) = &self.test {
            println!(
                "test (each probe's latest {:.0} %: {} rows, {} degraded): {}; Brier {:.4}, ECE {:.4}",
                test_fraction * 100.0,
                t.eval.rows,
                t.eval.positives,
                t.eval.line(),
                t.brier,
                t.ece
            );
        }
    }
}

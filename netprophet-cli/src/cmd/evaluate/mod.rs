//! `netprophet evaluate`: how good is a model, really?
//!
//! With `--model`, scores every labelled row of the input and reports the
//! per-class table and confusion matrix (as the original system's results
//! table), PR-AUC against the base rate, ROC-AUC, the F1-best threshold,
//! the always-healthy and persistence baselines, and the model's feature
//! importances. With `--compare-splits` (the default without `--model`),
//! it trains the recipe twice, on a random stratified split (the original
//! system's, which leaks the future of a time series into training) and on
//! a chronological split, and shows both side by side. `--variants` does
//! that for a set of recipes (features, class weights, thresholds chosen
//! on a validation fold).

use std::fmt::Write as _;

mod protocols;
use std::path::PathBuf;

use anyhow::Context;
use netprophet_boost::{Forest, Importance};
use netprophet_core::dataset::Dataset;
use netprophet_core::metrics::{best_f1_threshold, pr_curve};
use netprophet_core::split;
use serde::Serialize;

use crate::model_card::{model_schema, ModelCard};
use crate::plots;
use crate::protocol::Protocol;
use crate::recipe::{score, split_rows, InputArgs, Recipe, RecipeArgs, SplitKind};
use crate::report::{opt, Evaluation};

/// Arguments of `netprophet evaluate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// A trained model to evaluate (XGBoost JSON or UBJSON).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Train the recipe on a random and on a chronological split and
    /// compare (the default when no model is given).
    #[arg(long)]
    compare_splits: bool,
    /// Compare the built-in recipe variants on both splits.
    #[arg(long, conflicts_with = "model")]
    variants: bool,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Decision threshold (default 0.5; with --model, the model's own
    /// alarm threshold when it carries one).
    #[arg(long, value_parser = crate::flags::probability)]
    threshold: Option<f64>,
    /// Draw the precision-recall curve of the model (or of the recipe on
    /// the chronological split) as SVG.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Evaluate as a network engineer would trust: recipes and baselines
    /// on the same test rows, calibrated and thresholded on a time-later
    /// validation slice, with bootstrap intervals over probes. Protocols:
    /// chrono (each probe's latest rows), cross-probe (folds of unseen
    /// probes), random (leaky, for comparison); comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["model", "variants"])]
    protocol: Vec<Protocol>,
    /// With --protocol: the feature sets trained as candidates.
    #[arg(long, value_delimiter = ',', default_values_t = protocols::DEFAULT_SETS.map(String::from))]
    feature_sets: Vec<String>,
    /// With --protocol: folds of the cross-probe protocol.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=1000))]
    folds: u16,
    /// With --protocol: fraction of each training probe's latest rows that
    /// calibrate the probabilities and choose the alarm threshold.
    #[arg(long, default_value_t = 0.2, value_parser = crate::flags::fraction)]
    validation_fraction: f64,
    /// With --protocol: bootstrap replicates over probes for the 95 %
    /// intervals (0 for none).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    bootstrap: u32,
    /// With --protocol: write PR curves and reliability diagrams (SVG)
    /// into this directory.
    #[arg(long)]
    plot_dir: Option<PathBuf>,
    /// With --protocol: keep the rows' features on disk, not in memory
    /// (a temporary file in --spill-dir, read in batches by each fold's
    /// trainer and scorer); each row's label, time, probe and
    /// degraded-now flag (18 bytes) stay in memory. The results are the
    /// in-memory ones, bit for bit. Needs recipes without SMOTE (the
    /// protocol's default); not with the random protocol, whose rows are
    /// drawn in random order.
    #[arg(long, requires = "protocol")]
    out_of_core: bool,
    /// With --out-of-core: where the temporary rows file goes (default:
    /// the current directory). It has no name and is removed when the
    /// evaluation ends, even on failure; it takes 4 bytes per feature per
    /// row.
    #[arg(long, requires = "out_of_core")]
    spill_dir: Option<PathBuf>,
}

/// One model (or baseline) on one set of rows.
#[derive(Serialize)]
struct Row {
    name: String,
    split: Option<SplitKind>,
    eval: Evaluation,
}

/// A PR curve to plot: title, (recall, precision) points, base rate.
type Curve = (String, Vec<(f64, f64)>, f64);

#[derive(Serialize, Default)]
struct Output {
    rows: Vec<Row>,
    importance: Vec<(String, f64, f64, f64)>,
    #[serde(skip)]
    curve: Option<Curve>,
}

fn baselines(
    test: &Dataset,
    split: Option<SplitKind>,
    threshold: f64,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    out.push(Row {
        name: "baseline: always healthy".into(),
        split,
        eval: Evaluation::new(&test.y, &vec![0.0; test.len()], threshold)?,
    });
    if test.degraded_now.len() == test.len() {
        let now: Vec<f64> = test.degraded_now.iter().map(|&d| f64::from(d)).collect();
        out.push(Row {
            name: "baseline: persistence (degraded now)".into(),
            split,
            eval: Evaluation::new(&test.y, &now, threshold)?,
        });
    }
    Ok(())
}

/// A recipe variant: what it changes and whether its threshold comes from
/// a validation fold.
struct Variant {
    name: &'static str,
    /// `base`, `extended` or `relative` (see `InputArgs::feature_set`);
    /// `None`: the features the input arguments name.
    feature_set: Option<&'static str>,
    recipe: Recipe,
    validated_threshold: bool,
}

fn variants(base: &Recipe) -> Vec<Variant> {
    let mut weighted = base.clone();
    weighted.smote = None;
    // Roughly the negative/positive ratio of the real rows.
    weighted.params.scale_pos_weight = 19.0;
    let mut small = weighted.clone();
    small.params.max_depth = 3;
    small.params.n_estimators = 100;
    small.params.learning_rate = 0.05;
    small.params.min_child_weight = 2.0;
    small.params.subsample = 0.8;
    small.params.colsample_bytree = 0.8;
    vec![
        Variant {
            name: "original recipe: SMOTE k=3, 200 trees, depth 5",
            feature_set: Some("base"),
            recipe: base.clone(),
            validated_threshold: false,
        },
        Variant {
            name: "class weights instead of SMOTE",
            feature_set: Some("base"),
            recipe: weighted.clone(),
            validated_threshold: false,
        },
        Variant {
            name: "extended features + SMOTE",
            feature_set: Some("extended"),
            recipe: base.clone(),
            validated_threshold: false,
        },
        Variant {
            name: "extended features + class weights",
            feature_set: Some("extended"),
            recipe: weighted.clone(),
            validated_threshold: false,
        },
        Variant {
            name: "extended, weights, small trees, validated threshold",
            feature_set: Some("extended"),
            recipe: small.clone(),
            validated_threshold: true,
        },
        Variant {
            name: "relative features + SMOTE",
            feature_set: Some("relative"),
            recipe: base.clone(),
            validated_threshold: false,
        },
        Variant {
            name: "relative features + class weights",
            feature_set: Some("relative"),
            recipe: weighted,
            validated_threshold: false,
        },
        Variant {
            name: "relative features, weights, small trees",
            feature_set: Some("relative"),
            recipe: small,
            validated_threshold: false,
        },
    ]
}

/// Fits on the earliest 80 % of `train`, picks the F1-best threshold on
/// the rest, then refits on all of `train`.
fn fit_with_validated_threshold(
    recipe: &Recipe,
    train: &Dataset,
    names: &[String],
) -> anyhow::Result<(Forest, f64)> {
    let s = split::chronological(train.len(), 0.2)?;
    let (fit, validation) = (train.subset(&s.train), train.subset(&s.test));
    let model = recipe.fit(&fit)?;
    let threshold = match best_f1_threshold(&validation.y, &score(&model, names, &validation)?) {
        Ok((t, f1)) if f1 > 0.0 => t,
        _ => 0.5,
    };
    Ok((recipe.fit(train)?, threshold))
}

/// Runs `netprophet evaluate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let training: Vec<&str> = (args.recipe.training_flags_given().into_iter())
        .map(|(flag, _)| flag)
        .collect();
    if args.model.is_some() && !training.is_empty() {
        anyhow::bail!(
            "--model scores a trained model, so these training flags would be ignored: {}",
            training.join(", ")
        );
    }
    let outputs = [("--plot", &args.plot), ("--plot-dir", &args.plot_dir)]
        .into_iter()
        .filter_map(|(flag, p)| Some((flag, p.as_deref()?)));
    let inputs = args.input.input.iter().map(PathBuf::as_path);
    crate::clobber::refuse_inputs_as_outputs(outputs, inputs.chain(args.model.as_deref()))?;
    if !args.protocol.is_empty() {
        return protocols::run(&args);
    }
    let out = match &args.model {
        Some(path) => evaluate_model(&args, path)?,
        None => compare_recipes(&args)?,
    };
    report(&args, &out)
}

/// `evaluate --model`: one model on every labelled row (and, with
/// `--compare-splits`, on each split's test rows), with its importances.
/// The model's own calibration, alarm threshold and target are used
/// unless `--threshold` or `--target` say otherwise.
fn evaluate_model(args: &Args, path: &std::path::Path) -> anyhow::Result<Output> {
    let mut out = Output::default();
    let forest = Forest::load(path)?;
    let given = args.input.features.as_deref();
    let names = model_schema(&forest, given)?;
    let card = ModelCard::read(&forest, &names)?;
    let mut input = args.input.clone();
    input.labels.model_target = Some(card.target);
    let threshold = args.threshold.or(card.threshold).unwrap_or(0.5);
    let rows = input.load(&names)?;
    let scores_of = |rows: &Dataset| -> anyhow::Result<Vec<f64>> {
        Ok(score(&forest, &names, rows)?
            .into_iter()
            .map(|p| card.probability(p))
            .collect())
    };
    let scores = scores_of(&rows)?;
    let name = format!("model {}", path.display());
    out.rows.push(Row {
        name: name.clone(),
        split: None,
        eval: Evaluation::new(&rows.y, &scores, threshold)?,
    });
    baselines(&rows, None, threshold, &mut out.rows)?;
    let (w, g, c) = (
        forest.importance(Importance::Weight),
        forest.importance(Importance::Gain),
        forest.importance(Importance::Cover),
    );
    out.importance = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), g[i], w[i], c[i]))
        .collect();
    out.importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.curve = Some((
        name.clone(),
        curve(&rows.y, &scores)?,
        rows.positives() as f64 / rows.len() as f64,
    ));
    if args.compare_splits {
        for kind in [SplitKind::Random, SplitKind::Chrono] {
            let (_, test) = split_rows(&rows, kind, args.test_fraction, args.recipe.seed)?;
            out.rows.push(Row {
                name: format!("{name} (its test rows)"),
                split: Some(kind),
                eval: Evaluation::new(&test.y, &scores_of(&test)?, threshold)?,
            });
        }
    }
    Ok(out)
}

/// Without a model: the recipe (or, with `--variants`, the built-in
/// recipe variants) trained on a random and a chronological split.
fn compare_recipes(args: &Args) -> anyhow::Result<Output> {
    let mut out = Output::default();
    let threshold = args.threshold.unwrap_or(0.5);
    let base = args.recipe.recipe();
    let list: Vec<Variant> = if args.variants {
        variants(&base)
    } else {
        vec![Variant {
            name: "recipe",
            feature_set: None,
            recipe: base.clone(),
            validated_threshold: false,
        }]
    };
    // Read once; each variant cuts its own columns from the frames.
    let frames = args.input.load_frames()?;
    // The baselines do not depend on the recipe: computed on the last
    // recipe's test rows, listed once after every recipe.
    let mut baseline_rows = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let mut input = args.input.clone();
        if let Some(set) = v.feature_set {
            input.feature_set = set.into();
            input.features = None;
        }
        let names = input.feature_names()?;
        let rows = input.rows(&frames, &names)?;
        for kind in [SplitKind::Random, SplitKind::Chrono] {
            let (train, test) = split_rows(&rows, kind, args.test_fraction, args.recipe.seed)?;
            let (model, threshold) = if v.validated_threshold {
                fit_with_validated_threshold(&v.recipe, &train, &names)?
            } else {
                (
                    v.recipe
                        .fit(&train)
                        .with_context(|| format!("training `{}`", v.name))?,
                    threshold,
                )
            };
            let scores = score(&model, &names, &test)?;
            if kind == SplitKind::Chrono && out.curve.is_none() {
                out.curve = Some((
                    format!("{} (chronological split)", v.name),
                    curve(&test.y, &scores)?,
                    test.positives() as f64 / test.len() as f64,
                ));
            }
            out.rows.push(Row {
                name: if v.validated_threshold {
                    format!("{} (threshold {threshold:.2})", v.name)
                } else {
                    v.name.to_string()
                },
                split: Some(kind),
                eval: Evaluation::new(&test.y, &scores, threshold)?,
            });
            if last {
                baselines(&test, Some(kind), threshold, &mut baseline_rows)?;
            }
        }
    }
    out.rows.append(&mut baseline_rows);
    Ok(out)
}

/// Writes the plot and prints the table (or JSON), the first row's
/// report and the importances.
fn report(args: &Args, out: &Output) -> anyhow::Result<()> {
    if let (Some(plot), Some((title, points, base_rate))) = (&args.plot, &out.curve) {
        let svg = plots::pr_svg(
            &format!("Precision-recall: {title}"),
            &[plots::PrCurve {
                label: title,
                points,
                pr_auc: None,
                dashed: false,
            }],
            *base_rate,
        );
        netprophet_core::atomic_file::write(plot, svg.as_bytes())
            .with_context(|| format!("writing {}", plot.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(out)?);
        return Ok(());
    }
    print!("{}", table(out));
    if args.model.is_some() {
        if let Some(first) = out.rows.first() {
            println!(
                "\n{} at threshold {}:\n{}",
                first.name, first.eval.threshold, first.eval.report
            );
            if let Some((t, f1)) = first.eval.best_f1 {
                println!("F1-best threshold on these rows: {t:.3} (F1 {f1:.2}; chosen on the rows it is measured on, so optimistic)");
            }
        }
    }
    if !out.importance.is_empty() {
        println!("\nfeature importance (gain, weight, cover):");
        for (n, g, w, c) in &out.importance {
            println!("  {n:<22} {g:>10.3} {w:>6} {c:>10.2}");
        }
    }
    Ok(())
}

fn curve(y: &[u8], scores: &[f64]) -> anyhow::Result<Vec<(f64, f64)>> {
    Ok(pr_curve(y, scores)
        .map(|c| c.iter().map(|p| (p.recall, p.precision)).collect())
        .unwrap_or_default())
}

/// The side-by-side table: recipe, split, precision, recall, F1, PR-AUC,
/// base rate (Markdown, so it pastes into a README).
fn table(out: &Output) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| recipe | split | test rows | events | precision | recall | F1 | caught | false alarms | PR-AUC | base rate | ROC-AUC |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &out.rows {
        let c = &r.eval.report.classes[1];
        let [[_, fp], [_, tp]] = r.eval.report.confusion;
        let split = match r.split {
            Some(SplitKind::Random) => "random (leaky)",
            Some(SplitKind::Chrono) => "chronological",
            None => "all rows",
        };
        let _ = writeln!(
            s,
            "| {} | {split} | {} | {} | {:.2} | {:.2} | {:.2} | {tp} | {fp} | {} | {:.3} | {} |",
            r.name,
            r.eval.rows,
            r.eval.positives,
            c.precision,
            c.recall,
            c.f1,
            opt(r.eval.pr_auc),
            r.eval.base_rate,
            opt(r.eval.roc_auc)
        );
    }
    s
}

//! `netprophet tune`: grid search over the training recipe, scored by the
//! F1 of the degraded class on time-ordered folds of the training rows
//! (each fold trains on the past and validates on the block after it), in
//! parallel, with a progress bar. Writes the best model, trained on all
//! training rows, and a results table; reports it on the held-out test
//! rows.

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use netprophet_boost::Predictor;
use netprophet_core::metrics::ClassificationReport;
use netprophet_core::split;
use rayon::prelude::*;
use serde::Serialize;

use netprophet_core::dataset::Dataset;

use crate::recipe::{score, split_rows, InputArgs, Recipe, RecipeArgs, SplitKind};
use crate::report::Evaluation;

/// Arguments of `netprophet tune`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Where to write the best model (XGBoost JSON).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the results table (CSV, one line per grid point).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Learning rates to try.
    #[arg(long, value_delimiter = ',', default_values_t = [0.05, 0.1, 0.3])]
    learning_rates: Vec<f64>,
    /// Maximum depths to try.
    #[arg(long, value_delimiter = ',', default_values_t = [3, 5, 7])]
    max_depths: Vec<usize>,
    /// Numbers of trees to try.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 200])]
    tree_counts: Vec<usize>,
    /// Class balancing to try: smote, weights (scale_pos_weight =
    /// negatives/positives of the fold), none.
    #[arg(long, value_delimiter = ',', default_values_t = ["smote".to_string(), "weights".to_string()])]
    balancing: Vec<String>,
    /// Time-ordered folds.
    #[arg(long, default_value_t = 3)]
    folds: usize,
    /// Fraction of the (time-ordered) rows held out as the final test.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
}

#[derive(Clone, Debug, Serialize)]
struct Point {
    learning_rate: f64,
    max_depth: usize,
    n_estimators: usize,
    balancing: String,
    mean_f1: f64,
    fold_f1: Vec<f64>,
    failed_folds: usize,
}

fn recipe_for(base: &Recipe, p: &Point, positives: usize, negatives: usize) -> Recipe {
    let mut r = base.clone();
    r.params.learning_rate = p.learning_rate;
    r.params.max_depth = p.max_depth;
    r.params.n_estimators = p.n_estimators;
    match p.balancing.as_str() {
        "smote" => {}
        "weights" => {
            r.smote = None;
            r.params.scale_pos_weight = negatives as f64 / positives.max(1) as f64;
        }
        _ => r.smote = None,
    }
    r
}

/// Runs `netprophet tune`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let grid_flags = args.recipe.set_by_grid(&args.balancing);
    if !grid_flags.is_empty() {
        let each: Vec<String> = grid_flags
            .iter()
            .map(|(flag, instead)| format!("{flag} (use {instead})"))
            .collect();
        anyhow::bail!(
            "tune chooses these itself, so they would be ignored: {}",
            each.join(", ")
        );
    }
    let outputs = std::iter::once(("--out", args.out.as_path()))
        .chain(args.results.as_deref().map(|r| ("--results", r)));
    crate::clobber::refuse_inputs_as_outputs(
        outputs,
        args.input.input.iter().map(PathBuf::as_path),
    )?;
    for b in &args.balancing {
        anyhow::ensure!(
            ["smote", "weights", "none"].contains(&b.as_str()),
            "unknown balancing `{b}` (expected smote, weights or none)"
        );
    }
    let names = args.input.feature_names()?;
    let rows = args.input.load(&names)?;
    let (train, test) = split_rows(
        &rows,
        SplitKind::Chrono,
        args.test_fraction,
        args.recipe.seed,
    )?;
    // A fold is a prefix of the time-ordered rows and the block after it:
    // ranges, trained and scored in place (a copy per fold held k partial
    // copies of the rows).
    let fold_ranges = split::time_ordered_ranges(train.len(), args.folds)?;
    let base = args.recipe.recipe();
    let mut grid = grid(&args);
    score_grid(&mut grid, &train, &fold_ranges, &base);
    // Best mean F1; ties go to the simpler model (fewer, shallower trees).
    grid.sort_by(|a, b| {
        b.mean_f1
            .total_cmp(&a.mean_f1)
            .then(a.max_depth.cmp(&b.max_depth))
            .then(a.n_estimators.cmp(&b.n_estimators))
    });
    if let Some(path) = &args.results {
        write_results(path, &grid)?;
    }
    let best = &grid[0];
    let positives = train.positives();
    let recipe = recipe_for(&base, best, positives, train.len() - positives);
    let model = recipe.fit(&train)?;
    crate::model_card::save_model(&model, &args.out)?;
    println!("| learning_rate | max_depth | n_estimators | balancing | mean F1 ({} time-ordered folds) |", fold_ranges.len());
    println!("|---|---|---|---|---|");
    for p in grid.iter().take(10) {
        println!(
            "| {} | {} | {} | {} | {:.3}{} |",
            p.learning_rate,
            p.max_depth,
            p.n_estimators,
            p.balancing,
            p.mean_f1,
            if p.failed_folds > 0 {
                format!(" ({} folds too small)", p.failed_folds)
            } else {
                String::new()
            }
        );
    }
    let eval = Evaluation::new(&test.y, &score(&model, &names, &test)?, 0.5)?;
    println!(
        "\nbest: learning_rate {} max_depth {} n_estimators {} balancing {}; saved {}",
        best.learning_rate,
        best.max_depth,
        best.n_estimators,
        best.balancing,
        args.out.display()
    );
    println!(
        "held-out test (last {} rows, {} degraded): {}",
        eval.rows,
        eval.positives,
        eval.line()
    );
    Ok(())
}

/// Every combination of the flags' values, unscored.
fn grid(args: &Args) -> Vec<Point> {
    let mut grid = Vec::new();
    for &learning_rate in &args.learning_rates {
        for &max_depth in &args.max_depths {
            for &n_estimators in &args.tree_counts {
                for balancing in &args.balancing {
                    grid.push(Point {
                        learning_rate,
                        max_depth,
                        n_estimators,
                        balancing: balancing.clone(),
                        mean_f1: 0.0,
                        fold_f1: Vec::new(),
                        failed_folds: 0,
                    });
                }
            }
        }
    }
    grid
}

/// Fits every grid point on every fold (in parallel, with a progress bar)
/// and records its F1 at 0.5 on the fold's later block. A fold is the
/// rows `fit` of `rows` and the rows `validation` after them.
fn score_grid(
    grid: &mut [Point],
    rows: &Dataset,
    folds: &[(Range<usize>, Range<usize>)],
    base: &Recipe,
) {
    let bar = indicatif::ProgressBar::new((grid.len() * folds.len()) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("tuning [{bar:30}] {pos}/{len} fits ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let done = AtomicUsize::new(0);
    let cols: Vec<usize> = (0..rows.width()).collect();
    let w = rows.width();
    grid.par_iter_mut().for_each(|p| {
        for (fit, validation) in folds {
            let positives = rows.y[fit.clone()].iter().filter(|&&y| y == 1).count();
            let r = recipe_for(base, p, positives, fit.len() - positives);
            let idx: Vec<u32> = (fit.start as u32..fit.end as u32).collect();
            let val_y = &rows.y[validation.clone()];
            let val_x = &rows.x[validation.start * w..validation.end * w];
            // A fold whose past has too few events for SMOTE counts as F1 0.
            let f1 = r
                .fit_rows(rows, &idx, &cols)
                .and_then(|m| Ok(Predictor::new(&m)?.predict(val_x, w)?))
                .and_then(|s| {
                    let s: Vec<f64> = s.into_iter().map(f64::from).collect();
                    Ok(ClassificationReport::at_threshold(val_y, &s, 0.5)?)
                })
                .map(|rep| rep.classes[1].f1);
            match f1 {
                Ok(f) => p.fold_f1.push(f),
                Err(_) => {
                    p.failed_folds += 1;
                    p.fold_f1.push(0.0);
                }
            }
            bar.set_position(done.fetch_add(1, Ordering::Relaxed) as u64 + 1);
        }
        p.mean_f1 = p.fold_f1.iter().sum::<f64>() / p.fold_f1.len() as f64;
    });
    bar.finish_and_clear();
}

/// The results table, one line per grid point, best first.
fn write_results(path: &std::path::Path, grid: &[Point]) -> anyhow::Result<()> {
    netprophet_core::atomic_file::write_with(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        writeln!(
            w,
            "learning_rate,max_depth,n_estimators,balancing,mean_f1,fold_f1,failed_folds"
        )?;
        for p in grid {
            let folds: Vec<String> = p.fold_f1.iter().map(|f| format!("{f:.4}")).collect();
            writeln!(
                w,
                "{},{},{},{},{:.4},{},{}",
                p.learning_rate,
                p.max_depth,
                p.n_estimators,
                p.balancing,
                p.mean_f1,
                folds.join(";"),
                p.failed_folds
            )?;
        }
        w.flush()
    })
    .with_context(|| format!("writing {}", path.display()))
}

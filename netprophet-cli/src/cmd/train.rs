//! `netprophet train`: labelled rows to a model, saved as XGBoost JSON
//! (with its feature names) that XGBoost and netprophet both load.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::recipe::{score, split_rows, InputArgs, Recipe, RecipeArgs, SplitKind};
use crate::report::Evaluation;

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
    test: Option<Evaluation>,
}

/// Runs `netprophet train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let names = args.input.feature_names()?;
    let rows = args.input.load(&names)?;
    let recipe = args.recipe.recipe();
    let (train_rows, test_rows) = if args.all_rows {
        (rows, None)
    } else {
        let (a, b) = split_rows(&rows, args.split, args.test_fraction, args.recipe.seed)?;
        (a, Some(b))
    };
    let started = Instant::now();
    let forest = recipe.fit(&train_rows)?;
    let train_seconds = started.elapsed().as_secs_f64();
    forest
        .save_json(&args.out)
        .with_context(|| format!("saving the model to {}", args.out.display()))?;
    let test = match &test_rows {
        Some(t) => Some(Evaluation::new(
            &t.y,
            &score(&forest, &names, t)?,
            args.threshold,
        )?),
        None => None,
    };
    let summary = Summary {
        model: args.out.display().to_string(),
        features: &names,
        recipe: &recipe,
        split: (!args.all_rows).then_some(args.split),
        train_rows: train_rows.len(),
        train_positives: train_rows.positives(),
        train_seconds,
        test,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "trained {} trees on {} rows ({} degraded{}) in {:.3} s; saved {}",
        recipe.params.n_estimators,
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

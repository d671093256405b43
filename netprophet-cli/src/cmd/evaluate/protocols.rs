//! `evaluate --protocol`: every candidate (the recipes of `--feature-sets`
//! and the baselines) under every protocol, on the same rows, with
//! plots and a table or JSON.

use anyhow::Context;
use serde::Serialize;

use super::Args;
use crate::input::feature_set;
use crate::plots;
use crate::protocol::{self, evaluate, Candidate, Outcome, Protocol, Scorer, Settings};
use crate::recipe::Recipe;

/// Feature sets evaluated by default with --protocol.
pub(super) const DEFAULT_SETS: [&str; 4] = [
    "base",
    "relative",
    "relative+recent",
    "relative+recent+daily+level",
];

/// Heuristic baselines: a column whose value is the risk.
const HEURISTICS: [(&str, &str); 4] = [
    ("heuristic: z-score now", "zscore"),
    ("heuristic: rise over max(2.5 std, 2 ms)", "rise_over_floor"),
    (
        "heuristic: z-score against the hour before",
        "zscore_lagged",
    ),
    ("heuristic: spikes in the last hour", "spikes_60m"),
];

/// Runs `evaluate --protocol`.
pub(super) fn run(args: &Args) -> anyhow::Result<()> {
    let settings = Settings {
        folds: usize::from(args.folds),
        test_fraction: args.test_fraction,
        validation_fraction: args.validation_fraction,
        bootstrap: args.bootstrap as usize,
        seed: args.recipe.seed,
    };
    let problems = settings.problems();
    if !problems.is_empty() {
        anyhow::bail!("bad evaluation settings: {}", problems.join("; "));
    }
    let mut recipe = args.recipe.recipe();
    if recipe.smote.is_some() {
        eprintln!("note: protocol evaluation trains without SMOTE, which distorts probabilities (healthy rows are subsampled instead: --negatives)");
        recipe.smote = None;
    }
    recipe.negatives = args.recipe.negatives.unwrap_or(0.25);
    let mut protocols = args.protocol.clone();
    protocols.sort();
    protocols.dedup();
    let groups = candidates(&args.feature_sets, &recipe)?;
    anyhow::ensure!(
        !args.out_of_core || !protocols.contains(&Protocol::Random),
        "--out-of-core does not run the random protocol (its rows are drawn in random order, \
         one disk read each): leave it out of --protocol, or evaluate it in memory"
    );
    let outcomes = score_all(args, &groups, &protocols, &settings)?;
    if let Some(dir) = &args.plot_dir {
        let target = args.input.labels.label_config()?.target;
        write_plots(dir, &outcomes, &protocols, target)?;
    }
    print_report(args, &outcomes, &settings, &recipe)
}

/// The candidates, grouped by the columns they read: one model per
/// feature set, then the baselines and heuristics (which read a few
/// columns of their own).
fn candidates(
    feature_sets: &[String],
    recipe: &Recipe,
) -> anyhow::Result<Vec<(Vec<String>, Vec<Candidate>)>> {
    let mut groups: Vec<(Vec<String>, Vec<Candidate>)> = Vec::new();
    for set in feature_sets {
        let features = feature_set(set)?;
        groups.push((
            features.clone(),
            vec![Candidate {
                name: format!("model: {set}"),
                scorer: Scorer::Model {
                    features,
                    recipe: Box::new(recipe.clone()),
                },
            }],
        ));
    }
    let mut baselines = vec![
        Candidate {
            name: "baseline: always healthy".into(),
            scorer: Scorer::Healthy,
        },
        Candidate {
            name: "baseline: persistence (degraded now)".into(),
            scorer: Scorer::Persistence,
        },
    ];
    baselines.extend(HEURISTICS.iter().map(|(name, col)| Candidate {
        name: (*name).into(),
        scorer: Scorer::Column((*col).into()),
    }));
    groups.push((
        HEURISTICS.iter().map(|h| h.1.to_string()).collect(),
        baselines,
    ));
    Ok(groups)
}

/// Every candidate under every protocol. Rows are read again for each
/// group, so memory holds one group's columns at a time; that they are the
/// same rows every time is checked by their fingerprint.
fn score_all(
    args: &Args,
    groups: &[(Vec<String>, Vec<Candidate>)],
    protocols: &[Protocol],
    settings: &Settings,
) -> anyhow::Result<Vec<Outcome>> {
    let folds_per_candidate: usize = protocols
        .iter()
        .map(|p| {
            if *p == Protocol::CrossProbe {
                settings.folds
            } else {
                1
            }
        })
        .sum();
    let candidates: usize = groups.iter().map(|g| g.1.len()).sum();
    let bar = step_bar((candidates * folds_per_candidate) as u64);
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut input = args.input.clone();
    for (features, group) in groups {
        input.features = Some(features.clone());
        let (rows, spill) = if args.out_of_core {
            let dir = args
                .spill_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("."));
            let (rows, spill) = input.spill_with_rows(features, &dir)?;
            (rows, Some(spill))
        } else {
            (input.load_by_probe(features)?, None)
        };
        input.quiet = true;
        for c in group {
            for &protocol in protocols {
                bar.set_message(format!("{} / {}", c.name, protocol.label()));
                let o = evaluate(&rows, spill.as_ref(), protocol, c, settings, || bar.inc(1))?;
                if let Some(first) = outcomes.iter().find(|f| f.protocol == protocol) {
                    anyhow::ensure!(
                        first.rows_fingerprint == o.rows_fingerprint,
                        "`{}` was tested on other rows than `{}` ({} vs {})",
                        o.candidate,
                        first.candidate,
                        o.rows,
                        first.rows
                    );
                }
                outcomes.push(o);
            }
        }
    }
    bar.finish_and_clear();
    Ok(outcomes)
}

/// PR curves and reliability diagrams, one pair per protocol.
fn write_plots(
    dir: &std::path::Path,
    outcomes: &[Outcome],
    protocols: &[Protocol],
    target: netprophet_core::labels::Target,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for &protocol in protocols {
        let all: Vec<&Outcome> = outcomes.iter().filter(|o| o.protocol == protocol).collect();
        let shown: Vec<&Outcome> = all
            .iter()
            .copied()
            .filter(|o| !o.candidate.starts_with("baseline: always"))
            .collect();
        let name = format!("{target}-{}", slug(protocol));
        let pr = plots::pr_curves_svg(
            &format!("Precision-recall, target {target}, {}", protocol.label()),
            &shown,
        );
        netprophet_core::atomic_file::write(&dir.join(format!("pr-{name}.svg")), pr.as_bytes())?;
        let models: Vec<&Outcome> = all.iter().copied().filter(|o| !o.baseline).collect();
        let rel = plots::reliability_svg(
            &format!("Reliability, target {target}, {}", protocol.label()),
            &models,
        );
        netprophet_core::atomic_file::write(
            &dir.join(format!("reliability-{name}.svg")),
            rel.as_bytes(),
        )?;
    }
    Ok(())
}

/// The table (or JSON) of every outcome.
fn print_report(
    args: &Args,
    outcomes: &[Outcome],
    settings: &Settings,
    recipe: &Recipe,
) -> anyhow::Result<()> {
    let cfg = args.input.labels.label_config()?;
    if args.json {
        #[derive(Serialize)]
        struct Report<'a> {
            target: netprophet_core::labels::LabelConfig,
            negatives_kept: f64,
            outcomes: &'a [Outcome],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                target: cfg,
                negatives_kept: recipe.negatives,
                outcomes,
            })?
        );
        return Ok(());
    }
    println!(
        "target {} (horizon {} min{}), thresholds and calibration from each training probe's latest {:.0} % of rows, 95 % intervals from {} bootstrap resamplings of probes\n",
        cfg.target,
        cfg.horizon,
        if cfg.target == netprophet_core::labels::Target::Original {
            String::new()
        } else {
            format!(", median of {} min, rise >= {} ms", cfg.span, cfg.min_rise)
        },
        settings.validation_fraction * 100.0,
        settings.bootstrap
    );
    print!("{}", protocol::table(outcomes));
    Ok(())
}

fn slug(p: Protocol) -> &'static str {
    match p {
        Protocol::Chrono => "chrono",
        Protocol::CrossProbe => "cross-probe",
        Protocol::Random => "random",
    }
}

/// A progress bar over evaluation steps (drawn only on a terminal).
fn step_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

//! Evaluation a network engineer can trust: every candidate (recipes and
//! baselines alike) is scored on the same test rows, its probabilities are
//! calibrated and its alarm threshold chosen on a time-later validation
//! slice of the training side (never on the test rows), and the numbers
//! come with bootstrap intervals over probes.
//!
//! Protocols:
//! - `chrono`: each probe's earliest rows train, its latest rows test;
//!   pooled over probes.
//! - `cross-probe`: probes are split into folds; a fold's probes are
//!   tested by a model that never saw them.
//! - `random`: a stratified random split of all rows, as the original
//!   system evaluated; neighbours of every test minute are in training, so
//!   it is leaky and reported only to show how much.
//!
//! Inside the training side, each probe's earliest rows fit the model and
//! its latest `validation_fraction` of rows fit the calibration and the
//! threshold (the random protocol draws them at random instead).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context};
use netprophet_boost::calibration::Calibration;
use netprophet_boost::Predictor;
use netprophet_core::dataset::Dataset;
use netprophet_core::metrics::{average_precision, best_f1_threshold, roc_auc};
use netprophet_core::warnings::{
    brier, calibration_bins, expected_calibration_error, warning_record, Binning,
    BootstrapIntervals, GroupedScores, ReliabilityBin, WarningRecord,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::recipe::Recipe;
use crate::spill::Spill;

/// How rows are split into training and test sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Each probe's earliest rows train, its latest rows test.
    Chrono,
    /// Folds of probes: test probes are never seen in training.
    CrossProbe,
    /// Stratified random rows (leaky for time series).
    Random,
}

impl Protocol {
    /// How the table names it.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Chrono => "chronological, per probe",
            Protocol::CrossProbe => "cross-probe (unseen probes)",
            Protocol::Random => "random rows (leaky)",
        }
    }
}

/// Split and reporting settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Probe folds of the cross-probe protocol.
    pub folds: usize,
    /// Fraction of each probe's rows (chrono) or of all rows (random)
    /// held out for testing.
    pub test_fraction: f64,
    /// Fraction of each training probe's latest rows used to calibrate and
    /// choose the threshold.
    pub validation_fraction: f64,
    /// Bootstrap replicates over probes (0: no intervals).
    pub bootstrap: usize,
    /// Seed of folds, random splits and the bootstrap.
    pub seed: u64,
}

impl Settings {
    /// Every setting that cannot work.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.folds < 2 {
            out.push(format!("--folds {} must be at least 2", self.folds));
        }
        for (name, v) in [
            ("--test-fraction", self.test_fraction),
            ("--validation-fraction", self.validation_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                out.push(format!("{name} {v} must be between 0 and 1"));
            }
        }
        out
    }
}

/// What is scored.
#[derive(Clone, Debug)]
pub enum Scorer {
    /// A model trained by `recipe` on the named columns.
    Model {
        /// Its features.
        features: Vec<String>,
        /// How it is trained (boxed: far larger than the other kinds).
        recipe: Box<Recipe>,
    },
    /// A heuristic: the named column is the score (higher = riskier;
    /// missing = lowest).
    Column(String),
    /// Persistence: "degraded ahead if degraded now".
    Persistence,
    /// Always healthy.
    Healthy,
}

/// A candidate in the table.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Name in the table.
    pub name: String,
    /// What it scores with.
    pub scorer: Scorer,
}

impl Candidate {
    /// Columns the candidate reads.
    pub fn columns(&self) -> Vec<String> {
        match &self.scorer {
            Scorer::Model { features, .. } => features.clone(),
            Scorer::Column(c) => vec![c.clone()],
            Scorer::Persistence | Scorer::Healthy => Vec::new(),
        }
    }

    /// Whether it is a baseline (not a trained model).
    pub fn is_baseline(&self) -> bool {
        !matches!(self.scorer, Scorer::Model { .. })
    }
}

/// One candidate under one protocol.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Protocol.
    pub protocol: Protocol,
    /// Candidate name.
    pub candidate: String,
    /// Whether it is a baseline.
    pub baseline: bool,
    /// Test rows (the same for every candidate of a protocol).
    pub rows: usize,
    /// A fingerprint of the test rows (probe, minute, label), equal for
    /// every candidate of a protocol.
    pub rows_fingerprint: u64,
    /// Probes among the test rows.
    pub probes: usize,
    /// Positive test rows.
    pub positives: usize,
    /// Positive rate.
    pub base_rate: f64,
    /// Average precision of the calibrated probabilities.
    pub pr_auc: Option<f64>,
    /// ROC-AUC.
    pub roc_auc: Option<f64>,
    /// Precision at the validation-chosen threshold.
    pub precision: f64,
    /// Recall at that threshold.
    pub recall: f64,
    /// F1 at that threshold.
    pub f1: f64,
    /// The thresholds chosen (one per fold), on calibrated probability.
    pub thresholds: Vec<f64>,
    /// Events, catches, false alarms, warning times.
    pub warnings: WarningRecord,
    /// False alarms per probe-day.
    pub false_alarms_per_probe_day: f64,
    /// Median warning time of caught events, minutes.
    pub median_warning_minutes: Option<f64>,
    /// Brier score.
    pub brier: f64,
    /// Expected calibration error, 10 equal-width bins.
    pub ece: f64,
    /// Expected calibration error over 20 equal-mass bins (stricter for
    /// rare events, whose rows crowd the lowest width bin).
    pub ece_equal_mass: f64,
    /// 95 % bootstrap intervals over probes.
    pub intervals: Option<BootstrapIntervals>,
    /// Reliability diagram (20 equal-mass bins).
    pub reliability: Vec<ReliabilityBin>,
    /// Precision-recall curve, thinned for plotting: (recall, precision).
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

/// Where one fold's rows are (row indices, `u32` to halve their memory on
/// a million rows).
pub struct Fold {
    /// Rows the model trains on.
    pub fit: Vec<u32>,
    /// Rows that calibrate it and choose its threshold.
    pub validation: Vec<u32>,
    /// Rows it is tested on.
    pub test: Vec<u32>,
}

/// Each probe's earliest rows fit, the next `validation` fraction of its
/// rows validate, its latest `test` fraction (may be 0) tests; rows are
/// ordered probe by probe, each in time order.
pub fn chrono_fold(rows: &Dataset, test: f64, validation: f64) -> Fold {
    chrono_fold_blocks(&probe_blocks(&rows.probe_ids), test, validation)
}

/// [`chrono_fold`] over rows given as runs of one probe's rows.
pub fn chrono_fold_blocks(
    blocks: &[(u64, std::ops::Range<usize>)],
    test: f64,
    validation: f64,
) -> Fold {
    let mut f = Fold {
        fit: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    for (_, range) in blocks {
        let range = range.clone();
        let n = range.len() as f64;
        let test_start = range.start + (n * (1.0 - test)).round() as usize;
        let val_start =
            range.start + ((test_start - range.start) as f64 * (1.0 - validation)).round() as usize;
        f.fit.extend(range.start as u32..val_start as u32);
        f.validation.extend(val_start as u32..test_start as u32);
        f.test.extend(test_start as u32..range.end as u32);
    }
    f
}

/// The isotonic calibration of raw validation scores and the F1-best
/// alarm threshold on the calibrated scale (infinite, never alarm, when
/// no threshold catches a positive).
pub fn fit_calibration(raw: &[f64], y: &[u8]) -> anyhow::Result<(Calibration, f64)> {
    let cal = calibrate(raw, y)?;
    let p = apply(&cal, raw);
    let threshold = match best_f1_threshold(y, &p) {
        Ok((t, f1)) if f1 > 0.0 => t,
        _ => f64::INFINITY,
    };
    Ok((cal, threshold))
}

/// How many folds `protocol` has.
fn fold_count(protocol: Protocol, s: &Settings) -> usize {
    match protocol {
        Protocol::CrossProbe => s.folds,
        Protocol::Chrono | Protocol::Random => 1,
    }
}

/// Fold `k` of `protocol` over rows ordered probe by probe, each probe's
/// rows in time order. Built one at a time, so only one fold's indices
/// exist at once.
fn fold(rows: &Dataset, protocol: Protocol, s: &Settings, k: usize) -> anyhow::Result<Fold> {
    let blocks = probe_blocks(&rows.probe_ids);
    let early_late = |range: std::ops::Range<usize>, late: f64| {
        let n = range.len();
        let cut = range.start + ((n as f64) * (1.0 - late)).round() as usize;
        (range.start as u32..cut as u32, cut as u32..range.end as u32)
    };
    let mut f = Fold {
        fit: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    match protocol {
        Protocol::Chrono => return Ok(chrono_fold(rows, s.test_fraction, s.validation_fraction)),
        Protocol::CrossProbe => {
            if blocks.len() < s.folds {
                bail!(
                    "cross-probe evaluation needs at least {} probes (one per fold); the input has {} (use --all, or fewer --folds)",
                    s.folds,
                    blocks.len()
                );
            }
            let mut order: Vec<usize> = (0..blocks.len()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(s.seed));
            for (j, &b) in order.iter().enumerate() {
                let range = blocks[b].1.clone();
                if j % s.folds == k {
                    f.test.extend(range.start as u32..range.end as u32);
                } else {
                    let (fit, val) = early_late(range, s.validation_fraction);
                    f.fit.extend(fit);
                    f.validation.extend(val);
                }
            }
            f.test.sort_unstable();
        }
        Protocol::Random => {
            let split =
                netprophet_core::split::stratified_random(&rows.y, s.test_fraction, s.seed)?;
            let train_y: Vec<u8> = split.train.iter().map(|&i| rows.y[i]).collect();
            let inner = netprophet_core::split::stratified_random(
                &train_y,
                s.validation_fraction,
                s.seed.wrapping_add(1),
            )?;
            f.fit = inner.train.iter().map(|&i| split.train[i] as u32).collect();
            f.validation = inner.test.iter().map(|&i| split.train[i] as u32).collect();
            f.test = split.test.iter().map(|&i| i as u32).collect();
            f.test.sort_unstable();
        }
    }
    Ok(f)
}

/// Runs of equal probe id: (probe, rows).
fn probe_blocks(probes: &[u64]) -> Vec<(u64, std::ops::Range<usize>)> {
    let mut out: Vec<(u64, std::ops::Range<usize>)> = Vec::new();
    for (i, &p) in probes.iter().enumerate() {
        match out.last_mut() {
            Some((q, r)) if *q == p => r.end = i + 1,
            _ => out.push((p, i..i + 1)),
        }
    }
    out
}

/// Runs of equal block index: (block, rows).
fn probe_blocks_of(blocks: &[u32]) -> Vec<(u32, std::ops::Range<usize>)> {
    let mut out: Vec<(u32, std::ops::Range<usize>)> = Vec::new();
    for (i, &p) in blocks.iter().enumerate() {
        match out.last_mut() {
            Some((q, r)) if *q == p => r.end = i + 1,
            _ => out.push((p, i..i + 1)),
        }
    }
    out
}

/// Raw scores of `idx` (ascending) under a trained forest or a baseline;
/// the features of `rows`, or of the spill when there is one.
fn raw_scores(
    (rows, spill): (&Dataset, Option<&Spill>),
    idx: &[u32],
    scorer: &Scorer,
    forest: Option<&netprophet_boost::Forest>,
    cols: &[usize],
) -> anyhow::Result<Vec<f64>> {
    // The columns `cols` of the rows `idx`, a block at a time, so a
    // million rows never need a second copy.
    let blocks = |visit: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>| -> anyhow::Result<()> {
        match spill {
            Some(spill) => spill.for_each_batch(idx, cols, visit),
            None => {
                let mut x = Vec::new();
                for block in idx.chunks(65_536) {
                    x.clear();
                    for &i in block {
                        let r = rows.row(i as usize);
                        x.extend(cols.iter().map(|&c| r[c]));
                    }
                    visit(&x)?;
                }
                Ok(())
            }
        }
    };
    let mut out = Vec::with_capacity(idx.len());
    match scorer {
        Scorer::Healthy => out.resize(idx.len(), 0.0),
        Scorer::Persistence => out.extend(
            idx.iter()
                .map(|&i| f64::from(rows.degraded_now.get(i as usize).copied().unwrap_or(0))),
        ),
        Scorer::Column(_) => blocks(&mut |x| {
            out.extend(x.chunks_exact(cols.len()).map(|r| {
                let v = r[0];
                if v.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    f64::from(v)
                }
            }));
            Ok(())
        })?,
        Scorer::Model { .. } => {
            let forest = forest.context("a model candidate without its model")?;
            let predictor = Predictor::new(forest)?;
            blocks(&mut |x| {
                out.extend(predictor.predict(x, cols.len())?.into_iter().map(f64::from));
                Ok(())
            })?;
        }
    }
    Ok(out)
}

/// Maps raw scores to probabilities with an isotonic fit on the
/// validation rows; -inf (a missing heuristic value) ranks lowest.
fn calibrate(val_scores: &[f64], val_y: &[u8]) -> anyhow::Result<Calibration> {
    let finite: Vec<f64> = val_scores
        .iter()
        .map(|&v| if v.is_finite() { v } else { -1e300 })
        .collect();
    Calibration::fit_isotonic(&finite, val_y, None).context("calibrating on the validation rows")
}

fn apply(cal: &Calibration, raw: &[f64]) -> Vec<f64> {
    raw.iter()
        .map(|&v| cal.apply(if v.is_finite() { v } else { -1e300 }))
        .collect()
}

/// Scores of every test row of one candidate, pooled over folds, in
/// dataset order: each fold writes its test rows' places, so a million
/// rows cost 5 bytes each, not a sort of several copies.
struct Pooled {
    p: Vec<f32>,
    alarm: Vec<bool>,
    tested: Vec<bool>,
    thresholds: Vec<f64>,
}

/// Scores `candidate` under `protocol`; `progress` is called after each
/// fold. With `spill`, the rows' features are on disk there and `rows`
/// holds only their labels, times, probes and degraded-now flags.
pub fn evaluate(
    rows: &Dataset,
    spill: Option<&Spill>,
    protocol: Protocol,
    candidate: &Candidate,
    s: &Settings,
    mut progress: impl FnMut(),
) -> anyhow::Result<Outcome> {
    let cols: Vec<usize> = candidate
        .columns()
        .iter()
        .map(|c| {
            rows.feature_names
                .iter()
                .position(|n| n == c)
                .with_context(|| format!("no column `{c}` in the evaluation rows"))
        })
        .collect::<anyhow::Result<_>>()?;
    let n = rows.len();
    let mut pooled = Pooled {
        p: vec![f32::NAN; n],
        alarm: vec![false; n],
        tested: vec![false; n],
        thresholds: Vec::new(),
    };
    anyhow::ensure!(
        n <= u32::MAX as usize,
        "{n} rows are more than an evaluation indexes (2^32)"
    );
    for k in 0..fold_count(protocol, s) {
        let fold = fold(rows, protocol, s, k)?;
        let forest = match &candidate.scorer {
            Scorer::Model { recipe, .. } => Some(
                match spill {
                    None => recipe.fit_rows(rows, &fold.fit, &cols),
                    Some(spill) => recipe.fit_spilled(spill, &cols, &fold.fit, None, &mut |_| {}),
                }
                .with_context(|| format!("training `{}`", candidate.name))?,
            ),
            _ => None,
        };
        let val_raw = raw_scores(
            (rows, spill),
            &fold.validation,
            &candidate.scorer,
            forest.as_ref(),
            &cols,
        )?;
        let val_y: Vec<u8> = fold
            .validation
            .iter()
            .map(|&i| rows.y[i as usize])
            .collect();
        let (cal, threshold) = fit_calibration(&val_raw, &val_y)?;
        // A score that does not vary on the validation rows (always
        // healthy; persistence where no row is degraded now, as for the
        // onset target) ranks nothing: it never alarms, rather than
        // alarming on every minute, which is its best F1.
        let constant = val_raw.windows(2).all(|w| w[0] == w[1]);
        let threshold = match candidate.scorer {
            Scorer::Healthy => f64::INFINITY,
            _ if constant => f64::INFINITY,
            _ => threshold,
        };
        let test_raw = raw_scores(
            (rows, spill),
            &fold.test,
            &candidate.scorer,
            forest.as_ref(),
            &cols,
        )?;
        for (&i, p) in fold.test.iter().zip(apply(&cal, &test_raw)) {
            let i = i as usize;
            pooled.p[i] = p as f32;
            pooled.alarm[i] = p >= threshold;
            pooled.tested[i] = true;
        }
        pooled.thresholds.push(threshold);
        progress();
    }
    outcome(rows, protocol, candidate, pooled, s)
}

fn outcome(
    rows: &Dataset,
    protocol: Protocol,
    candidate: &Candidate,
    pooled: Pooled,
    s: &Settings,
) -> anyhow::Result<Outcome> {
    let idx: Vec<u32> = (0..rows.len() as u32)
        .filter(|&i| pooled.tested[i as usize])
        .collect();
    let y: Vec<u8> = idx.iter().map(|&i| rows.y[i as usize]).collect();
    let p: Vec<f64> = idx
        .iter()
        .map(|&i| f64::from(pooled.p[i as usize]))
        .collect();
    let alarm: Vec<bool> = idx.iter().map(|&i| pooled.alarm[i as usize]).collect();
    drop(pooled.p);
    let positives = y.iter().filter(|&&v| v == 1).count();
    let (tp, fp) = y
        .iter()
        .zip(&alarm)
        .fold((0usize, 0usize), |(tp, fp), (&y, &a)| {
            (tp + usize::from(a && y == 1), fp + usize::from(a && y == 0))
        });
    let precision = if tp + fp == 0 {
        0.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if positives == 0 {
        0.0
    } else {
        tp as f64 / positives as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };

    // Each test row's probe, as the index of its block of rows (4 bytes a
    // row instead of a copy of the 8-byte ids).
    let blocks = probe_blocks(&rows.probe_ids);
    let mut block_of = vec![0u32; 0];
    block_of.reserve_exact(idx.len());
    let mut b = 0;
    for &i in &idx {
        while blocks[b].1.end <= i as usize {
            b += 1;
        }
        block_of.push(b as u32);
    }
    let probe = block_of;
    let mut warnings = WarningRecord::default();
    for (_, range) in probe_blocks_of(&probe) {
        let at = &idx[range.clone()];
        let minutes: Vec<i64> = at.iter().map(|&i| rows.timestamps[i as usize]).collect();
        let now: Vec<bool> = at
            .iter()
            .map(|&i| rows.degraded_now.get(i as usize).is_some_and(|&d| d == 1))
            .collect();
        warnings.merge(&warning_record(
            &minutes,
            &y[range.clone()],
            &alarm[range.clone()],
            &now,
        )?);
    }
    let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
    for &i in &idx {
        let i = i as usize;
        std::hash::Hash::hash(
            &(rows.probe_ids[i], rows.timestamps[i], rows.y[i]),
            &mut fingerprint,
        );
    }
    let grouped = GroupedScores::new(&probe, &y, &p, &alarm)?;
    drop(probe);
    Ok(Outcome {
        protocol,
        candidate: candidate.name.clone(),
        baseline: candidate.is_baseline(),
        rows: y.len(),
        rows_fingerprint: std::hash::Hasher::finish(&fingerprint),
        probes: grouped.groups(),
        positives,
        base_rate: positives as f64 / y.len().max(1) as f64,
        pr_auc: average_precision(&y, &p).ok(),
        roc_auc: roc_auc(&y, &p).ok(),
        precision,
        recall,
        f1,
        thresholds: pooled.thresholds,
        false_alarms_per_probe_day: warnings.false_alarms_per_day(),
        median_warning_minutes: warnings.median_warning(),
        warnings,
        brier: brier(&y, &p)?,
        ece: expected_calibration_error(&y, &p, Binning::EqualWidth(10))?,
        ece_equal_mass: expected_calibration_error(&y, &p, Binning::EqualMass(20))?,
        intervals: grouped.bootstrap(s.bootstrap, s.seed),
        reliability: calibration_bins(&y, &p, Binning::EqualMass(20))?,
        curve: thin_curve(grouped.pr_curve()),
    })
}

/// At most ~400 points of a PR curve, for plotting.
fn thin_curve(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let step = (points.len() / 400).max(1);
    let last = points.last().copied();
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    if let Some(l) = last {
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    out
}

/// The results table (Markdown), one block per protocol.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut by: BTreeMap<Protocol, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by.entry(o.protocol).or_default().push(o);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| protocol | candidate | test rows | probes | events | caught | false alarms / probe-day | median warning (min) | PR-AUC [95 % CI] | x base rate | ROC-AUC | F1 [95 % CI] | Brier | ECE |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (protocol, list) in by {
        for o in list {
            let ci = |get: fn(&BootstrapIntervals) -> (f64, f64)| {
                o.intervals
                    .as_ref()
                    .map(|i| {
                        let (lo, hi) = get(i);
                        format!(" [{lo:.3}, {hi:.3}]")
                    })
                    .unwrap_or_default()
            };
            let pr = o.pr_auc.map_or("-".into(), |v| format!("{v:.3}"));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.2} | {} | {pr}{} | {} | {} | {:.3}{} | {:.4} | {:.4} |",
                protocol.label(),
                o.candidate,
                o.rows,
                o.probes,
                o.warnings.events,
                o.warnings.caught,
                o.false_alarms_per_probe_day,
                o.median_warning_minutes
                    .map_or("-".into(), |v| format!("{v:.0}")),
                ci(|i| (i.pr_auc.low, i.pr_auc.high)),
                o.pr_auc
                    .map_or("-".into(), |v| format!("{:.1}", v / o.base_rate.max(1e-12))),
                o.roc_auc.map_or("-".into(), |v| format!("{v:.3}")),
                o.f1,
                ci(|i| (i.f1.low, i.f1.high)),
                o.brier,
                o.ece,
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Dataset {
        // 6 probes x 100 minutes; the single feature predicts the label.
        let mut d = Dataset::new(&["f"]);
        for p in 0..6u64 {
            for t in 0..100i64 {
                let y = (t + p as i64) % 10 == 0;
                let x = f32::from(u8::from(y)) + (t % 7) as f32 * 0.01;
                d.push_row(&[x], y, t * 60, p, false).unwrap();
            }
        }
        d
    }

    fn settings() -> Settings {
        Settings {
            folds: 3,
            test_fraction: 0.3,
            validation_fraction: 0.25,
            bootstrap: 50,
            seed: 1,
        }
    }

    #[test]
    fn folds_keep_probes_and_time_apart() {
        let d = rows();
        let s = settings();
        for k in 0..s.folds {
            let f = fold(&d, Protocol::CrossProbe, &s, k).unwrap();
            let test: std::collections::BTreeSet<u64> =
                f.test.iter().map(|&i| d.probe_ids[i as usize]).collect();
            for &i in f.fit.iter().chain(&f.validation) {
                assert!(!test.contains(&d.probe_ids[i as usize]));
            }
        }
        let chrono = fold(&d, Protocol::Chrono, &s, 0).unwrap();
        for p in 0..6u64 {
            let of = |v: &[u32]| -> Vec<u32> {
                v.iter()
                    .copied()
                    .filter(|&i| d.probe_ids[i as usize] == p)
                    .collect()
            };
            let last_fit = *of(&chrono.fit).iter().max().unwrap();
            let first_val = *of(&chrono.validation).iter().min().unwrap();
            let first_test = *of(&chrono.test).iter().min().unwrap();
            assert!(last_fit < first_val && first_val < first_test);
        }
        assert!(fold(&d, Protocol::CrossProbe, &Settings { folds: 7, ..s }, 0).is_err());
    }

    #[test]
    fn every_candidate_is_scored_on_the_same_rows() {
        let d = rows();
        let s = settings();
        let candidates = [
            Candidate {
                name: "column".into(),
                scorer: Scorer::Column("f".into()),
            },
            Candidate {
                name: "persistence".into(),
                scorer: Scorer::Persistence,
            },
            Candidate {
                name: "healthy".into(),
                scorer: Scorer::Healthy,
            },
        ];
        for protocol in [Protocol::Chrono, Protocol::CrossProbe, Protocol::Random] {
            let outs: Vec<Outcome> = candidates
                .iter()
                .map(|c| evaluate(&d, None, protocol, c, &s, || {}).unwrap())
                .collect();
            assert!(outs
                .iter()
                .all(|o| o.rows_fingerprint == outs[0].rows_fingerprint && o.rows == outs[0].rows));
            // The informative column is perfect; always-healthy never alarms.
            assert_eq!(outs[0].pr_auc, Some(1.0), "{protocol:?}");
            assert_eq!(outs[2].f1, 0.0);
            assert_eq!(outs[2].warnings.caught, 0);
        }
    }
}

//! Native histogram gradient boosting: XGBoost's `hist` method, written
//! from its source and behaviour. Given the same rows and parameters it
//! grows the trees XGBoost 3.x grows, margins equal to float rounding
//! (the crate's `xgboost_training_parity` test); only row and column
//! sampling draw from a different random generator.
//!
//! Features are cut into quantile bins once; every node keeps a histogram
//! of gradient and hessian sums per bin, and a sibling's histogram is the
//! parent's minus the other child's. The result is an ordinary
//! [`Forest`], so it scores with [`crate::Predictor`] and saves as
//! XGBoost JSON.
//!
//! The files follow XGBoost's split of its `hist` updater, so each
//! parameter has one home:
//!
//! | file | XGBoost | what it holds |
//! |---|---|---|
//! | `params.rs` | `tree/param.h` | [`TrainParams`], ranges, the float32 view growth uses |
//! | `data.rs` | `DMatrix`, `MetaInfo` | [`TrainData`] and its checks |
//! | `batches.rs` | `DataIter`, external memory | [`RowBatches`], [`BatchData`]: rows read in batches |
//! | `bins.rs` | `common/quantile.cc` | quantile cuts and the binned rows |
//! | `objective.rs` | `objective/regression_obj` | base score, gradients |
//! | `sampler.rs` | `hist/sampler.h`, `common/random.h` | row and column sampling |
//! | `histogram.rs` | `hist/histogram.h` | gradient histograms |
//! | `evaluator.rs` | `hist/evaluate_splits.h`, `split_evaluator.h` | weights, gains, `alpha`, `max_delta_step`, monotone bounds, split choice |
//! | `partitioner.rs` | `common_row_partitioner.h` | moving a node's rows to its children |
//! | `grow.rs` | `updater_quantile_hist.cc`, `driver.h` | depth-wise and loss-guided growth, `gamma`, `max_leaves` |
//! | `tree.rs` | `tree_model.cc` | the tree being grown, numbering, leaf values |
//! | `metric.rs` | `metric/`, the `EarlyStopping` callback | evaluation metrics, early stopping |
//! | this file | `learner.cc`, `gbtree.cc` | the boosting rounds |

mod batches;
mod bins;
mod data;
mod evaluator;
mod grow;
mod histogram;
mod metric;
mod objective;
mod params;
mod partitioner;
mod sampler;
mod tree;

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::ModelError;
use crate::model::Forest;
use bins::Binned;
use grow::{Grower, RowBuffers};
pub(crate) use histogram::Grad32;
use tree::{BinTree, Settled};

pub use batches::{BatchData, BatchError, RowBatches, SliceBatches};
pub use data::TrainData;
pub use metric::{evaluate as evaluate_metric, python_str};
pub use params::{
    EvalMetric, GrowPolicy, TrainObjective, TrainParams, MAX_BINS, MAX_LEAVES, MAX_ROUNDS,
};

/// Progress of one boosting round, for callers that report it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Round {
    /// Round number, from 1.
    pub round: usize,
    /// Of how many (at most: early stopping may end sooner).
    pub of: usize,
    /// The evaluation metric on the evaluation set after this round, when
    /// there is one.
    pub eval: Option<f64>,
}

/// The attributes early stopping leaves in a model, as XGBoost names them
/// (`best_iteration` counts from 0).
pub const BEST_ITERATION: &str = "best_iteration";
/// See [`BEST_ITERATION`].
pub const BEST_SCORE: &str = "best_score";

/// Trains a forest.
///
/// ```
/// use netprophet_boost::train::{train, TrainData, TrainParams};
///
/// // y = 1 when x0 > 5.
/// let x: Vec<f32> = (0..100).flat_map(|i| [(i % 10) as f32, (i / 10) as f32]).collect();
/// let y: Vec<f32> = (0..100).map(|i| if i % 10 > 5 { 1.0 } else { 0.0 }).collect();
/// let data = TrainData::new(&x, 2, &y);
/// let forest = train(&data, &TrainParams::default().n_estimators(20)).unwrap();
/// let p = netprophet_boost::Predictor::new(&forest)?;
/// assert!(p.predict_row(&[8.0, 0.0]).unwrap() > 0.9);
/// assert!(p.predict_row(&[2.0, 0.0]).unwrap() < 0.1);
/// # Ok::<(), netprophet_boost::ModelError>(())
/// ```
pub fn train(data: &TrainData<'_>, params: &TrainParams) -> Result<Forest, ModelError> {
    boost(data, None, params, |_| {})
}

/// [`train`], calling `progress` once for each round, in order, on the
/// calling thread. The rounds run on rayon's pool, and `progress` hears
/// of them when they are done: rounds that take less than 50 ms in all
/// are reported together, so it needs no `Send`.
pub fn train_with_progress(
    data: &TrainData<'_>,
    params: &TrainParams,
    progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    boost(data, None, params, progress)
}

/// [`train`] with an evaluation set: after each round the metric
/// (`params.eval_metric`, by default the objective's) is computed on
/// `eval` and passed to `progress`; with `params.early_stopping_rounds`,
/// training stops once the metric has not improved for that many rounds,
/// and the model records its best round as XGBoost does (attributes
/// [`BEST_ITERATION`] and [`BEST_SCORE`]), keeping every tree trained.
///
/// ```
/// use netprophet_boost::train::{train_with_eval, EvalMetric, TrainData, TrainParams, BEST_ITERATION};
///
/// let x: Vec<f32> = (0..400).map(|i| (i % 40) as f32).collect();
/// let y: Vec<f32> = (0..400).map(|i| if i % 40 > 25 { 1.0 } else { 0.0 }).collect();
/// let (train_rows, eval_rows) = (TrainData::new(&x[..300], 1, &y[..300]), TrainData::new(&x[300..], 1, &y[300..]));
/// let params = TrainParams::default()
///     .n_estimators(500)
///     .eval_metric(Some(EvalMetric::LogLoss))
///     .early_stopping_rounds(Some(5));
/// let mut log = Vec::new();
/// let forest = train_with_eval(&train_rows, &eval_rows, &params, |r| log.push(r.eval.unwrap())).unwrap();
/// let best: usize = forest.attributes[BEST_ITERATION].parse().unwrap();
/// assert_eq!(forest.trees.len(), best + 1 + 5);
/// assert_eq!(log.len(), forest.trees.len());
/// ```
pub fn train_with_eval(
    data: &TrainData<'_>,
    eval: &TrainData<'_>,
    params: &TrainParams,
    progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    boost(data, Some(eval), params, progress)
}

/// [`train`] on rows whose features come in batches ([`RowBatches`]): a
/// file read a piece at a time, a database cursor, rows computed on the
/// fly. The features are read three times and never held; the model is
/// the one [`train`] grows on the same rows in the same order, bit for
/// bit, whatever the batch sizes.
///
/// ```
/// use netprophet_boost::train::{train, train_batches, BatchData, SliceBatches, TrainData, TrainParams};
///
/// let x: Vec<f32> = (0..1000).flat_map(|i| [(i % 10) as f32, (i / 10) as f32]).collect();
/// let y: Vec<f32> = (0..1000).map(|i| if i % 10 > 5 { 1.0 } else { 0.0 }).collect();
/// let params = TrainParams::default().n_estimators(10);
/// // 64 rows at a time; a real source would read them from disk.
/// let mut batches = SliceBatches::new(&x, 2, 64);
/// let streamed = train_batches(BatchData::new(&mut batches, 2, &y), &params)?;
/// assert_eq!(streamed, train(&TrainData::new(&x, 2, &y), &params)?);
/// # Ok::<(), netprophet_boost::ModelError>(())
/// ```
pub fn train_batches(data: BatchData<'_>, params: &TrainParams) -> Result<Forest, ModelError> {
    boost_batches(data, None, params, |_| {})
}

/// [`train_batches`] with an evaluation set held in memory, as
/// [`train_with_eval`] (early stopping, a metric per round).
pub fn train_batches_with_eval(
    data: BatchData<'_>,
    eval: &TrainData<'_>,
    params: &TrainParams,
    progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    boost_batches(data, Some(eval), params, progress)
}

/// An evaluation set while training: its rows, margins so far and the
/// early-stopping state.
struct EvalState<'a> {
    data: &'a TrainData<'a>,
    metric: params::EvalMetric,
    margin: Vec<f32>,
    stopping: Option<metric::EarlyStopping>,
}

impl EvalState<'_> {
    /// Adds round `round`'s tree to the evaluation margins: the metric,
    /// and whether early stopping ends training here.
    fn after(
        &mut self,
        tree: &crate::model::Tree,
        round: usize,
        objective: TrainObjective,
    ) -> (f64, bool) {
        add_tree(&mut self.margin, tree, self.data);
        let score = metric::evaluate(
            self.metric,
            objective,
            &self.margin,
            self.data.y,
            self.data.weight,
        );
        let stop = self
            .stopping
            .as_mut()
            .is_some_and(|s| s.update(round, score));
        (score, stop)
    }
}

fn boost(
    data: &TrainData<'_>,
    eval: Option<&TrainData<'_>>,
    params: &TrainParams,
    progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    data.check_shape()?;
    // Rows in memory are one batch: binning (and its check for infinite
    // values) is the batch path's.
    let mut batches = SliceBatches::new(data.x, data.width, data.y.len());
    let batched = BatchData {
        batches: &mut batches,
        width: data.width,
        y: data.y,
        weight: data.weight,
        feature_names: data.feature_names,
    };
    boost_batches(batched, eval, params, progress)
}

/// The parameters' and rows' checks, binning, the rounds.
fn boost_batches(
    data: BatchData<'_>,
    eval: Option<&TrainData<'_>>,
    params: &TrainParams,
    progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    params.validate()?;
    data::check_rows(
        data.width,
        data.y,
        data.weight,
        data.feature_names,
        params.objective,
    )?;
    let rows = Rows {
        width: data.width,
        y: data.y,
        weight: data.weight,
        feature_names: data.feature_names,
    };
    check_eval(&rows, eval, params)?;
    let binned = Binned::from_batches(
        data.batches,
        data.width,
        data.y.len(),
        data.weight,
        params.max_bin,
    )?;
    grow_forest(&binned, &rows, eval, params, progress)
}

/// What the boosting rounds need of the training rows besides their bins.
struct Rows<'a> {
    width: usize,
    y: &'a [f32],
    weight: Option<&'a [f32]>,
    feature_names: Option<&'a [String]>,
}

/// The checks of the evaluation set and of the parameters against the
/// training rows' width.
fn check_eval(
    rows: &Rows<'_>,
    eval: Option<&TrainData<'_>>,
    params: &TrainParams,
) -> Result<(), ModelError> {
    let width = rows.width;
    if params.monotone_constraints.len() > width {
        return Err(ModelError::Input(format!(
            "{} monotone constraints for {width} features",
            params.monotone_constraints.len()
        )));
    }
    if let Some(e) = eval {
        e.check(params.objective)
            .map_err(|err| ModelError::Input(format!("evaluation set: {err}")))?;
        if e.width != width {
            return Err(ModelError::Input(format!(
                "evaluation set has {} features, training rows {width}",
                e.width
            )));
        }
    } else if params.early_stopping_rounds.is_some() {
        return Err(ModelError::Input(
            "early_stopping_rounds needs an evaluation set".into(),
        ));
    }
    Ok(())
}

/// The longest the boosting rounds run before `progress` hears of them.
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// The boosting rounds over binned rows.
fn grow_forest(
    binned: &Binned,
    data: &Rows<'_>,
    eval: Option<&TrainData<'_>>,
    params: &TrainParams,
    mut progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    let n = data.y.len();
    let width = data.width;
    // Gradients are float32 (as XGBoost computes them): so is the weight
    // that scales them.
    let weight = objective::row_weights(data.y, data.weight, params)?;
    let (base_score, objective, base_margin) = objective::base_score(data.y, data.weight, params)?;
    let tree_params = params.tree_params(width);
    let mut eval = eval.map(|e| {
        let metric = params
            .eval_metric
            .unwrap_or(params::EvalMetric::default_for(params.objective));
        EvalState {
            data: e,
            metric,
            margin: vec![base_margin; e.rows()],
            stopping: params
                .early_stopping_rounds
                .map(|r| metric::EarlyStopping::new(r, metric)),
        }
    });

    // Margins are float32, as XGBoost's prediction cache.
    let mut margin = vec![base_margin; n];
    let mut grad = vec![Grad32::default(); n];
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut trees = Vec::with_capacity(params.n_estimators.min(4096));
    let mut buffers = RowBuffers {
        idx: Vec::with_capacity(n),
        scratch: vec![0; n],
    };
    // The last tree and where its rows settled, when its leaf values are
    // still to be added to the margins (in the next gradient pass).
    let mut pending: Option<(BinTree, Vec<Settled>)> = None;
    let mut round = 0;
    let mut stop = false;
    let mut done = Vec::new();
    while round < params.n_estimators && !stop {
        // The rounds run on a pool thread, as many as take REPORT_EVERY:
        // called from outside the pool, every parallel step would
        // otherwise be handed to the pool and waited for by this thread,
        // two thread switches a step, and entering the pool itself costs
        // two. `progress` need not be Send, so it hears of those rounds
        // here, in order, when they are done.
        rayon::scope(|_| {
            let started = Instant::now();
            loop {
                let last = pending
                    .as_ref()
                    .map(|(tree, settled)| (tree, &buffers.idx[..], &settled[..]));
                objective::gradients(
                    &mut margin,
                    &mut grad,
                    last,
                    binned,
                    data.y,
                    &weight,
                    params.objective,
                );
                sampler::sample_rows(n, params.subsample, &mut rng, &mut buffers.idx);
                let columns = sampler::ColumnSampler::new(width, params, round, &mut rng);
                let grower = Grower {
                    binned,
                    grad: &grad,
                    p: &tree_params,
                    columns: &columns,
                };
                let (tree, settled) = grower.grow(&mut buffers);
                let model_tree = tree.to_model(binned);
                pending = if params.subsample >= 1.0 {
                    Some((tree, settled))
                } else {
                    // Rows left out of this tree's sample still move by
                    // their leaf: walk the tree for every row.
                    margin.par_iter_mut().enumerate().for_each(|(i, m)| {
                        *m += tree.leaf_of(binned, i as u32);
                    });
                    None
                };
                let score = eval.as_mut().map(|e| {
                    let (score, enough) = e.after(&model_tree, round, params.objective);
                    stop = enough;
                    score
                });
                trees.push(model_tree);
                round += 1;
                done.push(Round {
                    round,
                    of: params.n_estimators,
                    eval: score,
                });
                if stop || round == params.n_estimators || started.elapsed() >= REPORT_EVERY {
                    break;
                }
            }
        });
        done.drain(..).for_each(&mut progress);
    }
    let mut forest = Forest::new(trees, objective, vec![base_score as f32], width)?;
    forest.feature_names = data.feature_names.map(<[String]>::to_vec);
    if let Some((best, score)) = eval.and_then(|e| e.stopping).and_then(|s| s.best()) {
        forest
            .attributes
            .insert(BEST_ITERATION.into(), best.to_string());
        forest
            .attributes
            .insert(BEST_SCORE.into(), metric::python_str(score));
    }
    Ok(forest)
}

/// Adds a tree's outputs to the margins of `data`'s rows, as XGBoost's
/// prediction cache does for an evaluation set (float32 thresholds, one
/// tree at a time).
fn add_tree(margin: &mut [f32], tree: &crate::model::Tree, data: &TrainData<'_>) {
    let width = data.width;
    margin
        .par_iter_mut()
        .zip(data.x.par_chunks(width))
        .for_each(|(m, row)| {
            let mut node = 0usize;
            while tree.left[node] >= 0 {
                let v = row[tree.split_feature[node] as usize];
                node = if v.is_nan() {
                    if tree.default_left[node] {
                        tree.left[node]
                    } else {
                        tree.right[node]
                    }
                } else if v < tree.split_condition[node] {
                    tree.left[node]
                } else {
                    tree.right[node]
                } as usize;
            }
            *m += tree.split_condition[node];
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Predictor;

    fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i * 37 % 101) as f32 / 10.0;
            let b = (i * 53 % 97) as f32 / 10.0;
            let c = if i % 7 == 0 {
                f32::NAN
            } else {
                (i % 13) as f32
            };
            x.extend_from_slice(&[a, b, c]);
            y.push(if a + b > 10.0 || c.is_nan() { 1.0 } else { 0.0 });
        }
        (x, y)
    }

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn progress_hears_of_every_round_in_order_on_the_calling_thread() {
        let (x, y) = data(2000);
        let d = TrainData::new(&x, 3, &y);
        let params = TrainParams::default().n_estimators(40);
        // Not Send: progress runs where train was called.
        let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let log = heard.clone();
        let forest = train_with_progress(&d, &params, move |r| log.borrow_mut().push(r)).unwrap();
        let heard = heard.borrow();
        let rounds: Vec<usize> = heard.iter().map(|r| r.round).collect();
        assert_eq!(rounds, (1..=40).collect::<Vec<_>>());
        assert!(heard.iter().all(|r| r.of == 40 && r.eval.is_none()));
        assert_eq!(forest.trees.len(), 40);
    }

    #[test]
    fn learns_and_the_forest_scores_the_training_margins() {
        let (x, y) = data(3000);
        let d = TrainData::new(&x, 3, &y);
        let params = TrainParams {
            n_estimators: 30,
            max_depth: 4,
            ..TrainParams::default()
        };
        let forest = train(&d, &params).unwrap();
        let p = Predictor::new(&forest).unwrap();
        let probs = p.predict(&x, 3).unwrap();
        let errors = probs
            .iter()
            .zip(&y)
            .filter(|(p, y)| (**p > 0.5) != (**y == 1.0))
            .count();
        assert!(errors < 60, "{errors} training errors");
        // Missing values learned a direction: rows with c missing are 1.
        assert!(p.predict_row(&[0.1, 0.1, f32::NAN]).unwrap() > 0.8);
    }

    #[test]
    fn gamma_stops_splitting_top_down() {
        let (x, y) = data(500);
        let d = TrainData::new(&x, 3, &y);
        let full = train(
            &d,
            &TrainParams {
                n_estimators: 3,
                ..TrainParams::default()
            },
        )
        .unwrap();
        let pruned = train(
            &d,
            &TrainParams {
                n_estimators: 3,
                gamma: 5.0,
                ..TrainParams::default()
            },
        )
        .unwrap();
        let nodes = |f: &Forest| f.trees.iter().map(|t| t.left.len()).sum::<usize>();
        assert!(nodes(&pruned) < nodes(&full));
        // XGBoost's hist rule: no node is split by less than gamma, even
        // when a split below it would gain more.
        for t in &pruned.trees {
            for (i, &l) in t.left.iter().enumerate() {
                if l >= 0 {
                    assert!(t.loss_change[i] >= 5.0, "{}", t.loss_change[i]);
                }
            }
        }
        let bad = TrainParams {
            subsample: 0.0,
            ..TrainParams::default()
        };
        assert!(train(&d, &bad)
            .unwrap_err()
            .to_string()
            .contains("subsample"));
        let y2: Vec<f32> = y.iter().map(|v| v * 2.0).collect();
        let d2 = TrainData { y: &y2, ..d };
        assert!(train(&d2, &TrainParams::default())
            .unwrap_err()
            .to_string()
            .contains("label 2"));
    }

    #[test]
    fn every_bad_parameter_is_reported_at_once() {
        let (x, y) = data(100);
        let d = TrainData::new(&x, 3, &y);
        let bad = TrainParams {
            learning_rate: f64::INFINITY,
            lambda: f64::NAN,
            gamma: -1.0,
            min_child_weight: f64::INFINITY,
            subsample: 1.5,
            colsample_bytree: f64::NAN,
            max_depth: 0,
            max_bin: 1,
            scale_pos_weight: f64::INFINITY,
            n_estimators: usize::MAX,
            base_score: Some(1.0),
            ..TrainParams::default()
        };
        let Err(ModelError::Params(list)) = train(&d, &bad) else {
            panic!("expected a parameter error");
        };
        let names: Vec<&str> = list.iter().map(|b| b.name).collect();
        assert_eq!(
            names,
            [
                "n_estimators",
                "max_depth",
                "learning_rate",
                "min_child_weight",
                "lambda",
                "gamma",
                "subsample",
                "colsample_bytree",
                "max_bin",
                "scale_pos_weight",
                "base_score"
            ]
        );
        assert_eq!(
            list[2].to_string(),
            "learning_rate = inf (must be a finite number > 0)"
        );
        // NaN and infinite rates used to train a model of NaN leaves.
        for rate in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0] {
            let p = TrainParams {
                learning_rate: rate,
                ..TrainParams::default()
            };
            assert!(matches!(p.validate(), Err(ModelError::Params(_))), "{rate}");
        }
        TrainParams::default().validate().unwrap();
        let names = ["a".to_string(), "b".to_string(), "a".to_string()];
        let err = train(&d.with_feature_names(&names), &TrainParams::default()).unwrap_err();
        assert!(
            matches!(err, ModelError::DuplicateFeature(ref n) if n == "a"),
            "{err}"
        );
        let too_many = TrainParams {
            monotone_constraints: vec![1, 0, 0, -1],
            ..TrainParams::default()
        };
        assert!(train(&d, &too_many)
            .unwrap_err()
            .to_string()
            .contains("4 monotone constraints for 3 features"));
        let no_eval = TrainParams {
            early_stopping_rounds: Some(3),
            ..TrainParams::default()
        };
        assert!(train(&d, &no_eval)
            .unwrap_err()
            .to_string()
            .contains("needs an evaluation set"));
    }

    #[test]
    fn seeded_sampling_is_reproducible_on_any_number_of_threads() {
        let (x, y) = data(20_000);
        let d = TrainData::new(&x, 3, &y);
        let p = TrainParams {
            n_estimators: 5,
            subsample: 0.7,
            colsample_bytree: 0.67,
            colsample_bynode: 0.5,
            seed: 3,
            ..TrainParams::default()
        };
        let one = in_pool(1, || train(&d, &p).unwrap());
        let three = in_pool(3, || train(&d, &p).unwrap());
        assert_eq!(one, three);
        // And without sampling: large nodes build their histograms on
        // several threads, bit for bit as on one.
        let plain = TrainParams {
            n_estimators: 5,
            max_depth: 8,
            ..TrainParams::default()
        };
        let one = in_pool(1, || train(&d, &plain).unwrap());
        let two = in_pool(2, || train(&d, &plain).unwrap());
        assert_eq!(one, two);
    }

    #[test]
    fn loss_guided_trees_stop_at_max_leaves_and_depth_wise_ones_too() {
        let (x, y) = data(3000);
        let d = TrainData::new(&x, 3, &y);
        for (policy, max_depth) in [(GrowPolicy::LossGuide, 0), (GrowPolicy::DepthWise, 6)] {
            let p = TrainParams {
                n_estimators: 4,
                grow_policy: policy,
                max_leaves: 5,
                max_depth,
                ..TrainParams::default()
            };
            let forest = train(&d, &p).unwrap();
            for t in &forest.trees {
                let leaves = t.left.iter().filter(|&&l| l < 0).count();
                assert!(leaves <= 5, "{policy:?}: {leaves} leaves");
            }
            assert!(forest.trees.iter().any(|t| t.left.len() == 9), "{policy:?}");
        }
    }

    #[test]
    fn a_monotone_constraint_holds_for_every_input() {
        let (x, y) = data(3000);
        let d = TrainData::new(&x, 3, &y);
        let p = TrainParams {
            n_estimators: 20,
            monotone_constraints: vec![1, -1],
            ..TrainParams::default()
        };
        let forest = train(&d, &p).unwrap();
        let pred = Predictor::new(&forest).unwrap();
        for b in [0.0, 3.0, 7.5] {
            for c in [f32::NAN, 2.0, 9.0] {
                let mut prev = f32::NEG_INFINITY;
                for a in 0..=110 {
                    let m = pred.margins(&[a as f32 / 10.0, b, c], 3).unwrap()[0];
                    assert!(m >= prev, "feature 0 at {a}: {m} < {prev}");
                    prev = m;
                }
                let mut prev = f32::INFINITY;
                for bb in 0..=110 {
                    let m = pred.margins(&[5.0, bb as f32 / 10.0, c], 3).unwrap()[0];
                    assert!(m <= prev, "feature 1 at {bb}: {m} > {prev}");
                    prev = m;
                }
            }
        }
    }

    #[test]
    fn every_row_settles_at_the_leaf_the_tree_sends_it_to() {
        // Enough rows for several gradient chunks: the margin update finds
        // each chunk's rows in every settled range by binary search, so
        // each range must ascend, and each row must get the leaf value a
        // walk of the tree gives. Both drivers.
        let n = 6 * histogram::PARALLEL_ROWS;
        let (x, y) = data(n);
        let binned = Binned::new(&x, 3, None, 256).unwrap();
        let grad: Vec<Grad32> = (0..n)
            .map(|i| {
                objective::gradient(
                    TrainObjective::BinaryLogistic,
                    (i % 17) as f32 / 4.0 - 2.0,
                    y[i],
                    1.0,
                )
            })
            .collect();
        for (policy, max_leaves, gamma) in [
            (GrowPolicy::DepthWise, 0, 0.0),
            (GrowPolicy::DepthWise, 0, 5.0),
            (GrowPolicy::DepthWise, 11, 0.0),
            (GrowPolicy::LossGuide, 20, 0.0),
        ] {
            let p = TrainParams {
                gamma,
                max_depth: 5,
                grow_policy: policy,
                max_leaves,
                ..TrainParams::default()
            };
            let tp = p.tree_params(3);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let columns = sampler::ColumnSampler::new(3, &p, 0, &mut rng);
            let grower = Grower {
                binned: &binned,
                grad: &grad,
                p: &tp,
                columns: &columns,
            };
            let mut buf = RowBuffers {
                idx: (0..n as u32).collect(),
                scratch: vec![0; n],
            };
            let (tree, settled) = grower.grow(&mut buf);
            let mut seen = vec![false; n];
            for (range, node) in &settled {
                let rows = &buf.idx[range.clone()];
                assert!(rows.windows(2).all(|w| w[0] < w[1]), "{policy:?}");
                for &r in rows {
                    let v = if tree.left[*node] < 0 {
                        tree.leaf[*node]
                    } else if tree.test(&binned, *node).goes_left(r) {
                        tree.leaf[tree.left[*node] as usize]
                    } else {
                        tree.leaf[tree.right[*node] as usize]
                    };
                    assert_eq!(v, tree.leaf_of(&binned, r), "row {r}, {policy:?}");
                    assert!(!seen[r as usize], "row {r} settled twice");
                    seen[r as usize] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "{policy:?}: a row settled nowhere");
            if max_leaves > 0 {
                assert_eq!(tree.left.iter().filter(|&&l| l < 0).count(), max_leaves);
            }
        }
    }
}

//! Training parameters (XGBoost's `TrainParam` and the learner's
//! settings): what a user sets, its defaults and its valid ranges.

use crate::error::{BadParam, ModelError};

/// Training objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TrainObjective {
    /// `binary:logistic` (labels 0 or 1).
    #[cfg_attr(feature = "serde", serde(alias = "binary:logistic"))]
    BinaryLogistic,
    /// `reg:squarederror`.
    #[cfg_attr(feature = "serde", serde(alias = "reg:squarederror"))]
    SquaredError,
}

impl TrainObjective {
    /// XGBoost's name of the objective.
    pub fn name(self) -> &'static str {
        match self {
            TrainObjective::BinaryLogistic => "binary:logistic",
            TrainObjective::SquaredError => "reg:squarederror",
        }
    }
}

/// How a tree grows (XGBoost's `grow_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum GrowPolicy {
    /// Level by level: every node of a level that can be split is, before
    /// the next level (`depthwise`, the default).
    #[default]
    #[cfg_attr(feature = "serde", serde(alias = "depthwise"))]
    DepthWise,
    /// Best first: the node whose split gains most is split next, until
    /// `max_leaves` leaves (`lossguide`).
    #[cfg_attr(feature = "serde", serde(alias = "lossguide"))]
    LossGuide,
}

/// A metric on an evaluation set (XGBoost's `eval_metric`), reported
/// every round and used by early stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EvalMetric {
    /// Weighted negative log-likelihood (`logloss`), lower is better.
    #[cfg_attr(feature = "serde", serde(alias = "logloss"))]
    LogLoss,
    /// Area under the ROC curve (`auc`), higher is better.
    #[cfg_attr(feature = "serde", serde(alias = "auc"))]
    Auc,
    /// Area under the precision-recall curve (`aucpr`), higher is better.
    #[cfg_attr(feature = "serde", serde(alias = "aucpr"))]
    AucPr,
    /// Weighted fraction of rows on the wrong side of probability 0.5
    /// (`error`), lower is better.
    #[cfg_attr(feature = "serde", serde(alias = "error"))]
    Error,
    /// Weighted root mean squared error (`rmse`), lower is better.
    #[cfg_attr(feature = "serde", serde(alias = "rmse"))]
    Rmse,
}

impl EvalMetric {
    /// XGBoost's name of the metric.
    pub fn name(self) -> &'static str {
        match self {
            EvalMetric::LogLoss => "logloss",
            EvalMetric::Auc => "auc",
            EvalMetric::AucPr => "aucpr",
            EvalMetric::Error => "error",
            EvalMetric::Rmse => "rmse",
        }
    }

    /// Parses XGBoost's name of a metric.
    pub fn from_name(name: &str) -> Option<EvalMetric> {
        [
            EvalMetric::LogLoss,
            EvalMetric::Auc,
            EvalMetric::AucPr,
            EvalMetric::Error,
            EvalMetric::Rmse,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }

    /// Whether a larger value is better (XGBoost's `maximize`).
    pub fn maximize(self) -> bool {
        matches!(self, EvalMetric::Auc | EvalMetric::AucPr)
    }

    /// XGBoost's default metric of an objective.
    pub fn default_for(objective: TrainObjective) -> EvalMetric {
        match objective {
            TrainObjective::BinaryLogistic => EvalMetric::LogLoss,
            TrainObjective::SquaredError => EvalMetric::Rmse,
        }
    }
}

/// Training parameters; the defaults are XGBoost's. With the `serde`
/// feature they serialise to JSON and back (fields left out take their
/// defaults), so a run's parameters can be stored beside its model.
///
/// `#[non_exhaustive]`, so parameters can be added without breaking
/// users: start from [`TrainParams::default`] and set what differs, with
/// the chainable setters or by assigning fields.
///
/// ```
/// use netprophet_boost::train::TrainParams;
///
/// let params = TrainParams::default()
///     .n_estimators(300)
///     .max_depth(4)
///     .learning_rate(0.05)
///     .subsample(0.8);
/// assert_eq!(params.max_depth, 4);
/// params.validate()?;
/// # Ok::<(), netprophet_boost::ModelError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct TrainParams {
    /// Objective (default binary:logistic).
    pub objective: TrainObjective,
    /// Boosting rounds (default 100).
    pub n_estimators: usize,
    /// Maximum tree depth (default 6); 0 means no limit, which needs
    /// `max_leaves`.
    pub max_depth: usize,
    /// Shrinkage `eta` (default 0.3).
    pub learning_rate: f64,
    /// Minimum hessian sum in a child (default 1).
    pub min_child_weight: f64,
    /// L2 regularisation on leaf weights, `reg_lambda` (default 1).
    pub lambda: f64,
    /// L1 regularisation on leaf weights, `reg_alpha` (default 0).
    pub alpha: f64,
    /// Minimum loss reduction of a split, `min_split_loss` (default 0):
    /// as in XGBoost's `hist`, a node whose best split gains less is not
    /// split, whatever splits below it might have gained.
    pub gamma: f64,
    /// Largest absolute leaf weight before shrinkage (default 0 = no
    /// limit).
    pub max_delta_step: f64,
    /// Fraction of rows sampled per tree (default 1).
    pub subsample: f64,
    /// Fraction of features sampled per tree (default 1).
    pub colsample_bytree: f64,
    /// Fraction of the tree's features sampled anew for each depth
    /// (default 1).
    pub colsample_bylevel: f64,
    /// Fraction of the level's features sampled anew for each node
    /// (default 1).
    pub colsample_bynode: f64,
    /// Maximum bins per feature (default 256).
    pub max_bin: usize,
    /// How trees grow (default depth-wise).
    pub grow_policy: GrowPolicy,
    /// Most leaves per tree (default 0 = no limit).
    pub max_leaves: usize,
    /// Per feature, in feature order: 1 = the prediction may only rise
    /// with the feature, -1 = only fall, 0 = free. Shorter than the
    /// features: the rest are free. Empty (the default): no constraint.
    pub monotone_constraints: Vec<i8>,
    /// Weight multiplier of positive rows (default 1), an alternative to
    /// oversampling.
    pub scale_pos_weight: f64,
    /// Initial prediction in output space; `None` estimates it from the
    /// labels as XGBoost does: their weighted mean, or with
    /// `scale_pos_weight` one Newton step from margin 0.
    pub base_score: Option<f64>,
    /// Seed of row and feature sampling (default 0).
    pub seed: u64,
    /// Metric on the evaluation set (default: the objective's, logloss
    /// or rmse).
    pub eval_metric: Option<EvalMetric>,
    /// Stop when the evaluation metric has not improved for this many
    /// rounds (default: never); needs an evaluation set.
    pub early_stopping_rounds: Option<usize>,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            objective: TrainObjective::BinaryLogistic,
            n_estimators: 100,
            max_depth: 6,
            learning_rate: 0.3,
            min_child_weight: 1.0,
            lambda: 1.0,
            alpha: 0.0,
            gamma: 0.0,
            max_delta_step: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bylevel: 1.0,
            colsample_bynode: 1.0,
            max_bin: 256,
            grow_policy: GrowPolicy::DepthWise,
            max_leaves: 0,
            monotone_constraints: Vec::new(),
            scale_pos_weight: 1.0,
            base_score: None,
            seed: 0,
            eval_metric: None,
            early_stopping_rounds: None,
        }
    }
}

/// Chainable setters, one per field, named as the field.
macro_rules! setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        impl TrainParams {
            $(
                #[doc = concat!("Sets `", stringify!($field), "` (see the field).")]
                #[must_use]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    objective: TrainObjective,
    n_estimators: usize,
    max_depth: usize,
    learning_rate: f64,
    min_child_weight: f64,
    lambda: f64,
    alpha: f64,
    gamma: f64,
    max_delta_step: f64,
    subsample: f64,
    colsample_bytree: f64,
    colsample_bylevel: f64,
    colsample_bynode: f64,
    max_bin: usize,
    grow_policy: GrowPolicy,
    max_leaves: usize,
    monotone_constraints: Vec<i8>,
    scale_pos_weight: f64,
    base_score: Option<f64>,
    seed: u64,
    eval_metric: Option<EvalMetric>,
    early_stopping_rounds: Option<usize>,
}

/// Most boosting rounds accepted: far beyond any useful model, and low
/// enough that a mistyped count fails at once instead of exhausting memory.
pub const MAX_ROUNDS: usize = 1_000_000;
/// Most bins per feature: bins are stored as 16-bit slots.
pub const MAX_BINS: usize = 65_535;
/// Most leaves per tree accepted.
pub const MAX_LEAVES: usize = 1 << 20;

impl TrainParams {
    /// Checks every parameter against its range and reports all that are
    /// out of it at once ([`ModelError::Params`]). A NaN or infinite rate,
    /// weight or penalty is refused: it trains a model whose leaves are
    /// NaN (saved as `null`), which no reader accepts.
    pub fn validate(&self) -> Result<(), ModelError> {
        let mut bad = Vec::new();
        let mut check = |name: &'static str, value: String, ok: bool, expected: &'static str| {
            if !ok {
                bad.push(BadParam {
                    name,
                    value,
                    expected,
                });
            }
        };
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        let fraction = |v: f64| v > 0.0 && v <= 1.0;
        let p = self;
        check(
            "n_estimators",
            p.n_estimators.to_string(),
            p.n_estimators <= MAX_ROUNDS,
            "at most 1000000",
        );
        check(
            "max_depth",
            p.max_depth.to_string(),
            p.max_depth <= 30 && (p.max_depth > 0 || p.max_leaves > 0),
            "in 1..=30, or 0 (no limit) with max_leaves",
        );
        check(
            "learning_rate",
            p.learning_rate.to_string(),
            positive(p.learning_rate),
            "a finite number > 0",
        );
        for (name, v) in [
            ("min_child_weight", p.min_child_weight),
            ("lambda", p.lambda),
            ("alpha", p.alpha),
            ("gamma", p.gamma),
            ("max_delta_step", p.max_delta_step),
        ] {
            check(name, v.to_string(), non_negative(v), "a finite number >= 0");
        }
        for (name, v) in [
            ("subsample", p.subsample),
            ("colsample_bytree", p.colsample_bytree),
            ("colsample_bylevel", p.colsample_bylevel),
            ("colsample_bynode", p.colsample_bynode),
        ] {
            check(name, v.to_string(), fraction(v), "in (0, 1]");
        }
        check(
            "max_bin",
            p.max_bin.to_string(),
            (2..=MAX_BINS).contains(&p.max_bin),
            "in 2..=65535",
        );
        check(
            "max_leaves",
            p.max_leaves.to_string(),
            p.max_leaves <= MAX_LEAVES,
            "at most 1048576 (0: no limit)",
        );
        check(
            "monotone_constraints",
            format!("{:?}", p.monotone_constraints),
            p.monotone_constraints.iter().all(|c| (-1..=1).contains(c)),
            "each -1, 0 or 1",
        );
        check(
            "scale_pos_weight",
            p.scale_pos_weight.to_string(),
            positive(p.scale_pos_weight),
            "a finite number > 0",
        );
        if let Some(b) = p.base_score {
            match p.objective {
                // XGBoost's rule (ProbToMargin of the logistic losses):
                // the base score is a probability strictly inside (0, 1),
                // or its logit is infinite.
                TrainObjective::BinaryLogistic => check(
                    "base_score",
                    b.to_string(),
                    b > 0.0 && b < 1.0,
                    "in (0, 1) for binary:logistic",
                ),
                TrainObjective::SquaredError => {
                    check("base_score", b.to_string(), b.is_finite(), "finite")
                }
            }
        }
        if let Some(m) = p.eval_metric {
            check(
                "eval_metric",
                m.name().to_string(),
                p.objective == TrainObjective::BinaryLogistic || m == EvalMetric::Rmse,
                "rmse for reg:squarederror",
            );
        }
        if let Some(r) = p.early_stopping_rounds {
            check("early_stopping_rounds", r.to_string(), r > 0, "at least 1");
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Params(bad))
        }
    }

    /// The parameters split finding and tree growth use, in float32 as
    /// XGBoost holds them (`0.1` as a float32 is not `0.1` as a float64,
    /// and the comparisons with hessian sums see the difference).
    pub(crate) fn tree_params(&self, width: usize) -> TreeParams {
        let mut monotone: Vec<i8> = self.monotone_constraints.clone();
        monotone.resize(width, 0);
        let has_constraint = !self.monotone_constraints.is_empty();
        TreeParams {
            eta: self.learning_rate as f32,
            gamma: self.gamma as f32,
            min_child_weight: self.min_child_weight as f32,
            lambda: self.lambda as f32,
            alpha: self.alpha as f32,
            max_delta_step: self.max_delta_step as f32,
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            grow_policy: self.grow_policy,
            monotone: if has_constraint { monotone } else { Vec::new() },
        }
    }
}

/// What grows one tree, as XGBoost's tree updater holds it (float32).
#[derive(Clone, Debug)]
pub(crate) struct TreeParams {
    pub eta: f32,
    pub gamma: f32,
    pub min_child_weight: f32,
    pub lambda: f32,
    pub alpha: f32,
    pub max_delta_step: f32,
    /// 0 = no limit.
    pub max_depth: usize,
    /// 0 = no limit.
    pub max_leaves: usize,
    pub grow_policy: GrowPolicy,
    /// One constraint per feature, or empty when there is none.
    pub monotone: Vec<i8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "serde")]
    fn parameters_round_trip_through_json_and_old_files_still_load() {
        let p = TrainParams {
            alpha: 0.5,
            grow_policy: GrowPolicy::LossGuide,
            max_leaves: 16,
            monotone_constraints: vec![1, 0, -1],
            eval_metric: Some(EvalMetric::AucPr),
            early_stopping_rounds: Some(10),
            ..TrainParams::default()
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<TrainParams>(&json).unwrap(), p);
        // A file written before these fields existed.
        let old = r#"{"objective":"SquaredError","n_estimators":40,"gamma":0.5}"#;
        let q: TrainParams = serde_json::from_str(old).unwrap();
        assert_eq!(q.objective, TrainObjective::SquaredError);
        assert_eq!((q.n_estimators, q.gamma, q.alpha), (40, 0.5, 0.0));
        // XGBoost's names are accepted too.
        let x = r#"{"objective":"binary:logistic","grow_policy":"lossguide","eval_metric":"auc"}"#;
        let x: TrainParams = serde_json::from_str(x).unwrap();
        assert_eq!(x.grow_policy, GrowPolicy::LossGuide);
        assert_eq!(x.eval_metric, Some(EvalMetric::Auc));
    }

    #[test]
    fn metric_names_are_xgboosts() {
        for m in [
            EvalMetric::LogLoss,
            EvalMetric::Auc,
            EvalMetric::AucPr,
            EvalMetric::Error,
            EvalMetric::Rmse,
        ] {
            assert_eq!(EvalMetric::from_name(m.name()), Some(m));
        }
        assert_eq!(EvalMetric::from_name("mae"), None);
        assert!(EvalMetric::Auc.maximize() && !EvalMetric::Rmse.maximize());
    }

    #[test]
    fn new_parameters_are_range_checked() {
        let bad = TrainParams {
            alpha: -1.0,
            max_delta_step: f64::NAN,
            colsample_bylevel: 0.0,
            colsample_bynode: 2.0,
            max_leaves: MAX_LEAVES + 1,
            monotone_constraints: vec![2],
            early_stopping_rounds: Some(0),
            ..TrainParams::default()
        };
        let Err(ModelError::Params(list)) = bad.validate() else {
            panic!("expected a parameter error");
        };
        let names: Vec<&str> = list.iter().map(|b| b.name).collect();
        assert_eq!(
            names,
            [
                "alpha",
                "max_delta_step",
                "colsample_bylevel",
                "colsample_bynode",
                "max_leaves",
                "monotone_constraints",
                "early_stopping_rounds"
            ]
        );
        let unlimited = TrainParams {
            max_depth: 0,
            ..TrainParams::default()
        };
        assert!(unlimited
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_depth"));
        // No depth limit is fine with a leaf limit.
        TrainParams {
            max_depth: 0,
            max_leaves: 8,
            grow_policy: GrowPolicy::LossGuide,
            ..TrainParams::default()
        }
        .validate()
        .unwrap();
        let reg = TrainParams {
            objective: TrainObjective::SquaredError,
            eval_metric: Some(EvalMetric::Auc),
            ..TrainParams::default()
        };
        assert!(reg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("eval_metric"));
    }
}

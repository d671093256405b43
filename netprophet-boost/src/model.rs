//! The model as plain data: trees as parallel node arrays, and the forest
//! that holds them with its objective and base score.
//!
//! The layout mirrors XGBoost's own (`include/xgboost/tree_model.h` and the
//! JSON schema) so that loading and saving are field-for-field copies and a
//! round trip loses nothing. Evaluation uses a separate compact layout built
//! once from this one.

use crate::ModelError;

/// The learning objective: it decides the link between margin and output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Objective {
    /// `binary:logistic`: probability = sigmoid(margin).
    BinaryLogistic,
    /// `binary:logitraw`: the output is the margin itself.
    BinaryLogitRaw,
    /// `reg:logistic`: sigmoid(margin), for targets in [0, 1].
    RegLogistic,
    /// `reg:squarederror`: identity link.
    RegSquaredError,
    /// `multi:softprob`: softmax over `num_class` margins.
    MultiSoftprob {
        /// Number of classes (output groups).
        num_class: usize,
    },
    /// `multi:softmax`: index of the largest of `num_class` margins.
    MultiSoftmax {
        /// Number of classes (output groups).
        num_class: usize,
    },
}

impl Objective {
    /// XGBoost's name for this objective, as written in model files.
    pub fn name(&self) -> &'static str {
        match self {
            Objective::BinaryLogistic => "binary:logistic",
            Objective::BinaryLogitRaw => "binary:logitraw",
            Objective::RegLogistic => "reg:logistic",
            Objective::RegSquaredError => "reg:squarederror",
            Objective::MultiSoftprob { .. } => "multi:softprob",
            Objective::MultiSoftmax { .. } => "multi:softmax",
        }
    }

    /// Whether `base_score` can be the model's starting point, by
    /// XGBoost's rule (`ProbToMargin` of its logistic losses): the
    /// logistic objectives need a probability strictly inside (0, 1),
    /// since 0, 1 and anything outside have no finite logit (such a model
    /// scored every row 3e-39); the others need a finite number.
    pub fn check_base_score(&self, base_score: f32) -> Result<(), ModelError> {
        let logistic = matches!(
            self,
            Objective::BinaryLogistic | Objective::BinaryLogitRaw | Objective::RegLogistic
        );
        let (ok, expected) = if logistic {
            (base_score > 0.0 && base_score < 1.0, "in (0, 1)")
        } else {
            (base_score.is_finite(), "a finite number")
        };
        if ok {
            Ok(())
        } else {
            Err(ModelError::BaseScore {
                value: base_score,
                objective: self.name(),
                expected,
            })
        }
    }

    /// Number of margins the model produces per row.
    pub fn num_output_group(&self) -> usize {
        match self {
            Objective::MultiSoftprob { num_class } | Objective::MultiSoftmax { num_class } => {
                *num_class
            }
            _ => 1,
        }
    }
}

/// One regression tree, stored as parallel arrays indexed by node id.
///
/// Node 0 is the root. A node is a leaf when `left[n] == -1`; then
/// `split_condition[n]` holds the leaf value, exactly as XGBoost stores it.
/// A row goes left when `value < split_condition` (compared in `f32`), right
/// otherwise, and to the default side when the value is missing (NaN).
///
/// The fields are public so a tree can be read and edited in place; it is
/// `#[non_exhaustive]` so new per-node arrays can be added without breaking
/// users: build one with [`Tree::stump`], [`Tree::leaf`] or a loader and
/// check an edited one with [`Tree::validate`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Tree {
    /// Left child per node, `-1` for a leaf.
    pub left: Vec<i32>,
    /// Right child per node, `-1` for a leaf.
    pub right: Vec<i32>,
    /// Parent per node; the root's parent is `i32::MAX` in XGBoost files.
    pub parent: Vec<i32>,
    /// Feature index each internal node splits on (0 for leaves).
    pub split_feature: Vec<u32>,
    /// Threshold of internal nodes; the leaf value of leaves.
    pub split_condition: Vec<f32>,
    /// Whether a missing value goes to the left child.
    pub default_left: Vec<bool>,
    /// Gain of each split (0 for leaves); used for gain importance.
    pub loss_change: Vec<f32>,
    /// Sum of hessians of the training rows that reached each node (cover).
    pub sum_hessian: Vec<f32>,
    /// Weight the node would have as a leaf (before the learning rate).
    pub base_weight: Vec<f32>,
}

impl Tree {
    /// A depth-1 tree: `feature < threshold` goes to `left_value`, else
    /// `right_value`; missing values go left when `default_left`.
    pub fn stump(
        feature: u32,
        threshold: f32,
        default_left: bool,
        left_value: f32,
        right_value: f32,
    ) -> Tree {
        Tree {
            left: vec![1, -1, -1],
            right: vec![2, -1, -1],
            parent: vec![i32::MAX, 0, 0],
            split_feature: vec![feature, 0, 0],
            split_condition: vec![threshold, left_value, right_value],
            default_left: vec![default_left, false, false],
            loss_change: vec![0.0; 3],
            sum_hessian: vec![0.0; 3],
            base_weight: vec![0.0, left_value, right_value],
        }
    }

    /// A tree with a single leaf.
    pub fn leaf(value: f32) -> Tree {
        Tree {
            left: vec![-1],
            right: vec![-1],
            parent: vec![i32::MAX],
            split_feature: vec![0],
            split_condition: vec![value],
            default_left: vec![false],
            loss_change: vec![0.0],
            sum_hessian: vec![0.0],
            base_weight: vec![value],
        }
    }

    /// Number of nodes (internal and leaves).
    pub fn num_nodes(&self) -> usize {
        self.left.len()
    }

    /// Whether node `n` is a leaf (a node past the end counts as one:
    /// nothing hangs below it).
    pub fn is_leaf(&self, n: usize) -> bool {
        matches!(self.left.get(n), None | Some(-1))
    }

    /// Checks that the arrays agree in length, children are in range, every
    /// node is reached exactly once from the root, and split features are
    /// below `num_feature`. `tree_index` only labels the error.
    pub fn validate(&self, num_feature: usize, tree_index: usize) -> Result<(), ModelError> {
        let n = self.left.len();
        let bad = |what: String| ModelError::Invalid(format!("tree {tree_index}: {what}"));
        if n == 0 {
            return Err(bad("has no nodes".into()));
        }
        let lens = [
            ("right", self.right.len()),
            ("parent", self.parent.len()),
            ("split_feature", self.split_feature.len()),
            ("split_condition", self.split_condition.len()),
            ("default_left", self.default_left.len()),
            // Read by importance() and written by the savers: a short one
            // (`loss_changes: []`) made importance(Gain) index out of range.
            ("loss_change", self.loss_change.len()),
            ("sum_hessian", self.sum_hessian.len()),
            ("base_weight", self.base_weight.len()),
        ];
        for (name, len) in lens {
            if len != n {
                return Err(bad(format!("{name} has {len} entries, left has {n}")));
            }
        }
        // Thresholds, leaf values and statistics are finite in any model
        // XGBoost writes; an infinite or NaN one (a mangled exponent) makes
        // NaN scores and cannot be saved as JSON (it would be `null`).
        for (name, values) in [
            ("split_condition", &self.split_condition),
            ("loss_change", &self.loss_change),
            ("sum_hessian", &self.sum_hessian),
            ("base_weight", &self.base_weight),
        ] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!("node {i} has {name} {}", values[i])));
            }
        }
        // Each node must be the child of exactly one node; that plus the node
        // count rules out cycles and orphans without a traversal stack.
        let mut seen = vec![false; n];
        seen[0] = true;
        for i in 0..n {
            let (l, r) = (self.left[i], self.right[i]);
            if l == -1 && r == -1 {
                continue;
            }
            if l == -1 || r == -1 {
                return Err(bad(format!("node {i} has exactly one child")));
            }
            for c in [l, r] {
                if c < 0 || c as usize >= n {
                    return Err(bad(format!("node {i} has child {c} out of range 0..{n}")));
                }
                if std::mem::replace(&mut seen[c as usize], true) {
                    return Err(bad(format!("node {c} is reached twice (or is the root)")));
                }
            }
            let f = self.split_feature[i] as usize;
            if f >= num_feature {
                return Err(bad(format!(
                    "node {i} splits on feature {f}, but the model has {num_feature} features"
                )));
            }
        }
        if let Some(orphan) = seen.iter().position(|s| !s) {
            return Err(bad(format!("node {orphan} is not reachable from the root")));
        }
        Ok(())
    }
}

/// A boosted tree ensemble: trees, the output group each tree adds to, the
/// objective, the base score and the feature schema.
///
/// `#[non_exhaustive]`: build one with [`Forest::new`] or a loader. The
/// fields stay public for reading and editing; whatever scores or saves a
/// forest ([`crate::Predictor::new`], [`Forest::save_json`]) validates it
/// again, so an edit that breaks an invariant is an error there, never a
/// panic.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Forest {
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
    /// Output group (class) each tree contributes to; all 0 for one output.
    pub tree_group: Vec<u32>,
    /// The objective the model was trained with.
    pub objective: Objective,
    /// Base score per output group in output space (a probability for
    /// logistic objectives), as XGBoost stores `learner_model_param.base_score`.
    pub base_score: Vec<f32>,
    /// Number of input features the model expects.
    pub num_feature: usize,
    /// Feature names, when the model carries them.
    pub feature_names: Option<Vec<String>>,
    /// XGBoost's `learner.attributes`: free-form string pairs that XGBoost
    /// keeps through load and save (`Booster.attr` / `set_attr` in
    /// Python). netprophet stores a model's calibration
    /// ([`crate::calibration`]) and how it was trained here.
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// How feature importance is measured (XGBoost's `importance_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Number of splits on the feature.
    Weight,
    /// Mean gain of the feature's splits.
    Gain,
    /// Total gain of the feature's splits.
    TotalGain,
    /// Mean cover (hessian sum) of the feature's splits.
    Cover,
    /// Total cover of the feature's splits.
    TotalCover,
}

impl Forest {
    /// Importance of every feature (index order), as XGBoost's
    /// `get_score` computes it; features never split on get 0.
    ///
    /// ```
    /// use netprophet_boost::{Forest, Importance, Objective, Tree};
    ///
    /// let forest = Forest::new(vec![Tree::stump(1, 0.5, false, -1.0, 1.0)], Objective::RegSquaredError, vec![0.0], 2).unwrap();
    /// assert_eq!(forest.importance(Importance::Weight), vec![0.0, 1.0]);
    /// ```
    pub fn importance(&self, kind: Importance) -> Vec<f64> {
        let mut count = vec![0.0f64; self.num_feature];
        let mut total = vec![0.0f64; self.num_feature];
        for t in &self.trees {
            for n in 0..t.num_nodes() {
                if t.is_leaf(n) {
                    continue;
                }
                // `get` throughout: a forest edited after validation may have
                // short arrays; a missing feature is skipped and a missing
                // statistic counts as zero, not as a panic.
                let Some(&f) = t.split_feature.get(n) else {
                    continue;
                };
                let f = f as usize;
                if f >= self.num_feature {
                    continue;
                }
                count[f] += 1.0;
                let stat = match kind {
                    Importance::Gain | Importance::TotalGain => t.loss_change.get(n),
                    _ => t.sum_hessian.get(n),
                };
                total[f] += f64::from(stat.copied().unwrap_or(0.0));
            }
        }
        match kind {
            Importance::Weight => count,
            Importance::TotalGain | Importance::TotalCover => total,
            Importance::Gain | Importance::Cover => total
                .iter()
                .zip(&count)
                .map(|(t, c)| if *c > 0.0 { t / c } else { 0.0 })
                .collect(),
        }
    }

    /// Builds a forest for a single-output objective (or one where trees
    /// rotate through the classes, as XGBoost's `multi:*` models do) and
    /// validates it.
    pub fn new(
        trees: Vec<Tree>,
        objective: Objective,
        base_score: Vec<f32>,
        num_feature: usize,
    ) -> Result<Forest, ModelError> {
        let groups = objective.num_output_group();
        let tree_group = (0..trees.len()).map(|i| (i % groups) as u32).collect();
        let forest = Forest {
            trees,
            tree_group,
            objective,
            base_score,
            num_feature,
            feature_names: None,
            attributes: Default::default(),
        };
        forest.validate()?;
        Ok(forest)
    }

    /// Number of trees.
    pub fn num_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of margins produced per row.
    pub fn num_output_group(&self) -> usize {
        self.objective.num_output_group()
    }

    /// Checks every tree and the agreement of groups, base score and names.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.tree_group.len() != self.trees.len() {
            return Err(ModelError::Invalid(format!(
                "{} trees but {} tree group entries",
                self.trees.len(),
                self.tree_group.len()
            )));
        }
        let groups = self.num_output_group();
        if let Some((i, g)) = self
            .tree_group
            .iter()
            .enumerate()
            .find(|(_, g)| **g as usize >= groups)
        {
            return Err(ModelError::Invalid(format!(
                "tree {i} adds to output group {g}, but the objective has {groups}"
            )));
        }
        if self.base_score.len() != 1 && self.base_score.len() != groups {
            return Err(ModelError::Invalid(format!(
                "base_score has {} values, expected 1 or {groups}",
                self.base_score.len()
            )));
        }
        for &b in &self.base_score {
            self.objective.check_base_score(b)?;
        }
        if let Some(names) = &self.feature_names {
            if let Some(name) = first_duplicate(names) {
                return Err(ModelError::DuplicateFeature(name.to_owned()));
            }
            if names.len() != self.num_feature {
                return Err(ModelError::Invalid(format!(
                    "{} feature names for {} features",
                    names.len(),
                    self.num_feature
                )));
            }
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.num_feature, i)?;
        }
        Ok(())
    }
}

/// The first name that occurs twice in `names`, if any.
pub(crate) fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|n| !seen.insert(n.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stump_validates() {
        Tree::stump(2, 1.0, false, 0.1, 0.2).validate(3, 0).unwrap();
    }

    #[test]
    fn feature_out_of_range_is_named() {
        let err = Tree::stump(5, 1.0, false, 0.1, 0.2)
            .validate(3, 7)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tree 7") && err.contains("feature 5"), "{err}");
    }

    #[test]
    fn cycle_is_rejected() {
        let mut t = Tree::stump(0, 1.0, false, 0.1, 0.2);
        t.left[0] = 0;
        assert!(t.validate(1, 0).is_err());
    }

    #[test]
    fn group_out_of_range_is_rejected() {
        let mut f = Forest::new(
            vec![Tree::leaf(1.0)],
            Objective::RegSquaredError,
            vec![0.5],
            1,
        )
        .unwrap();
        f.tree_group[0] = 1;
        assert!(f.validate().is_err());
    }

    #[test]
    fn impossible_base_scores_are_refused_as_xgboost_does() {
        for (objective, bad, good) in [
            (
                Objective::BinaryLogistic,
                vec![f32::NAN, f32::INFINITY, 2.0, -1.0, 0.0, 1.0],
                vec![0.5, 1e-6],
            ),
            (Objective::RegLogistic, vec![1.0], vec![0.3]),
            (Objective::BinaryLogitRaw, vec![0.0], vec![0.3]),
            (
                Objective::RegSquaredError,
                vec![f32::NAN, f32::NEG_INFINITY],
                vec![-1.0, 2.0, 0.0],
            ),
        ] {
            for b in bad {
                let err =
                    Forest::new(vec![Tree::leaf(1.0)], objective.clone(), vec![b], 1).unwrap_err();
                assert!(
                    matches!(err, ModelError::BaseScore { .. }),
                    "{objective:?} {b}: {err}"
                );
            }
            for b in good {
                Forest::new(vec![Tree::leaf(1.0)], objective.clone(), vec![b], 1).unwrap();
            }
        }
    }

    #[test]
    fn duplicate_feature_names_are_refused() {
        let mut f = Forest::new(
            vec![Tree::leaf(1.0)],
            Objective::RegSquaredError,
            vec![0.5],
            3,
        )
        .unwrap();
        f.feature_names = Some(vec!["a".into(), "b".into(), "a".into()]);
        let err = f.validate().unwrap_err();
        assert_eq!(err.to_string(), "feature name `a` appears more than once");
    }
}

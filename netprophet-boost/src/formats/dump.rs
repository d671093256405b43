//! XGBoost's JSON tree dump (`Booster.get_dump(dump_format="json")` or
//! `dump_model(..., dump_format="json")`).
//!
//! A dump holds only the trees: the objective, base score and feature count
//! are not in it, so the caller supplies them in [`DumpOptions`].

use serde_json::Value;

use super::xgboost_json::objective_from_name;
use crate::{Forest, ModelError, Objective, Tree};

/// What a tree dump does not record and a [`Forest`] needs.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The objective the model was trained with.
    pub objective: Objective,
    /// Base score in output space (e.g. 0.5 for a probability), per group
    /// or one for all.
    pub base_score: Vec<f32>,
    /// Number of features; when `None`, one more than the largest feature
    /// index used (or the number of `feature_names`).
    pub num_feature: Option<usize>,
    /// Names used in the dump's `split` fields, when it was dumped with
    /// feature names instead of `f0`, `f1`, ...
    pub feature_names: Option<Vec<String>>,
}

impl DumpOptions {
    /// Options for an objective named as XGBoost names it
    /// (`"binary:logistic"`, ...), with a base score in output space.
    pub fn new(objective: &str, num_class: usize, base_score: f32) -> Result<Self, ModelError> {
        Ok(DumpOptions {
            objective: objective_from_name(objective, num_class)?,
            base_score: vec![base_score],
            num_feature: None,
            feature_names: None,
        })
    }
}

fn err(path: &str, message: impl Into<String>) -> ModelError {
    ModelError::Format {
        path: path.to_owned(),
        message: message.into(),
    }
}

struct Builder<'o> {
    tree: Tree,
    opts: &'o DumpOptions,
    max_feature: usize,
}

impl Builder<'_> {
    fn feature_index(&self, split: &str, path: &str) -> Result<u32, ModelError> {
        if let Some(names) = &self.opts.feature_names {
            if let Some(i) = names.iter().position(|n| n == split) {
                return Ok(i as u32);
            }
        }
        split
            .strip_prefix('f')
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| {
                err(
                    path,
                    format!(
                        "split feature {split:?} is neither `f<index>` nor a given feature name"
                    ),
                )
            })
    }

    /// Appends the node at `v` and its subtree; returns its index.
    fn node(&mut self, v: &Value, path: &str, depth: usize) -> Result<i32, ModelError> {
        if depth > 256 {
            return Err(err(path, "tree deeper than 256 levels"));
        }
        let obj = v
            .as_object()
            .ok_or_else(|| err(path, "expected a node object"))?;
        let num = |key: &str| -> Result<f32, ModelError> {
            obj.get(key)
                .and_then(Value::as_f64)
                .map(|f| f as f32)
                .ok_or_else(|| err(path, format!("missing number `{key}`")))
        };
        let idx = self.tree.left.len() as i32;
        let t = &mut self.tree;
        t.left.push(-1);
        t.right.push(-1);
        t.parent.push(i32::MAX);
        t.split_feature.push(0);
        t.default_left.push(false);
        t.loss_change.push(0.0);
        t.sum_hessian
            .push(obj.get("cover").and_then(Value::as_f64).unwrap_or(0.0) as f32);
        if obj.contains_key("leaf") {
            let leaf = num("leaf")?;
            self.tree.split_condition.push(leaf);
            self.tree.base_weight.push(leaf);
            return Ok(idx);
        }
        let split = obj
            .get("split")
            .and_then(Value::as_str)
            .ok_or_else(|| err(path, "node has neither `leaf` nor `split`"))?;
        let feature = self.feature_index(split, path)?;
        self.max_feature = self.max_feature.max(feature as usize + 1);
        let cond = num("split_condition")?;
        let id_of = |key: &str| -> Result<i64, ModelError> {
            obj.get(key)
                .and_then(Value::as_i64)
                .ok_or_else(|| err(path, format!("missing node id `{key}`")))
        };
        let (yes, no) = (id_of("yes")?, id_of("no")?);
        let missing = id_of("missing")?;
        let children = obj
            .get("children")
            .and_then(Value::as_array)
            .ok_or_else(|| err(path, "split node without `children`"))?;
        let child = |id: i64| -> Result<(usize, &Value), ModelError> {
            children
                .iter()
                .enumerate()
                .find(|(_, c)| c.get("nodeid").and_then(Value::as_i64) == Some(id))
                .ok_or_else(|| err(path, format!("child node {id} not among `children`")))
        };
        let (yi, yv) = child(yes)?;
        let (ni, nv) = child(no)?;
        self.tree.split_condition.push(cond);
        self.tree.base_weight.push(0.0);
        let i = idx as usize;
        self.tree.split_feature[i] = feature;
        self.tree.default_left[i] = missing == yes;
        self.tree.loss_change[i] = obj.get("gain").and_then(Value::as_f64).unwrap_or(0.0) as f32;
        let l = self.node(yv, &format!("{path}.children[{yi}]"), depth + 1)?;
        let r = self.node(nv, &format!("{path}.children[{ni}]"), depth + 1)?;
        self.tree.left[i] = l;
        self.tree.right[i] = r;
        self.tree.parent[l as usize] = idx;
        self.tree.parent[r as usize] = idx;
        Ok(idx)
    }
}

/// Reads a forest from a JSON tree dump: either an array of tree objects
/// (`dump_model`) or an array of strings each holding one tree
/// (`get_dump`).
pub(crate) fn forest_from_dump(bytes: &[u8], opts: &DumpOptions) -> Result<Forest, ModelError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(crate::error::json_error)?;
    let items = doc
        .as_array()
        .ok_or_else(|| err("$", "a tree dump is a JSON array of trees"))?;
    let mut trees = Vec::with_capacity(items.len());
    let mut max_feature = 0;
    for (i, item) in items.iter().enumerate() {
        let path = format!("$[{i}]");
        let parsed;
        let tree_value = match item {
            Value::String(s) => {
                parsed = serde_json::from_str::<Value>(s)
                    .map_err(|e| err(&path, format!("tree string is not JSON: {e}")))?;
                &parsed
            }
            other => other,
        };
        let mut b = Builder {
            tree: Tree::default(),
            opts,
            max_feature: 0,
        };
        b.node(tree_value, &path, 0)?;
        max_feature = max_feature.max(b.max_feature);
        trees.push(b.tree);
    }
    let num_feature = opts
        .num_feature
        .or(opts.feature_names.as_ref().map(Vec::len))
        .unwrap_or(max_feature);
    let mut forest = Forest::new(
        trees,
        opts.objective.clone(),
        opts.base_score.clone(),
        num_feature,
    )?;
    forest.feature_names = opts.feature_names.clone();
    forest.validate()?;
    Ok(forest)
}

//! XGBoost's `save_model` JSON layout, read (1.x to 3.x) and written (3.x).
//!
//! The same document model serves UBJSON: [`super::ubjson`] decodes the
//! binary form into a `serde_json::Value`, and the walk below reads either.

use serde_json::{json, Map, Value};

use crate::{Forest, ModelError, Objective, Tree};

/// Walks a JSON value while remembering its path, so every error says where.
struct At<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    fn root(value: &'a Value) -> At<'a> {
        At {
            value,
            path: "$".into(),
        }
    }

    fn err(&self, what: impl std::fmt::Display) -> ModelError {
        ModelError::Format {
            path: self.path.clone(),
            message: what.to_string(),
        }
    }

    fn get(&self, key: &str) -> Result<At<'a>, ModelError> {
        self.opt(key)?
            .ok_or_else(|| self.err(format!("missing field `{key}`")))
    }

    fn opt(&self, key: &str) -> Result<Option<At<'a>>, ModelError> {
        let obj = self
            .value
            .as_object()
            .ok_or_else(|| self.err("expected an object"))?;
        Ok(obj.get(key).map(|value| At {
            value,
            path: format!("{}.{key}", self.path),
        }))
    }

    fn array(&self) -> Result<Vec<At<'a>>, ModelError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.err("expected an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| At {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    fn str(&self) -> Result<&'a str, ModelError> {
        self.value
            .as_str()
            .ok_or_else(|| self.err("expected a string"))
    }

    /// XGBoost writes most parameters as strings ("200"), older versions
    /// and UBJSON sometimes as numbers; accept both.
    fn f64_lenient(&self) -> Result<f64, ModelError> {
        match self.value {
            Value::Number(n) => n.as_f64().ok_or_else(|| self.err("number out of range")),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| self.err(format!("expected a number, found {s:?}"))),
            _ => Err(self.err("expected a number")),
        }
    }

    fn usize_lenient(&self) -> Result<usize, ModelError> {
        let v = self.f64_lenient()?;
        if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
            return Err(self.err(format!("expected a non-negative integer, found {v}")));
        }
        Ok(v as usize)
    }

    fn f32_vec(&self) -> Result<Vec<f32>, ModelError> {
        self.array()?
            .iter()
            .map(|a| a.f64_lenient().map(|v| v as f32))
            .collect()
    }

    fn i64_vec(&self) -> Result<Vec<i64>, ModelError> {
        self.array()?
            .iter()
            .map(|a| match a.value {
                Value::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                    .ok_or_else(|| a.err("expected an integer")),
                Value::Bool(b) => Ok(*b as i64),
                _ => Err(a.err("expected an integer")),
            })
            .collect()
    }
}

/// Parses XGBoost's `base_score`: a number, a numeric string (`"5E-1"`), or
/// the 3.x vector form in a string (`"[5E-1]"`, `"[1E0,2E0]"`).
fn parse_base_score(at: &At<'_>) -> Result<Vec<f32>, ModelError> {
    if let Value::Number(_) = at.value {
        return Ok(vec![at.f64_lenient()? as f32]);
    }
    let s = at.str()?.trim();
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    inner
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f32>()
                .map_err(|_| at.err(format!("base_score {s:?} is not a number or [numbers]")))
        })
        .collect()
}

/// Parses an objective name (with its class count) into an [`Objective`].
pub(crate) fn objective_from_name(name: &str, num_class: usize) -> Result<Objective, ModelError> {
    Ok(match name {
        "binary:logistic" => Objective::BinaryLogistic,
        "binary:logitraw" => Objective::BinaryLogitRaw,
        "reg:logistic" => Objective::RegLogistic,
        "reg:squarederror" | "reg:linear" => Objective::RegSquaredError,
        "multi:softprob" => Objective::MultiSoftprob {
            num_class: num_class.max(1),
        },
        "multi:softmax" => Objective::MultiSoftmax {
            num_class: num_class.max(1),
        },
        other => {
            return Err(ModelError::Unsupported(format!(
                "objective `{other}` (supported: binary:logistic, binary:logitraw, \
                 reg:logistic, reg:squarederror, multi:softprob, multi:softmax)"
            )))
        }
    })
}

fn read_tree(at: &At<'_>, index: usize) -> Result<Tree, ModelError> {
    if let Some(st) = at.opt("split_type")? {
        if st.i64_vec()?.iter().any(|&t| t != 0) {
            return Err(ModelError::Unsupported(format!(
                "categorical splits (tree {index}, {})",
                st.path
            )));
        }
    }
    if let Some(tp) = at.opt("tree_param")? {
        if let Some(sz) = tp.opt("size_leaf_vector")? {
            if sz.usize_lenient()? > 1 {
                return Err(ModelError::Unsupported(format!(
                    "multi-target (vector-leaf) trees (tree {index})"
                )));
            }
        }
    }
    let to_i32 = |v: Vec<i64>, a: &At<'_>| -> Result<Vec<i32>, ModelError> {
        v.into_iter()
            .map(|x| i32::try_from(x).map_err(|_| a.err(format!("index {x} out of range"))))
            .collect()
    };
    let left_at = at.get("left_children")?;
    let right_at = at.get("right_children")?;
    let left = to_i32(left_at.i64_vec()?, &left_at)?;
    let right = to_i32(right_at.i64_vec()?, &right_at)?;
    let n = left.len();
    let parent = match at.opt("parents")? {
        Some(p) => p
            .i64_vec()?
            .into_iter()
            .map(|x| x.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
            .collect(),
        None => vec![i32::MAX; n],
    };
    let si_at = at.get("split_indices")?;
    let split_feature = si_at
        .i64_vec()?
        .into_iter()
        .map(|x| u32::try_from(x).map_err(|_| si_at.err(format!("feature index {x} is negative"))))
        .collect::<Result<Vec<_>, _>>()?;
    let split_condition = at.get("split_conditions")?.f32_vec()?;
    let default_left = at
        .get("default_left")?
        .i64_vec()?
        .into_iter()
        .map(|x| x != 0)
        .collect();
    let optional = |key: &str| -> Result<Vec<f32>, ModelError> {
        Ok(match at.opt(key)? {
            Some(a) => a.f32_vec()?,
            None => vec![0.0; n],
        })
    };
    Ok(Tree {
        left,
        right,
        parent,
        split_feature,
        split_condition,
        default_left,
        loss_change: optional("loss_changes")?,
        sum_hessian: optional("sum_hessian")?,
        base_weight: optional("base_weights")?,
    })
}

/// Reads a forest from a parsed `save_model` document (JSON or UBJSON).
pub(crate) fn forest_from_value(doc: &Value) -> Result<Forest, ModelError> {
    let root = At::root(doc);
    let learner = root.get("learner")?;
    let params = learner.get("learner_model_param")?;
    let num_feature = params.get("num_feature")?.usize_lenient()?;
    let num_class = match params.opt("num_class")? {
        Some(a) => a.usize_lenient()?,
        None => 0,
    };
    if let Some(t) = params.opt("num_target")? {
        if t.usize_lenient()? > 1 {
            return Err(ModelError::Unsupported(format!(
                "multi-target models ({} > 1)",
                t.path
            )));
        }
    }
    let objective_name = learner.get("objective")?.get("name")?.str()?;
    let objective = objective_from_name(objective_name, num_class)?;
    let base_score = parse_base_score(&params.get("base_score")?)?;

    let booster = learner.get("gradient_booster")?;
    let booster_name = booster.get("name")?.str()?;
    let model = match booster_name {
        "gbtree" => booster.get("model")?,
        "dart" => booster.get("gbtree")?.get("model")?,
        other => {
            return Err(ModelError::Unsupported(format!(
                "booster `{other}` (only gbtree and dart tree models are supported)"
            )))
        }
    };
    let trees_at = model.get("trees")?.array()?;
    let mut trees = Vec::with_capacity(trees_at.len());
    for (i, t) in trees_at.iter().enumerate() {
        trees.push(read_tree(t, i)?);
    }
    let tree_group = match model.opt("tree_info")? {
        Some(a) => a
            .i64_vec()?
            .into_iter()
            .map(|g| u32::try_from(g).map_err(|_| a.err(format!("negative group {g}"))))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![0; trees.len()],
    };
    if booster_name == "dart" {
        // Dart scales each tree by a weight; folding it into the leaves would
        // change float32 rounding, so refuse rather than be subtly wrong.
        let weights = booster.get("weight_drop")?.f32_vec()?;
        if weights.iter().any(|&w| w != 1.0) {
            return Err(ModelError::Unsupported(
                "dart boosters with tree weights other than 1".into(),
            ));
        }
    }
    let feature_names = match learner.opt("feature_names")? {
        Some(a) => {
            let names = a
                .array()?
                .iter()
                .map(|n| n.str().map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            (!names.is_empty()).then_some(names)
        }
        None => None,
    };
    let mut attributes = std::collections::BTreeMap::new();
    if let Some(a) = learner.opt("attributes")? {
        let Value::Object(map) = a.value else {
            return Err(a.err("is not an object"));
        };
        for (key, value) in map {
            let Value::String(text) = value else {
                return Err(a.err(format!("`{key}` is not a string")));
            };
            attributes.insert(key.clone(), text.clone());
        }
    }
    let forest = Forest {
        trees,
        tree_group,
        objective,
        base_score,
        num_feature,
        feature_names,
        attributes,
    };
    forest.validate()?;
    Ok(forest)
}

fn fmt_f32(v: f32) -> String {
    // Rust prints the shortest decimal that parses back to the same f32,
    // which is what XGBoost itself writes.
    format!("{v:E}")
}

/// Writes a forest in XGBoost 3.x `save_model` JSON layout.
pub(crate) fn forest_to_value(forest: &Forest) -> Value {
    let trees: Vec<Value> = forest
        .trees
        .iter()
        .enumerate()
        .map(|(id, t)| tree_to_value(id, t, forest.num_feature))
        .collect();
    let groups = forest.num_output_group();
    let num_parallel_tree = 1usize;
    let rounds = forest.trees.len() / groups.max(1);
    let indptr: Vec<usize> = (0..=rounds)
        .map(|r| r * groups * num_parallel_tree)
        .collect();
    let base_score = format!(
        "[{}]",
        forest
            .base_score
            .iter()
            .map(|&b| fmt_f32(b))
            .collect::<Vec<_>>()
            .join(",")
    );
    let num_class = match forest.objective {
        Objective::MultiSoftprob { num_class } | Objective::MultiSoftmax { num_class } => num_class,
        _ => 0,
    };
    let names = forest.feature_names.clone().unwrap_or_default();
    let types: Vec<&str> = names.iter().map(|_| "float").collect();
    json!({
        "learner": {
            "attributes": forest.attributes,
            "feature_names": names,
            "feature_types": types,
            "gradient_booster": {
                "model": {
                    "cats": { "enc": [], "feature_segments": [], "sorted_idx": [] },
                    "gbtree_model_param": {
                        "num_parallel_tree": num_parallel_tree.to_string(),
                        "num_trees": forest.trees.len().to_string()
                    },
                    "iteration_indptr": indptr,
                    "tree_info": forest.tree_group,
                    "trees": trees
                },
                "name": "gbtree"
            },
            "learner_model_param": {
                "base_score": base_score,
                "boost_from_average": "1",
                "num_class": num_class.to_string(),
                "num_feature": forest.num_feature.to_string(),
                "num_target": "1"
            },
            "objective": objective_to_value(&forest.objective)
        },
        "version": [3, 1, 3]
    })
}

/// One tree as XGBoost's `RegTree::SaveModel` writes it (numerical splits
/// only, so the category arrays are empty).
fn tree_to_value(id: usize, t: &crate::Tree, num_feature: usize) -> Value {
    let n = t.num_nodes();
    json!({
        "base_weights": t.base_weight,
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": t.default_left.iter().map(|&d| d as u8).collect::<Vec<_>>(),
        "id": id,
        "left_children": t.left,
        "loss_changes": t.loss_change,
        "parents": t.parent,
        "right_children": t.right,
        "split_conditions": t.split_condition,
        "split_indices": t.split_feature,
        "split_type": vec![0u8; n],
        "sum_hessian": t.sum_hessian,
        "tree_param": {
            "num_deleted": "0",
            "num_feature": num_feature.to_string(),
            "num_nodes": n.to_string(),
            "size_leaf_vector": "1"
        }
    })
}

/// The `learner.objective` object: the name and the parameter block
/// XGBoost expects beside it when it loads the model.
fn objective_to_value(objective: &Objective) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(objective.name()));
    match *objective {
        Objective::MultiSoftprob { num_class } | Objective::MultiSoftmax { num_class } => {
            out.insert(
                "softmax_multiclass_param".into(),
                json!({ "num_class": num_class.to_string() }),
            );
        }
        _ => {
            out.insert("reg_loss_param".into(), json!({ "scale_pos_weight": "1" }));
        }
    }
    Value::Object(out)
}

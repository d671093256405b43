//! Generated-input properties for the model loaders (XGBoost JSON, UBJSON,
//! tree dumps): mutated real files, arbitrary bytes, and models whose tree
//! arrays are drawn at random. A load either fails with an error or gives
//! a forest that scores, reports importances and saves without panicking,
//! and saves to what it loads back. Each case runs under the watchdog's
//! time and memory limits.
//!
//! `cargo test` runs a few hundred cases per property; CI runs them in
//! release with `NETPROPHET_FUZZ_SCALE` raised (see `.ci/run`).

#[path = "../../netprophet-core/tests/support/watchdog.rs"]
mod watchdog;

use netprophet_boost::{DumpOptions, Forest, Importance, Objective, Predictor};
use proptest::prelude::*;
use watchdog::{case, run};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../fixtures/boost/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Everything a loaded forest offers must work on it.
fn exercise(forest: &Forest) -> Result<(), TestCaseError> {
    let p = Predictor::new(forest).unwrap();
    let width = forest.num_feature;
    let rows = [
        vec![0.0f32; width],
        vec![f32::NAN; width],
        vec![1e30f32; width],
        (0..width).map(|i| i as f32 - 2.5).collect(),
    ];
    for row in &rows {
        let _ = p.predict_row(row);
        let _ = p.margin_row(row);
        let mut contributions = vec![0f32; p.contributions_width()];
        let _ = p.contributions_row_into(row, &mut contributions);
    }
    let _ = p.predict(&vec![0.5f32; width * 3], width);
    // A batch long enough for whole row blocks (and a remainder) gives
    // each row the margins it gets alone, bit for bit.
    let g = forest.num_output_group();
    let batch: Vec<f32> = rows.iter().cycle().take(19).flatten().copied().collect();
    if let Ok(m) = p.margins(&batch, width) {
        let mut alone = vec![0f32; g];
        for (r, got) in m.chunks(g).enumerate() {
            p.margins_row_into(&rows[r % rows.len()], &mut alone)
                .unwrap();
            prop_assert_eq!(bits(got), bits(&alone), "row {}", r);
        }
    }
    let _ = p.contributions(&vec![0.5f32; width * 3], width);
    for kind in [
        Importance::Weight,
        Importance::Gain,
        Importance::TotalGain,
        Importance::Cover,
        Importance::TotalCover,
    ] {
        prop_assert_eq!(forest.importance(kind).len(), width);
    }
    // What is saved loads back as the same forest.
    let json = forest.to_xgboost_json();
    let again = Forest::from_slice(json.as_bytes())
        .map_err(|e| TestCaseError::fail(format!("saved JSON does not load: {e}")))?;
    prop_assert_eq!(again.trees.len(), forest.trees.len());
    let ubj = forest.to_xgboost_ubjson();
    let again = Forest::from_slice(&ubj)
        .map_err(|e| TestCaseError::fail(format!("saved UBJSON does not load: {e}")))?;
    prop_assert_eq!(again.num_feature, forest.num_feature);
    Ok(())
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..5)
}

fn mutate(
    base: &[u8],
    edits: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    let mut b = base.to_vec();
    for (at, v) in edits {
        let k = at.index(b.len());
        b[k] = *v;
    }
    if let Some(cut) = cut {
        b.truncate(cut.index(b.len() + 1));
    }
    b
}

#[test]
fn mutated_json_and_ubjson_models_load_or_fail_cleanly() {
    let files = [
        fixture("xgb3_stump_1tree/model.json"),
        fixture("xgb3_stump_1tree/model.ubj"),
        fixture("xgb1_base_default/model.json"),
        fixture("xgb3_named/model.ubj"),
    ];
    let strategy = (
        0..files.len(),
        edits(),
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    run("model-mutated", 400, strategy, |(f, edits, cut, full)| {
        let base = &files[f];
        let bytes = mutate(base, &edits, (!full).then_some(cut));
        case("model-mutated", &bytes, || {
            match Forest::from_slice(&bytes) {
                Ok(forest) => exercise(&forest),
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    Ok(())
                }
            }
        })
    });
}

#[test]
fn arbitrary_bytes_are_not_models() {
    let strategy = prop::collection::vec(any::<u8>(), 0..300);
    run("model-bytes", 300, strategy, |bytes| {
        case("model-bytes", &bytes, || {
            let _ = Forest::from_slice(&bytes);
            let _ = Forest::from_dump_json(&bytes, &dump_options());
        });
        Ok(())
    });
}

fn dump_options() -> DumpOptions {
    DumpOptions::new("binary:logistic", 0, 0.5).unwrap()
}

#[test]
fn mutated_dumps_load_or_fail_cleanly() {
    let files = [
        fixture("xgb3_stump_1tree/dump.json"),
        fixture("xgb1_base_default/dump.json"),
    ];
    let strategy = (0..files.len(), edits(), any::<prop::sample::Index>());
    run("dump-mutated", 300, strategy, |(f, edits, cut)| {
        let bytes = mutate(&files[f], &edits, Some(cut));
        case("dump-mutated", &bytes, || {
            match Forest::from_dump_json(&bytes, &dump_options()) {
                Ok(forest) => exercise(&forest),
                Err(_) => Ok(()),
            }
        })
    });
}

/// A tree's arrays drawn at random: lengths, child links, features and
/// thresholds need not agree with one another.
fn tree_json() -> impl Strategy<Value = serde_json::Value> {
    (1usize..8).prop_flat_map(|n| {
        let link = prop_oneof![Just(-1i64), -2i64..(n as i64 + 2)];
        let value = prop_oneof![
            -10.0f64..10.0,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::MAX)
        ];
        (
            prop::collection::vec(link.clone(), n - 1..n + 2),
            prop::collection::vec(link, n - 1..n + 2),
            prop::collection::vec(0u32..6, n..n + 1),
            prop::collection::vec(value.clone(), n - 1..n + 2),
            prop::collection::vec(any::<bool>(), n..n + 1),
            prop::collection::vec(value, 0..n + 1),
        )
            .prop_map(move |(left, right, features, cond, default_left, gains)| {
                let f = |v: &f64| {
                    if v.is_finite() {
                        serde_json::json!(v)
                    } else {
                        serde_json::json!(format!("{v}"))
                    }
                };
                serde_json::json!({
                    "base_weights": vec![0.0; n],
                    "categories": [], "categories_nodes": [], "categories_segments": [],
                    "categories_sizes": [],
                    "default_left": default_left.iter().map(|&b| u8::from(b)).collect::<Vec<_>>(),
                    "id": 0,
                    "left_children": left,
                    "loss_changes": gains.iter().map(f).collect::<Vec<_>>(),
                    "parents": vec![2147483647i64; n],
                    "right_children": right,
                    "split_conditions": cond.iter().map(f).collect::<Vec<_>>(),
                    "split_indices": features,
                    "split_type": vec![0; n],
                    "sum_hessian": vec![1.0; n],
                    "tree_param": {"num_deleted": "0", "num_feature": "6",
                                   "num_nodes": n.to_string(), "size_leaf_vector": "1"}
                })
            })
    })
}

#[test]
fn models_with_random_tree_arrays_load_or_fail_cleanly() {
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("xgb3_stump_1tree/model.json")).unwrap();
    let objectives = prop::sample::select(vec![
        "binary:logistic",
        "reg:squarederror",
        "binary:logitraw",
        "multi:softprob",
        "reg:logistic",
    ]);
    let base_scores = prop::sample::select(vec![
        "[5E-1]",
        "[0E0]",
        "[1E0]",
        "[NaN]",
        "[2E0]",
        "5E-1",
        "[1E0,2E0]",
        "x",
    ]);
    let strategy = (
        prop::collection::vec(tree_json(), 0..4),
        objectives,
        base_scores,
        0usize..8,
        prop::collection::vec(0i64..3, 0..5),
    );
    run(
        "model-random-trees",
        300,
        strategy,
        |(trees, objective, base_score, num_feature, groups)| {
            let mut m = base.clone();
            let learner = &mut m["learner"];
            learner["objective"]["name"] = objective.into();
            learner["learner_model_param"]["base_score"] = base_score.into();
            learner["learner_model_param"]["num_feature"] = num_feature.to_string().into();
            learner["learner_model_param"]["num_class"] = if objective.starts_with("multi") {
                "3"
            } else {
                "0"
            }
            .into();
            let model = &mut learner["gradient_booster"]["model"];
            model["gbtree_model_param"]["num_trees"] = trees.len().to_string().into();
            model["tree_info"] = if groups.len() == trees.len() {
                serde_json::json!(groups)
            } else {
                serde_json::json!(vec![0; trees.len()])
            };
            model["trees"] = serde_json::Value::Array(trees);
            let bytes = serde_json::to_vec(&m).unwrap();
            case("model-random-trees", &bytes, || {
                match Forest::from_slice(&bytes) {
                    Ok(forest) => {
                        // A model that loads has a base score with a margin.
                        for &b in &forest.base_score {
                            prop_assert!(forest.objective.check_base_score(b).is_ok());
                        }
                        if matches!(forest.objective, Objective::BinaryLogistic) {
                            prop_assert!(forest.base_score.iter().all(|b| *b > 0.0 && *b < 1.0));
                        }
                        exercise(&forest)
                    }
                    Err(_) => Ok(()),
                }
            })
        },
    );
}

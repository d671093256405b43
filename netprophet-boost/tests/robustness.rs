//! Hostile inputs: corrupted model files and arbitrary rows produce errors
//! or numbers, never a panic; batch and single-row scoring agree.

use std::path::Path;
use std::sync::OnceLock;

use netprophet_boost::{DumpOptions, Forest, Predictor};
use proptest::prelude::*;

fn real_model() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static BYTES: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/boost/xgb3_base_explicit");
        (
            std::fs::read(dir.join("model.json")).unwrap(),
            std::fs::read(dir.join("model.ubj")).unwrap(),
            std::fs::read(dir.join("dump.json")).unwrap(),
        )
    })
}

fn predictor() -> &'static Predictor {
    static P: OnceLock<Predictor> = OnceLock::new();
    P.get_or_init(|| Predictor::new(&Forest::from_json_slice(&real_model().0).unwrap()).unwrap())
}

/// Scores whatever loaded, so a model that parses but is subtly broken is
/// also exercised by the predictor.
fn exercise(result: Result<Forest, netprophet_boost::ModelError>) {
    if let Ok(forest) = result {
        if forest.num_feature > 100_000 {
            return; // valid but too wide to build a test row for
        }
        let p = Predictor::new(&forest).unwrap();
        let row = vec![1.0f32; forest.num_feature.max(1)];
        let _ = p.margins(&row, forest.num_feature.max(1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn truncated_models_never_panic(cut in 0.0f64..1.0) {
        let (json, ubj, dump) = real_model();
        exercise(Forest::from_json_slice(&json[..(json.len() as f64 * cut) as usize]));
        exercise(Forest::from_ubjson_slice(&ubj[..(ubj.len() as f64 * cut) as usize]));
        let opts = DumpOptions::new("binary:logistic", 0, 0.3).unwrap();
        exercise(Forest::from_dump_json(&dump[..(dump.len() as f64 * cut) as usize], &opts));
    }

    #[test]
    fn mutated_models_never_panic(
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 1..8)
    ) {
        let (json, ubj, _) = real_model();
        for original in [json, ubj] {
            let mut bytes = original.clone();
            for (pos, byte) in &edits {
                let i = ((bytes.len() - 1) as f64 * pos) as usize;
                bytes[i] = *byte;
            }
            exercise(Forest::from_json_slice(&bytes));
            exercise(Forest::from_ubjson_slice(&bytes));
        }
    }

    #[test]
    fn mutated_json_numbers_never_panic(pos in 0.0f64..1.0, digit in prop::sample::select(
        vec!["-1", "999999999", "1e40", "-2147483648", "\"x\"", "null", "[]", "{}", "0.5"]
    )) {
        // Replace one number-ish token with something hostile: child ids out
        // of range, negative feature indices, wrong types.
        let text = String::from_utf8(real_model().0.clone()).unwrap();
        let starts: Vec<usize> = text.match_indices(|c: char| c.is_ascii_digit()).map(|(i, _)| i).collect();
        let i = starts[((starts.len() - 1) as f64 * pos) as usize];
        let end = text[i..].find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'E' || c == '-')).map_or(text.len(), |e| i + e);
        let mutated = format!("{}{}{}", &text[..i], digit, &text[end..]);
        exercise(Forest::from_json_slice(mutated.as_bytes()));
    }

    #[test]
    fn arbitrary_rows_score_and_batch_equals_single(
        rows in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![
                any::<f32>(),
                Just(f32::NAN),
                Just(f32::INFINITY),
                Just(f32::NEG_INFINITY),
                -100.0f32..200.0,
            ], 8),
            1..40)
    ) {
        let p = predictor();
        let flat: Vec<f32> = rows.concat();
        let batch = p.margins(&flat, 8).unwrap();
        let probs = p.predict(&flat, 8).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let single = p.margin_row(row).unwrap();
            prop_assert_eq!(single.to_bits(), batch[i].to_bits());
            prop_assert!(probs[i].is_nan() || (0.0..=1.0).contains(&probs[i]));
        }
    }

    #[test]
    fn wrong_widths_are_errors(width in 0usize..20, len in 0usize..50) {
        let p = predictor();
        let data = vec![0.5f32; len];
        let r = p.margins(&data, width);
        if width < 8 || width == 0 || len % width != 0 {
            prop_assert!(r.is_err());
        } else {
            prop_assert_eq!(r.unwrap().len(), len / width);
        }
    }
}

/// One edit a user could make to a loaded forest's public fields.
#[derive(Debug, Clone)]
enum Edit {
    Child {
        tree: usize,
        node: usize,
        to: i32,
        right: bool,
    },
    Feature {
        tree: usize,
        node: usize,
        to: u32,
    },
    Truncate {
        tree: usize,
        array: usize,
        len: usize,
    },
    Threshold {
        tree: usize,
        node: usize,
        to: f32,
    },
    Groups {
        len: usize,
    },
    BaseScore {
        to: f32,
    },
    NumFeature {
        to: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    let t = 0usize..200;
    let n = 0usize..64;
    prop_oneof![
        (t.clone(), n.clone(), -3i32..70, any::<bool>()).prop_map(|(tree, node, to, right)| {
            Edit::Child {
                tree,
                node,
                to,
                right,
            }
        }),
        (t.clone(), n.clone(), 0u32..20).prop_map(|(tree, node, to)| Edit::Feature {
            tree,
            node,
            to
        }),
        (t.clone(), 0usize..9, 0usize..64).prop_map(|(tree, array, len)| Edit::Truncate {
            tree,
            array,
            len
        }),
        (
            t.clone(),
            n,
            prop::sample::select(vec![f32::NAN, f32::INFINITY, -0.0, 1e30])
        )
            .prop_map(|(tree, node, to)| Edit::Threshold { tree, node, to }),
        (0usize..300).prop_map(|len| Edit::Groups { len }),
        prop::sample::select(vec![f32::NAN, 0.0, 1.0, 2.0, 0.3])
            .prop_map(|to| Edit::BaseScore { to }),
        (0usize..20).prop_map(|to| Edit::NumFeature { to }),
    ]
}

fn apply(forest: &mut Forest, e: &Edit) {
    let count = forest.trees.len();
    let pick = |t: usize| t % count.max(1);
    match *e {
        Edit::Child {
            tree,
            node,
            to,
            right,
        } => {
            if let Some(t) = forest.trees.get_mut(pick(tree)) {
                let side = if right { &mut t.right } else { &mut t.left };
                let len = side.len().max(1);
                if let Some(c) = side.get_mut(node % len) {
                    *c = to;
                }
            }
        }
        Edit::Feature { tree, node, to } => {
            if let Some(t) = forest.trees.get_mut(pick(tree)) {
                let len = t.split_feature.len().max(1);
                if let Some(f) = t.split_feature.get_mut(node % len) {
                    *f = to;
                }
            }
        }
        Edit::Truncate { tree, array, len } => {
            if let Some(t) = forest.trees.get_mut(pick(tree)) {
                match array {
                    0 => t.left.truncate(len),
                    1 => t.right.truncate(len),
                    2 => t.parent.truncate(len),
                    3 => t.split_feature.truncate(len),
                    4 => t.split_condition.truncate(len),
                    5 => t.default_left.truncate(len),
                    6 => t.loss_change.truncate(len),
                    7 => t.sum_hessian.truncate(len),
                    _ => t.base_weight.truncate(len),
                }
            }
        }
        Edit::Threshold { tree, node, to } => {
            if let Some(t) = forest.trees.get_mut(pick(tree)) {
                let len = t.split_condition.len().max(1);
                if let Some(v) = t.split_condition.get_mut(node % len) {
                    *v = to;
                }
            }
        }
        Edit::Groups { len } => forest.tree_group.resize(len, 0),
        Edit::BaseScore { to } => forest.base_score = vec![to],
        Edit::NumFeature { to } => forest.num_feature = to,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever is done to a loaded forest's public fields, scoring,
    /// explaining, importance and saving return errors or values: the
    /// predictor validates again instead of trusting the loader.
    #[test]
    fn forests_edited_after_loading_never_panic(edits in prop::collection::vec(edit(), 1..4)) {
        let mut forest = Forest::from_json_slice(&real_model().0).unwrap();
        for e in &edits {
            apply(&mut forest, e);
        }
        for kind in [
            netprophet_boost::Importance::Weight,
            netprophet_boost::Importance::Gain,
            netprophet_boost::Importance::TotalCover,
        ] {
            let _ = forest.importance(kind);
        }
        let dir = std::env::temp_dir().join(format!("np-edit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved = forest.save_json(dir.join("m.json"));
        let _ = std::fs::remove_dir_all(&dir);
        let valid = forest.validate().is_ok();
        prop_assert_eq!(saved.is_ok(), valid);
        match Predictor::new(&forest) {
            Ok(p) => {
                prop_assert!(valid);
                let width = forest.num_feature.max(1);
                let row = vec![1.0f32; width];
                let _ = p.margins(&row, width);
                let _ = p.contributions(&row, width);
            }
            Err(e) => {
                prop_assert!(!valid);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// A forest cut to a cycle after loading was a panic or an endless walk in
/// `Predictor::new`; now it is the loader's own error.
#[test]
fn a_cycle_made_after_loading_is_an_error() {
    let mut forest = Forest::from_json_slice(&real_model().0).unwrap();
    let t = &mut forest.trees[0];
    t.left[1] = 0; // node 1 points back at the root
    let err = Predictor::new(&forest).unwrap_err().to_string();
    assert!(err.contains("tree 0"), "{err}");
    let mut forest = Forest::from_json_slice(&real_model().0).unwrap();
    forest.trees[3].loss_change.clear();
    assert!(Predictor::new(&forest).is_err());
    let gain = forest.importance(netprophet_boost::Importance::Gain);
    assert_eq!(gain.len(), forest.num_feature);
}

//! The predictor's fast paths (trees walked in groups, rows in blocks,
//! the complete and sparse layouts) against the plainest walk of the
//! model's own node arrays, on random forests: every margin must be the
//! same bits, whatever the depth, the number of trees (not a multiple of
//! a group), the number of rows (not a multiple of a block) and where the
//! missing values are.

use netprophet_boost::{Forest, Objective, Predictor, Tree};
use proptest::prelude::*;

/// A random tree grown from `shape`: each entry decides whether the next
/// node in breadth-first order is split (while depth allows), on which
/// feature, at which threshold, and which way missing values go.
fn tree(shape: &[(bool, u8, i8, bool, i8)], width: u32, max_depth: usize) -> Tree {
    let mut t = Tree::leaf(0.0);
    let mut depth = vec![0usize];
    let mut next = 0;
    for &(split, feature, threshold, default_left, leaf) in shape {
        if next >= t.left.len() {
            break;
        }
        let n = next;
        next += 1;
        if split && depth[n] < max_depth {
            let l = t.left.len() as i32;
            t.left[n] = l;
            t.right[n] = l + 1;
            t.split_feature[n] = u32::from(feature) % width;
            t.split_condition[n] = f32::from(threshold) / 4.0;
            t.default_left[n] = default_left;
            for _ in 0..2 {
                t.left.push(-1);
                t.right.push(-1);
                t.parent.push(n as i32);
                t.split_feature.push(0);
                t.split_condition.push(0.0);
                t.default_left.push(false);
                t.loss_change.push(0.0);
                t.sum_hessian.push(0.0);
                t.base_weight.push(0.0);
                depth.push(depth[n] + 1);
            }
        } else {
            t.split_condition[n] = f32::from(leaf) / 16.0;
        }
    }
    // Nodes never reached by `shape` stay leaves; give them values too.
    for n in next..t.left.len() {
        t.split_condition[n] = n as f32 / 32.0;
    }
    t
}

/// XGBoost's rule, node by node: `value < threshold` goes left, a missing
/// value goes the default way; leaves are added in boosting order in f32.
fn plain_margin(forest: &Forest, row: &[f32], group: u32) -> f32 {
    // Base score 0 (squared error or softprob): the base margin is 0.
    let mut m = 0.0f32;
    let trees = forest.trees.iter().zip(&forest.tree_group);
    for (t, _) in trees.filter(|(_, &g)| g == group) {
        let mut n = 0usize;
        while t.left[n] >= 0 {
            let v = row[t.split_feature[n] as usize];
            let left = if v.is_nan() {
                t.default_left[n]
            } else {
                v < t.split_condition[n]
            };
            n = if left { t.left[n] } else { t.right[n] } as usize;
        }
        m += t.split_condition[n];
    }
    m
}

type Shape = Vec<(bool, u8, i8, bool, i8)>;

fn forests() -> impl Strategy<Value = (Vec<Shape>, usize, u32)> {
    let node = (
        any::<bool>(),
        any::<u8>(),
        any::<i8>(),
        any::<bool>(),
        any::<i8>(),
    );
    (
        prop::collection::vec(prop::collection::vec(node, 0..80), 1..40),
        0usize..10,
        // Up to 16 values a row go through the vector walk (where the
        // CPU has it), wider ones through the scalar walk.
        1u32..20,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn batch_one_row_and_the_plain_walk_agree(
        (shapes, max_depth, width) in forests(),
        raw in prop::collection::vec((any::<i8>(), 0u8..8), 1..400),
        missing in any::<bool>(),
        classes in 1usize..4,
    ) {
        let trees: Vec<Tree> = shapes.iter().map(|s| tree(s, width, max_depth)).collect();
        // One output, or trees rotating through 2 or 3 classes.
        let objective = match classes {
            1 => Objective::RegSquaredError,
            num_class => Objective::MultiSoftprob { num_class },
        };
        let forest = Forest::new(trees, objective, vec![0.0], width as usize)
            .expect("a valid forest");
        let p = Predictor::new(&forest).expect("a predictor");
        let w = width as usize;
        // In half the cases one value in eight is missing (and in the
        // other half none, so blocks without any take their own path); one
        // in eight is -0.0 or infinite; the rest sit on and between the
        // thresholds (quarters), so equality with a threshold is common.
        let x: Vec<f32> = raw
            .iter()
            .map(|&(v, code)| match code {
                0 if missing => f32::NAN,
                // Values whose order is easy to get wrong: negative zero
                // (equal to a threshold of 0) and the infinities.
                1 => [-0.0, f32::INFINITY, f32::NEG_INFINITY][usize::from(v as u8) % 3],
                _ => f32::from(v) / 8.0,
            })
            .collect();
        let rows = x.len() / w;
        prop_assume!(rows > 0);
        let x = &x[..rows * w];
        let batch = p.margins(x, w).expect("batch");
        let mut one = vec![0.0f32; classes];
        for (r, row) in x.chunks(w).enumerate() {
            p.margins_row_into(row, &mut one).expect("one row");
            for g in 0..classes {
                let want = plain_margin(&forest, row, g as u32);
                let got = batch[r * classes + g];
                prop_assert_eq!(got.to_bits(), want.to_bits(), "row {} of the batch, group {}", r, g);
                prop_assert_eq!(one[g].to_bits(), want.to_bits(), "row {} alone, group {}", r, g);
            }
        }
    }
}

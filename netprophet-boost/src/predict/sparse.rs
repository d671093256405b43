//! Pointer-chasing layout for trees too deep to pad to a complete tree.
//!
//! Nodes are renumbered breadth-first so siblings sit side by side
//! (`right = left + 1`) and the levels every row visits come first.

use crate::Tree;

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;
/// Bit of [`Node::feature`] that says missing values go left.
const DEFAULT_LEFT: u32 = 1 << 31;

/// One node, 12 bytes.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Threshold for a split, the value for a leaf.
    value: f32,
    /// Feature index with [`DEFAULT_LEFT`]; [`LEAF`] for a leaf.
    feature: u32,
    /// Index of the left child; the right child follows it.
    left: u32,
}

/// Trees as flat node arrays.
#[derive(Debug, Clone, Default)]
pub(super) struct SparseTrees {
    nodes: Vec<Node>,
    roots: Vec<u32>,
}

impl SparseTrees {
    /// Appends `tree`.
    pub(super) fn push(&mut self, tree: &Tree) {
        let nodes = &mut self.nodes;
        let root = nodes.len();
        self.roots.push(root as u32);
        let leaf = Node {
            value: 0.0,
            feature: LEAF,
            left: 0,
        };
        nodes.push(leaf);
        let mut queue = std::collections::VecDeque::from([(0usize, root)]);
        while let Some((old, new)) = queue.pop_front() {
            if tree.is_leaf(old) {
                nodes[new].value = tree.split_condition[old];
                continue;
            }
            let left = nodes.len();
            nodes.extend([leaf, leaf]);
            let mut feature = tree.split_feature[old];
            if tree.default_left[old] {
                feature |= DEFAULT_LEFT;
            }
            nodes[new] = Node {
                value: tree.split_condition[old],
                feature,
                left: left as u32,
            };
            queue.push_back((tree.left[old] as usize, left));
            queue.push_back((tree.right[old] as usize, left + 1));
        }
    }

    /// Number of trees.
    pub(super) fn num_trees(&self) -> usize {
        self.roots.len()
    }

    /// Leaf value of tree `t` for `row`.
    #[inline]
    pub(super) fn leaf(&self, t: usize, row: &[f32]) -> f32 {
        let mut i = self.roots[t] as usize;
        loop {
            let n = self.nodes[i];
            if n.feature == LEAF {
                return n.value;
            }
            let v = row[(n.feature & !DEFAULT_LEFT) as usize];
            let go_left = if v.is_nan() {
                n.feature & DEFAULT_LEFT != 0
            } else {
                v < n.value
            };
            i = n.left as usize + usize::from(!go_left);
        }
    }
}

//! Growing one tree (the driver of XGBoost's `updater_quantile_hist.cc`
//! and `driver.h`): which node is split next, and what a split does to
//! the rows and histograms.
//!
//! XGBoost keeps the candidate nodes in a queue: depth-wise, a whole level
//! at a time in node order; loss-guided, the one that gains most. A node
//! is split when its best split passes [`Evaluator::expandable`] (gain
//! above `gamma`, depth and leaf limits), and its children are evaluated
//! unless the limits already rule them out. Both policies are followed
//! here ([`Grower::grow`]).
//!
//! Depth-wise growth without a leaf limit needs no queue: whether a node
//! is split depends on nothing but the node, so the tree grows depth first
//! and the two children of a split grow in parallel (no barrier per
//! level, and a node's rows are still in cache when its children start);
//! nodes are then numbered breadth first, XGBoost's order. The same rows
//! are added in the same order either way, so the tree is the same.
//!
//! Only the smaller child's histogram (by hessian, XGBoost's choice) is
//! built from its rows; the other is the parent's minus it. The rows of a
//! last level are never partitioned: the margin update finds their leaf
//! by one comparison.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::Range;

use super::bins::Binned;
use super::evaluator::{Applied, Bounds, Evaluator, NodeStats, SplitEntry, RT_EPS};
use super::histogram::{build_hist, root_sum, Grad32, GradPair};
use super::params::{GrowPolicy, TreeParams};
use super::partitioner::{partition, SplitTest};
use super::sampler::ColumnSampler;
use super::tree::{BinTree, Settled};

/// Row index buffers, allocated once per training and reused by every
/// tree: a node's rows are a range of `idx`, and `scratch` is where a
/// partition puts the rows going right before they are copied back.
pub(crate) struct RowBuffers {
    pub idx: Vec<u32>,
    pub scratch: Vec<u32>,
}

/// Nodes XGBoost's depth-wise driver takes from its queue at once.
const MAX_NODE_BATCH: usize = 256;

/// What growing a tree reads.
pub(crate) struct Grower<'a> {
    pub binned: &'a Binned,
    pub grad: &'a [Grad32],
    pub p: &'a TreeParams,
    pub columns: &'a ColumnSampler,
}

/// A node while growing: its rows (a range of the row buffer, ascending),
/// statistics, histogram and best split.
struct GrowNode {
    rows: Range<usize>,
    stats: NodeStats,
    bounds: Bounds,
    depth: usize,
    /// A number unique in the tree, for per-node column sampling.
    key: u64,
    hist: Vec<GradPair>,
    split: SplitEntry,
}

/// A subtree grown depth first, before its nodes are numbered.
enum Grown {
    /// Not split; its rows are one range of the row buffer.
    Leaf { rows: Range<usize> },
    /// Split; `children` is `None` when they are leaves whose rows were
    /// never partitioned.
    Split {
        split: SplitEntry,
        applied: Applied,
        rows: Range<usize>,
        children: Option<Box<[Grown; 2]>>,
    },
}

impl Grower<'_> {
    fn eval(&self) -> Evaluator<'_> {
        Evaluator { p: self.p }
    }

    /// Grows one tree from the rows in `buf.idx` (ascending); returns it
    /// and where its rows settled.
    pub fn grow(&self, buf: &mut RowBuffers) -> (BinTree, Vec<Settled>) {
        let n = buf.idx.len();
        let hist = build_hist(self.binned, self.grad, &buf.idx);
        let sum = root_sum(self.binned, &hist, self.grad, &buf.idx);
        let ev = self.eval();
        let bounds = Bounds::default();
        let tree = BinTree::root(ev.weight(bounds, sum), sum.h as f32, self.p.eta);
        let mut root = GrowNode {
            rows: 0..n,
            stats: NodeStats {
                sum,
                root_gain: ev.gain(bounds, sum),
            },
            bounds,
            depth: 0,
            key: 0,
            hist,
            split: SplitEntry::default(),
        };
        self.evaluate(&mut root);
        if self.p.grow_policy == GrowPolicy::DepthWise
            && self.p.max_leaves == 0
            && self.p.max_depth > 0
        {
            let grown = self.grow_node(root, &mut buf.idx, &mut buf.scratch[..n]);
            number(tree, grown)
        } else {
            self.grow_by_queue(root, tree, buf)
        }
    }

    /// Finds a node's best split over the features it may use.
    fn evaluate(&self, node: &mut GrowNode) {
        let features = self.columns.node_features(node.depth, node.key);
        node.split =
            self.eval()
                .best_split(self.binned, &node.hist, &node.stats, node.bounds, &features);
    }

    /// Partitions a node's rows (`rows`, the node's range of the row
    /// buffer) by its split and builds its children's histograms.
    fn split(
        &self,
        node: GrowNode,
        applied: &Applied,
        rows: &mut [u32],
        scratch: &mut [u32],
        keys: [u64; 2],
    ) -> [GrowNode; 2] {
        let e = &node.split;
        let test = SplitTest::new(self.binned, e.feature as usize, e.bin, e.default_left);
        let n_left = partition(rows, scratch, &test);
        let (left_rows, right_rows) = rows.split_at(n_left);
        // XGBoost builds the child with the smaller hessian sum (the left
        // one on a tie) and subtracts it from the parent.
        let build_right = e.right.h < e.left.h;
        let small = build_hist(
            self.binned,
            self.grad,
            if build_right { right_rows } else { left_rows },
        );
        let mut large = node.hist;
        for (a, &b) in large.iter_mut().zip(&small) {
            *a = *a - b;
        }
        let (left_hist, right_hist) = if build_right {
            (large, small)
        } else {
            (small, large)
        };
        let mid = node.rows.start + n_left;
        let child = |rows, i: usize, hist| GrowNode {
            rows,
            stats: applied.stats[i],
            bounds: applied.bounds[i],
            depth: node.depth + 1,
            key: keys[i],
            hist,
            split: SplitEntry::default(),
        };
        [
            child(node.rows.start..mid, 0, left_hist),
            child(mid..node.rows.end, 1, right_hist),
        ]
    }

    /// Whether the children of a node at `depth` may be split at all
    /// (XGBoost's `IsChildValid`).
    fn children_may_split(&self, depth: usize, leaves: usize) -> bool {
        let p = self.p;
        let deep = p.max_depth > 0 && depth + 1 >= p.max_depth;
        let full = p.max_leaves > 0 && leaves >= p.max_leaves;
        !deep && !full
    }

    /// Grows the subtree under `node` depth first, whose rows are `rows`.
    fn grow_node(&self, node: GrowNode, rows: &mut [u32], scratch: &mut [u32]) -> Grown {
        let ev = self.eval();
        if !ev.expandable(&node.split, node.depth, 0) {
            return Grown::Leaf { rows: node.rows };
        }
        let applied = ev.apply(node.bounds, &node.split);
        if !self.children_may_split(node.depth, 0) {
            // Leaves at the depth limit: no partition.
            return Grown::Split {
                split: node.split,
                applied,
                rows: node.rows,
                children: None,
            };
        }
        let (split, range) = (node.split, node.rows.clone());
        let keys = [2 * node.key + 1, 2 * node.key + 2];
        let [mut left, mut right] = self.split(node, &applied, rows, scratch, keys);
        let n_left = left.rows.len();
        let (left_rows, right_rows) = rows.split_at_mut(n_left);
        let (left_scratch, right_scratch) = scratch.split_at_mut(n_left);
        let children = rayon::join(
            || {
                self.evaluate(&mut left);
                self.grow_node(left, left_rows, left_scratch)
            },
            || {
                self.evaluate(&mut right);
                self.grow_node(right, right_rows, right_scratch)
            },
        );
        Grown::Split {
            split,
            applied,
            rows: range,
            children: Some(Box::new([children.0, children.1])),
        }
    }

    /// XGBoost's queue-driven growth, for a leaf limit or loss-guided
    /// trees: nodes are numbered as they are split.
    fn grow_by_queue(
        &self,
        root: GrowNode,
        mut tree: BinTree,
        buf: &mut RowBuffers,
    ) -> (BinTree, Vec<Settled>) {
        let ev = self.eval();
        let loss_guide = self.p.grow_policy == GrowPolicy::LossGuide;
        let mut queue = BinaryHeap::new();
        let mut settled = Vec::new();
        let mut leaves = 1usize;
        queue.push(Queued {
            node: root,
            id: 0,
            loss_guide,
        });
        loop {
            let mut batch = Vec::new();
            if loss_guide {
                // One node at a time; the first that may not be split ends
                // the tree (XGBoost's driver returns no more nodes).
                if let Some(top) = queue.pop() {
                    if ev.expandable(&top.node.split, top.node.depth, leaves) {
                        leaves += 1;
                        batch.push(top);
                    } else {
                        settled.push((top.node.rows, top.id));
                    }
                }
            } else {
                let level = queue.peek().map(|q| q.node.depth);
                while batch.len() < MAX_NODE_BATCH
                    && queue.peek().is_some_and(|q| Some(q.node.depth) == level)
                {
                    let Some(top) = queue.pop() else { break };
                    if ev.expandable(&top.node.split, top.node.depth, leaves) {
                        leaves += 1;
                        batch.push(top);
                    } else {
                        settled.push((top.node.rows, top.id));
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            let applied: Vec<(Applied, [usize; 2])> = batch
                .iter()
                .map(|q| {
                    let a = ev.apply(q.node.bounds, &q.node.split);
                    (a, tree.expand(q.id, &q.node.split, &a))
                })
                .collect();
            for (q, (a, ids)) in batch.into_iter().zip(applied) {
                if !self.children_may_split(q.node.depth, leaves) {
                    settled.push((q.node.rows, q.id));
                    continue;
                }
                let range = q.node.rows.clone();
                let keys = [ids[0] as u64, ids[1] as u64];
                let children = self.split(
                    q.node,
                    &a,
                    &mut buf.idx[range.clone()],
                    &mut buf.scratch[range],
                    keys,
                );
                for (mut child, id) in children.into_iter().zip(ids) {
                    self.evaluate(&mut child);
                    if child.split.loss_chg > RT_EPS {
                        queue.push(Queued {
                            node: child,
                            id,
                            loss_guide,
                        });
                    } else {
                        settled.push((child.rows, id));
                    }
                }
            }
        }
        settled.extend(queue.into_iter().map(|q| (q.node.rows, q.id)));
        (tree, settled)
    }
}

/// A node waiting in the queue, with its id in the tree.
struct Queued {
    node: GrowNode,
    id: usize,
    loss_guide: bool,
}

impl Ord for Queued {
    /// XGBoost's priorities: depth-wise, the lowest id first;
    /// loss-guided, the largest gain first, then the lowest id.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_id = other.id.cmp(&self.id);
        if self.loss_guide {
            let (a, b) = (self.node.split.loss_chg, other.node.split.loss_chg);
            if a == b {
                by_id
            } else {
                a.partial_cmp(&b).unwrap_or(Ordering::Equal)
            }
        } else {
            by_id
        }
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

/// Numbers a depth-first grown tree breadth first (children of a node
/// next to each other, left first), the order XGBoost's depth-wise driver
/// expands nodes in; also lists where its rows settled.
fn number(mut tree: BinTree, root: Grown) -> (BinTree, Vec<Settled>) {
    let mut settled = Vec::new();
    let mut queue = VecDeque::from([(root, 0usize)]);
    while let Some((grown, id)) = queue.pop_front() {
        match grown {
            Grown::Leaf { rows } => settled.push((rows, id)),
            Grown::Split {
                split,
                applied,
                rows,
                children,
            } => {
                let [l, r] = tree.expand(id, &split, &applied);
                match children {
                    Some(pair) => {
                        let [a, b] = *pair;
                        queue.push_back((a, l));
                        queue.push_back((b, r));
                    }
                    None => settled.push((rows, id)),
                }
            }
        }
    }
    (tree, settled)
}

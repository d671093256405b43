//! A k-d tree for exact k-nearest-neighbour queries (Euclidean).
//!
//! SMOTE needs, for each minority row, its k nearest minority rows. A
//! brute-force search is quadratic in the minority class; the tree answers
//! each query in roughly logarithmic time for the low-dimensional feature
//! rows used here.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Points per leaf: small enough to prune well, large enough that the
/// leaf scan is a tight loop.
const LEAF: usize = 16;

enum Node {
    Leaf {
        start: usize,
        end: usize,
    },
    Split {
        dim: usize,
        value: f64,
        left: usize,
        right: usize,
    },
}

/// A k-d tree over row-major points; the points are borrowed.
pub struct KdTree<'a> {
    points: &'a [f64],
    width: usize,
    index: Vec<usize>,
    nodes: Vec<Node>,
}

/// A candidate neighbour ordered by (distance, index), so that ties are
/// broken by the lower index and results are deterministic.
#[derive(Clone, Copy, PartialEq)]
struct Candidate(f64, usize);

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl<'a> KdTree<'a> {
    /// Builds a tree over `points` (row-major, `width` values per row).
    /// Values must be finite; `width` must be at least 1.
    pub fn new(points: &'a [f64], width: usize) -> Self {
        let n = points.len().checked_div(width).unwrap_or(0);
        let mut tree = KdTree {
            points,
            width,
            index: (0..n).collect(),
            nodes: Vec::with_capacity(2 * n / LEAF + 1),
        };
        if n > 0 {
            tree.build(0, n);
        }
        tree
    }

    fn value(&self, row: usize, dim: usize) -> f64 {
        self.points[row * self.width + dim]
    }

    fn build(&mut self, start: usize, end: usize) -> usize {
        let id = self.nodes.len();
        if end - start <= LEAF {
            self.nodes.push(Node::Leaf { start, end });
            return id;
        }
        // Split the widest dimension at its median.
        let mut best = (0, -1.0);
        for dim in 0..self.width {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &i in &self.index[start..end] {
                let v = self.value(i, dim);
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi - lo > best.1 {
                best = (dim, hi - lo);
            }
        }
        let dim = best.0;
        if best.1 <= 0.0 {
            // All points are identical: nothing to split on.
            self.nodes.push(Node::Leaf { start, end });
            return id;
        }
        let mid = start + (end - start) / 2;
        let (points, width) = (self.points, self.width);
        self.index[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            points[a * width + dim].total_cmp(&points[b * width + dim])
        });
        let value = self.value(self.index[mid], dim);
        self.nodes.push(Node::Split {
            dim,
            value,
            left: 0,
            right: 0,
        });
        let left = self.build(start, mid);
        let right = self.build(mid, end);
        if let Node::Split {
            left: l, right: r, ..
        } = &mut self.nodes[id]
        {
            *l = left;
            *r = right;
        }
        id
    }

    fn distance(&self, row: usize, query: &[f64]) -> f64 {
        let p = &self.points[row * self.width..(row + 1) * self.width];
        p.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum()
    }

    /// The `k` points nearest to `query`, nearest first, leaving out point
    /// `exclude` (the query point itself, for SMOTE). Returns row indices.
    pub fn nearest(&self, query: &[f64], k: usize, exclude: Option<usize>) -> Vec<usize> {
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        if k > 0 && !self.nodes.is_empty() {
            self.search(0, query, k, exclude, &mut heap);
        }
        let mut out: Vec<Candidate> = heap.into_vec();
        out.sort();
        out.into_iter().map(|c| c.1).collect()
    }

    fn search(
        &self,
        node: usize,
        query: &[f64],
        k: usize,
        exclude: Option<usize>,
        heap: &mut BinaryHeap<Candidate>,
    ) {
        match self.nodes[node] {
            Node::Leaf { start, end } => {
                for &i in &self.index[start..end] {
                    if Some(i) == exclude {
                        continue;
                    }
                    let c = Candidate(self.distance(i, query), i);
                    if heap.len() < k {
                        heap.push(c);
                    } else if heap.peek().is_some_and(|worst| c < *worst) {
                        heap.pop();
                        heap.push(c);
                    }
                }
            }
            Node::Split {
                dim,
                value,
                left,
                right,
            } => {
                let diff = query[dim] - value;
                let (near, far) = if diff < 0.0 {
                    (left, right)
                } else {
                    (right, left)
                };
                self.search(near, query, k, exclude, heap);
                // The far side can only help if the splitting plane is
                // closer than the current k-th neighbour (ties included, so
                // that lower indices win deterministically).
                if heap.len() < k || heap.peek().is_some_and(|worst| diff * diff <= worst.0) {
                    self.search(far, query, k, exclude, heap);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(points: &[f64], width: usize, q: usize, k: usize) -> Vec<usize> {
        let n = points.len() / width;
        let query = &points[q * width..(q + 1) * width];
        let mut all: Vec<Candidate> = (0..n)
            .filter(|&i| i != q)
            .map(|i| {
                let d = points[i * width..(i + 1) * width]
                    .iter()
                    .zip(query)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                Candidate(d, i)
            })
            .collect();
        all.sort();
        all.into_iter().take(k).map(|c| c.1).collect()
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            width in 1usize..5,
            raw in proptest::collection::vec(0u8..6, 1..400),
            k in 1usize..6,
        ) {
            // Small integer coordinates make duplicates and ties common.
            let n = raw.len() / width;
            prop_assume!(n > 0);
            let points: Vec<f64> = raw[..n * width].iter().map(|&v| f64::from(v)).collect();
            let tree = KdTree::new(&points, width);
            for q in 0..n {
                let query = &points[q * width..(q + 1) * width];
                prop_assert_eq!(tree.nearest(query, k, Some(q)), brute(&points, width, q, k));
            }
        }
    }
}

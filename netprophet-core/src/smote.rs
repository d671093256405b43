//! SMOTE oversampling with imbalanced-learn's semantics.
//!
//! For each synthetic row, a minority row `x` is drawn uniformly, then one
//! of its `k` nearest minority neighbours `n` (Euclidean), then
//! `u ~ U[0, 1)`; the new row is `x + u * (n - x)`. Rows are added until
//! the minority class reaches `ratio x majority` (1.0 = balanced). The
//! original rows come first, unchanged, then the synthetic ones, as
//! `SMOTE.fit_resample` returns them. Randomness is ChaCha8 from a seed, so
//! a seed gives the same rows on every platform; the draws differ from
//! NumPy's, so only counts (not rows) can match imbalanced-learn.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::kdtree::KdTree;

/// Parameters of SMOTE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smote {
    /// Neighbours to interpolate towards (default 3, as the original system).
    pub k_neighbors: usize,
    /// Desired minority / majority count after resampling (default 1.0).
    pub ratio: f64,
    /// Seed of the random draws.
    pub seed: u64,
}

impl Default for Smote {
    fn default() -> Self {
        Smote {
            k_neighbors: 3,
            ratio: 1.0,
            seed: 42,
        }
    }
}

/// Why SMOTE could not run.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SmoteError {
    /// The minority class is too small for `k` neighbours.
    #[error("the minority class (label {label}) has {count} rows; SMOTE with k = {k} needs at least {}", k.saturating_add(1))]
    TooFewMinority {
        /// The minority label.
        label: u8,
        /// Its row count.
        count: usize,
        /// The requested k.
        k: usize,
    },
    /// Only one class is present.
    #[error("only one class ({0}) is present; nothing to balance")]
    OneClass(u8),
    /// Shapes do not agree.
    #[error("{0}")]
    Shape(String),
    /// A label is not 0 or 1.
    #[error("row {row}: label {label} is not 0 or 1")]
    Label {
        /// Row index.
        row: usize,
        /// The label.
        label: u8,
    },
    /// A value is NaN or infinite (neighbours would be meaningless).
    #[error("row {row}, column {column}: {value} is not a finite number")]
    NotFinite {
        /// Row index.
        row: usize,
        /// Column index.
        column: usize,
        /// The value.
        value: f64,
    },
    /// The ratio is not in (0, 1].
    #[error("sampling ratio {0} is not in (0, 1]")]
    Ratio(f64),
    /// `k_neighbors` is 0: a synthetic row needs a neighbour to move
    /// towards.
    #[error("SMOTE needs k >= 1 neighbours (k = 0 has none to interpolate towards)")]
    NoNeighbours,
}

/// Rows after resampling.
#[derive(Clone, Debug, PartialEq)]
pub struct Resampled {
    /// Row-major features: the original rows, then the synthetic ones.
    pub x: Vec<f64>,
    /// Labels, in the same order.
    pub y: Vec<u8>,
    /// Features per row.
    pub width: usize,
    /// For each synthetic row: (origin row, neighbour row, u), as indices
    /// into the input, so a synthetic row can be traced and checked.
    pub origin: Vec<(u32, u32, f64)>,
}

impl Resampled {
    /// Number of synthetic rows.
    pub fn synthetic(&self) -> usize {
        self.origin.len()
    }
}

impl Smote {
    /// Resamples `x` (row-major, `width` features) with labels `y`.
    ///
    /// ```
    /// use netprophet_core::smote::Smote;
    ///
    /// let x = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 10.0, 10.0, 11.0, 11.0, 12.0, 12.0, 13.0, 13.0, 14.0, 14.0, 15.0, 15.0];
    /// let y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    /// let out = Smote::default().resample(&x, 2, &y).unwrap();
    /// assert_eq!(out.y.iter().filter(|&&l| l == 1).count(), 6);
    /// assert_eq!(out.synthetic(), 2);
    /// ```
    pub fn resample(&self, x: &[f64], width: usize, y: &[u8]) -> Result<Resampled, SmoteError> {
        self.check(x, width, y)?;
        let ones = y.iter().filter(|&&l| l == 1).count();
        let zeros = y.len() - ones;
        if ones == 0 || zeros == 0 {
            return Err(SmoteError::OneClass(u8::from(ones > 0)));
        }
        // imbalanced-learn: the less frequent class; on a tie, the first
        // label in sorted order is treated as the majority.
        let (minority, n_min, n_maj) = if ones < zeros {
            (1u8, ones, zeros)
        } else {
            (0u8, zeros, ones)
        };
        let wanted = (self.ratio * n_maj as f64) as usize;
        let mut out = Resampled {
            x: Vec::new(),
            y: y.to_vec(),
            width,
            origin: Vec::new(),
        };
        if wanted <= n_min {
            out.x = x.to_vec();
            return Ok(out);
        }
        if n_min <= self.k_neighbors {
            return Err(SmoteError::TooFewMinority {
                label: minority,
                count: n_min,
                k: self.k_neighbors,
            });
        }
        let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == minority).collect();
        let mut points = Vec::with_capacity(n_min * width);
        for &r in &rows {
            points.extend_from_slice(&x[r * width..(r + 1) * width]);
        }
        let picks = self.picks(&points, width, wanted - n_min);
        let n_new = picks.len();
        out.x.reserve_exact((y.len() + n_new) * width);
        out.x.extend_from_slice(x);
        out.x
            .par_extend((0..n_new * width).into_par_iter().map(|at| {
                let (i, nb, u) = picks[at / width];
                let d = at % width;
                let a = points[i as usize * width + d];
                a + u * (points[nb as usize * width + d] - a)
            }));
        out.y.resize(y.len() + n_new, minority);
        out.origin = picks
            .into_iter()
            .map(|(i, nb, u)| (rows[i as usize] as u32, rows[nb as usize] as u32, u))
            .collect();
        Ok(out)
    }

    /// Every problem with the rows or the settings, before any work.
    fn check(&self, x: &[f64], width: usize, y: &[u8]) -> Result<(), SmoteError> {
        if width == 0 {
            return Err(SmoteError::Shape("width is 0".into()));
        }
        if y.len() > u32::MAX as usize {
            return Err(SmoteError::Shape(format!(
                "{} rows are more than 2^32",
                y.len()
            )));
        }
        if x.len() != y.len() * width {
            return Err(SmoteError::Shape(format!(
                "{} values do not make {} rows of {width} features",
                x.len(),
                y.len()
            )));
        }
        if !(self.ratio > 0.0 && self.ratio <= 1.0) {
            return Err(SmoteError::Ratio(self.ratio));
        }
        // Checked before anything else about the rows: with k = 0 the
        // neighbour draw has an empty range.
        if self.k_neighbors == 0 {
            return Err(SmoteError::NoNeighbours);
        }
        if let Some((row, &label)) = y.iter().enumerate().find(|(_, &l)| l > 1) {
            return Err(SmoteError::Label { row, label });
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(SmoteError::NotFinite {
                row: i / width,
                column: i % width,
                value: x[i],
            });
        }
        Ok(())
    }

    /// `n_new` draws of (minority point, one of its k nearest minority
    /// neighbours, position between them). The draws are sequential (one
    /// seeded stream, so results do not depend on the thread count); the
    /// neighbour search is parallel.
    fn picks(&self, points: &[f64], width: usize, n_new: usize) -> Vec<(u32, u32, f64)> {
        let n_min = points.len() / width;
        let tree = KdTree::new(points, width);
        let k = self.k_neighbors;
        let neighbours: Vec<Vec<usize>> = (0..n_min)
            .into_par_iter()
            .map(|i| tree.nearest(&points[i * width..(i + 1) * width], k, Some(i)))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        (0..n_new)
            .map(|_| {
                let pick = rng.random_range(0..n_min * k);
                let u: f64 = rng.random();
                ((pick / k) as u32, neighbours[pick / k][pick % k] as u32, u)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, minority_every: usize) -> (Vec<f64>, Vec<u8>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let label = u8::from(i % minority_every == 0);
            for d in 0..4 {
                x.push(((i * 31 + d * 17) % 97) as f64 * 0.5 + f64::from(label) * 20.0);
            }
            y.push(label);
        }
        (x, y)
    }

    #[test]
    fn balances_and_every_synthetic_row_is_on_a_neighbour_segment() {
        let (x, y) = data(2000, 50);
        let s = Smote::default();
        let out = s.resample(&x, 4, &y).unwrap();
        let ones = out.y.iter().filter(|&&l| l == 1).count();
        assert_eq!(ones, out.y.len() - ones);
        assert_eq!(&out.x[..x.len()], &x[..], "originals first, unchanged");
        let minority: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 1).collect();
        for (n, &(a, b, u)) in out.origin.iter().enumerate() {
            let (a, b) = (a as usize, b as usize);
            assert!((0.0..1.0).contains(&u));
            let row = &out.x[(y.len() + n) * 4..(y.len() + n + 1) * 4];
            for d in 0..4 {
                let (xa, xb) = (x[a * 4 + d], x[b * 4 + d]);
                assert_eq!(row[d], xa + u * (xb - xa));
            }
            // b is among a's 3 nearest minority rows (brute force).
            let dist =
                |i: usize| -> f64 { (0..4).map(|d| (x[i * 4 + d] - x[a * 4 + d]).powi(2)).sum() };
            let mut others: Vec<usize> = minority.iter().copied().filter(|&i| i != a).collect();
            others.sort_by(|&p, &q| dist(p).total_cmp(&dist(q)).then(p.cmp(&q)));
            assert!(others[..3].contains(&b), "synthetic {n}");
        }
    }

    #[test]
    fn ratio_seed_and_errors() {
        let (x, y) = data(1000, 20);
        let half = Smote {
            ratio: 0.5,
            ..Smote::default()
        }
        .resample(&x, 4, &y)
        .unwrap();
        assert_eq!(half.y.iter().filter(|&&l| l == 1).count(), 475);
        let a = Smote::default().resample(&x, 4, &y).unwrap();
        let b = Smote::default().resample(&x, 4, &y).unwrap();
        let c = Smote {
            seed: 7,
            ..Smote::default()
        }
        .resample(&x, 4, &y)
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a.x, c.x);

        let few = [0u8, 0, 0, 0, 1, 1, 1];
        let err = Smote::default().resample(&[0.0; 7], 1, &few).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the minority class (label 1) has 3 rows; SMOTE with k = 3 needs at least 4"
        );
        assert!(matches!(
            Smote::default().resample(&[0.0; 3], 1, &[0, 0, 0]),
            Err(SmoteError::OneClass(0))
        ));
        assert!(matches!(
            Smote::default().resample(&[f64::NAN, 0.0], 1, &[0, 1]),
            Err(SmoteError::NotFinite { row: 0, .. })
        ));
        assert!(matches!(
            Smote::default().resample(&[0.0; 3], 2, &[0, 1]),
            Err(SmoteError::Shape(_))
        ));
        assert!(matches!(
            Smote::default().resample(&[0.0; 2], 1, &[0, 2]),
            Err(SmoteError::Label { row: 1, label: 2 })
        ));
    }

    #[test]
    fn k_zero_is_an_error_not_a_panic() {
        let (x, y) = data(1000, 20);
        let zero = Smote {
            k_neighbors: 0,
            ..Smote::default()
        };
        assert_eq!(
            zero.resample(&x, 4, &y).unwrap_err(),
            SmoteError::NoNeighbours
        );
        // Even when nothing would be synthesised.
        assert_eq!(
            zero.resample(&[0.0, 1.0], 1, &[0, 1]).unwrap_err(),
            SmoteError::NoNeighbours
        );
    }

    #[test]
    fn a_larger_set_works() {
        let (x, y) = data(20_000, 50);
        let out = Smote::default().resample(&x, 4, &y).unwrap();
        assert_eq!(out.y.len(), 2 * (20_000 - 400));
    }
}

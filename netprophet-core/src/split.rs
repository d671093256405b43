//! Train/test splits and folds, as row indices.
//!
//! Time series must be split by time: a random split puts minutes from
//! the future next to their neighbours in training, and a model then looks
//! better than it is. [`chronological`] and [`time_ordered_folds`] are the
//! honest ones; [`stratified_random`] exists to reproduce the original
//! system's (leaky) evaluation side by side.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A split cannot be made as asked.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SplitError {
    /// The test fraction is not strictly between 0 and 1.
    #[error("test fraction {0} is not strictly between 0 and 1")]
    Fraction(f64),
    /// One side would be empty.
    #[error(
        "{n} rows cannot be split into non-empty train and test sets with test fraction {fraction}"
    )]
    Empty {
        /// Rows.
        n: usize,
        /// Requested fraction.
        fraction: f64,
    },
    /// Too few rows for the folds.
    #[error("{n} rows cannot make {folds} time-ordered folds")]
    Folds {
        /// Rows.
        n: usize,
        /// Requested folds.
        folds: usize,
    },
}

/// Train and test row indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Rows to train on.
    pub train: Vec<usize>,
    /// Rows to test on.
    pub test: Vec<usize>,
}

fn test_size(n: usize, fraction: f64) -> Result<usize, SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::Fraction(fraction));
    }
    // As scikit-learn: the test side is rounded up.
    let n_test = (n as f64 * fraction).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(SplitError::Empty { n, fraction });
    }
    Ok(n_test)
}

/// Rows in time order: the earliest `1 - fraction` train, the rest test
/// (`ceil(n x fraction)` rows). Rows must already be sorted by time.
///
/// ```
/// let s = netprophet_core::split::chronological(947, 0.2).unwrap();
/// assert_eq!((s.train.len(), s.test.len()), (757, 190));
/// assert_eq!(s.test[0], 757);
/// ```
pub fn chronological(n: usize, fraction: f64) -> Result<Split, SplitError> {
    let n_test = test_size(n, fraction)?;
    Ok(Split {
        train: (0..n - n_test).collect(),
        test: (n - n_test..n).collect(),
    })
}

/// Where [`chronological`] cuts `n` rows: the number of training rows,
/// without building the index lists (for rows that stay on disk).
///
/// ```
/// assert_eq!(netprophet_core::split::chronological_cut(947, 0.2).unwrap(), 757);
/// ```
pub fn chronological_cut(n: usize, fraction: f64) -> Result<usize, SplitError> {
    Ok(n - test_size(n, fraction)?)
}

/// A random split that keeps the class balance on both sides (the
/// procedure of scikit-learn's `train_test_split(stratify=y)`, with this
/// crate's random numbers). Leaks the future on time series; use it only
/// to show how much.
pub fn stratified_random(y: &[u8], fraction: f64, seed: u64) -> Result<Split, SplitError> {
    let n = y.len();
    let n_test = test_size(n, fraction)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut classes: Vec<u8> = y.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut test = Vec::with_capacity(n_test);
    let mut train = Vec::with_capacity(n - n_test);
    // Each class contributes its share of the test set, rounded so the
    // total is exact (largest remainders first).
    let mut shares: Vec<(u8, Vec<usize>, usize, f64)> = classes
        .iter()
        .map(|&c| {
            let mut rows: Vec<usize> = (0..n).filter(|&i| y[i] == c).collect();
            rows.shuffle(&mut rng);
            let exact = rows.len() as f64 * n_test as f64 / n as f64;
            (c, rows, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let mut missing = n_test - shares.iter().map(|s| s.2).sum::<usize>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].3.total_cmp(&shares[a].3).then(a.cmp(&b)));
    for i in order {
        if missing == 0 {
            break;
        }
        if shares[i].2 < shares[i].1.len() {
            shares[i].2 += 1;
            missing -= 1;
        }
    }
    for (_, rows, take, _) in shares {
        test.extend_from_slice(&rows[..take]);
        train.extend_from_slice(&rows[take..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok(Split { train, test })
}

/// Whole groups (probes) go to one side: a random `fraction` of the rows,
/// approximately, by shuffling the groups and filling the test side.
pub fn by_group(groups: &[u64], fraction: f64, seed: u64) -> Result<Split, SplitError> {
    let n = groups.len();
    let n_test = test_size(n, fraction)?;
    let mut ids: Vec<u64> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(SplitError::Empty { n, fraction });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ids.shuffle(&mut rng);
    let mut test_ids = Vec::new();
    let mut count = 0;
    for id in &ids[..ids.len() - 1] {
        if count >= n_test {
            break;
        }
        test_ids.push(*id);
        count += groups.iter().filter(|g| *g == id).count();
    }
    test_ids.sort_unstable();
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| test_ids.binary_search(&groups[i]).is_ok());
    Ok(Split { train, test })
}

/// Expanding-window folds over time-ordered rows (like scikit-learn's
/// `TimeSeriesSplit`): the rows are cut into `folds + 1` blocks and fold
/// `i` trains on blocks `0..=i` and validates on block `i + 1`.
///
/// ```
/// let folds = netprophet_core::split::time_ordered_folds(10, 4).unwrap();
/// assert_eq!(folds[0].train, vec![0, 1]);
/// assert_eq!(folds[0].test, vec![2, 3]);
/// assert_eq!(folds[3].test, vec![8, 9]);
/// ```
pub fn time_ordered_folds(n: usize, folds: usize) -> Result<Vec<Split>, SplitError> {
    Ok(time_ordered_ranges(n, folds)?
        .into_iter()
        .map(|(train, test)| Split {
            train: train.collect(),
            test: test.collect(),
        })
        .collect())
}

/// A fold's training rows and its validation rows, as ranges.
pub type FoldRanges = (std::ops::Range<usize>, std::ops::Range<usize>);

/// [`time_ordered_folds`] as the ranges of rows they are: each fold's
/// training rows and the block after them, for training and scoring in
/// place without index lists.
///
/// ```
/// let folds = netprophet_core::split::time_ordered_ranges(10, 4).unwrap();
/// assert_eq!(folds[0], (0..2, 2..4));
/// assert_eq!(folds[3], (0..8, 8..10));
/// ```
pub fn time_ordered_ranges(n: usize, folds: usize) -> Result<Vec<FoldRanges>, SplitError> {
    if folds == 0 || n < folds + 1 {
        return Err(SplitError::Folds { n, folds });
    }
    let block = n / (folds + 1);
    // The first training block absorbs the remainder, as scikit-learn does.
    let first = n - folds * block;
    Ok((0..folds)
        .map(|i| {
            let end = first + i * block;
            (0..end, end..end + block)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_keeps_the_balance() {
        let y: Vec<u8> = (0..947).map(|i| u8::from(i % 19 == 0)).collect();
        let s = stratified_random(&y, 0.2, 42).unwrap();
        assert_eq!(s.test.len(), 190);
        let pos = s.test.iter().filter(|&&i| y[i] == 1).count();
        let total = y.iter().filter(|&&v| v == 1).count();
        assert_eq!(pos, (total as f64 * 0.2).round() as usize);
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..947).collect::<Vec<_>>());
        assert_eq!(s, stratified_random(&y, 0.2, 42).unwrap());
    }

    #[test]
    fn groups_never_straddle() {
        let g: Vec<u64> = (0..100).map(|i| i / 10).collect();
        let s = by_group(&g, 0.3, 1).unwrap();
        for &t in &s.test {
            assert!(s.train.iter().all(|&r| g[r] != g[t]));
        }
        assert_eq!(s.test.len(), 30);
    }

    #[test]
    fn bad_fractions() {
        assert_eq!(chronological(10, 1.0), Err(SplitError::Fraction(1.0)));
        assert_eq!(
            chronological(1, 0.5),
            Err(SplitError::Empty {
                n: 1,
                fraction: 0.5
            })
        );
        assert!(time_ordered_folds(3, 3).is_err());
    }
}

//! Probe shards: which machine of N handles which probes, with no
//! coordination between them.
//!
//! A probe belongs to shard `probe_id % N` (shards are numbered from 0).
//! The rule is a plain remainder, not a hash: it is the same on every
//! machine, every platform and every release, anyone can compute it by
//! hand, and Atlas probe ids are dense enough (thousands of consecutive
//! ids) that shards come out even. Everything netprophet derives per probe
//! (rolling windows, forward fill, labels, history features) reads only
//! that probe's own samples, so a probe's rows are the same whichever shard
//! computes them, and the union of the N shards' rows is exactly the rows
//! of one run over every probe.
//!
//! ```
//! use netprophet_core::shard::Shard;
//!
//! let s: Shard = "1/4".parse().unwrap();
//! assert!(s.contains(6005) && !s.contains(6006));
//! assert_eq!(s.to_string(), "1/4");
//! assert!("4/4".parse::<Shard>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

/// The most shards a run can be split into; more would leave most shards
/// empty at Atlas's tens of thousands of probes.
pub const MAX_SHARDS: u64 = 1 << 20;

/// One shard of N: the probes whose id leaves remainder `index` when
/// divided by `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// A shard spec that is not `K/N` with `0 <= K < N <= MAX_SHARDS`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("shard {text:?} is not K/N with 0 <= K < N <= {max} (for example 0/4)", max = MAX_SHARDS)]
pub struct BadShard {
    text: String,
}

impl Shard {
    /// Shard `index` of `count`, or `None` unless `index < count <=
    /// MAX_SHARDS`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count && count <= MAX_SHARDS).then_some(Shard { index, count })
    }

    /// The whole: one shard holding every probe.
    pub fn all() -> Shard {
        Shard { index: 0, count: 1 }
    }

    /// This shard's number, from 0.
    pub fn index(self) -> u64 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether `probe_id` is this shard's.
    pub fn contains(self, probe_id: u64) -> bool {
        probe_id % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(text: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard {
            text: text.to_string(),
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).ok_or_else(bad)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_probes() {
        let shards: Vec<Shard> = (0..5).map(|k| Shard::new(k, 5).unwrap()).collect();
        for id in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.contains(id)).count(), 1);
        }
        assert!(Shard::all().contains(u64::MAX));
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in ["", "1", "2/2", "-1/3", "a/b", "0/0", "1/2/3", "0/2000000"] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains("is not K/N"), "{bad}: {err}");
        }
        assert_eq!(
            " 3 / 8 ".parse::<Shard>().unwrap(),
            Shard::new(3, 8).unwrap()
        );
    }
}

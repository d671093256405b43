//! Online statistics with the floating-point behaviour of pandas.
//!
//! The features must match pandas to 1e-9 and the labels must flip at
//! exactly the same minutes, so the arithmetic follows pandas' own kernels
//! (`_libs/groupby.pyx` for per-bin statistics, `_libs/window/aggregations.pyx`
//! for rolling windows): Kahan-compensated sums, Welford variance with a
//! compensation term, and the "all values in the window are equal" rule
//! that makes the rolling std exactly 0 and the mean exactly that value.
//! Written from the published algorithms, not translated code.

/// Per-bin statistics as `groupby(...).agg(mean, std, min, max, count)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinStats {
    count: u32,
    sum: f64,
    compensation: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for BinStats {
    fn default() -> Self {
        BinStats {
            count: 0,
            sum: 0.0,
            compensation: 0.0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl BinStats {
    /// Adds one value (NaN is ignored, as pandas does).
    pub fn push(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.count += 1;
        // Kahan sum for the mean (group_mean).
        let y = v - self.compensation;
        let t = self.sum + y;
        self.compensation = t - self.sum - y;
        if self.compensation.is_nan() {
            self.compensation = 0.0;
        }
        self.sum = t;
        // Welford for the variance (group_var).
        let old = self.mean;
        self.mean += (v - old) / self.count as f64;
        self.m2 += (v - self.mean) * (v - old);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Number of values.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Mean, NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// Sample standard deviation (n-1), NaN with fewer than two values.
    pub fn std(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            (self.m2 / (self.count - 1) as f64).sqrt()
        }
    }

    /// Minimum, NaN when empty.
    pub fn min(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.min
        }
    }

    /// Maximum, NaN when empty.
    pub fn max(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.max
        }
    }
}

/// A trailing-window mean and sample standard deviation, updated one value
/// at a time, as `Series.rolling(window, min_periods=1).mean()` / `.std()`.
///
/// Call [`Rolling::remove`] for the value leaving the window before
/// [`Rolling::add`] for the value entering it, as pandas does.
#[derive(Clone, Debug, Default)]
pub struct Rolling {
    // roll_mean state
    nobs_mean: u64,
    sum: f64,
    neg: u64,
    comp_add_mean: f64,
    comp_remove_mean: f64,
    // roll_var state
    nobs_var: u64,
    mean: f64,
    ssq: f64,
    comp_add_var: f64,
    comp_remove_var: f64,
    // shared "run of equal values" tracking
    same_run: u64,
    prev: f64,
    started: bool,
}

impl Rolling {
    /// An empty window.
    pub fn new() -> Self {
        Rolling::default()
    }

    /// A value enters the window (NaN is ignored).
    pub fn add(&mut self, v: f64) {
        if !self.started {
            // pandas seeds the "previous value" with the window's first value.
            self.prev = v;
            self.started = true;
        }
        if v.is_nan() {
            return;
        }
        if v == self.prev {
            self.same_run += 1;
        } else {
            self.same_run = 1;
        }
        self.prev = v;

        self.nobs_mean += 1;
        let y = v - self.comp_add_mean;
        let t = self.sum + y;
        self.comp_add_mean = t - self.sum - y;
        self.sum = t;
        if v < 0.0 {
            self.neg += 1;
        }

        self.nobs_var += 1;
        let prev_mean = self.mean - self.comp_add_var;
        let y = v - self.comp_add_var;
        let t = y - self.mean;
        self.comp_add_var = t + self.mean - y;
        self.mean += t / self.nobs_var as f64;
        self.ssq += (v - prev_mean) * (v - self.mean);
    }

    /// A value leaves the window (NaN is ignored).
    pub fn remove(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.nobs_mean -= 1;
        let y = -v - self.comp_remove_mean;
        let t = self.sum + y;
        self.comp_remove_mean = t - self.sum - y;
        self.sum = t;
        if v < 0.0 {
            self.neg -= 1;
        }

        self.nobs_var -= 1;
        if self.nobs_var > 0 {
            let prev_mean = self.mean - self.comp_remove_var;
            let y = v - self.comp_remove_var;
            let t = y - self.mean;
            self.comp_remove_var = t + self.mean - y;
            self.mean -= t / self.nobs_var as f64;
            self.ssq -= (v - prev_mean) * (v - self.mean);
        } else {
            self.mean = 0.0;
            self.ssq = 0.0;
        }
    }

    /// Mean of the values in the window; NaN when it holds none.
    pub fn mean(&self) -> f64 {
        let n = self.nobs_mean;
        if n == 0 {
            return f64::NAN;
        }
        let r = self.sum / n as f64;
        if self.same_run >= n {
            self.prev
        } else if (self.neg == 0 && r < 0.0) || (self.neg == n && r > 0.0) {
            // A sign the window cannot have is rounding noise.
            0.0
        } else {
            r
        }
    }

    /// Sample standard deviation; NaN with fewer than two values.
    pub fn std(&self) -> f64 {
        let n = self.nobs_var;
        if n < 2 {
            return f64::NAN;
        }
        let var = if self.same_run >= n {
            0.0
        } else {
            self.ssq / (n - 1) as f64
        };
        if var < 0.0 {
            0.0
        } else {
            var.sqrt()
        }
    }
}

/// `values.rolling(window, min_periods=1)` mean and std for a whole column.
pub fn rolling_mean_std(values: &[f64], window: usize) -> (Vec<f64>, Vec<f64>) {
    let window = window.max(1);
    let mut r = Rolling::new();
    let mut mean = Vec::with_capacity(values.len());
    let mut std = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if i >= window {
            r.remove(values[i - window]);
        }
        r.add(v);
        mean.push(r.mean());
        std.push(r.std());
    }
    (mean, std)
}

/// Forward fill: a NaN takes the last non-NaN value before it.
pub fn ffill(values: &mut [f64]) {
    let mut last = f64::NAN;
    for v in values {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
}

/// `values.diff(lag)`: NaN for the first `lag` entries.
pub fn diff(values: &[f64], lag: usize) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            if i >= lag {
                values[i] - values[i - lag]
            } else {
                f64::NAN
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_window_is_exact() {
        let x = [0.1, 0.1, 0.1, 0.1];
        let (m, s) = rolling_mean_std(&x, 60);
        assert!(s[0].is_nan());
        assert_eq!(&m[..], &x[..]);
        assert_eq!(&s[1..], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn matches_two_pass_on_a_window() {
        let x: Vec<f64> = (0..200)
            .map(|i| ((i * 37) % 101) as f64 * 0.37 + 20.0)
            .collect();
        let (m, s) = rolling_mean_std(&x, 60);
        for i in 0..x.len() {
            let w = &x[i.saturating_sub(59)..=i];
            let mean = w.iter().sum::<f64>() / w.len() as f64;
            assert!((m[i] - mean).abs() < 1e-10);
            if w.len() > 1 {
                let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (w.len() - 1) as f64;
                assert!((s[i] - var.sqrt()).abs() < 1e-10, "{i}");
            }
        }
    }

    #[test]
    fn nan_is_skipped() {
        let (m, s) = rolling_mean_std(&[f64::NAN, 1.0, f64::NAN, 3.0], 3);
        assert!(m[0].is_nan() && s[0].is_nan());
        assert_eq!(m[1], 1.0);
        assert_eq!(m[3], 2.0);
        assert!((s[3] - 2f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn bin_stats() {
        let mut b = BinStats::default();
        assert!(b.mean().is_nan() && b.min().is_nan());
        b.push(2.0);
        assert!(b.std().is_nan());
        b.push(4.0);
        assert_eq!((b.mean(), b.min(), b.max(), b.count()), (3.0, 2.0, 4.0, 2));
        assert!((b.std() - 2f64.sqrt()).abs() < 1e-15);
    }
}

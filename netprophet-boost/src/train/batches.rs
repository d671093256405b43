//! Training rows that need not all be in memory: the features arrive in
//! batches, pass after pass, and the trainer keeps only what it trains
//! on (the binned rows, in two layouts: a `u16` per value by feature and
//! a `u8` or `u16` by row, and per row the label, weight, margin and
//! gradient). The features themselves are
//! never held, so rows that would take gigabytes as `f32` (or more, as
//! the `f64` a data frame holds) train in a fraction of it.
//!
//! XGBoost's external-memory and `QuantileDMatrix` iterators work the
//! same way: one pass to size the sketches, one to sketch, one to bin.

use crate::error::ModelError;

/// Error a batch source reports (an I/O error naming its file, say); the
/// trainer returns it as [`ModelError::Batches`].
pub type BatchError = Box<dyn std::error::Error + Send + Sync>;

/// Training features that arrive in batches.
///
/// The trainer calls [`for_each_batch`](RowBatches::for_each_batch) three
/// times; every call must hand over the same rows in the same order.
/// Batch sizes may differ from call to call: the model does not depend on
/// them.
pub trait RowBatches {
    /// Calls `visit` with every row, in consecutive row-major batches of
    /// whole rows (any number per batch), and returns the first error of
    /// either side: the source's own as [`ModelError::Batches`], or the
    /// one `visit` returned.
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError>;
}

/// Rows in memory, handed over `rows_per_batch` at a time: what
/// [`train`](crate::train::train) uses, and a model for other sources.
#[derive(Clone, Copy, Debug)]
pub struct SliceBatches<'a> {
    x: &'a [f32],
    width: usize,
    rows_per_batch: usize,
}

impl<'a> SliceBatches<'a> {
    /// Row-major `x` of `width` features, `rows_per_batch` rows (at least
    /// 1) per batch.
    pub fn new(x: &'a [f32], width: usize, rows_per_batch: usize) -> Self {
        SliceBatches {
            x,
            width,
            rows_per_batch,
        }
    }
}

impl RowBatches for SliceBatches<'_> {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let step = self.rows_per_batch.max(1).saturating_mul(self.width.max(1));
        self.x.chunks(step).try_for_each(visit)
    }
}

/// Training rows whose features come in batches: the labels, weights and
/// names are in memory (a few bytes a row), the features are read from
/// `batches` when needed.
#[non_exhaustive]
pub struct BatchData<'a> {
    /// Where the features come from.
    pub batches: &'a mut dyn RowBatches,
    /// Features per row.
    pub width: usize,
    /// Label per row.
    pub y: &'a [f32],
    /// Weight per row (default 1).
    pub weight: Option<&'a [f32]>,
    /// Feature names, stored in the model when given.
    pub feature_names: Option<&'a [String]>,
}

impl<'a> BatchData<'a> {
    /// Unweighted rows without feature names: one label per row the
    /// batches hold, `width` features each.
    pub fn new(batches: &'a mut dyn RowBatches, width: usize, y: &'a [f32]) -> Self {
        BatchData {
            batches,
            width,
            y,
            weight: None,
            feature_names: None,
        }
    }

    /// The same rows, with feature names to store in the model.
    pub fn with_feature_names(self, names: &'a [String]) -> Self {
        BatchData {
            feature_names: Some(names),
            ..self
        }
    }

    /// The same rows, weighted.
    pub fn with_weights(self, weight: &'a [f32]) -> Self {
        BatchData {
            weight: Some(weight),
            ..self
        }
    }
}

impl std::fmt::Debug for BatchData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchData")
            .field("width", &self.width)
            .field("rows", &self.y.len())
            .field("weighted", &self.weight.is_some())
            .field("feature_names", &self.feature_names)
            .finish_non_exhaustive()
    }
}

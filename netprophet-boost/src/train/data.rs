//! Training rows: features, labels, weights and names, and the checks
//! they pass before any work starts.

use crate::error::ModelError;
use crate::train::TrainObjective;

/// Training rows: row-major features (NaN = missing), labels and optional
/// weights.
#[derive(Clone, Copy, Debug)]
pub struct TrainData<'a> {
    /// Row-major features, `rows x width`.
    pub x: &'a [f32],
    /// Features per row.
    pub width: usize,
    /// Label per row.
    pub y: &'a [f32],
    /// Weight per row (default 1).
    pub weight: Option<&'a [f32]>,
    /// Feature names, stored in the model when given.
    pub feature_names: Option<&'a [String]>,
}

impl<'a> TrainData<'a> {
    /// Unweighted rows without feature names.
    pub fn new(x: &'a [f32], width: usize, y: &'a [f32]) -> Self {
        TrainData {
            x,
            width,
            y,
            weight: None,
            feature_names: None,
        }
    }

    /// Rows from an `ndarray` matrix (feature `ndarray`): one row per
    /// sample, one column per feature, in row-major (C) order and
    /// contiguous, which the trainer reads in place. Any other layout is
    /// an error; `x.as_standard_layout()` makes a row-major copy only when
    /// one is needed.
    ///
    /// ```
    /// use ndarray::{Array2, ShapeBuilder};
    /// use netprophet_boost::train::{train, TrainData, TrainParams};
    ///
    /// // Column-major, as a Fortran-order numpy array arrives.
    /// let x = Array2::from_shape_fn((200, 2).f(), |(i, j)| ((i + j) % 10) as f32);
    /// let y: Vec<f32> = (0..200).map(|i| f32::from(u8::from(i % 10 > 5))).collect();
    /// let rows = x.as_standard_layout(); // a copy here; none for C order
    /// let data = TrainData::from_array(rows.view(), &y)?;
    /// let params = TrainParams::default().n_estimators(5);
    /// let forest = train(&data, &params)?;
    /// assert_eq!(forest.num_trees(), 5);
    /// # Ok::<(), netprophet_boost::ModelError>(())
    /// ```
    #[cfg(feature = "ndarray")]
    pub fn from_array(x: ndarray::ArrayView2<'a, f32>, y: &'a [f32]) -> Result<Self, ModelError> {
        let (rows, width) = x.dim();
        if rows != y.len() {
            return Err(invalid(format!("{rows} rows and {} labels", y.len())));
        }
        match x.to_slice() {
            Some(x) => Ok(TrainData::new(x, width, y)),
            None => Err(invalid(format!(
                "the {rows} x {width} matrix is not in row-major (C) order or not contiguous \
                 (strides {:?}): pass x.as_standard_layout().view()",
                x.strides()
            ))),
        }
    }

    /// The same rows, with feature names to store in the model.
    pub fn with_feature_names(self, names: &'a [String]) -> Self {
        TrainData {
            feature_names: Some(names),
            ..self
        }
    }

    /// The same rows, weighted.
    pub fn with_weights(self, weight: &'a [f32]) -> Self {
        TrainData {
            weight: Some(weight),
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Whether the values make whole rows, one per label.
    pub(crate) fn check_shape(&self) -> Result<(), ModelError> {
        let d = self;
        if d.width > 0 && d.x.len() != d.y.len() * d.width {
            return Err(invalid(format!(
                "{} values do not make {} rows of {} features",
                d.x.len(),
                d.y.len(),
                d.width
            )));
        }
        Ok(())
    }

    /// Checks the rows for `objective`; returns how many there are.
    pub(crate) fn check(&self, objective: TrainObjective) -> Result<usize, ModelError> {
        let d = self;
        d.check_shape()?;
        check_rows(d.width, d.y, d.weight, d.feature_names, objective)?;
        if let Some(i) = d.x.iter().position(|v| v.is_infinite()) {
            return Err(invalid(format!(
                "row {}, feature {}: {} is infinite",
                i / d.width,
                i % d.width,
                d.x[i]
            )));
        }
        Ok(d.y.len())
    }
}

/// The checks of training rows that need no feature value: width,
/// labels for `objective`, weights, names.
pub(crate) fn check_rows(
    width: usize,
    y: &[f32],
    weight: Option<&[f32]>,
    feature_names: Option<&[String]>,
    objective: TrainObjective,
) -> Result<(), ModelError> {
    if width == 0 {
        return Err(invalid("training rows have no features".into()));
    }
    if y.is_empty() {
        return Err(invalid("no training rows".into()));
    }
    if y.len() > u32::MAX as usize {
        return Err(invalid(format!(
            "{} rows: at most {} can be trained on",
            y.len(),
            u32::MAX
        )));
    }
    if let Some(w) = weight {
        if w.len() != y.len() {
            return Err(invalid(format!("{} weights for {} rows", w.len(), y.len())));
        }
        if let Some(i) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(invalid(format!(
                "row {i}: weight {} is not a finite number >= 0",
                w[i]
            )));
        }
    }
    if let Some(names) = feature_names {
        if let Some(name) = crate::model::first_duplicate(names) {
            return Err(ModelError::DuplicateFeature(name.to_owned()));
        }
        if names.len() != width {
            return Err(invalid(format!(
                "{} feature names for {} features",
                names.len(),
                width
            )));
        }
    }
    for (i, &y) in y.iter().enumerate() {
        let ok = match objective {
            TrainObjective::BinaryLogistic => y == 0.0 || y == 1.0,
            TrainObjective::SquaredError => y.is_finite(),
        };
        if !ok {
            return Err(invalid(format!(
                "row {i}: label {y} is not valid for {objective:?}"
            )));
        }
    }
    Ok(())
}

fn invalid(msg: String) -> ModelError {
    ModelError::Input(msg)
}

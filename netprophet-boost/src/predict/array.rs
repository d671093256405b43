//! Scoring `ndarray` matrices (feature `ndarray`, on by default).
//!
//! A standard (row-major, contiguous) view is scored in place, exactly as
//! the slice API scores it. Any other layout (column-major, a sliced or
//! transposed view, negative strides) is gathered a block of rows at a
//! time into a small row-major buffer per thread, so memory stays bounded
//! and the margins are the slice API's, bit for bit: each row's sum is
//! built tree by tree in the same order whatever the layout.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::{Predictor, BLOCK_ROWS, PARALLEL_MIN_ROWS};
use crate::{ModelError, Objective};

impl Predictor {
    /// Margins of the rows of `x` (one row per sample, at least
    /// [`num_feature`](Self::num_feature) columns, NaN = missing) into
    /// `out`, of length `rows * num_group`. `x` may have any layout; a
    /// row-major contiguous view is read in place, others a block of rows
    /// at a time.
    ///
    /// ```
    /// use ndarray::{array, ShapeBuilder};
    /// use netprophet_boost::{Forest, Objective, Predictor, Tree};
    ///
    /// let forest = Forest::new(
    ///     vec![Tree::stump(1, 10.0, true, -1.0, 1.0)],
    ///     Objective::RegSquaredError,
    ///     vec![0.5],
    ///     2,
    /// )?;
    /// let p = Predictor::new(&forest)?;
    /// let x = array![[0.0f32, 12.0], [0.0, 3.0], [1.0, f32::NAN]];
    /// let mut out = [0.0f32; 3];
    /// p.margins_view_into(x.view(), &mut out)?;
    /// assert_eq!(out, [1.5, -0.5, -0.5]);
    ///
    /// // Column-major (Fortran order) and non-contiguous views give the same.
    /// let f = ndarray::Array2::from_shape_vec((3, 2).f(), vec![0.0, 0.0, 1.0, 12.0, 3.0, f32::NAN]).unwrap();
    /// assert_eq!(p.margins_array(f.view())?.column(0).to_vec(), out);
    /// let wide = array![[9.0f32, 0.0, 12.0], [9.0, 0.0, 3.0]];
    /// let cols = wide.slice(ndarray::s![.., 1..]);
    /// assert_eq!(p.margins_array(cols)?.column(0).to_vec(), [1.5, -0.5]);
    /// # Ok::<(), netprophet_boost::ModelError>(())
    /// ```
    pub fn margins_view_into(
        &self,
        x: ArrayView2<'_, f32>,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let (rows, width) = x.dim();
        self.check_row_width(width)?;
        if let Some(data) = x.to_slice() {
            return self.margins_into(data, width, out);
        }
        self.check_out(out.len(), rows * self.num_group)?;
        let g = self.num_group;
        let block = |(b, o): (usize, &mut [f32])| {
            let rows_in = x.slice_axis(
                Axis(0),
                (b * BLOCK_ROWS..(b * BLOCK_ROWS + o.len() / g)).into(),
            );
            let mut buf = Vec::with_capacity(rows_in.len());
            // Row by row: row-major order whatever the strides.
            for row in rows_in.rows() {
                buf.extend(row.iter().copied());
            }
            self.score_block(&buf, width, o);
        };
        if rows >= PARALLEL_MIN_ROWS {
            out.par_chunks_mut(BLOCK_ROWS * g)
                .enumerate()
                .for_each(block);
        } else {
            out.chunks_mut(BLOCK_ROWS * g).enumerate().for_each(block);
        }
        Ok(())
    }

    /// Margins of the rows of `x` (any layout), `rows x num_group`. See
    /// [`margins_view_into`](Self::margins_view_into).
    pub fn margins_array(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, ModelError> {
        let mut out = vec![0.0f32; x.nrows() * self.num_group];
        self.margins_view_into(x, &mut out)?;
        Ok(Array2::from_shape_vec((x.nrows(), self.num_group), out).expect("rows x groups"))
    }

    /// Outputs (probabilities for logistic objectives) of the rows of `x`
    /// (any layout), `rows x num_group`; `multi:softmax` gives one column,
    /// the label.
    pub fn predict_array(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, ModelError> {
        let mut m = vec![0.0f32; x.nrows() * self.num_group];
        self.margins_view_into(x, &mut m)?;
        self.transform(&mut m);
        let cols = match self.objective {
            Objective::MultiSoftmax { .. } => {
                m.truncate(x.nrows());
                1
            }
            _ => self.num_group,
        };
        Ok(Array2::from_shape_vec((x.nrows(), cols), m).expect("rows x outputs"))
    }

    /// The output (probability for logistic objectives) of each row of `x`
    /// (any layout), for a single-output model.
    ///
    /// ```
    /// use ndarray::array;
    /// use netprophet_boost::{Forest, Objective, Predictor, Tree};
    ///
    /// let forest = Forest::new(
    ///     vec![Tree::stump(0, 10.0, true, -1.0, 1.0)],
    ///     Objective::BinaryLogistic,
    ///     vec![0.5],
    ///     1,
    /// )?;
    /// let p = Predictor::new(&forest)?.predict_array1(array![[12.0f32], [f32::NAN]].view())?;
    /// assert!((p[0] - 0.7310586).abs() < 1e-7 && (p[1] - 0.26894143).abs() < 1e-7);
    /// # Ok::<(), netprophet_boost::ModelError>(())
    /// ```
    pub fn predict_array1(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, ModelError> {
        self.single_output()?;
        let mut m = vec![0.0f32; x.nrows()];
        self.margins_view_into(x, &mut m)?;
        self.transform(&mut m);
        Ok(Array1::from_vec(m))
    }

    /// Exact TreeSHAP contributions of the rows of `x` (any layout), `rows
    /// x` [`contributions_width`](Self::contributions_width); see
    /// [`contributions`](Self::contributions).
    pub fn contributions_array(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, ModelError> {
        let (rows, width) = x.dim();
        let c = match x.to_slice() {
            Some(data) => self.contributions(data, width)?,
            _ => {
                let owned = x.as_standard_layout();
                self.contributions(owned.as_slice().expect("standard layout"), width)?
            }
        };
        Ok(Array2::from_shape_vec((rows, self.contributions_width()), c).expect("rows x width"))
    }
}

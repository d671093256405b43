//! Training from batches grows the model training from a matrix grows,
//! bit for bit, whatever the batch sizes, and a source that fails or
//! changes is an error, never a panic or a wrong model.

use netprophet_boost::train::{
    train, train_batches, train_batches_with_eval, train_with_eval, BatchData, EvalMetric,
    GrowPolicy, RowBatches, SliceBatches, TrainData, TrainParams,
};
use netprophet_boost::ModelError;
use proptest::prelude::*;

mod common;
use common::{labelled, real_rows, FEATURES};

/// Rows with missing values, repeats and enough distinct values that the
/// quantile sketch merges several buffers (more than 4 096 per feature).
fn rows(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut x = Vec::with_capacity(n * 4);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let a = ((i * 7919) % 10007) as f32 / 100.0;
        let b = if i % 11 == 0 {
            f32::NAN
        } else {
            (i % 97) as f32
        };
        let c = ((i * 31) % 7) as f32;
        let d = (i as f32).sin() * 50.0;
        x.extend_from_slice(&[a, b, c, d]);
        y.push(f32::from(u8::from(
            a + c * 3.0 > 60.0 || (b.is_nan() && d > 0.0),
        )));
    }
    (x, y)
}

/// A source whose batch size changes on every pass.
struct Varying<'a> {
    x: &'a [f32],
    width: usize,
    sizes: Vec<usize>,
    pass: usize,
}

impl RowBatches for Varying<'_> {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let size = self.sizes[self.pass % self.sizes.len()];
        self.pass += 1;
        SliceBatches::new(self.x, self.width, size).for_each_batch(visit)
    }
}

#[test]
fn batches_of_any_size_train_the_matrix_model() {
    let (x, y) = rows(20_000);
    let weight: Vec<f32> = (0..y.len()).map(|i| 0.5 + (i % 3) as f32).collect();
    let cases = [
        TrainParams::default().n_estimators(8).max_depth(5),
        TrainParams::default()
            .n_estimators(6)
            .subsample(0.7)
            .colsample_bytree(0.75)
            .max_bin(32)
            .seed(9),
        TrainParams::default()
            .n_estimators(5)
            .grow_policy(GrowPolicy::LossGuide)
            .max_leaves(12)
            .max_depth(0),
    ];
    for params in &cases {
        let whole = train(&TrainData::new(&x, 4, &y), params).unwrap();
        let weighted = train(&TrainData::new(&x, 4, &y).with_weights(&weight), params).unwrap();
        for sizes in [vec![1], vec![7], vec![4096], vec![20_000], vec![3, 5000, 1]] {
            let mut src = Varying {
                x: &x,
                width: 4,
                sizes: sizes.clone(),
                pass: 0,
            };
            let got = train_batches(BatchData::new(&mut src, 4, &y), params).unwrap();
            assert_eq!(got, whole, "batches of {sizes:?}");
            assert_eq!(src.pass, 3, "three passes over the rows");
            let got = train_batches(
                BatchData::new(&mut src, 4, &y).with_weights(&weight),
                params,
            )
            .unwrap();
            assert_eq!(got, weighted, "weighted, batches of {sizes:?}");
        }
    }
}

#[test]
fn the_real_rows_train_the_same_model_in_batches_with_early_stopping() {
    let (x_all, target) = real_rows();
    let (x, y) = labelled(&x_all, &target);
    let names: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
    let cut = y.len() * 4 / 5;
    let (fit, eval) = (
        TrainData::new(&x[..cut * 8], 8, &y[..cut]).with_feature_names(&names),
        TrainData::new(&x[cut * 8..], 8, &y[cut..]),
    );
    let params = TrainParams::default()
        .n_estimators(200)
        .eval_metric(Some(EvalMetric::LogLoss))
        .early_stopping_rounds(Some(4));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let whole = train_with_eval(&fit, &eval, &params, |r| a.push(r.eval)).unwrap();
    let mut src = SliceBatches::new(&x[..cut * 8], 8, 100);
    let got = train_batches_with_eval(
        BatchData::new(&mut src, 8, &y[..cut]).with_feature_names(&names),
        &eval,
        &params,
        |r| b.push(r.eval),
    )
    .unwrap();
    assert_eq!(got, whole);
    assert_eq!(a, b);
    assert!(got.num_trees() < 200, "early stopping stopped");
    assert_eq!(got.feature_names.as_deref(), Some(&names[..]));
}

/// A source that fails, or changes its rows, on a given pass.
struct Faulty<'a> {
    x: &'a [f32],
    fail_on: usize,
    fault: Fault,
    pass: usize,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Io,
    FewerRows,
    MoreRows,
    HalfRow,
    Infinite,
}

impl RowBatches for Faulty<'_> {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let pass = self.pass;
        self.pass += 1;
        if pass != self.fail_on {
            return SliceBatches::new(self.x, 4, 100).for_each_batch(visit);
        }
        match self.fault {
            Fault::Io => {
                visit(&self.x[..400])?;
                Err(ModelError::Batches(Box::new(std::io::Error::other(
                    "rows.bin: unexpected end of file",
                ))))
            }
            Fault::FewerRows => visit(&self.x[..self.x.len() - 4]),
            Fault::MoreRows => {
                visit(self.x)?;
                visit(&self.x[..4])
            }
            Fault::HalfRow => visit(&self.x[..6]),
            Fault::Infinite => {
                let mut bad = self.x.to_vec();
                bad[4 * 37 + 2] = f32::NEG_INFINITY;
                visit(&bad)
            }
        }
    }
}

#[test]
fn a_failing_or_changing_source_is_an_error_naming_what_went_wrong() {
    let (x, y) = rows(500);
    let params = TrainParams::default().n_estimators(3);
    let cases = [
        (
            Fault::Io,
            1,
            "reading training rows: rows.bin: unexpected end of file",
        ),
        (Fault::FewerRows, 0, "hold 499 rows for 500 labels"),
        (Fault::FewerRows, 2, "changed between passes"),
        (Fault::MoreRows, 0, "more than the 500 rows"),
        (Fault::MoreRows, 1, "more than the 500 rows"),
        (Fault::HalfRow, 0, "not whole rows of 4 features"),
        (Fault::Infinite, 0, "row 37, feature 2: -inf is infinite"),
    ];
    for (fault, fail_on, want) in cases {
        let mut src = Faulty {
            x: &x,
            fail_on,
            fault,
            pass: 0,
        };
        let err = train_batches(BatchData::new(&mut src, 4, &y), &params)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{fault:?} on pass {fail_on}: {err}");
    }
    // Labels are checked before any batch is read.
    let mut src = Faulty {
        x: &x,
        fail_on: 0,
        fault: Fault::Io,
        pass: 0,
    };
    let mut bad_y = y.clone();
    bad_y[3] = 2.0;
    let err = train_batches(BatchData::new(&mut src, 4, &bad_y), &params).unwrap_err();
    assert!(err.to_string().contains("row 3: label 2"), "{err}");
    assert_eq!(src.pass, 0);
    let err = train_batches(BatchData::new(&mut src, 0, &y), &params).unwrap_err();
    assert!(err.to_string().contains("no features"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the batch sizes of each pass, the cuts and so the trees
    /// are the matrix's.
    #[test]
    fn batch_boundaries_never_change_the_model(
        n in 1usize..3000,
        sizes in proptest::collection::vec(1usize..700, 1..4),
        max_bin in 2usize..300,
    ) {
        let (x, y) = rows(n);
        let params = TrainParams::default().n_estimators(2).max_depth(4).max_bin(max_bin);
        let whole = train(&TrainData::new(&x, 4, &y), &params);
        let mut src = Varying { x: &x, width: 4, sizes, pass: 0 };
        let got = train_batches(BatchData::new(&mut src, 4, &y), &params);
        match (whole, got) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "{a:?} against {b:?}"),
        }
    }
}

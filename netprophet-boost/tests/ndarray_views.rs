//! `ndarray` matrices of every layout score as the slice API scores them,
//! bit for bit: C order, Fortran order, column and row slices, a
//! transposed view, negative strides; and training from a view trains the
//! slice API's model.
#![cfg(feature = "ndarray")]

use ndarray::{s, Array2, ArrayView2, Axis, ShapeBuilder};
use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_boost::{Forest, Predictor};

mod common;
use common::{fixtures, labelled, real_rows, FEATURES};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The 952 real rows, repeated to `n` rows so parallel blocks are used.
fn rows(n: usize) -> Vec<f32> {
    let (x, _) = real_rows();
    assert_eq!(x.len(), 952 * FEATURES.len());
    x.iter().copied().cycle().take(n * 8).collect()
}

fn check(p: &Predictor, view: ArrayView2<'_, f32>, want_m: &[f32], want_c: &[f32], what: &str) {
    let m = p.margins_array(view).unwrap();
    assert_eq!(
        m.dim(),
        (want_m.len() / p.num_group(), p.num_group()),
        "{what}"
    );
    assert_eq!(bits(m.as_slice().unwrap()), bits(want_m), "{what}: margins");
    let mut out = vec![0.0f32; want_m.len()];
    p.margins_view_into(view, &mut out).unwrap();
    assert_eq!(bits(&out), bits(want_m), "{what}: margins_view_into");
    let mut probs = want_m.to_vec();
    p.transform(&mut probs);
    assert_eq!(
        bits(p.predict_array(view).unwrap().as_slice().unwrap()),
        bits(&probs),
        "{what}"
    );
    if p.num_group() == 1 {
        assert_eq!(
            bits(p.predict_array1(view).unwrap().as_slice().unwrap()),
            bits(&probs),
            "{what}"
        );
    }
    if !want_c.is_empty() {
        let c = p
            .contributions_array(view.slice(s![..want_c.len() / p.contributions_width(), ..]))
            .unwrap();
        assert_eq!(
            bits(c.as_slice().unwrap()),
            bits(want_c),
            "{what}: contributions"
        );
    }
}

fn every_layout(model: &str, n: usize) {
    let forest = Forest::load(fixtures().join(model)).unwrap();
    let p = Predictor::new(&forest).unwrap();
    let data = rows(n);
    let want = p.margins(&data, 8).unwrap();
    let want_c = p.contributions(&data[..n.min(300) * 8], 8).unwrap();

    let c_order = Array2::from_shape_vec((n, 8), data.clone()).unwrap();
    check(&p, c_order.view(), &want, &want_c, "C order");

    let mut f_order = Array2::<f32>::zeros((n, 8).f());
    f_order.assign(&c_order);
    assert!(f_order.as_slice().is_none());
    check(&p, f_order.view(), &want, &want_c, "F order");

    // Columns 2..10 of a wider matrix: rows contiguous, not the matrix.
    let mut wide = Array2::<f32>::from_elem((n, 12), -7.0);
    wide.slice_mut(s![.., 2..10]).assign(&c_order);
    let sliced = wide.slice(s![.., 2..10]);
    assert!(sliced.as_slice().is_none());
    check(&p, sliced, &want, &want_c, "column slice");

    // Every other row of a matrix twice as tall.
    let mut tall = Array2::<f32>::from_elem((2 * n, 8), f32::NAN);
    tall.slice_mut(s![..;2, ..]).assign(&c_order);
    check(
        &p,
        tall.slice(s![..;2, ..]),
        &want,
        &want_c,
        "every other row",
    );

    // The transpose of a feature-major matrix.
    let t = c_order.t().to_owned();
    check(&p, t.t(), &want, &want_c, "transposed");

    // Rows in reverse (negative stride), against the reversed rows.
    let mut rev = c_order.clone();
    rev.invert_axis(Axis(0));
    let mut rows_rev: Vec<f32> = Vec::new();
    for r in (0..n).rev() {
        rows_rev.extend_from_slice(&data[r * 8..(r + 1) * 8]);
    }
    let want_rev = p.margins(&rows_rev, 8).unwrap();
    check(&p, c_order.slice(s![..;-1, ..]), &want_rev, &[], "reversed");
}

#[test]
fn the_original_model_scores_every_layout_as_the_slice_api() {
    // 100 rows: one thread; 5 000: parallel blocks and a short last one.
    every_layout("boost/tournament_model.json", 100);
    every_layout("boost/tournament_model.json", 5000);
}

#[test]
fn deep_and_multiclass_models_score_every_layout_as_the_slice_api() {
    every_layout("boost/xgb3_deep/model.json", 1000);
    every_layout("boost/xgb3_multiclass/model.json", 1000);
}

#[test]
fn narrow_views_and_short_outputs_are_errors() {
    let forest = Forest::load(fixtures().join("boost/tournament_model.json")).unwrap();
    let p = Predictor::new(&forest).unwrap();
    let x = Array2::<f32>::zeros((4, 8).f());
    assert!(p.margins_array(x.slice(s![.., ..7])).is_err());
    let mut out = [0.0f32; 3];
    assert!(p.margins_view_into(x.view(), &mut out).is_err());
    assert!(p.margins_view_into(x.slice(s![.., ..]), &mut out).is_err());
    // Zero rows: no margins, no error.
    assert_eq!(p.margins_array(x.slice(s![..0, ..])).unwrap().dim(), (0, 1));
}

#[test]
fn views_without_columns_are_refused_as_the_slice_api_refuses_them() {
    // A forest of one leaf needs no feature, so a view of zero columns is
    // wide enough; it once reached the block scorer and panicked there.
    let forest = Forest::new(
        vec![netprophet_boost::Tree::leaf(0.5)],
        netprophet_boost::Objective::RegSquaredError,
        vec![0.0],
        0,
    )
    .unwrap();
    let p = Predictor::new(&forest).unwrap();
    let slice_err = p.margins(&[], 0).unwrap_err().to_string();
    for rows in [1, 20, 300] {
        for x in [
            Array2::<f32>::zeros((rows, 0)),
            Array2::zeros((rows, 0).f()),
        ] {
            let err = p.margins_array(x.view()).unwrap_err().to_string();
            assert_eq!(err, slice_err, "{rows} rows");
            assert!(p.predict_array(x.view()).is_err());
            assert!(p.contributions_array(x.view()).is_err());
        }
    }
}

#[test]
fn training_from_a_view_trains_the_slice_apis_model() {
    let (x_all, target) = real_rows();
    let (x, y) = labelled(&x_all, &target);
    let params = TrainParams::default().n_estimators(20);
    let from_slice = train(&TrainData::new(&x, 8, &y), &params).unwrap();
    let c_order = Array2::from_shape_vec((y.len(), 8), x.clone()).unwrap();
    let from_view = train(&TrainData::from_array(c_order.view(), &y).unwrap(), &params).unwrap();
    assert_eq!(from_view.to_xgboost_json(), from_slice.to_xgboost_json());

    // Fortran order is refused with the way out, which trains the same model.
    let mut f_order = Array2::<f32>::zeros((y.len(), 8).f());
    f_order.assign(&c_order);
    let err = TrainData::from_array(f_order.view(), &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("as_standard_layout"), "{err}");
    let standard = f_order.as_standard_layout();
    let from_f = train(
        &TrainData::from_array(standard.view(), &y).unwrap(),
        &params,
    )
    .unwrap();
    assert_eq!(from_f.to_xgboost_json(), from_slice.to_xgboost_json());

    // Labels must match the rows.
    assert!(TrainData::from_array(c_order.view(), &y[1..]).is_err());
}

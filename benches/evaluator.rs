//! Scoring speed of the original production model (200 trees, depth <= 5,
//! 8 features) on real rows: one row, 1 000 rows and 100 000 rows.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use netprophet_benches::{fixtures, rows};
use netprophet_boost::{Forest, Predictor};
use std::hint::black_box;

fn scoring(c: &mut Criterion) {
    let forest = Forest::load(fixtures().join("boost/tournament_model.json")).unwrap();
    let p = Predictor::new(&forest).unwrap();
    // A typical real minute (no missing value), and the first minute of
    // the series, which has two (no 5-minute history, no rolling std yet).
    let all = rows(952);
    let typical = all[500 * 8..501 * 8].to_vec();
    let first = all[..8].to_vec();
    c.bench_function("predict_row (1 row, 200 trees)", |b| {
        b.iter(|| p.predict_row(black_box(&typical)).unwrap())
    });
    c.bench_function("predict_row with missing values", |b| {
        b.iter(|| p.predict_row(black_box(&first)).unwrap())
    });
    let mut group = c.benchmark_group("predict batch");
    for n in [1_000usize, 100_000] {
        let data = rows(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &data, |b, d| {
            b.iter(|| p.predict(black_box(d), 8).unwrap())
        });
    }
    group.finish();
    // The same 100 000 rows as ndarray views: C order is read in place,
    // Fortran order is gathered a block of rows at a time.
    let c_order = ndarray::Array2::from_shape_vec((100_000, 8), rows(100_000)).unwrap();
    let mut f_order = ndarray::Array2::<f32>::zeros(ndarray::ShapeBuilder::f((100_000, 8)));
    f_order.assign(&c_order);
    let mut group = c.benchmark_group("predict ndarray 100000");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("C order", |b| {
        b.iter(|| p.predict_array1(black_box(c_order.view())).unwrap())
    });
    group.bench_function("F order", |b| {
        b.iter(|| p.predict_array1(black_box(f_order.view())).unwrap())
    });
    group.finish();
    c.bench_function("compile predictor (200 trees)", |b| {
        b.iter(|| Predictor::new(black_box(&forest)).unwrap())
    });
}

criterion_group!(benches, scoring);
criterion_main!(benches);

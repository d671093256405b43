//! One training run of the native trainer: the original recipe's
//! parameters (200 trees, depth 5, learning rate 0.1) on the 947 real rows,
//! and on 50 000 rows built from a generated Atlas-format archive (see
//! `write_atlas_archive`; synthetic data).

use criterion::{criterion_group, criterion_main, Criterion};
use netprophet_benches::{fixtures, write_atlas_archive};
use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_core::atlas::{ArchiveReader, SampleFilter};
use netprophet_core::dataset::Dataset;
use netprophet_core::features::{FeatureConfig, ProbeCollector};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::schema::FEATURE_COLUMNS;
use std::hint::black_box;

fn params() -> TrainParams {
    TrainParams::default()
        .n_estimators(200)
        .max_depth(5)
        .learning_rate(0.1)
}

fn as_f32(d: &Dataset) -> (Vec<f32>, Vec<f32>) {
    (d.x.clone(), d.y_f32())
}

fn training(c: &mut Criterion) {
    let names: Vec<String> = FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect();
    let real = Dataset::read_csv(&fixtures().join("data/training_data.csv"), &names).unwrap();
    let (x, y) = as_f32(&real);
    let mut g = c.benchmark_group("train 200 trees depth 5");
    g.sample_size(20);
    g.bench_function("947 real rows", |b| {
        b.iter(|| {
            let d = TrainData::new(&x, 8, &y);
            train(black_box(&d), &params()).unwrap()
        })
    });

    let mut archive = Vec::new();
    write_atlas_archive(&mut archive, 40, 24, 11).unwrap();
    let mut probes = ProbeCollector::new();
    ArchiveReader::from_reader("bench", std::io::Cursor::new(archive))
        .samples(&SampleFilter::default(), |s| probes.extend(s))
        .unwrap();
    let frames = probes.frames(FeatureConfig::default());
    let labels: Vec<_> = frames
        .iter()
        .map(|f| label(f, LabelConfig::default()))
        .collect();
    let big = Dataset::from_frames(frames.iter().zip(&labels), &names).unwrap();
    let (x, y) = as_f32(&big);
    g.sample_size(10);
    g.bench_function(format!("{} generated rows", big.len()), |b| {
        b.iter(|| {
            let d = TrainData::new(&x, 8, &y);
            train(black_box(&d), &params()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);

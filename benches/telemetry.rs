//! Telemetry pipeline speed: parsing and 1-minute features for the
//! committed generated Atlas day and for a larger generated archive held in
//! memory; labelling the real 952 minutes; SMOTE on the real rows and on a
//! million generated rows. (Generated data is synthetic Atlas-format data,
//! see `write_atlas_archive`.)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netprophet_benches::{fixtures, smote_rows, write_atlas_archive};
use netprophet_core::atlas::{ArchiveReader, SampleFilter};
use netprophet_core::dataset::Dataset;
use netprophet_core::features::{FeatureConfig, FeatureFrame, ProbeCollector};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::schema::FEATURE_COLUMNS;
use netprophet_core::smote::Smote;
use std::hint::black_box;

fn frames_of(bytes: &'static [u8]) -> usize {
    let mut probes = ProbeCollector::new();
    ArchiveReader::from_reader("bench", bytes)
        .samples(&SampleFilter::default(), |s| probes.extend(s))
        .unwrap();
    probes
        .frames(FeatureConfig::default())
        .iter()
        .map(|f| f.len())
        .sum()
}

fn telemetry(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse + features");
    let gz = std::fs::read(fixtures().join("core/generated_24h.ndjson.gz")).unwrap();
    let mut day = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut day).unwrap();
    let day: &'static [u8] = Box::leak(day.into_boxed_slice());
    g.throughput(Throughput::Bytes(day.len() as u64));
    g.bench_function("generated day, 5 probes (fixture)", |b| {
        b.iter(|| frames_of(black_box(day)))
    });

    let mut big = Vec::new();
    write_atlas_archive(&mut big, 200, 24, 7).unwrap();
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("generated day, 200 probes (30 MB)", |b| {
        b.iter(|| frames_of(black_box(big)))
    });
    g.finish();

    let text = std::fs::read_to_string(fixtures().join("data/training_data.csv")).unwrap();
    let cols: Vec<Vec<f64>> = (1..=5)
        .map(|c| {
            text.lines()
                .skip(1)
                .map(|l| l.split(',').nth(c).unwrap().parse().unwrap())
                .collect()
        })
        .collect();
    c.bench_function("derive + label 952 real minutes", |b| {
        b.iter(|| {
            let f = FeatureFrame::from_minutes(
                (0..952).map(|i| i * 60).collect(),
                cols[0].clone(),
                cols[1].clone(),
                cols[2].clone(),
                cols[3].clone(),
                cols[4].iter().map(|&v| v as u32).collect(),
                FeatureConfig::default(),
            );
            label(black_box(&f), LabelConfig::default())
        })
    });

    let names: Vec<String> = FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect();
    let real = Dataset::read_csv(&fixtures().join("data/training_data.csv"), &names)
        .unwrap()
        .complete_rows();
    let real_x: Vec<f64> = real.x.iter().map(|&v| f64::from(v)).collect();
    let mut g = c.benchmark_group("smote k=3");
    g.bench_function("947 real rows (49 positive)", |b| {
        b.iter(|| {
            Smote::default()
                .resample(black_box(&real_x), 8, &real.y)
                .unwrap()
        })
    });
    let (x, y) = smote_rows(1_000_000);
    g.sample_size(10);
    g.bench_function("1M generated rows, 1% minority", |b| {
        b.iter(|| Smote::default().resample(black_box(&x), 8, &y).unwrap())
    });
    g.finish();
}

criterion_group!(benches, telemetry);
criterion_main!(benches);

//! A small app built from the two libraries' public API alone, as a user of
//! the crates would write it: read an archive, build features and labels,
//! train, save, reload, score and measure. The only conversion between
//! the crates is the labels' type (`y_f32`): features go to the trainer
//! and the predictor as they are, and the metrics take the predictor's
//! `f32` probabilities.

use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_boost::{Forest, Predictor};
use netprophet_core::atlas::{ArchiveReader, SampleFilter};
use netprophet_core::dataset::Dataset;
use netprophet_core::features::{FeatureConfig, ProbeCollector};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::metrics::{average_precision, roc_auc};
use netprophet_core::schema::Feature;

#[test]
fn archive_to_model_to_metrics_without_glue() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/core/generated_24h.ndjson.gz"
    );
    let mut probes = ProbeCollector::new();
    ArchiveReader::open(path)
        .unwrap()
        .samples(&SampleFilter::new(), |s| probes.extend(s))
        .unwrap();
    let names = [
        Feature::Zscore,
        Feature::LatencyChange5m,
        Feature::Spikes60m,
    ]
    .map(|f| f.name());
    let mut frames = Vec::new();
    for id in probes.probe_ids() {
        for frame in probes.probe_frames(id, FeatureConfig::default()) {
            let labels = label(&frame, LabelConfig::default());
            frames.push((frame, labels));
        }
    }
    let rows = Dataset::from_frames(frames.iter().map(|(f, l)| (f, l)), &names).unwrap();

    let y = rows.y_f32();
    let data = TrainData::new(&rows.x, rows.width(), &y).with_feature_names(&rows.feature_names);
    let params = TrainParams::default().n_estimators(20);
    let forest = train(&data, &params).unwrap();

    let dir = std::env::temp_dir().join(format!("np-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("model.json");
    forest.save_json(&file).unwrap();
    let reloaded = Forest::load(&file).unwrap();
    assert_eq!(
        reloaded.feature_names.as_deref(),
        Some(&rows.feature_names[..])
    );

    let p = Predictor::new(&reloaded)
        .unwrap()
        .predict(&rows.x, rows.width())
        .unwrap();
    let ap = average_precision(&rows.y, &p).unwrap();
    let auc = roc_auc(&rows.y, &p).unwrap();
    assert!(ap > 0.0 && (0.0..=1.0).contains(&auc));
}

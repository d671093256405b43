//! **Generated, not real**: caches of many probes made up from a seed,
//! for the serving benchmark and the tests of the overview at scale
//! (a live refresh of every probe of msm 1001 writes about 12 000). Every
//! cache made here says so in its `source`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::record::{MinuteOutcome, ProbeRecord, RECORD_SECONDS};
use super::{
    Contribution, HistoryPoint, ModelIdentity, PredictionCache, ProbePrediction, CACHE_VERSION,
};

/// The bundled model's feature names, in its order.
const FEATURES: [&str; 8] = netprophet_core::schema::FEATURE_COLUMNS;

/// A generated cache of `probes` probes (ids 1 000 000 up) written at
/// `now`, each with a prediction, five contributions and a record of
/// `record_minutes` minutes (at most a week) with a few warnings and
/// degraded episodes.
pub fn generated_cache(probes: usize, now: i64, record_minutes: i64, seed: u64) -> PredictionCache {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let last = now - now.rem_euclid(60) - 60;
    let span = record_minutes.clamp(1, RECORD_SECONDS / 60);
    let mut predictions = Vec::with_capacity(probes);
    let mut records = Vec::with_capacity(probes);
    for k in 0..probes {
        let id = 1_000_000 + k as u64;
        let base: f64 = rng.random_range(5.0..250.0);
        // Most paths calm, a few at risk: risk ~ u^6.
        let risk: f64 = rng.random::<f64>().powi(6);
        let inputs: Vec<(String, Option<f64>)> = FEATURES
            .iter()
            .map(|f| {
                let v = match *f {
                    "packet_count" => 3.0,
                    "jitter" | "rolling_std" => rng.random_range(0.1..5.0),
                    "latency_change_5m" => rng.random_range(-2.0..2.0),
                    _ => base + rng.random_range(0.0..3.0),
                };
                ((*f).to_string(), Some(v))
            })
            .collect();
        let why = (0..5)
            .map(|j| Contribution {
                feature: FEATURES[(k + j) % FEATURES.len()].to_string(),
                value: inputs[(k + j) % FEATURES.len()].1,
                contribution: rng.random_range(-2.0..2.0) / (j + 1) as f64,
            })
            .collect();
        predictions.push(ProbePrediction {
            probe_id: Some(id),
            minute: last,
            probability: risk,
            inputs,
            why,
        });
        // One episode and one warning a day, at random minutes.
        let episodes: Vec<i64> = (0..span / 1440 + 1)
            .map(|_| rng.random_range(0..span))
            .collect();
        let minutes: Vec<MinuteOutcome> = (0..span)
            .map(|i| {
                let minute = last - (span - 1 - i) * 60;
                let degraded = episodes.iter().any(|e| (*e..*e + 4).contains(&i));
                let warned = episodes.iter().any(|e| (*e - 8..*e - 3).contains(&i));
                MinuteOutcome {
                    minute,
                    latency: Some(base + if degraded { 40.0 } else { 1.0 }),
                    threshold: Some(base + 20.0),
                    risk: if warned { 0.8 } else { risk.min(0.3) },
                    degraded,
                }
            })
            .collect();
        records.extend(ProbeRecord::update(None, id, &minutes, 0.4));
    }
    PredictionCache {
        version: CACHE_VERSION,
        generated_at: now,
        source: format!(
            "GENERATED, NOT REAL: {probes} made-up probes for benchmarks (seed {seed})"
        ),
        model: ModelIdentity {
            file: "generated".into(),
            digest: super::digest(b"generated"),
            trees: 0,
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            predicts: None,
            alarm_threshold: None,
            calibrated: false,
        },
        history: (0..60)
            .map(|i| HistoryPoint {
                minute: last - (59 - i) * 60,
                latency_ms: Some(20.0),
                jitter_ms: Some(1.0),
                risk: 0.1,
            })
            .collect(),
        predictions,
        horizon_minutes: 5,
        probes: records,
    }
}

//! Helpers for tests that run the dashboard server inside the test
//! process: a small one-probe cache and a server spawned on a free
//! loopback port. Included with `#[path]` by the tests that need them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use netprophet_cli::cache::{
    digest, HistoryPoint, ModelIdentity, PredictionCache, ProbePrediction, CACHE_VERSION,
};
use netprophet_cli::serve::{self, ServerConfig, ServerState};

/// A valid cache with one probe (id 7, 20 ms) generated at
/// `generated_at`, and ten minutes of history at `probability`.
pub fn one_probe_cache(generated_at: i64, probability: f64) -> PredictionCache {
    PredictionCache {
        version: CACHE_VERSION,
        generated_at,
        source: "test".into(),
        model: ModelIdentity {
            file: "m.json".into(),
            digest: digest(b"m"),
            trees: 1,
            features: vec!["avg_latency".into()],
            predicts: None,
            alarm_threshold: None,
            calibrated: false,
        },
        predictions: vec![ProbePrediction {
            probe_id: Some(7),
            minute: generated_at - 60,
            probability,
            inputs: vec![("avg_latency".into(), Some(20.0))],
            why: Vec::new(),
        }],
        history: (0..10)
            .map(|i| HistoryPoint {
                minute: generated_at - 600 + i * 60,
                latency_ms: Some(20.0),
                jitter_ms: Some(1.0),
                risk: probability,
            })
            .collect(),
        horizon_minutes: 5,
        probes: Vec::new(),
    }
}

/// Binds `config.listen` and serves `state` on the current runtime until
/// the returned sender is sent to or dropped.
pub async fn spawn(
    config: ServerConfig,
    state: Arc<ServerState>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = serve::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve::serve(listener, config, state, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

//! The HTTP endpoint over real sockets on 127.0.0.1, with an injected clock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/in_process.rs"]
mod in_process;

use netprophet_cli::cache::{
    digest, HistoryPoint, ModelIdentity, PredictionCache, ProbePrediction, CACHE_VERSION,
};
use netprophet_cli::serve::{self, Clock, ServerConfig, ServerState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T0: i64 = 1_770_650_000;

struct Server {
    addr: SocketAddr,
    now: Arc<AtomicI64>,
    cache: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = std::fs::remove_dir_all(self.cache.parent().unwrap());
    }
}

async fn start(name: &str, header_timeout: Duration) -> Server {
    let dir = std::env::temp_dir().join(format!("np-server-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("cache.json");
    let now = Arc::new(AtomicI64::new(T0));
    let n = now.clone();
    let zone = "America/Los_Angeles";
    let state = Arc::new(ServerState::new(
        cache.clone(),
        Clock::from_fn(move || n.load(Ordering::Relaxed)),
        serve::time_zone(zone).unwrap(),
        zone.into(),
    ));
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cache: cache.clone(),
        header_timeout,
        ..ServerConfig::default()
    };
    let (addr, tx) = in_process::spawn(config, state).await;
    Server {
        addr,
        now,
        cache,
        stop: Some(tx),
    }
}

fn cache_at(generated_at: i64, probability: f64) -> PredictionCache {
    PredictionCache {
        version: CACHE_VERSION,
        generated_at,
        source: "test".into(),
        model: ModelIdentity {
            file: "m.json".into(),
            digest: digest(b"m"),
            trees: 200,
            features: vec!["avg_latency".into(), "jitter".into()],
            predicts: None,
            alarm_threshold: None,
            calibrated: false,
        },
        predictions: vec![ProbePrediction {
            probe_id: Some(1009618),
            minute: generated_at - 60,
            probability,
            inputs: vec![
                ("avg_latency".into(), Some(27.5)),
                ("jitter".into(), Some(3.25)),
            ],
            why: Vec::new(),
        }],
        history: (0..30)
            .map(|i| HistoryPoint {
                minute: generated_at - 1800 + i * 60,
                latency_ms: Some(25.0 + (i % 5) as f64),
                jitter_ms: Some(2.0),
                risk: probability * i as f64 / 30.0,
            })
            .collect(),
        horizon_minutes: 5,
        probes: Vec::new(),
    }
}

/// Sends raw bytes, returns (status, head, body).
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

/// GETs `path` until `ok` holds, for at most 5 s: the server loads a new
/// cache file off the request path, within milliseconds of a request.
async fn until(
    addr: SocketAddr,
    path: &str,
    ok: impl Fn(u16, &str) -> bool,
) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(addr, path).await;
        if ok(r.0, &r.2) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn no_cache_is_a_friendly_503() {
    let s = start("nocache", Duration::from_secs(5)).await;
    let (status, head, body) = get(s.addr, "/").await;
    assert_eq!(status, 503);
    assert!(head.to_ascii_lowercase().contains("retry-after: 30"));
    assert!(body.contains("warming up"));
    let (status, _, body) = get(s.addr, "/api/prediction").await;
    assert_eq!(status, 503);
    assert!(body.contains("error"));
    assert_eq!(get(s.addr, "/healthz").await.0, 503);
}

#[tokio::test]
async fn banners_follow_cache_age_on_the_injected_clock() {
    let s = start("banners", Duration::from_secs(5)).await;
    cache_at(T0, 0.55).write(&s.cache).unwrap();
    let (status, _, body) = until(s.addr, "/", |st, _| st == 200).await;
    assert_eq!(status, 200);
    assert!(body.contains("risk high") && !body.contains("id=\"stale\""));
    assert!(body.contains("content=\"60\""));
    assert!(body.contains("55.0%") && body.contains("27.50 ms") && body.contains("3.25 ms"));
    assert!(body.contains("<svg") && body.contains("id=\"riskline\""));
    assert!(body.contains("UTC") && body.contains("America/Los_Angeles"));

    s.now.store(T0 + 15 * 60 - 1, Ordering::Relaxed);
    assert!(!get(s.addr, "/").await.2.contains("id=\"stale\""));
    s.now.store(T0 + 15 * 60, Ordering::Relaxed);
    let body = get(s.addr, "/").await.2;
    assert!(body.contains("class=\"banner warn\"") && body.contains("content=\"30\""));
    s.now.store(T0 + 30 * 60, Ordering::Relaxed);
    let body = get(s.addr, "/").await.2;
    assert!(body.contains("class=\"banner crit\""));

    let (_, _, json) = get(s.addr, "/api/prediction").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["age_seconds"], 1800);
    assert_eq!(v["stale"], true);
    assert_eq!(v["probe_id"], 1009618);
    let (_, _, hist) = get(s.addr, "/api/history").await;
    let v: serde_json::Value = serde_json::from_str(&hist).unwrap();
    assert_eq!(v["history"].as_array().unwrap().len(), 30);

    let (_, _, metrics) = get(s.addr, "/metrics").await;
    assert!(metrics.contains("netprophet_cache_age_seconds 1800"));
    assert!(metrics.contains("netprophet_http_requests_total{route=\"/\",status=\"200\"}"));
}

#[tokio::test]
async fn a_new_cache_is_picked_up_and_a_corrupt_one_is_503() {
    let s = start("corrupt", Duration::from_secs(5)).await;
    cache_at(T0, 0.10).write(&s.cache).unwrap();
    assert!(until(s.addr, "/", |_, b| b.contains("risk low"))
        .await
        .2
        .contains("risk low"));
    cache_at(T0, 0.90).write(&s.cache).unwrap();
    assert!(until(s.addr, "/", |_, b| b.contains("90.0%"))
        .await
        .2
        .contains("90.0%"));
    std::fs::write(&s.cache, b"{\"version\":1,\"generated_").unwrap();
    let (status, _, body) = until(s.addr, "/", |st, _| st == 503).await;
    assert_eq!(status, 503);
    assert!(body.contains("could not be read"));
    assert_eq!(get(s.addr, "/healthz").await.0, 503);
    // The server is still up and recovers with the next good cache.
    cache_at(T0, 0.20).write(&s.cache).unwrap();
    assert_eq!(until(s.addr, "/", |st, _| st == 200).await.0, 200);
}

#[tokio::test]
async fn head_405_404_and_oversized_headers() {
    let s = start("methods", Duration::from_secs(5)).await;
    cache_at(T0, 0.3).write(&s.cache).unwrap();
    until(s.addr, "/", |st, _| st == 200).await;
    let (status, head, body) = raw(
        s.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty(), "HEAD must have no body");
    assert!(head.to_ascii_lowercase().contains("content-length"));
    for m in ["POST", "PUT", "DELETE"] {
        let req =
            format!("{m} / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (status, head, _) = raw(s.addr, req.as_bytes()).await;
        assert_eq!(status, 405, "{m}");
        assert!(head.to_ascii_lowercase().contains("allow: get, head"));
    }
    assert_eq!(get(s.addr, "/nope").await.0, 404);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let (status, _, _) = raw(s.addr, big.as_bytes()).await;
    assert!(
        status == 431 || status == 0,
        "oversized headers must be refused, got {status}"
    );
    // Still serving afterwards.
    assert_eq!(get(s.addr, "/").await.0, 200);
}

#[tokio::test]
async fn a_slow_client_does_not_block_others_and_is_timed_out() {
    // A long header timeout: if the slow client blocked others, they would
    // be answered only after it was cut off, and it would be gone.
    let s = start("slow", Duration::from_secs(30)).await;
    cache_at(T0, 0.3).write(&s.cache).unwrap();
    until(s.addr, "/healthz", |st, _| st == 200).await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET / HTT").await.unwrap();
    for _ in 0..20 {
        // The bound only keeps a broken server from hanging the test.
        let answer = tokio::time::timeout(Duration::from_secs(20), get(s.addr, "/healthz")).await;
        assert_eq!(answer.expect("a request was blocked").0, 200);
    }
    // The slow connection is still open (nothing to read, no EOF).
    let mut byte = [0u8; 1];
    match slow.try_read(&mut byte) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the slow connection was closed before the others were served: {other:?}"),
    }

    // With a short header timeout the slow client is cut off.
    let s = start("slow-cut", Duration::from_millis(300)).await;
    cache_at(T0, 0.3).write(&s.cache).unwrap();
    until(s.addr, "/healthz", |st, _| st == 200).await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET / HTT").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "slow connection was never closed");
}

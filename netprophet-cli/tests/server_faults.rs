//! The server under faults at the cache path and from clients: every
//! endpoint answers within 100 ms whatever sits at the cache path (a FIFO,
//! a directory, a huge file, nothing, a disk that takes seconds), since the
//! cache is loaded off the request path; half-closed clients get their
//! answer; HTTP/1.1 requests without exactly one Host get 400.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/in_process.rs"]
mod in_process;

use in_process::one_probe_cache;
use netprophet_cli::cache::HistoryPoint;
use netprophet_cli::serve::{self, Clock, ServerConfig, ServerState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T0: i64 = 1_770_650_000;
const ENDPOINTS: [&str; 5] = [
    "/",
    "/api/prediction",
    "/api/history",
    "/healthz",
    "/metrics",
];
/// The bound every answer must meet under a fault.
const ANSWER_WITHIN: Duration = Duration::from_millis(100);

struct Server {
    addr: SocketAddr,
    cache: PathBuf,
    now: Arc<AtomicI64>,
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

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("np-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_with(
    name: &str,
    reader: Option<Arc<netprophet_cli::serve::CacheReader>>,
    before: impl FnOnce(&Path),
) -> Server {
    let cache = dir(name).join("cache.json");
    before(&cache);
    let now = Arc::new(AtomicI64::new(T0));
    let n = now.clone();
    let zone = "UTC";
    let clock = Clock::from_fn(move || n.load(Ordering::Relaxed));
    let tz = serve::time_zone(zone).unwrap();
    let state = Arc::new(match reader {
        Some(r) => ServerState::with_reader(cache.clone(), clock, tz, zone.into(), r),
        None => ServerState::new(cache.clone(), clock, tz, zone.into()),
    });
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cache: cache.clone(),
        header_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let (addr, tx) = in_process::spawn(config, state).await;
    Server {
        addr,
        cache,
        now,
        stop: Some(tx),
    }
}

async fn start(name: &str) -> Server {
    start_with(name, None, |_| {}).await
}

async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

/// GETs every endpoint `rounds` times; each answer must come within
/// [`ANSWER_WITHIN`]. Returns the statuses of the last round.
async fn all_answer_quickly(addr: SocketAddr, rounds: usize, fault: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..rounds {
        statuses.clear();
        for path in ENDPOINTS {
            let t = Instant::now();
            let (status, _) = tokio::time::timeout(Duration::from_secs(10), get(addr, path))
                .await
                .unwrap_or_else(|_| panic!("{fault}: {path} did not answer in 10 s"));
            let took = t.elapsed();
            slowest = slowest.max(took);
            assert!(status != 0, "{fault}: {path} gave no answer");
            assert!(
                took < ANSWER_WITHIN,
                "{fault}: {path} took {took:?} (status {status})"
            );
            statuses.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("{fault}: slowest answer {slowest:?}");
    statuses
}

/// GETs `path` until `ok` holds, for at most 5 s.
async fn until(addr: SocketAddr, path: &str, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(addr, path).await;
        if ok(r.0, &r.1) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_at_the_cache_path_blocks_nothing() {
    let s = start_with("fifo", None, |p| assert!(mkfifo(p), "mkfifo")).await;
    let statuses = all_answer_quickly(s.addr, 5, "FIFO").await;
    // /metrics answers 200; everything about the cache says it is unusable.
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
    let (_, body) = get(s.addr, "/metrics").await;
    assert!(body.contains("netprophet_cache_valid 0"), "{body}");
    // The refresher refuses to replace a FIFO; once it is gone, a real
    // cache is served.
    assert!(one_probe_cache(T0, 0.25).write(&s.cache).is_err());
    std::fs::remove_file(&s.cache).unwrap();
    one_probe_cache(T0, 0.25).write(&s.cache).unwrap();
    assert_eq!(until(s.addr, "/", |st, _| st == 200).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_at_the_cache_path_is_503_at_once() {
    let s = start_with("dir", None, |p| std::fs::create_dir(p).unwrap()).await;
    let statuses = all_answer_quickly(s.addr, 5, "directory").await;
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_cache_file_is_refused_without_being_read() {
    // Sparse: 1 GiB that costs no disk; the server must not read it.
    let s = start_with("huge", None, |p| {
        let f = std::fs::File::create(p).unwrap();
        f.set_len(1 << 30).unwrap();
    })
    .await;
    let statuses = all_answer_quickly(s.addr, 5, "huge file").await;
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
    // And a file just over the bound, full of valid-looking JSON, too.
    let mut big = one_probe_cache(T0, 0.5);
    big.source = "x".repeat(netprophet_cli::serve::MAX_CACHE_BYTES as usize);
    big.write(&s.cache).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = all_answer_quickly(s.addr, 3, "file over 64 MiB").await;
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_cache_file_is_noticed_and_a_new_one_served() {
    let s = start_with("vanish", None, |p| {
        one_probe_cache(T0, 0.3).write(p).unwrap()
    })
    .await;
    assert_eq!(
        all_answer_quickly(s.addr, 2, "before").await,
        [200, 200, 200, 200, 200]
    );
    std::fs::remove_file(&s.cache).unwrap();
    until(s.addr, "/healthz", |st, _| st == 503).await;
    let statuses = all_answer_quickly(s.addr, 5, "vanished file").await;
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
    one_probe_cache(T0, 0.6).write(&s.cache).unwrap();
    let (status, body) = until(s.addr, "/", |st, _| st == 200).await;
    assert_eq!(status, 200);
    assert!(body.contains("60.0%"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_disk_delays_only_the_loader_and_the_last_cache_is_served() {
    // The first read is quick; every later one takes 3 s, as on a hung
    // network mount.
    let slow = Arc::new(AtomicBool::new(false));
    let flag = slow.clone();
    let reader: Arc<netprophet_cli::serve::CacheReader> = Arc::new(move |p: &Path| {
        if flag.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(3));
        }
        netprophet_cli::serve::read_cache_file(p)
    });
    let s = start_with("slowdisk", Some(reader), |p| {
        one_probe_cache(T0, 0.3).write(p).unwrap()
    })
    .await;
    until(s.addr, "/", |st, _| st == 200).await;
    slow.store(true, Ordering::Relaxed);
    one_probe_cache(T0 + 60, 0.8).write(&s.cache).unwrap();
    // The loader is now stuck in a 3 s read; requests keep the old cache.
    let statuses = all_answer_quickly(s.addr, 10, "slow disk").await;
    assert_eq!(statuses, [200, 200, 200, 200, 200]);
    let (_, body) = get(s.addr, "/").await;
    assert!(body.contains("30.0%"), "the last good prediction is served");
    // Once the read finishes, the new cache is served.
    let (_, body) = until(s.addr, "/", |_, b| b.contains("80.0%")).await;
    assert!(body.contains("80.0%"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_closed_clients_get_their_answer() {
    let s = start_with("halfclose", None, |p| {
        one_probe_cache(T0, 0.3).write(p).unwrap()
    })
    .await;
    until(s.addr, "/healthz", |st, _| st == 200).await;
    let mut answered = 0;
    for i in 0..200 {
        let path = ENDPOINTS[i % ENDPOINTS.len()];
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await
            .unwrap();
        c.shutdown().await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
        if buf.starts_with(b"HTTP/1.1 200") {
            answered += 1;
        }
    }
    assert_eq!(answered, 200, "every half-closed client gets its response");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_needs_exactly_one_host() {
    let s = start_with("host", None, |p| one_probe_cache(T0, 0.3).write(p).unwrap()).await;
    until(s.addr, "/healthz", |st, _| st == 200).await;
    let cases: [(&[u8], u16); 5] = [
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
            400,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            200,
        ),
        (b"GET /healthz HTTP/1.0\r\n\r\n", 200),
        (b"GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ];
    for (request, want) in cases {
        let (status, _) = raw(s.addr, request).await;
        assert_eq!(status, want, "{}", String::from_utf8_lossy(request));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_from_the_future_is_never_fresh() {
    let s = start("future").await;
    // Two hours ahead of the server's clock: a clock is wrong.
    one_probe_cache(T0 + 7200, 0.3).write(&s.cache).unwrap();
    let (status, body) = until(s.addr, "/", |st, _| st == 200).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("banner crit") && body.contains("future"),
        "{body}"
    );
    let (_, json) = get(s.addr, "/api/prediction").await;
    let json = json.split_once("\r\n\r\n").unwrap().1;
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["stale"], true);
    assert_eq!(v["age_seconds"], -7200);
    // Within the allowed clock skew it counts as now.
    one_probe_cache(T0 + 120, 0.4).write(&s.cache).unwrap();
    let (_, body) = until(s.addr, "/", |_, b| b.contains("40.0%")).await;
    assert!(!body.contains("id=\"stale\""), "{body}");
    s.now.store(T0, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_with_an_endless_history_is_served_trimmed() {
    let mut c = one_probe_cache(T0, 0.3);
    // 100 000 points: 69 days of minutes, most outside the 12 h chart.
    c.history = (0..100_000)
        .map(|i| HistoryPoint {
            minute: T0 - 60 * (100_000 - i),
            latency_ms: Some(20.0),
            jitter_ms: None,
            risk: 0.1,
        })
        .collect();
    let s = start_with("history", None, |p| c.write(p).unwrap()).await;
    let (status, body) = until(s.addr, "/api/history", |st, _| st == 200).await;
    assert_eq!(status, 200);
    let json = body.split_once("\r\n\r\n").unwrap().1;
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 720, "the 12 hours up to the latest point");
    assert_eq!(history.last().unwrap()["minute"], T0 - 60);
    // Too many predictions is a file the server refuses, quickly.
    let mut many = one_probe_cache(T0, 0.3);
    many.predictions =
        vec![many.predictions[0].clone(); netprophet_cli::cache::MAX_PREDICTIONS + 1];
    many.write(&s.cache).unwrap();
    until(s.addr, "/healthz", |st, _| st == 503).await;
    let statuses = all_answer_quickly(s.addr, 2, "too many predictions").await;
    assert_eq!(statuses, [503, 503, 503, 503, 200]);
}

//! Generated HTTP traffic against the server's connection handling (the
//! same hyper settings and routes as `serve`), in memory: well-formed and
//! broken request lines, methods, targets, versions, duplicate and missing
//! Host headers, bad lengths and encodings, huge headers, bodies,
//! pipelining and raw bytes. The handler must never panic, every
//! connection must end within the watchdog's limit, and whatever comes
//! back must be HTTP; a well-formed GET of a route gets its page.
//!
//! `cargo test` runs a few hundred cases; CI runs them in release with
//! `NETPROPHET_FUZZ_SCALE` raised (see `.ci/run`).

#[path = "../../netprophet-core/tests/support/watchdog.rs"]
mod watchdog;

use std::sync::Arc;
use std::time::Duration;

#[path = "support/in_process.rs"]
mod in_process;

use in_process::one_probe_cache;
use netprophet_cli::serve::{self, Clock, ServerConfig, ServerState};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watchdog::{case, run};

const T0: i64 = 1_770_650_000;
const ROUTES: [&str; 9] = [
    "/",
    "/api/prediction",
    "/api/history",
    "/healthz",
    "/metrics",
    "/api/probes",
    "/probe/7",
    "/api/probes/7",
    "/?q=7&page=1",
];

/// A request: its bytes, and whether it is a plain GET of a route with
/// exactly one Host that must be answered with the page.
#[derive(Debug, Clone)]
struct Request {
    bytes: Vec<u8>,
    plain_get: bool,
}

fn request() -> impl Strategy<Value = Request> {
    let method = prop::sample::select(vec![
        "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "get",
        "G ET", "\0", "",
    ]);
    let target = prop_oneof![
        4 => prop::sample::select(ROUTES.to_vec()).prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "*", "http://t/healthz", "//", "/%00", "/api/prediction?x=1", "/nope", "", "/\u{7f}",
            "/../etc/passwd", "/probe/-1", "/probe/007", "/probe/", "/api/probes/99999999999999999999999",
            "/?q=%ff", "/?q=%3Cscript%3E", "/api/probes?limit=99999999", "/probe/8",
        ])
        .prop_map(str::to_owned),
        1 => "[ -~]{0,40}",
        1 => (0usize..20_000).prop_map(|n| format!("/{}", "a".repeat(n))),
    ];
    let version = prop::sample::select(vec![
        "HTTP/1.1",
        "HTTP/1.1",
        "HTTP/1.1",
        "HTTP/1.0",
        "HTTP/2.0",
        "HTTP/9.9",
        "",
        "HTTP/1.1 x",
    ]);
    let header = prop_oneof![
        3 => Just("Host: t".to_owned()),
        1 => Just("Connection: close".to_owned()),
        1 => Just("Connection: keep-alive".to_owned()),
        1 => prop::sample::select(vec![
            "Content-Length: 0", "Content-Length: 5", "Content-Length: -1",
            "Content-Length: 99999999999999999999", "Content-Length: 1, 2",
            "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked",
            "Expect: 100-continue", "Host:", "Host: a b", "X: \u{1}", ": empty", "No-Colon",
            " Leading: space", "Upgrade: h2c",
        ])
        .prop_map(str::to_owned),
        1 => "[A-Za-z-]{1,12}: [ -~]{0,30}",
        1 => (0usize..40_000).prop_map(|n| format!("X-Big: {}", "b".repeat(n))),
    ];
    let eol = prop::sample::select(vec!["\r\n", "\r\n", "\n"]);
    let structured = (
        method,
        target,
        version,
        prop::collection::vec(header, 0..6),
        eol,
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(m, t, v, headers, eol, body, with_body, pipelined)| {
            let mut head = format!("{m} {t} {v}{eol}");
            for h in &headers {
                head.push_str(h);
                head.push_str(eol);
            }
            head.push_str(eol);
            let hosts = headers
                .iter()
                .filter(|h| h.to_ascii_lowercase().starts_with("host:"))
                .count();
            let plain_get = m == "GET"
                && ROUTES.contains(&t.as_str())
                && v == "HTTP/1.1"
                && eol == "\r\n"
                && hosts == 1
                && headers
                    .iter()
                    .all(|h| h == "Host: t" || h.starts_with("Connection:"))
                && !with_body;
            let mut bytes = head.clone().into_bytes();
            if with_body {
                bytes.extend_from_slice(&body);
            }
            for _ in 0..pipelined {
                bytes.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
            }
            Request { bytes, plain_get }
        });
    prop_oneof![
        6 => structured,
        1 => prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|bytes| Request { bytes, plain_get: false }),
    ]
}

#[test]
fn generated_requests_never_panic_or_hang_the_server() {
    let dir = std::env::temp_dir().join(format!("np-fuzz-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cache.json");
    one_probe_cache(T0, 0.3).write(&path).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(ServerState::new(
        path.clone(),
        Clock::from_fn(|| T0),
        serve::time_zone("UTC").unwrap(),
        "UTC".into(),
    ));
    rt.block_on(state.first_load(Duration::from_secs(5)));
    let config = ServerConfig {
        cache: path,
        header_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    run("http", 300, request(), |req| {
        let (state, config) = (state.clone(), config.clone());
        let bytes = req.bytes.clone();
        let (status, answered) = case("http", &req.bytes, || {
            rt.block_on(async move {
                let (mut client, server) = tokio::io::duplex(1 << 16);
                let conn = tokio::spawn(async move {
                    serve::serve_connection(server, &config, state).await;
                });
                let writer = async move {
                    // The server may close before reading everything.
                    let _ = client.write_all(&bytes).await;
                    let _ = client.shutdown().await;
                    let mut out = Vec::new();
                    let _ = client.read_to_end(&mut out).await;
                    out
                };
                let out = tokio::time::timeout(Duration::from_secs(8), writer)
                    .await
                    .expect("the connection did not end");
                let joined = conn.await;
                (out, joined.is_ok())
            })
        });
        prop_assert!(answered, "the connection task panicked");
        if !status.is_empty() {
            prop_assert!(
                status.starts_with(b"HTTP/1."),
                "not HTTP: {:?}",
                String::from_utf8_lossy(&status[..status.len().min(80)])
            );
        }
        if req.plain_get {
            prop_assert!(
                status.starts_with(b"HTTP/1.1 200 "),
                "{:?}",
                String::from_utf8_lossy(&status[..status.len().min(80)])
            );
        }
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

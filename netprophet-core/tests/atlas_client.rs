//! The Atlas client against a mock API on 127.0.0.1: retries, backoff,
//! Retry-After, timeouts, truncated bodies, chunking.

mod support;

use std::time::Duration;

use netprophet_core::atlas::client::{AtlasClient, Chunk, ClientConfig, ClientError};
use support::mock_atlas::{retimed, Fault, MockAtlas};

const T0: i64 = 1_787_529_600; // 2026-08-24 00:00 UTC

fn client(url: &str) -> AtlasClient {
    AtlasClient::new(
        ClientConfig::default()
            .base_url(url)
            .timeout(Duration::from_millis(800))
            .backoff(Duration::from_millis(100))
            .chunk_seconds(3600),
    )
    .unwrap()
}

fn count(body: &[u8]) -> usize {
    serde_json::from_slice::<Vec<serde_json::Value>>(body)
        .unwrap()
        .len()
}

#[test]
fn retries_with_backoff_and_honours_retry_after() {
    let mock = MockAtlas::start(
        retimed(T0, T0 + 3600, &[6001]),
        vec![
            Fault::Status(500),
            Fault::RetryAfter(429, 1),
            Fault::Truncated,
        ],
    );
    let body = client(&mock.url)
        .fetch_chunk(
            Chunk {
                start: T0,
                stop: T0 + 3600,
            },
            &[],
        )
        .unwrap();
    assert_eq!(count(&body), 15, "a result every 240 s for an hour");
    let seen = mock.seen();
    assert_eq!(seen.len(), 4, "500, 429, truncated, then the answer");
    let gap = |i: usize| seen[i + 1].at - seen[i].at;
    assert!(gap(0) >= Duration::from_millis(100), "backoff {:?}", gap(0));
    assert!(
        gap(1) >= Duration::from_secs(1),
        "Retry-After: 1 honoured, {:?}",
        gap(1)
    );
    assert!(
        gap(2) >= Duration::from_millis(150) && gap(2) < Duration::from_secs(1),
        "backoff x1.5 x1.5, {:?}",
        gap(2)
    );
    assert_eq!(seen[0].param("start").unwrap(), T0.to_string());
    assert_eq!(seen[0].param("stop").unwrap(), (T0 + 3599).to_string());
    assert_eq!(seen[0].param("format").unwrap(), "json");
}

#[test]
fn a_chunk_that_keeps_failing_is_named() {
    let stall = Fault::Stall(Duration::from_secs(3));
    let mock = MockAtlas::start(
        Vec::new(),
        vec![stall.clone(), stall.clone(), stall.clone(), stall],
    );
    let err = client(&mock.url)
        .fetch_chunk(
            Chunk {
                start: T0,
                stop: T0 + 60,
            },
            &[],
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ClientError::Chunk { attempts: 4, .. }),
        "{msg}"
    );
    assert!(
        msg.starts_with("chunk 2026-08-24 00:00:00 .. 2026-08-24 00:01:00 UTC:"),
        "{msg}"
    );
    assert!(msg.contains("after 4 attempts"), "{msg}");
}

#[test]
fn client_errors_are_not_retried_and_empty_lists_are_fine() {
    let mock = MockAtlas::start(Vec::new(), vec![Fault::Status(404)]);
    let err = client(&mock.url)
        .fetch_chunk(
            Chunk {
                start: T0,
                stop: T0 + 60,
            },
            &[],
        )
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(mock.seen().len(), 1);
    mock.set_script(vec![Fault::Empty]);
    let body = client(&mock.url)
        .fetch_chunk(
            Chunk {
                start: T0,
                stop: T0 + 60,
            },
            &[],
        )
        .unwrap();
    assert_eq!(body, b"[]");
}

#[test]
fn a_window_is_fetched_in_parallel_chunks_and_resumes() {
    let mock = MockAtlas::start(retimed(T0, T0 + 4 * 3600, &[6001, 6002]), Vec::new());
    let c = client(&mock.url);
    let got = std::sync::Mutex::new(Vec::new());
    let all = c
        .fetch_window(
            T0,
            T0 + 4 * 3600,
            &[6002],
            |ch| ch.start == T0,
            |ch, body| {
                let mut bytes = Vec::new();
                body.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
                got.lock().unwrap().push((ch, count(&bytes)));
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(all.len(), 4);
    let mut got = got.into_inner().unwrap();
    got.sort();
    assert_eq!(got.len(), 3, "the first chunk was already done");
    assert!(got.iter().all(|(_, n)| *n == 15), "{got:?}");
    assert!(mock
        .seen()
        .iter()
        .all(|s| s.param("probe_ids").as_deref() == Some("6002")));

    let err = c
        .fetch_window(T0, T0, &[], |_| false, |_, _| Ok(()))
        .unwrap_err();
    assert!(matches!(err, ClientError::EmptyWindow { .. }));
}

#[test]
fn https_goes_through_rustls_and_a_bad_peer_is_an_error_not_a_panic() {
    // Something on 127.0.0.1 that answers a TLS ClientHello with plain
    // HTTP: the handshake (ring provider) must fail with a TLS error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 512];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = std::io::Write::write_all(&mut s, b"HTTP/1.1 200 OK\r\n\r\n[]");
        }
    });
    let client = AtlasClient::new(
        ClientConfig::default()
            .base_url(format!("https://127.0.0.1:{port}"))
            .attempts(1)
            .timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let err = client
        .fetch_chunk(Chunk { start: 0, stop: 60 }, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("chunk"), "{err}");
    assert!(
        err.to_ascii_lowercase().contains("tls") || err.contains("corrupt"),
        "a TLS failure: {err}"
    );
}

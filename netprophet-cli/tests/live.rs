//! `fetch` and `refresh` against a mock Atlas API on 127.0.0.1 serving
//! recorded real result objects, with injected faults.

mod common;
#[path = "../../netprophet-core/tests/support/mock_atlas.rs"]
mod mock_atlas;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, netprophet, s, stderr, tmp};
use mock_atlas::{retimed, Fault, MockAtlas};

const NOW: i64 = 1_787_533_200; // 2026-08-24 01:00 UTC

fn fixtures_model() -> String {
    common::fixtures()
        .join("tournament_model.json")
        .to_str()
        .unwrap()
        .to_string()
}

fn refresh(mock: &MockAtlas, cache: &std::path::Path) -> std::process::Output {
    netprophet(&[
        "refresh",
        "--model",
        &fixtures_model(),
        "--cache",
        s(cache),
        "--base-url",
        &mock.url,
        "--now",
        &NOW.to_string(),
        "--timeout",
        "1",
        "--backoff",
        "0.05",
    ])
}

#[test]
fn refresh_writes_a_cache_the_server_reads() {
    let mock = MockAtlas::start(
        retimed(NOW - 3 * 3600, NOW, &[6001, 6002]),
        vec![Fault::Status(503)],
    );
    let cache = tmp("ok.json");
    let out = refresh(&mock, &cache);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("for probe 6001"), "{}", stderr(&out));
    let c = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    assert_eq!(c.generated_at, NOW);
    let p = c.headline();
    assert_eq!(p.probe_id, Some(6001));
    assert_eq!(p.minute, NOW - 60, "the last complete minute");
    assert!((0.0..=1.0).contains(&p.probability));
    assert!(p.input("rolling_std").is_some());
    assert_eq!(c.history.last().unwrap().minute, NOW - 60);
    assert_eq!(c.model.features.len(), 8);
    // One chunk of 65 minutes, retried once after the 503.
    assert_eq!(mock.seen().len(), 2);
    assert_eq!(
        mock.seen()[0].param("start").unwrap(),
        (NOW - 65 * 60).to_string()
    );

    // A second cycle keeps the earlier history and appends.
    let later = netprophet(&[
        "refresh",
        "--model",
        &fixtures_model(),
        "--cache",
        s(&cache),
        "--base-url",
        &mock.url,
        "--now",
        &(NOW + 600).to_string(),
    ]);
    assert!(later.status.success(), "{}", stderr(&later));
    let c2 = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    assert_eq!(
        c2.history.first().unwrap().minute,
        c.history.first().unwrap().minute
    );
    assert_eq!(c2.history.last().unwrap().minute, NOW + 540);
}

#[test]
fn a_failed_refresh_exits_1_and_leaves_the_cache_byte_identical() {
    let cache = tmp("kept.json");
    let good = MockAtlas::start(retimed(NOW - 3 * 3600, NOW, &[6001]), Vec::new());
    assert!(refresh(&good, &cache).status.success());
    let before = std::fs::read(&cache).unwrap();
    let stall = Fault::Stall(Duration::from_secs(3));
    for (what, script) in [
        ("500s", vec![Fault::Status(500); 4]),
        ("429s", vec![Fault::RetryAfter(429, 0); 4]),
        (
            "stalls",
            vec![stall.clone(), stall.clone(), stall.clone(), stall],
        ),
        ("truncated bodies", vec![Fault::Truncated; 4]),
        ("an empty list", vec![Fault::Empty]),
    ] {
        let mock = MockAtlas::start(retimed(NOW - 3 * 3600, NOW, &[6001]), script);
        let out = refresh(&mock, &cache);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("netprophet: error: "), "{what}: {err}");
        if what == "an empty list" {
            assert!(err.contains("no usable ping sample"), "{err}");
        } else {
            assert!(
                err.contains("chunk 2026-08-23 23:55:00 .. 2026-08-24 01:00:00 UTC"),
                "{what}: {err}"
            );
            assert_eq!(mock.seen().len(), 4, "{what}: 4 attempts");
        }
        assert_eq!(
            std::fs::read(&cache).unwrap(),
            before,
            "{what}: cache untouched"
        );
    }
}

#[test]
fn a_refresh_killed_mid_cycle_never_tears_the_cache() {
    let cache = tmp("killed.json");
    let good = MockAtlas::start(retimed(NOW - 3 * 3600, NOW, &[6001]), Vec::new());
    assert!(refresh(&good, &cache).status.success());
    let before = std::fs::read(&cache).unwrap();
    // A later refresh is held half-way through writing the new cache (half
    // its bytes written), then killed there.
    let dir = cache.parent().unwrap().to_path_buf();
    let temps = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(".killed.json.") && n.ends_with(".tmp")
            })
            .count()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args([
            "refresh",
            "--model",
            &fixtures_model(),
            "--cache",
            s(&cache),
            "--base-url",
            &good.url,
            "--now",
            &(NOW + 600).to_string(),
        ])
        .env("NETPROPHET_FAULT_PAUSE", "cache-write:30000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the new cache is being written (its temporary file
    // exists), so the kill lands inside the write.
    let mut waited = 0;
    while temps() == 0 {
        assert!(waited < 300, "the refresh never started writing its cache");
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&cache).unwrap(), before, "the cache was torn");
    assert!(netprophet_cli::cache::PredictionCache::read(&cache).is_ok());
}

#[test]
fn fetch_writes_the_api_objects_and_resumes() {
    let results = retimed(NOW - 4 * 3600, NOW, &[6001, 6002]);
    let total = results.len();
    let out_path = tmp("archive.ndjson.gz");
    let args = |url: &str| -> Vec<String> {
        [
            "fetch",
            "--start",
            "2026-08-23 21:00",
            "--stop",
            "2026-08-24 01:00",
            "--out",
            s(&out_path),
            "--base-url",
            url,
            "--chunk-hours",
            "1",
            "--parallel",
            "2",
            "--attempts",
            "2",
            "--backoff",
            "0.05",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    // Chunks run two at a time; the failing requests stop the run after
    // at least one chunk has been stored.
    let flaky = MockAtlas::start(
        results.clone(),
        vec![
            Fault::Ok,
            Fault::Status(500),
            Fault::Status(500),
            Fault::Status(500),
            Fault::Status(500),
        ],
    );
    let a = args(&flaky.url);
    let out = netprophet(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 500"), "{}", stderr(&out));
    assert!(!out_path.exists(), "no archive until every chunk is there");
    let parts_dir = format!("{}.parts", s(&out_path));
    let stored = std::fs::read_dir(&parts_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "ndjson")
        })
        .count();
    assert!(stored >= 1, "finished chunks are kept");

    let good = MockAtlas::start(results, Vec::new());
    let a = args(&good.url);
    let out = netprophet(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("resuming: {stored} of 4 chunks")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        good.seen().len(),
        4 - stored,
        "finished chunks are not fetched again"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&out_path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count(), total);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["msm_id"], 1001, "the API's own objects");
    assert!(!std::path::Path::new(&parts_dir).exists());

    // The archive feeds the rest of the pipeline.
    let feats = netprophet(&[
        "features",
        "--input",
        s(&out_path),
        "--all",
        "--output",
        "-",
    ]);
    assert!(feats.status.success(), "{}", stderr(&feats));
}

fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

#[test]
fn serve_refreshes_in_process() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mock = MockAtlas::start(
        retimed(now - 3 * 3600, now + 3600, &[6001]),
        vec![Fault::Status(500)],
    );
    let cache = tmp("served.json");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args([
            "serve",
            "--listen",
            &addr,
            "--cache",
            s(&cache),
            "--refresh-every",
            "10m",
            "--model",
            &fixtures_model(),
            "--base-url",
            &mock.url,
            "--backoff",
            "0.05",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut got = None;
    for _ in 0..100 {
        if let Some((200, body)) = http_get(&addr, "/api/prediction") {
            got = Some(body);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = http_get(&addr, "/metrics");
    child.kill().unwrap();
    child.wait().unwrap();
    let body = got.expect("the first in-process refresh produced a prediction");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["predictions"][0]["probe_id"], 6001, "{body}");
    let (_, m) = metrics.unwrap();
    assert!(m.contains("netprophet_last_refresh_success 1"), "{m}");
    assert_eq!(
        mock.seen().len(),
        2,
        "one retry after the 500, then no request until the next cycle"
    );
}

#[test]
fn a_refresh_with_results_longer_than_a_read_block_completes() {
    // Every result padded past the 256 KiB block a live body is read in:
    // the reader used to spin on the first one forever.
    let mut results = retimed(NOW - 3 * 3600, NOW, &[6001]);
    for r in results.iter_mut().rev().take(20) {
        r["pad"] = "p".repeat(300 << 10).into();
    }
    let mock = MockAtlas::start(results, Vec::new());
    let cache = tmp("padded.json");
    let started = std::time::Instant::now();
    let out = refresh(&mock, &cache);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[cfg(unix)]
#[test]
fn sigterm_stops_serve_even_while_a_refresh_waits_on_the_network() {
    // The API stalls longer than the test: the refresh cycle is stuck in
    // its request when SIGTERM arrives.
    let mock = MockAtlas::start(
        retimed(NOW - 3 * 3600, NOW, &[6001]),
        vec![Fault::Stall(Duration::from_secs(60))],
    );
    let cache = tmp("sigterm.json");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args([
            "serve",
            "--listen",
            &addr,
            "--cache",
            s(&cache),
            "--refresh-every",
            "10m",
            "--model",
            &fixtures_model(),
            "--base-url",
            &mock.url,
            "--timeout",
            "120",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(&addr);
    // Wait until the refresh is in its stalled request.
    let mut running = false;
    for _ in 0..100 {
        if !mock.seen().is_empty() {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1100));
    let (_, metrics) = http_get(&addr, "/metrics").expect("metrics");
    assert!(
        metrics.contains("netprophet_refresh_running_seconds ")
            && !metrics.contains("netprophet_refresh_running_seconds 0\n"),
        "{metrics}"
    );
    assert!(running, "the refresh never started");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let t = std::time::Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "serve did not stop on SIGTERM during a refresh"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn a_refresh_with_a_fifo_at_the_cache_path_fails_at_once() {
    let cache = tmp("cache.fifo");
    let _ = std::fs::remove_file(&cache);
    let made = Command::new("mkfifo")
        .arg(&cache)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return;
    }
    let mock = MockAtlas::start(retimed(NOW - 3 * 3600, NOW, &[6001]), Vec::new());
    let mut child = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args([
            "refresh",
            "--model",
            &fixtures_model(),
            "--cache",
            s(&cache),
            "--base-url",
            &mock.url,
            "--now",
            &NOW.to_string(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("refresh blocked on the FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("a FIFO"), "{err}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&cache).unwrap().file_type().is_fifo());
}

/// A model whose features look back a day (the shipped sustained-episode
/// model) makes the live cycle fetch that day, and the risks it caches
/// are the ones the batch path (fetch, features, predict) computes from
/// the same results.
#[test]
fn a_history_model_fetches_its_look_back_and_scores_as_the_batch_path() {
    let mock = MockAtlas::start(retimed(NOW - 30 * 3600, NOW, &[6001]), vec![]);
    let model = common::fixtures().join("sustained_model.json");
    let cache = tmp("history-model.json");
    let out = netprophet(&[
        "refresh",
        "--model",
        s(&model),
        "--cache",
        s(&cache),
        "--base-url",
        &mock.url,
        "--now",
        &NOW.to_string(),
        "--probe",
        "6001",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A day and an hour either side of yesterday's minute, the fill limit
    // and 5 minutes of slack.
    let minutes: i64 = 1500 + 30 + 5;
    let first = mock
        .seen()
        .iter()
        .filter_map(|r| r.param("start").and_then(|v| v.parse::<i64>().ok()))
        .min()
        .unwrap();
    assert_eq!(first, NOW - minutes * 60);
    let c = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    assert!(c.model.calibrated);
    assert!(c.model.alarm_threshold.is_some());
    assert!(c.model.predicts.as_deref().unwrap().contains("sustained"));

    // The batch path on the same results.
    let archive = tmp("history-window.ndjson");
    let out = netprophet(&[
        "fetch",
        "--start",
        &(NOW - minutes * 60).to_string(),
        "--stop",
        &NOW.to_string(),
        "--probe",
        "6001",
        "--base-url",
        &mock.url,
        "--out",
        s(&archive),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = tmp("history-window.csv");
    let out = netprophet(&["features", "--input", s(&archive), "--output", s(&csv)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = netprophet(&["predict", "--model", s(&model), "--input", s(&csv)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let risks: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    let text = std::fs::read_to_string(&csv).unwrap();
    let minutes_of: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|l| netprophet_core::time::parse_utc(l.split(',').next().unwrap()).unwrap())
        .collect();
    assert_eq!(risks.len(), minutes_of.len());
    let batch: std::collections::HashMap<i64, f64> = minutes_of.into_iter().zip(risks).collect();
    let mut compared = 0;
    for h in &c.history {
        if let Some(&b) = batch.get(&h.minute) {
            assert!(
                (b - h.risk).abs() < 1e-6,
                "minute {}: live {} batch {b}",
                h.minute,
                h.risk
            );
            compared += 1;
        }
    }
    assert!(compared >= 700, "{compared} minutes compared");
}

#[test]
fn refresh_all_stores_each_probes_why_and_record_across_cycles() {
    let mock = MockAtlas::start(
        retimed(NOW - 3 * 3600, NOW + 3600, &[6001, 6002]),
        Vec::new(),
    );
    let cache = tmp("all-why.json");
    let cycle = |now: i64| {
        netprophet(&[
            "refresh",
            "--all",
            "--model",
            &fixtures_model(),
            "--cache",
            s(&cache),
            "--base-url",
            &mock.url,
            "--now",
            &now.to_string(),
        ])
    };
    let out = cycle(NOW);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    assert_eq!(c.version, netprophet_cli::cache::CACHE_VERSION);
    assert_eq!(c.predictions.len(), 2);
    // The stored "why" is the model's exact TreeSHAP, strongest first.
    let bytes = std::fs::read(fixtures_model()).unwrap();
    let forest = netprophet_boost::Forest::from_slice(&bytes).unwrap();
    let predictor = netprophet_boost::Predictor::new(&forest).unwrap();
    for p in &c.predictions {
        assert!(!p.why.is_empty() && p.why.len() <= 5, "{:?}", p.why);
        let row: Vec<f32> = p
            .inputs
            .iter()
            .map(|(_, v)| v.map_or(f32::NAN, |v| v as f32))
            .collect();
        let mut contribs = vec![0f32; predictor.contributions_width()];
        predictor
            .contributions_row_into(&row, &mut contribs)
            .unwrap();
        let mut expected: Vec<(usize, f32)> = contribs[..row.len()]
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| *v != 0.0)
            .collect();
        expected.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        for (got, (i, v)) in p.why.iter().zip(&expected) {
            assert_eq!(got.feature, c.model.features[*i]);
            assert!(
                (got.contribution - f64::from(*v)).abs() <= 5e-5,
                "{got:?} vs {v}"
            );
        }
        // Margin = bias + contributions: the stored ones are part of it.
        let margin: f32 = contribs.iter().sum();
        let prob = 1.0 / (1.0 + (-f64::from(margin)).exp());
        assert!(
            (prob - p.probability).abs() < 1e-4,
            "{prob} vs {}",
            p.probability
        );
    }
    let ids: Vec<u64> = c.probes.iter().map(|r| r.probe_id).collect();
    assert_eq!(ids, vec![6001, 6002]);
    let first_scored = c.probes[0].scored.clone();
    assert_eq!(first_scored.last(), Some(NOW - 60));

    // Ten minutes later: the record spans both cycles.
    let out = cycle(NOW + 600);
    assert!(out.status.success(), "{}", stderr(&out));
    let c2 = netprophet_cli::cache::PredictionCache::read(&cache).unwrap();
    let r = &c2.probes[0];
    assert_eq!(r.scored.last(), Some(NOW + 540));
    assert_eq!(r.scored.0.first().unwrap()[0], first_scored.0[0][0]);
    assert_eq!(r.risk.len(), r.latency.len());
}

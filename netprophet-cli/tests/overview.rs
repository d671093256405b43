//! The overview of many probes, the probe pages and their JSON over real
//! sockets on 127.0.0.1: risk order, track records from the stored
//! records, strict ids and filters, escaping, the metrics cap, and a
//! generated cache of 12 000 probes (made up, not real).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netprophet_cli::cache::generated::generated_cache;
use netprophet_cli::cache::{MinuteOutcome, PredictionCache, ProbeRecord};
use netprophet_cli::serve::{self, Clock, ServerConfig, ServerState};

const NOW: i64 = 1_770_650_040;

/// A server over `cache` on its own runtime thread; stops when dropped.
struct Server {
    addr: SocketAddr,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str, cache: &PredictionCache, metrics_probes: usize) -> Server {
    let dir = std::env::temp_dir().join(format!("np-overview-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cache.json");
    cache.write(&path).unwrap();
    let zone = "UTC";
    let mut state = ServerState::new(
        path.clone(),
        Clock::from_fn(|| NOW),
        serve::time_zone(zone).unwrap(),
        zone.into(),
    );
    state.metrics_probes = metrics_probes;
    let state = Arc::new(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let config = ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                cache: path,
                ..ServerConfig::default()
            };
            let listener = serve::bind(config.listen).await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            serve::serve(listener, config, state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    let server = Server {
        addr,
        dir,
        stop: Some(tx),
    };
    // The loader reads the file off the request path; wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(addr, "/healthz").0 != 200 {
        assert!(Instant::now() < deadline, "the cache was never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// GET `path`: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

fn json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Three probes: 20 at 90 % with a warned episode, 3 at 50 % with a false
/// warning, 100 calm with a missed episode.
fn three_probes() -> PredictionCache {
    let mut c = generated_cache(3, NOW, 60, 1);
    let last = c.predictions[0].minute;
    let plan: [(u64, f64, &[i64], &[i64]); 3] = [
        // (id, risk now, warned minutes ago, degraded minutes ago)
        (20, 0.9, &[100, 99, 98], &[95, 94, 93]),
        (3, 0.5, &[300], &[]),
        (100, 0.01, &[], &[200, 199]),
    ];
    c.probes.clear();
    for (k, (id, risk, warned, degraded)) in plan.iter().enumerate() {
        let p = &mut c.predictions[k];
        p.probe_id = Some(*id);
        p.probability = *risk;
        p.why[0].feature = "<b>avg_latency</b>".into();
        let minutes: Vec<MinuteOutcome> = (0..24 * 60)
            .map(|i| {
                let ago = 24 * 60 - 1 - i;
                MinuteOutcome {
                    minute: last - ago * 60,
                    latency: Some(10.0),
                    threshold: Some(15.0),
                    risk: if warned.contains(&ago) { 0.95 } else { 0.05 },
                    degraded: degraded.contains(&ago),
                }
            })
            .collect();
        c.probes
            .push(ProbeRecord::update(None, *id, &minutes, 0.4).unwrap());
    }
    c
}

#[test]
fn probes_in_risk_order_with_their_track_records() {
    let s = start("three", &three_probes(), 2);
    let v = json(s.addr, "/api/probes");
    let ids: Vec<u64> = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probe_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![20, 3, 100]);
    assert_eq!(v["total"], 3);
    assert_eq!(v["at_risk"], 2);
    let day = &v["track"]["day"];
    assert_eq!(
        (&day["episodes"], &day["warned"], &day["false_warnings"]),
        (&2.into(), &1.into(), &1.into())
    );
    let one = json(s.addr, "/api/probes/20");
    assert_eq!(one["track"]["day"]["warned"], 1);
    // Warned at 100 minutes ago, degraded from 95: 5 minutes ahead.
    assert_eq!(one["track"]["day"]["median_warning_minutes"], 5.0);
    assert_eq!(one["why"].as_array().unwrap().len(), 5);
    assert_eq!(
        one["history"].as_array().unwrap().len(),
        netprophet_cli::cache::record::RECENT_BUCKETS
    );
    assert_eq!(one["warnings"].as_array().unwrap().len(), 1);
    let missed = json(s.addr, "/api/probes/100");
    assert_eq!(missed["track"]["day"]["episodes"], 1);
    assert_eq!(missed["track"]["day"]["warned"], 0);

    // The page lists the same order, escapes names, and shows the record.
    let (status, html) = get(s.addr, "/");
    assert_eq!(status, 200);
    let pos = |id: &str| html.find(&format!("data-probe=\"{id}\"")).unwrap();
    assert!(pos("20") < pos("3") && pos("3") < pos("100"));
    assert!(html.contains("id=\"overall-day\">1/2 warned, 1 false"));
    let (status, page) = get(s.addr, "/probe/20");
    assert_eq!(status, 200);
    assert!(page.contains("&lt;b&gt;avg_latency&lt;/b&gt;") && !page.contains("<b><b>"));
    assert!(page.contains("id=\"why\"") && page.contains("id=\"track\""));
    assert!(
        page.contains("(5 min before)"),
        "the episode's warning is listed"
    );
    assert!(page.contains("id=\"band\"") && page.contains("id=\"degraded\""));

    // The metrics cap: two probes exported, the highest risk first.
    let (_, metrics) = get(s.addr, "/metrics");
    let risk: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("netprophet_risk{"))
        .collect();
    assert_eq!(
        risk,
        vec![
            "netprophet_risk{probe=\"20\"} 0.9",
            "netprophet_risk{probe=\"3\"} 0.5"
        ]
    );
    assert!(metrics.contains("netprophet_alarm_threshold 0.4"));
    assert!(metrics.contains("netprophet_data_age_seconds{probe=\"20\"} 0"));
}

#[test]
fn ids_filters_and_pages_are_parsed_strictly() {
    let s = start("strict", &three_probes(), 100);
    for (path, status) in [
        ("/probe/20", 200),
        ("/probe/21", 404),
        ("/probe/020", 400),
        ("/probe/-3", 400),
        ("/probe/", 400),
        ("/probe/20/x", 400),
        ("/probe/99999999999999999999999", 400),
        ("/api/probes/3", 200),
        ("/api/probes/abc", 400),
        ("/?q=2", 200),
        ("/?q=high", 200),
        ("/?q=%3Cscript%3E", 400),
        ("/?q=%ZZ", 400),
        ("/?page=0", 400),
        ("/?page=2", 200),
        ("/api/probes?limit=1&offset=1", 200),
        ("/api/probes?limit=x", 400),
    ] {
        assert_eq!(get(s.addr, path).0, status, "{path}");
    }
    let long = format!("/?q={}", "1".repeat(600));
    assert_eq!(get(s.addr, &long).0, 400);
    let (_, html) = get(s.addr, "/?q=high");
    assert!(html.contains("data-probe=\"20\"") && html.contains("data-probe=\"3\""));
    assert!(!html.contains("data-probe=\"100\""));
    let (_, html) = get(s.addr, "/?q=10");
    assert!(html.contains("data-probe=\"100\"") && !html.contains("data-probe=\"20\""));
    let v = json(s.addr, "/api/probes?limit=1&offset=1");
    assert_eq!(v["probes"][0]["probe_id"], 3);
    assert_eq!(v["next_offset"], 2);
    // The existing endpoints are unchanged.
    assert_eq!(json(s.addr, "/api/prediction")["probe_id"], 20);
    assert!(json(s.addr, "/api/history")["history"].is_array());
}

#[test]
fn twelve_thousand_generated_probes_page_and_filter() {
    let cache = generated_cache(12_000, NOW, 6 * 60, 7);
    let mut sorted: Vec<(f64, u64)> = cache
        .predictions
        .iter()
        .map(|p| (p.probability, p.probe_id.unwrap()))
        .collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let s = start("12k", &cache, 100);
    let (status, html) = get(s.addr, "/");
    assert_eq!(status, 200);
    assert_eq!(html.matches("<tr class=\"probe\"").count(), 100);
    assert!(html.contains("page 1 of 120"));
    assert!(html.contains(&format!("data-probe=\"{}\"", sorted[0].1)));
    let (_, last) = get(s.addr, "/?page=120");
    assert!(last.contains(&format!("data-probe=\"{}\"", sorted[11_999].1)));
    let v = json(s.addr, "/api/probes");
    assert_eq!(v["total"], 12_000);
    assert_eq!(v["probes"].as_array().unwrap().len(), 500);
    assert_eq!(v["probes"][0]["probe_id"], sorted[0].1);
    let (_, metrics) = get(s.addr, "/metrics");
    assert_eq!(metrics.matches("netprophet_risk{").count(), 100);
    let (_, one) = get(s.addr, "/?q=1001234");
    assert!(one.contains("data-probe=\"1001234\""));
    assert_eq!(one.matches("<tr class=\"probe\"").count(), 1);
}

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

#[test]
fn the_alert_rules_parse_and_name_metrics_the_server_exports() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(deploy().join("netprophet-alerts.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("the rule file is valid YAML");
    let rules = docs[0]["groups"][0]["rules"]
        .as_vec()
        .expect("groups[0].rules");
    let at_risk = rules
        .iter()
        .find(|r| r["alert"].as_str() == Some("NetprophetPathAtRisk"))
        .expect("the at-risk alert");
    assert_eq!(at_risk["for"].as_str(), Some("10m"));
    let expr = at_risk["expr"].as_str().unwrap();
    assert!(expr.contains("netprophet_risk") && expr.contains("netprophet_alarm_threshold"));
    // Every metric a rule names is one the server exports.
    let s = start("rules", &three_probes(), 100);
    let (_, metrics) = get(s.addr, "/metrics");
    for r in rules {
        let expr = r["expr"].as_str().unwrap();
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("netprophet_"))
        {
            assert!(
                metrics.contains(&format!("\n{name}{{")) || metrics.contains(&format!("\n{name} ")),
                "{name} (in {expr:?}) is not exported"
            );
        }
    }
    let config = std::fs::read_to_string(deploy().join("prometheus.yml")).unwrap();
    let config = YamlLoader::load_from_str(&config).unwrap();
    assert_eq!(
        config[0]["rule_files"][0].as_str(),
        Some("netprophet-alerts.yml")
    );
    // promtool (Debian package `prometheus`) checks the rules' PromQL and
    // runs their unit tests, when it is installed.
    match std::process::Command::new("promtool")
        .arg("--version")
        .output()
    {
        Ok(_) => {
            for args in [
                vec!["check", "rules", "netprophet-alerts.yml"],
                vec!["test", "rules", "netprophet-alerts.test.yml"],
            ] {
                let out = std::process::Command::new("promtool")
                    .args(&args)
                    .current_dir(deploy())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "promtool {args:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Err(_) => eprintln!("skipped the promtool checks: promtool is not installed"),
    }
}

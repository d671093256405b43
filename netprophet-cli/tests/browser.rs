//! The dashboard rendered by a real headless Chromium (Debian's
//! `chromium`; `.ci/run` installs it): the screenshot must show the
//! probability and the chart.
//!
//! Without a browser the test says so and passes, unless
//! `NETPROPHET_REQUIRE_CHROMIUM=1` (set by `.ci/run`) demands one.

mod common;

use std::process::{Command, Stdio};

use common::{free_port, s, tmp};

fn browser() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Pixels within `tolerance` (per channel) of `rgb`.
fn count(pixels: &[u8], channels: usize, rgb: [u8; 3], tolerance: u8) -> usize {
    pixels
        .chunks(channels)
        .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= tolerance))
        .count()
}

#[test]
fn chromium_shows_the_probability_and_the_chart() {
    let Some(chromium) = browser() else {
        assert!(
            std::env::var("NETPROPHET_REQUIRE_CHROMIUM").is_err(),
            "NETPROPHET_REQUIRE_CHROMIUM is set but no Chromium was found"
        );
        eprintln!("skipped: no Chromium on this machine");
        return;
    };
    // A fresh cache from the bundled real minutes at a calm minute.
    let replay = netprophet_cli::replay::Replay::bundled().unwrap();
    let calm = (300..replay.minutes.len())
        .find(|&i| replay.minutes[i].risk < 0.2)
        .unwrap();
    let mut cache = replay.cache_at(calm);
    cache.generated_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let cache_path = tmp("browser-cache.json");
    cache.write(&cache_path).unwrap();

    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args(["serve", "--listen", &addr, "--cache", s(&cache_path)])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(&addr);
    let shot = tmp("dashboard.png");
    let profile = tmp("chromium-profile");
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", s(&profile)),
            &format!("--screenshot={}", s(&shot)),
            &format!("http://{addr}/"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(status.success(), "chromium failed");

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let probability_green = count(pixels, channels, [0x22, 0xc5, 0x5e], 24);
    let latency_line = count(pixels, channels, [0x38, 0xbd, 0xf8], 24);
    let risk_line = count(pixels, channels, [0xfb, 0xbf, 0x24], 24);
    eprintln!("pixels: probability {probability_green}, latency line {latency_line}, risk line {risk_line}");
    assert!(
        probability_green > 200,
        "the green probability is not visible ({probability_green} pixels)"
    );
    assert!(
        latency_line > 300,
        "the latency chart is not visible ({latency_line} pixels)"
    );
    assert!(
        risk_line > 100,
        "the risk chart is not visible ({risk_line} pixels)"
    );
}

/// Runs headless Chromium with `args` then `url`; panics when it fails.
fn chromium(browser: &str, profile: &std::path::Path, args: &[String], url: &str) -> Vec<u8> {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", s(profile)),
        ])
        .args(args)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed on {url}");
    out.stdout
}

/// GET `path` from `addr` as JSON.
fn api(addr: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// Where the screenshots go: a temporary folder, or `docs/` of the
/// repository when `NETPROPHET_SCREENSHOTS=docs` (how the README's
/// pictures were made).
fn screenshot_path(name: &str) -> std::path::PathBuf {
    match std::env::var("NETPROPHET_SCREENSHOTS").as_deref() {
        Ok("docs") => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(name),
        _ => tmp(name),
    }
}

fn decode(path: &std::path::Path) -> (Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (buf, info.color_type.samples())
}

#[test]
fn chromium_shows_the_overview_and_a_probe_page_of_the_demo() {
    let Some(browser) = browser() else {
        assert!(
            std::env::var("NETPROPHET_REQUIRE_CHROMIUM").is_err(),
            "NETPROPHET_REQUIRE_CHROMIUM is set but no Chromium was found"
        );
        eprintln!("skipped: no Chromium on this machine");
        return;
    };
    // The demo on its simulated clock: five real paths, the calibrated
    // sustained-episode model, a tick too long to move during the test.
    let addr = format!("127.0.0.1:{}", free_port());
    let model = common::fixtures().join("sustained_model.json");
    let cache = tmp("demo-cache.json");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args([
            "demo", "--listen", &addr, "--tick", "3600", "--start", "480",
        ])
        .args(["--model", s(&model), "--cache", s(&cache)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = false;
    for _ in 0..600 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ready, "the demo never listened on {addr}");
    let probes = api(&addr, "/api/probes");
    let profile = tmp("chromium-profile-pages");

    // Overview: the rendered rows are the API's probes in risk order.
    let dom = String::from_utf8(chromium(
        browser,
        &profile,
        &["--dump-dom".into()],
        &format!("http://{addr}/"),
    ))
    .unwrap();
    let expected: Vec<String> = probes["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["probe_id"]
                .as_u64()
                .map_or("recording".into(), |i| i.to_string())
        })
        .collect();
    assert_eq!(expected.len(), 5, "the demo replays five paths");
    let rendered: Vec<String> = dom
        .split("data-probe=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_string())
        .collect();
    assert_eq!(rendered, expected);
    let risks: Vec<f64> = probes["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "{risks:?}");
    let week = &probes["track"]["week"];
    let overall = format!(
        "id=\"overall-week\">{}/{} warned, {} false",
        week["warned"], week["episodes"], week["false_warnings"]
    );
    assert!(dom.contains(&overall), "{overall} not in the page");
    let shot = screenshot_path("overview.png");
    chromium(
        browser,
        &profile,
        &[
            "--window-size=1280,1500".into(),
            format!("--screenshot={}", s(&shot)),
        ],
        &format!("http://{addr}/"),
    );
    let (pixels, channels) = decode(&shot);
    let sparklines = count(&pixels, channels, [0x38, 0xbd, 0xf8], 24);
    assert!(
        sparklines > 300,
        "the latency lines are not visible ({sparklines} pixels)"
    );

    // The probe with the most warned episodes this week.
    let busiest = probes["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["probe_id"].is_u64())
        .max_by_key(|p| p["track"]["week"]["episodes"].as_u64().unwrap())
        .unwrap();
    let id = busiest["probe_id"].as_u64().unwrap();
    let one = api(&addr, &format!("/api/probes/{id}"));
    let dom = String::from_utf8(chromium(
        browser,
        &profile,
        &["--dump-dom".into()],
        &format!("http://{addr}/probe/{id}"),
    ))
    .unwrap();
    assert!(dom.contains(&format!("<h1>Probe {id}</h1>")));
    let why = one["why"].as_array().unwrap();
    assert!(!why.is_empty());
    let list = &dom[dom.find("<ul id=\"why\">").expect("the why list")..];
    let list = &list[..list.find("</ul>").unwrap()];
    assert_eq!(list.matches("<li").count(), why.len());
    for (w, item) in why.iter().zip(list.split("<li").skip(1)) {
        assert!(item.contains(&format!("<b>{}</b>", w["feature"].as_str().unwrap())));
        let up = w["contribution"].as_f64().unwrap() > 0.0;
        assert!(item.contains(if up { "pushes up" } else { "pushes down" }));
    }
    let t = &one["track"]["week"];
    let row = format!(
        "<tr id=\"track-week\"><td>7 days</td><td>{}</td><td>{}</td>",
        t["episodes"], t["warned"]
    );
    assert!(dom.contains(&row), "{row} not in the page");
    let shot = screenshot_path("probe.png");
    chromium(
        browser,
        &profile,
        &[
            "--window-size=1280,1300".into(),
            format!("--screenshot={}", s(&shot)),
        ],
        &format!("http://{addr}/probe/{id}"),
    );
    demo.kill().unwrap();
    demo.wait().unwrap();
    let (pixels, channels) = decode(&shot);
    let latency = count(&pixels, channels, [0x38, 0xbd, 0xf8], 24);
    let risk = count(&pixels, channels, [0xfb, 0xbf, 0x24], 24);
    let degraded = count(&pixels, channels, [0xdc, 0x26, 0x26], 16);
    eprintln!("probe {id} pixels: latency {latency}, risk {risk}, degraded {degraded}");
    assert!(latency > 300 && risk > 100, "the chart is not visible");
    assert!(degraded > 20, "no degraded minute is drawn");
}

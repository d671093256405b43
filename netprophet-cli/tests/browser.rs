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

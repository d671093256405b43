//! Draws what each target labels on five hours of a real RIPE Atlas trace
//! (probe 13746, 2016-11-27 15:20 to 20:20 UTC, `fixtures/data/rtt-traces/`):
//! the minute latency and the degradation threshold, then one row of marks
//! per target for the minutes it labels positive. Writes `docs/targets.svg`
//! (the README shows it).
//!
//!     cargo run --release -p netprophet-benches --bin target_picture

use std::fmt::Write as _;

use netprophet_core::atlas::SampleFilter;
use netprophet_core::features::{FeatureConfig, ProbeCollector};
use netprophet_core::labels::{label, LabelConfig};
use netprophet_core::traces::{TraceColumns, TraceReader};

fn main() {
    let path = netprophet_benches::fixtures().join("data/rtt-traces/13746.csv");
    let mut probes = ProbeCollector::new();
    TraceReader::new(&path, TraceColumns::default())
        .read_file(&SampleFilter::default(), |s| probes.extend(s))
        .unwrap_or_else(|e| {
            eprintln!("target_picture: {e}");
            std::process::exit(1)
        });
    let frame = &probes.probe_frames(13746, FeatureConfig::default())[0];
    let (from, to) = (2960usize, 3260usize);
    let targets = [
        (
            "original: the minute 5 min ahead is degraded",
            LabelConfig::default(),
        ),
        (
            "sustained: median of the next 15 min above the threshold known now, by 2 ms or more",
            LabelConfig::sustained(),
        ),
        (
            "onset: a sustained episode ahead, none under way now",
            LabelConfig::onset(),
        ),
    ];
    let labels: Vec<_> = targets.iter().map(|(_, c)| label(frame, *c)).collect();

    let (w, left, right, top) = (900.0, 60.0, 20.0, 30.0);
    let plot_h = 220.0;
    let row_h = 26.0;
    let h = top + plot_h + 30.0 + row_h * 3.0 + 40.0;
    let x = |i: usize| left + (i - from) as f64 / (to - from) as f64 * (w - left - right);
    let window: Vec<usize> = (from..to).collect();
    let lat = |i: usize| frame.avg_latency[i];
    let thr = |i: usize| labels[0].threshold[i];
    let (lo, hi) = window
        .iter()
        .flat_map(|&i| [lat(i), thr(i)])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = (lo - 2.0, hi + 2.0);
    let y = |v: f64| top + (1.0 - (v - lo) / (hi - lo)) * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{left}" y="18" font-size="13">What each target labels: RIPE Atlas probe 13746 to b.root-servers.net, 2016-11-27 15:20-20:20 UTC (one ping result every 4 min)</text>
<rect x="{left}" y="{top}" width="{}" height="{plot_h}" fill="none" stroke="#999"/>
<text x="6" y="{:.1}" fill="#555">{hi:.0} ms</text><text x="6" y="{:.1}" fill="#555">{lo:.0} ms</text>
"##,
        w - left - right,
        top + 10.0,
        top + plot_h
    );
    for (series, color, dash) in [
        (0, "#2471a3", ""),
        (1, "#c0392b", " stroke-dasharray=\"5 3\""),
    ] {
        let mut d = String::new();
        for &i in &window {
            let v = if series == 0 { lat(i) } else { thr(i) };
            if v.is_finite() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if d.is_empty() { "M" } else { "L" },
                    x(i),
                    y(v)
                );
            }
        }
        let _ = writeln!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>"#
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" fill="#2471a3">latency (minute mean, forward-filled)</text><text x="{:.1}" y="{:.1}" fill="#c0392b">threshold: rolling mean + 2.5 x rolling std (60 min)</text>"##,
        left + 8.0,
        top + 16.0,
        left + 8.0,
        top + 32.0
    );
    for (k, ((name, _), l)) in targets.iter().zip(&labels).enumerate() {
        let ry = top + plot_h + 30.0 + row_h * k as f64;
        let _ = writeln!(
            svg,
            r##"<text x="{left}" y="{:.1}" fill="#333">{name}</text>"##,
            ry - 3.0
        );
        for &i in &window {
            if l.target[i] == Some(true) {
                let _ = writeln!(
                    svg,
                    r##"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="8" fill="#d68910"/>"##,
                    x(i),
                    ry,
                    (w - left - right) / (to - from) as f64
                );
            }
        }
    }
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="{:.1}" fill="#555">Orange marks: minutes whose target is true (a model scored at that minute should warn). Ticks every 30 min.</text>"##,
        h - 10.0
    );
    for &i in window.iter().step_by(30) {
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ccc"/>"##,
            x(i),
            x(i),
            top + plot_h,
            top + plot_h + 6.0
        );
    }
    svg.push_str("</svg>\n");
    let out = netprophet_benches::fixtures().join("../docs/targets.svg");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, svg).unwrap();
    println!("wrote {}", out.display());
}

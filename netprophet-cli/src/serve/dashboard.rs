//! The dashboard page: one self-contained HTML document (inline CSS and
//! SVG, no scripts, no external assets), rendered from the cache.

use std::fmt::Write;

use jiff::tz::TimeZone;

pub use super::html::{
    cache_age, escape, local_time, Freshness, HIGH_RISK, MAX_CLOCK_SKEW, STALE_CRITICAL,
    STALE_WARN, STYLE,
};
use super::html::{chart_open, ms};
use super::overview::{Filter, Served};
use super::pages::{overview_sections, PAGES_STYLE};
use crate::cache::HistoryPoint;

/// Renders the dashboard for `cache` as seen at `now` (Unix seconds): the
/// headline probe's cards and chart, and with more than one probe the
/// overview of all of them (`filter`ed, page `page` of the table).
pub fn render(
    cache: &Served,
    now: i64,
    tz: &TimeZone,
    zone_name: &str,
    filter: &Filter,
    page: usize,
) -> String {
    let age = cache_age(now, cache.generated_at);
    let fresh = Freshness::of(now, cache.generated_at);
    let refresh = if fresh == Freshness::Fresh { 60 } else { 30 };
    let head = cache.headline();
    let p = head.probability;
    // A model that carries its own alarm threshold (chosen on validation
    // rows) is shown red from there; others from 40 %.
    let alarm = cache.alarm_threshold();
    let level = if p >= alarm { "high" } else { "low" };
    let predicts = cache
        .model
        .predicts
        .clone()
        .unwrap_or_else(|| "a degraded minute 5 minutes ahead".into());
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>netprophet: {pct:.0}% degradation risk</title><style>{STYLE}{PAGES_STYLE}</style></head><body><main>\
         <h1>netprophet: {question}</h1>",
        pct = p * 100.0,
        // The horizon the model predicts for (5 minutes for the original
        // target, 15 for the sustained one), not a fixed 5.
        question = format_args!(
            "{} degraded in {} minutes?",
            if cache.predictions.len() > 1 {
                "which paths will be"
            } else {
                "will this path be"
            },
            cache.horizon_minutes
        )
    );
    match fresh {
        Freshness::Fresh => {}
        Freshness::Stale => {
            let _ = write!(
                html,
                "<div class=\"banner warn\" id=\"stale\">Data is {} minutes old: the last refresh \
                 may have failed. Showing the last good prediction.</div>",
                age / 60
            );
        }
        Freshness::Critical => {
            let _ = write!(
                html,
                "<div class=\"banner crit\" id=\"stale\">Data is {} minutes old: refreshes are \
                 failing. This prediction is out of date.</div>",
                age / 60
            );
        }
        Freshness::Future => {
            let _ = write!(
                html,
                "<div class=\"banner crit\" id=\"stale\">The data claims to be from {} minutes in \
                 the future: a clock is wrong, so how old this prediction is cannot be told.</div>",
                age.unsigned_abs() / 60
            );
        }
    }
    let _ = write!(
        html,
        "<div class=\"cards\">\
         <div class=\"card risk {level}\" id=\"risk\"><div class=\"label\">Risk of {predicts}</div>\
         <div class=\"value\">{pct:.1}%</div><div class=\"label\">{word}</div></div>\
         <div class=\"card\"><div class=\"label\">Latency (mean RTT)</div><div class=\"value\">{lat}</div></div>\
         <div class=\"card\"><div class=\"label\">Jitter (RTT std dev)</div><div class=\"value\">{jit}</div></div>\
         </div>",
        pct = p * 100.0,
        word = if p >= alarm {
            "HIGH: degradation likely"
        } else {
            "normal"
        },
        // A model without these inputs: the chart's latest minute.
        lat = ms(head
            .input("avg_latency")
            .or_else(|| cache.history.last().and_then(|h| h.latency_ms))),
        jit = ms(head
            .input("jitter")
            .or_else(|| cache.history.last().and_then(|h| h.jitter_ms))),
    );
    html.push_str("<div class=\"chart\">");
    html.push_str(&chart_svg(&cache.history, alarm));
    html.push_str("</div>");
    // One probe with an id still gets its row, which links to its page.
    if cache.predictions.len() > 1 || head.probe_id.is_some() {
        overview_sections(cache, now, filter, page, &mut html);
    }
    let _ = write!(
        html,
        "<div class=\"meta\">Last update: <b>{utc}</b> &middot; {local} ({zone})<br>\
         Telemetry minute: {minute} &middot; probe {probe} &middot; source: {source}<br>\
         Model: {file} ({trees} trees, digest {digest}) &middot; page refreshes every {refresh} s</div>\
         </main></body></html>",
        utc = local_time(cache.generated_at, &TimeZone::UTC),
        local = local_time(cache.generated_at, tz),
        zone = escape(zone_name),
        minute = local_time(head.minute, &TimeZone::UTC),
        probe = head.probe_id.map_or("n/a".into(), |i| i.to_string()),
        source = escape(&cache.source),
        file = escape(&cache.model.file),
        trees = cache.model.trees,
        digest = escape(&cache.model.digest),
    );
    html
}

/// The latency and risk chart as inline SVG: latency (ms) on the left
/// axis, risk (%) on the right, with the alarm threshold dashed.
pub fn chart_svg(history: &[HistoryPoint], alarm: f64) -> String {
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const L: f64 = 50.0;
    const R: f64 = 50.0;
    const T: f64 = 20.0;
    const B: f64 = 30.0;
    let mut svg = match chart_open(W, H, "Recent latency and degradation risk", history.len()) {
        Ok(svg) => svg,
        Err(empty) => return empty,
    };
    let t0 = history[0].minute as f64;
    let t1 = history[history.len() - 1].minute as f64;
    let span = (t1 - t0).max(60.0);
    let lats: Vec<f64> = history.iter().filter_map(|h| h.latency_ms).collect();
    let (mut lo, mut hi) = lats
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1.0 {
        hi = lo + 1.0;
    }
    let x = |t: i64| L + (t as f64 - t0) / span * (W - L - R);
    let y_lat = |v: f64| T + (1.0 - (v - lo) / (hi - lo)) * (H - T - B);
    let y_risk = |v: f64| T + (1.0 - v.clamp(0.0, 1.0)) * (H - T - B);
    // Axes, threshold and labels.
    let _ = write!(
        svg,
        "<rect x=\"{L}\" y=\"{T}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#334155\"/>\
         <line x1=\"{L}\" x2=\"{}\" y1=\"{y40:.1}\" y2=\"{y40:.1}\" stroke=\"#f87171\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#f87171\" font-size=\"11\">{alarm_pct:.0}%</text>\
         <text x=\"4\" y=\"{:.1}\" fill=\"#38bdf8\" font-size=\"11\">{hi:.1}</text>\
         <text x=\"4\" y=\"{:.1}\" fill=\"#38bdf8\" font-size=\"11\">{lo:.1}</text>\
         <text x=\"4\" y=\"12\" fill=\"#38bdf8\" font-size=\"11\">latency ms</text>\
         <text x=\"{}\" y=\"12\" fill=\"#fbbf24\" font-size=\"11\" text-anchor=\"end\">risk %</text>",
        W - L - R,
        H - T - B,
        W - R,
        W - R + 4.0,
        y_risk(alarm) + 4.0,
        T + 4.0,
        H - B,
        W - 4.0,
        y40 = y_risk(alarm),
        alarm_pct = alarm * 100.0,
    );
    let _ = write!(
        svg,
        "<text x=\"{L}\" y=\"{}\" fill=\"#94a3b8\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" fill=\"#94a3b8\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        H - 8.0,
        local_time(t0 as i64, &TimeZone::UTC),
        W - R,
        H - 8.0,
        local_time(t1 as i64, &TimeZone::UTC),
    );
    // Latency polyline, broken where latency is unknown.
    let mut path = String::new();
    let mut pen_down = false;
    for h in history {
        match h.latency_ms {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(h.minute),
                    y_lat(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(
        svg,
        "<path id=\"latency\" d=\"{path}\" fill=\"none\" stroke=\"#38bdf8\" stroke-width=\"1.5\"/>"
    );
    let mut risk = String::new();
    for (i, h) in history.iter().enumerate() {
        let _ = write!(
            risk,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(h.minute),
            y_risk(h.risk)
        );
    }
    let _ = write!(
        svg,
        "<path id=\"riskline\" d=\"{risk}\" fill=\"none\" stroke=\"#fbbf24\" stroke-width=\"2\"/></svg>"
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::tests::sample;

    fn render(c: crate::cache::PredictionCache, now: i64, tz: &TimeZone, zone: &str) -> String {
        super::render(&Served::new(c), now, tz, zone, &Filter::All, 1)
    }

    #[test]
    fn colours_and_banners_follow_the_thresholds() {
        let tz = TimeZone::get("America/Los_Angeles").unwrap();
        let low = render(
            sample(1_770_000_000, 0.39),
            1_770_000_000,
            &tz,
            "America/Los_Angeles",
        );
        assert!(low.contains("risk low") && !low.contains("id=\"stale\""));
        assert!(low.contains("content=\"60\""));
        let high = render(
            sample(1_770_000_000, 0.40),
            1_770_000_000 + 15 * 60,
            &tz,
            "x",
        );
        assert!(high.contains("risk high") && high.contains("banner warn"));
        assert!(high.contains("content=\"30\""));
        let old = render(
            sample(1_770_000_000, 0.1),
            1_770_000_000 + 30 * 60,
            &tz,
            "x",
        );
        assert!(old.contains("banner crit"));
        assert!(low.contains("PST") || low.contains("PDT"));
        assert!(low.contains("<svg") && low.contains("id=\"latency\""));
        assert!(!low.contains("http://") || low.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn the_heading_names_the_models_horizon() {
        let tz = TimeZone::UTC;
        let original = render(sample(1_770_000_000, 0.2), 1_770_000_000, &tz, "UTC");
        assert!(original.contains("degraded in 5 minutes?"), "{original}");
        let mut sustained = sample(1_770_000_000, 0.2);
        sustained.horizon_minutes = 15;
        let page = render(sustained, 1_770_000_000, &tz, "UTC");
        assert!(page.contains("will this path be degraded in 15 minutes?"));
    }

    #[test]
    fn one_probe_with_an_id_links_to_its_page_and_one_without_does_not() {
        let tz = TimeZone::UTC;
        let with_id = render(sample(1_770_000_000, 0.2), 1_770_000_000, &tz, "UTC");
        assert!(with_id.contains("<a href=\"/probe/7\">7</a>"));
        let mut anonymous = sample(1_770_000_000, 0.2);
        anonymous.predictions[0].probe_id = None;
        let page = render(anonymous, 1_770_000_000, &tz, "UTC");
        assert!(!page.contains("id=\"probes\"") && page.contains("probe n/a"));
    }

    #[test]
    fn chart_breaks_the_line_at_unknown_latency() {
        let mut h = sample(1_770_000_000, 0.2).history;
        h[4].latency_ms = None;
        let svg = chart_svg(&h, HIGH_RISK);
        assert_eq!(svg.matches('M').count() - svg.matches("M ").count(), 3);
    }
}

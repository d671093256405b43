//! What the pages share: freshness of the cache, escaping, local times,
//! the style sheet and a chart's opening, so the dashboard and the
//! per-probe pages render alike without importing each other.

use std::fmt::Write;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Probability at or above which the risk is shown red, for a model
/// without its own alarm threshold.
pub const HIGH_RISK: f64 = crate::cache::DEFAULT_ALARM;
/// Cache age (seconds) from which the page warns in yellow.
pub const STALE_WARN: i64 = 15 * 60;
/// Cache age (seconds) from which the page warns in red.
pub const STALE_CRITICAL: i64 = 30 * 60;

/// How far ahead of the server's clock a cache's `generated_at` may be
/// (clock skew between the refresher and the server) and still count as
/// written now.
pub const MAX_CLOCK_SKEW: i64 = 5 * 60;

/// How fresh the cache is, from the page's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than 15 minutes.
    Fresh,
    /// 15 to 30 minutes old: yellow banner.
    Stale,
    /// Older than 30 minutes: red banner.
    Critical,
    /// Written more than [`MAX_CLOCK_SKEW`] in the future: a clock is
    /// wrong, so the cache's age is unknown; red banner, never fresh.
    Future,
}

/// The age of a cache written at `generated_at`, as shown and exported:
/// 0 for a time within the clock skew ahead of `now`, negative (the true
/// difference) for one further ahead.
pub fn cache_age(now: i64, generated_at: i64) -> i64 {
    let age = now.saturating_sub(generated_at);
    if (-MAX_CLOCK_SKEW..0).contains(&age) {
        0
    } else {
        age
    }
}

impl Freshness {
    /// Classifies a cache written at `generated_at`, seen at `now`.
    pub fn of(now: i64, generated_at: i64) -> Freshness {
        match cache_age(now, generated_at) {
            age if age < 0 => Freshness::Future,
            age => Freshness::of_age(age),
        }
    }

    /// Classifies a cache age in seconds.
    pub fn of_age(age: i64) -> Freshness {
        if age >= STALE_CRITICAL {
            Freshness::Critical
        } else if age >= STALE_WARN {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Formats a Unix time in `tz` as `2026-02-09 15:04 PST`.
pub fn local_time(unix: i64, tz: &TimeZone) -> String {
    match Timestamp::from_second(unix) {
        Ok(ts) => ts
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => "invalid time".into(),
    }
}

/// A latency for a page: `12.34 ms`, or `n/a`.
pub(crate) fn ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2} ms"))
}

/// The pages' shared style sheet.
pub const STYLE: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#0f172a;color:#e2e8f0}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:1.4rem;margin:0 0 16px}
.banner{padding:12px 16px;border-radius:8px;margin-bottom:16px;font-weight:600}
.banner.warn{background:#facc15;color:#1f2937}
.banner.crit{background:#dc2626;color:#fff}
.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{background:#1e293b;border-radius:12px;padding:16px 20px;min-width:180px;flex:1}
.card .label{font-size:.85rem;color:#94a3b8}
.card .value{font-size:1.8rem;font-weight:700;margin-top:4px}
.risk{border:3px solid}
.risk.low{border-color:#16a34a}.risk.low .value{color:#22c55e}
.risk.high{border-color:#dc2626}.risk.high .value{color:#f87171}
.risk.high{animation:pulse 1.6s ease-in-out infinite}
@keyframes pulse{0%,100%{box-shadow:0 0 0 0 rgba(220,38,38,.7)}50%{box-shadow:0 0 0 14px rgba(220,38,38,0)}}
.chart{background:#1e293b;border-radius:12px;margin-top:16px;padding:12px}
.meta{color:#94a3b8;font-size:.85rem;margin-top:16px;line-height:1.6}
table{border-collapse:collapse;margin-top:16px;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #334155;font-size:.9rem}
";

/// Opens a chart's `<svg>` element of `w` x `h` with its accessible
/// label. With fewer than two points there is nothing to draw: the
/// finished "not enough history" chart is the error.
pub(crate) fn chart_open(w: f64, h: f64, label: &str, points: usize) -> Result<String, String> {
    let mut svg = String::with_capacity(12 * 1024);
    let _ = write!(
        svg,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         role=\"img\" aria-label=\"{label}\">"
    );
    if points < 2 {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" fill=\"#94a3b8\" text-anchor=\"middle\">Not enough history yet</text></svg>",
            w / 2.0,
            h / 2.0
        );
        return Err(svg);
    }
    Ok(svg)
}

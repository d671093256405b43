//! The pages and JSON of many probes: the overview table (every probe in
//! risk order, filtered and paginated), one probe's page (its chart, why
//! the model says what it says, its track record and episodes) and the
//! `/api/probes` bodies. Everything is rendered from the indexed cache
//! ([`Served`]); nothing here scores.

use std::fmt::Write;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::html::{cache_age, chart_open, escape, local_time, ms, Freshness, STALE_WARN, STYLE};
use super::overview::{Filter, Served, Track, TrackSummary};
use crate::cache::record::BUCKET_SECONDS;
use crate::cache::{Contribution, ProbePrediction, ProbeRecord};

/// Probes per page of the overview table.
pub const PAGE_ROWS: usize = 100;
/// Probes per `/api/probes` response unless `limit` says otherwise.
pub const API_LIMIT: usize = 500;
/// Episodes listed on a probe page.
const MAX_EPISODES: usize = 20;
/// How far before a degraded episode a warning is looked for on the probe
/// page (beyond the model's horizon).
const LOOK_BACK_MINUTES: i64 = 30;

/// Colour class of a probe: `high` at or above the alarm threshold,
/// `warn` from half of it, else `low`.
pub fn status(p: f64, alarm: f64) -> &'static str {
    if p >= alarm {
        "high"
    } else if p >= alarm / 2.0 {
        "warn"
    } else {
        "low"
    }
}

/// Age in words: `45 s`, `12 min`, `3 h 5 min`.
fn age_text(seconds: i64) -> String {
    if seconds < 0 {
        "in the future".into()
    } else if seconds < 120 {
        format!("{seconds} s")
    } else if seconds < 7200 {
        format!("{} min", seconds / 60)
    } else {
        format!("{} h {} min", seconds / 3600, seconds % 3600 / 60)
    }
}

fn probe_name(p: &ProbePrediction) -> String {
    p.probe_id.map_or("recording".into(), |i| i.to_string())
}

/// Latency sparkline of a record's buckets (an empty cell without one).
fn sparkline(record: Option<&ProbeRecord>, class: &str) -> String {
    let Some(r) = record else {
        return String::new();
    };
    let pts: Vec<(usize, f32)> = r
        .latency
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, v)| (i, *v))
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (lo, hi) = pts
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let span = (hi - lo).max(0.5);
    let n = (r.latency.len().max(2) - 1) as f32;
    let mut d = String::with_capacity(pts.len() * 12);
    for (k, (i, v)) in pts.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if k == 0 { "M" } else { "L" },
            *i as f32 / n * 118.0 + 1.0,
            22.0 - (v - lo) / span * 20.0
        );
    }
    format!(
        "<svg class=\"spark {class}\" viewBox=\"0 0 120 24\" width=\"120\" height=\"24\" aria-hidden=\"true\">\
         <path d=\"{d}\" fill=\"none\" stroke-width=\"1.5\"/></svg>"
    )
}

fn track_cell(t: &TrackSummary) -> String {
    if t.minutes == 0 {
        return "n/a".into();
    }
    format!(
        "{}/{} warned, {} false",
        t.warned, t.episodes, t.false_warnings
    )
}

/// Extra style of the overview and probe pages.
pub const PAGES_STYLE: &str = "
a{color:#7dd3fc}
.card .value.small{font-size:1.1rem;line-height:1.6}
.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:6px;vertical-align:middle}
.dot.high{background:#dc2626}.dot.warn{background:#f59e0b}.dot.low{background:#16a34a}
.spark path{stroke:#38bdf8}.spark.high path{stroke:#f87171}.spark.warn path{stroke:#fbbf24}
td.stale{color:#facc15}
form{margin-top:16px}input{background:#1e293b;color:#e2e8f0;border:1px solid #334155;border-radius:6px;padding:6px 10px;width:16rem}
.pager{margin-top:8px;color:#94a3b8}
#why li.up b{color:#f87171}#why li.down b{color:#22c55e}
.bar{display:inline-block;height:.6em;vertical-align:middle;margin-left:8px}
.bar.up{background:#f87171}.bar.down{background:#22c55e}
";

/// The overview's summary, filter box and probe table, appended to the
/// dashboard page when the cache holds more than one probe.
pub fn overview_sections(s: &Served, now: i64, filter: &Filter, page: usize, html: &mut String) {
    let alarm = s.alarm_threshold();
    let _ = write!(
        html,
        "<h2>All probes</h2><div class=\"cards\">\
         <div class=\"card\"><div class=\"label\">Probes</div><div class=\"value\" id=\"probe-count\">{}</div></div>\
         <div class=\"card\"><div class=\"label\">At risk now (&ge; {:.0}%)</div><div class=\"value\" id=\"at-risk\">{}</div></div>\
         <div class=\"card\"><div class=\"label\">Track record, 24 h</div><div class=\"value small\" id=\"overall-day\">{}</div></div>\
         <div class=\"card\"><div class=\"label\">Track record, 7 days</div><div class=\"value small\" id=\"overall-week\">{}</div></div>\
         </div>",
        s.predictions.len(),
        alarm * 100.0,
        s.at_risk,
        track_cell(&s.overall.day),
        track_cell(&s.overall.week),
    );
    let _ = write!(
        html,
        "<form method=\"get\" action=\"/\"><input name=\"q\" id=\"filter\" maxlength=\"64\" \
         placeholder=\"probe id, high or low\" value=\"{}\"> <button>Filter</button></form>",
        escape(filter.text())
    );
    let total = s.filtered(filter).count();
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let page = page.clamp(1, pages);
    html.push_str(
        "<table id=\"probes\"><tr><th>#</th><th>Probe</th><th>Risk</th><th>Latency</th>\
         <th>Jitter</th><th>Last 6 h</th><th>Data age</th><th>Warnings, 7 days</th></tr>",
    );
    for (rank, i) in s
        .filtered(filter)
        .enumerate()
        .skip((page - 1) * PAGE_ROWS)
        .take(PAGE_ROWS)
    {
        let p = &s.predictions[i];
        let st = status(p.probability, alarm);
        // Data age: from the end of the minute the prediction is for.
        let age = cache_age(now, p.minute + 60);
        let name = match p.probe_id {
            Some(id) => format!("<a href=\"/probe/{id}\">{id}</a>"),
            None => "recording".into(),
        };
        let _ = write!(
            html,
            "<tr class=\"probe\" data-probe=\"{}\"><td>{}</td><td><span class=\"dot {st}\"></span>{name}</td>\
             <td class=\"risk-cell\">{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>",
            probe_name(p),
            rank + 1,
            p.probability * 100.0,
            ms(s.latency(i)),
            ms(p.input("jitter")),
            sparkline(s.record(i), st),
            if age >= STALE_WARN { " class=\"stale\"" } else { "" },
            age_text(age),
            track_cell(&s.track[i].week),
        );
    }
    html.push_str("</table>");
    let link = |n: usize| {
        let q = filter.text();
        if q.is_empty() {
            format!("/?page={n}")
        } else {
            format!("/?q={}&amp;page={n}", escape(q))
        }
    };
    let _ = write!(
        html,
        "<div class=\"pager\" id=\"pager\">{total} probes{} &middot; page {page} of {pages}",
        if matches!(filter, Filter::All) {
            String::new()
        } else {
            format!(" match \u{201c}{}\u{201d}", escape(filter.text()))
        }
    );
    if page > 1 {
        let _ = write!(
            html,
            " &middot; <a href=\"{}\">previous</a>",
            link(page - 1)
        );
    }
    if page < pages {
        let _ = write!(
            html,
            " &middot; <a href=\"{}\" id=\"next\">next</a>",
            link(page + 1)
        );
    }
    html.push_str("</div>");
}

/// The probe page: status, chart, why, track record, episodes.
pub fn probe_page(s: &Served, i: usize, now: i64, tz: &TimeZone, zone_name: &str) -> String {
    let p = &s.predictions[i];
    let alarm = s.alarm_threshold();
    let st = status(p.probability, alarm);
    let name = probe_name(p);
    let record = s.record(i);
    let age = cache_age(now, p.minute + 60);
    let mut html = String::with_capacity(24 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"60\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>netprophet: probe {name}, {pct:.0}% risk</title><style>{STYLE}{PAGES_STYLE}</style></head><body><main>\
         <p><a href=\"/\">&larr; all probes</a></p><h1>Probe {name}</h1>",
        pct = p.probability * 100.0
    );
    if Freshness::of_age(age.max(0)) != Freshness::Fresh {
        let _ = write!(
            html,
            "<div class=\"banner warn\" id=\"stale\">This probe's latest data is {} old.</div>",
            age_text(age)
        );
    }
    let predicts = s
        .model
        .predicts
        .clone()
        .unwrap_or_else(|| "a degraded minute 5 minutes ahead".into());
    let _ = write!(
        html,
        "<div class=\"cards\">\
         <div class=\"card risk {level}\" id=\"risk\"><div class=\"label\">Risk of {predicts}</div>\
         <div class=\"value\">{pct:.1}%</div><div class=\"label\"><span class=\"dot {st}\"></span>{word}</div></div>\
         <div class=\"card\"><div class=\"label\">Latency (mean RTT)</div><div class=\"value\">{lat}</div></div>\
         <div class=\"card\"><div class=\"label\">Jitter (RTT std dev)</div><div class=\"value\">{jit}</div></div>\
         <div class=\"card\"><div class=\"label\">Data age</div><div class=\"value\">{age}</div></div>\
         </div>",
        level = if p.probability >= alarm { "high" } else { "low" },
        pct = p.probability * 100.0,
        word = if p.probability >= alarm {
            "HIGH: degradation likely"
        } else {
            "normal"
        },
        predicts = escape(&predicts),
        lat = ms(s.latency(i)),
        jit = ms(p.input("jitter")),
        age = age_text(age),
    );
    html.push_str("<div class=\"chart\">");
    match record {
        Some(r) => html.push_str(&probe_chart(r, alarm)),
        None => html.push_str("<p>No recent minutes are recorded for this probe.</p>"),
    }
    html.push_str("</div>");
    why_list(&p.why, &mut html);
    track_table(&s.track[i], &mut html);
    if let Some(r) = record {
        episodes(r, i64::from(s.horizon_minutes), &mut html);
    }
    let _ = write!(
        html,
        "<div class=\"meta\">Telemetry minute: {minute} ({local}, {zone}) &middot; cache written {utc}<br>\
         Model: {file} ({trees} trees, digest {digest}) &middot; JSON: <a href=\"/api/probes/{name}\">/api/probes/{name}</a></div>\
         </main></body></html>",
        minute = local_time(p.minute, &TimeZone::UTC),
        local = local_time(p.minute, tz),
        zone = escape(zone_name),
        utc = local_time(s.generated_at, &TimeZone::UTC),
        file = escape(&s.model.file),
        trees = s.model.trees,
        digest = escape(&s.model.digest),
    );
    html
}

fn why_list(why: &[Contribution], html: &mut String) {
    html.push_str("<h2>Why</h2>");
    if why.is_empty() {
        html.push_str("<p id=\"why-none\">This prediction carries no feature contributions (a cache written before they were stored).</p>");
        return;
    }
    let top = why
        .iter()
        .map(|c| c.contribution.abs())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    html.push_str("<ul id=\"why\">");
    for c in why {
        let up = c.contribution > 0.0;
        let _ = write!(
            html,
            "<li class=\"{cls}\"><b>{feature}</b> = {value} {verb} the risk ({sign}{v:.3} log-odds)\
             <span class=\"bar {cls}\" style=\"width:{w:.0}px\"></span></li>",
            cls = if up { "up" } else { "down" },
            feature = escape(&c.feature),
            value = c.value.map_or("missing".into(), |v| format!("{v:.3}")),
            verb = if up { "pushes up" } else { "pushes down" },
            sign = if up { "+" } else { "" },
            v = c.contribution,
            w = c.contribution.abs() / top * 120.0,
        );
    }
    html.push_str("</ul>");
}

fn summary_cells(t: &TrackSummary) -> String {
    if t.minutes == 0 {
        return "<td colspan=\"5\">no outcome known yet</td>".into();
    }
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        t.episodes,
        t.warned,
        t.episodes - t.warned,
        t.false_warnings,
        t.median_warning_minutes
            .map_or("n/a".into(), |m| format!("{m:.0} min"))
    )
}

fn track_table(t: &Track, html: &mut String) {
    let _ = write!(
        html,
        "<h2>Track record</h2><table id=\"track\"><tr><th>Window</th><th>Degraded episodes</th>\
         <th>Warned</th><th>Missed</th><th>False warnings</th><th>Median warning time</th></tr>\
         <tr id=\"track-day\"><td>24 h</td>{}</tr><tr id=\"track-week\"><td>7 days</td>{}</tr></table>",
        summary_cells(&t.day),
        summary_cells(&t.week)
    );
}

fn episodes(r: &ProbeRecord, horizon: i64, html: &mut String) {
    html.push_str("<h2>Degraded episodes and the warnings before them</h2><ul id=\"episodes\">");
    let mut any = false;
    for run in r.degraded.0.iter().rev().take(MAX_EPISODES) {
        any = true;
        let from = run[0] - (horizon + LOOK_BACK_MINUTES) * 60;
        let first = r.alarms.clip(from, run[1]).0.first().map(|a| a[0]);
        let warned = match first {
            Some(t) if t <= run[0] => format!(
                "first warning {} ({} min before)",
                local_time(t, &TimeZone::UTC),
                (run[0] - t) / 60
            ),
            Some(t) => format!(
                "first warning {} ({} min after it began)",
                local_time(t, &TimeZone::UTC),
                (t - run[0]) / 60
            ),
            None => "no warning".into(),
        };
        let _ = write!(
            html,
            "<li>{} to {} ({} min): {warned}</li>",
            local_time(run[0], &TimeZone::UTC),
            local_time(run[1] + 60, &TimeZone::UTC),
            (run[1] - run[0]) / 60 + 1
        );
    }
    if !any {
        html.push_str("<li>none in the last 7 days</li>");
    }
    html.push_str("</ul>");
}

/// The probe page's chart: latency (left axis) with the degradation
/// threshold and the band above it shaded, risk (right axis) with the
/// alarm threshold, and strips for the degraded minutes and the warnings.
pub fn probe_chart(r: &ProbeRecord, alarm: f64) -> String {
    const W: f64 = 900.0;
    const H: f64 = 280.0;
    const L: f64 = 50.0;
    const R: f64 = 50.0;
    const T: f64 = 20.0;
    const B: f64 = 50.0;
    let n = r.risk.len();
    let mut svg = match chart_open(
        W,
        H,
        "Latency, threshold, risk, degraded minutes and warnings",
        n,
    ) {
        Ok(svg) => svg,
        Err(empty) => return empty,
    };
    let t0 = r.bucket_start;
    let t1 = t0 + n as i64 * BUCKET_SECONDS;
    let x = |t: i64| L + (t - t0) as f64 / (t1 - t0) as f64 * (W - L - R);
    let xb = |i: usize| x(t0 + i as i64 * BUCKET_SECONDS + BUCKET_SECONDS / 2);
    let vals = r
        .latency
        .iter()
        .chain(&r.threshold)
        .filter(|v| v.is_finite())
        .map(|v| f64::from(*v));
    let (mut lo, mut hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    hi = hi.max(lo + 1.0);
    let plot_b = H - B;
    let y_lat = |v: f64| T + (1.0 - (v - lo) / (hi - lo)) * (plot_b - T);
    let y_risk = |v: f64| T + (1.0 - v.clamp(0.0, 1.0)) * (plot_b - T);
    let _ = write!(
        svg,
        "<rect x=\"{L}\" y=\"{T}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#334155\"/>\
         <text x=\"4\" y=\"12\" fill=\"#38bdf8\" font-size=\"11\">latency ms</text>\
         <text x=\"4\" y=\"{:.1}\" fill=\"#38bdf8\" font-size=\"11\">{hi:.1}</text>\
         <text x=\"4\" y=\"{:.1}\" fill=\"#38bdf8\" font-size=\"11\">{lo:.1}</text>\
         <text x=\"{}\" y=\"12\" fill=\"#fbbf24\" font-size=\"11\" text-anchor=\"end\">risk %</text>\
         <line x1=\"{L}\" x2=\"{}\" y1=\"{ya:.1}\" y2=\"{ya:.1}\" stroke=\"#fbbf24\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#fbbf24\" font-size=\"11\">{:.0}%</text>",
        W - L - R,
        plot_b - T,
        T + 4.0,
        plot_b,
        W - 4.0,
        W - R,
        W - R + 4.0,
        y_risk(alarm) + 4.0,
        alarm * 100.0,
        ya = y_risk(alarm),
    );
    // The band above the threshold: where a minute counts as degraded.
    let mut band = String::new();
    let mut line = String::new();
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let flush = |seg: &mut Vec<(f64, f64)>, band: &mut String, line: &mut String| {
        if seg.len() >= 2 {
            let _ = write!(band, "M{:.1},{T} ", seg[0].0);
            for (k, (px, py)) in seg.iter().enumerate() {
                let _ = write!(band, "L{px:.1},{py:.1} ");
                let _ = write!(line, "{}{px:.1},{py:.1} ", if k == 0 { "M" } else { "L" });
            }
            let _ = write!(band, "L{:.1},{T} Z ", seg[seg.len() - 1].0);
        }
        seg.clear();
    };
    for (i, t) in r.threshold.iter().enumerate() {
        if t.is_finite() {
            segment.push((xb(i), y_lat(f64::from(*t)).max(T)));
        } else {
            flush(&mut segment, &mut band, &mut line);
        }
    }
    flush(&mut segment, &mut band, &mut line);
    let _ = write!(
        svg,
        "<path id=\"band\" d=\"{band}\" fill=\"#dc2626\" fill-opacity=\"0.08\"/>\
         <path id=\"threshold\" d=\"{line}\" fill=\"none\" stroke=\"#f87171\" stroke-dasharray=\"4 3\"/>"
    );
    let polyline = |vals: &[f32], y: &dyn Fn(f64) -> f64| {
        let mut d = String::new();
        let mut pen = false;
        for (i, v) in vals.iter().enumerate() {
            if v.is_finite() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if pen { "L" } else { "M" },
                    xb(i),
                    y(f64::from(*v))
                );
                pen = true;
            } else {
                pen = false;
            }
        }
        d
    };
    let _ = write!(
        svg,
        "<path id=\"latency\" d=\"{}\" fill=\"none\" stroke=\"#38bdf8\" stroke-width=\"1.5\"/>\
         <path id=\"riskline\" d=\"{}\" fill=\"none\" stroke=\"#fbbf24\" stroke-width=\"2\"/>",
        polyline(&r.latency, &y_lat),
        polyline(&r.risk, &y_risk)
    );
    // Strips: degraded minutes (red) and warned minutes (amber).
    let strip = |runs: &crate::cache::Runs, y: f64, colour: &str, id: &str| {
        let mut g = format!("<g id=\"{id}\">");
        for run in runs.clip(t0, t1).0 {
            let _ = write!(
                g,
                "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"8\" fill=\"{colour}\"/>",
                x(run[0]),
                (x(run[1] + 60) - x(run[0])).max(1.5)
            );
        }
        g.push_str("</g>");
        g
    };
    svg.push_str(&strip(&r.degraded, plot_b + 6.0, "#dc2626", "degraded"));
    svg.push_str(&strip(&r.alarms, plot_b + 18.0, "#f59e0b", "warnings"));
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{:.1}\" fill=\"#94a3b8\" font-size=\"10\" text-anchor=\"end\">degraded</text>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#94a3b8\" font-size=\"10\" text-anchor=\"end\">warned</text>\
         <text x=\"{L}\" y=\"{}\" fill=\"#94a3b8\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" fill=\"#94a3b8\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        L - 4.0,
        plot_b + 13.0,
        L - 4.0,
        plot_b + 25.0,
        H - 6.0,
        local_time(t0, &TimeZone::UTC),
        W - R,
        H - 6.0,
        local_time(t1, &TimeZone::UTC),
    );
    svg
}

/// One probe in `/api/probes`.
#[derive(Serialize)]
struct ProbeRow<'a> {
    probe_id: Option<u64>,
    probability: f64,
    risk_level: &'static str,
    minute: i64,
    latency_ms: Option<f64>,
    jitter_ms: Option<f64>,
    track: &'a Track,
}

#[derive(Serialize)]
struct ProbesBody<'a> {
    generated_at: i64,
    alarm_threshold: f64,
    total: usize,
    offset: usize,
    limit: usize,
    next_offset: Option<usize>,
    at_risk: usize,
    track: &'a Track,
    probes: Vec<ProbeRow<'a>>,
}

fn row<'a>(s: &'a Served, i: usize) -> ProbeRow<'a> {
    let p = &s.predictions[i];
    ProbeRow {
        probe_id: p.probe_id,
        probability: p.probability,
        risk_level: status(p.probability, s.alarm_threshold()),
        minute: p.minute,
        latency_ms: s.latency(i),
        jitter_ms: p.input("jitter"),
        track: &s.track[i],
    }
}

/// `/api/probes`: the probes passing `filter`, in risk order, `limit`
/// from `offset`.
pub fn probes_json(s: &Served, filter: &Filter, offset: usize, limit: usize) -> String {
    let total = s.filtered(filter).count();
    let probes: Vec<ProbeRow> = s
        .filtered(filter)
        .skip(offset)
        .take(limit)
        .map(|i| row(s, i))
        .collect();
    let body = ProbesBody {
        generated_at: s.generated_at,
        alarm_threshold: s.alarm_threshold(),
        total,
        offset,
        limit,
        next_offset: (offset.saturating_add(limit) < total).then_some(offset + limit),
        at_risk: s.at_risk,
        track: &s.overall,
        probes,
    };
    serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[derive(Serialize)]
struct Bucket {
    start: i64,
    latency_ms: Option<f32>,
    threshold_ms: Option<f32>,
    risk: Option<f32>,
}

#[derive(Serialize)]
struct ProbeBody<'a> {
    #[serde(flatten)]
    row: ProbeRow<'a>,
    age_seconds: i64,
    inputs: &'a [(String, Option<f64>)],
    why: &'a [Contribution],
    bucket_seconds: i64,
    history: Vec<Bucket>,
    warnings: &'a [[i64; 2]],
    degraded: &'a [[i64; 2]],
    horizon_minutes: u32,
}

/// `/api/probes/{id}`: the prediction with its contributions, the recent
/// buckets, the week's warned and degraded minutes (as runs) and the
/// track record.
pub fn probe_json(s: &Served, i: usize, now: i64) -> String {
    let p = &s.predictions[i];
    let rec = s.record(i);
    let ok = |v: f32| (!v.is_nan()).then_some(v);
    let history = rec.map_or_else(Vec::new, |r| {
        (0..r.risk.len())
            .map(|k| Bucket {
                start: r.bucket_start + k as i64 * BUCKET_SECONDS,
                latency_ms: ok(r.latency[k]),
                threshold_ms: ok(r.threshold[k]),
                risk: ok(r.risk[k]),
            })
            .collect()
    });
    let body = ProbeBody {
        row: row(s, i),
        age_seconds: cache_age(now, p.minute + 60),
        inputs: &p.inputs,
        why: &p.why,
        bucket_seconds: BUCKET_SECONDS,
        history,
        warnings: rec.map_or(&[], |r| &r.alarms.0),
        degraded: rec.map_or(&[], |r| &r.degraded.0),
        horizon_minutes: s.horizon_minutes,
    };
    serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

//! One handler per route. Every handler reads the cache snapshot and the
//! clock, nothing else.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::dashboard::{self, cache_age, Freshness};
use super::overview::{parse_probe_id, query_value, Filter, Served};
use super::pages::{self, API_LIMIT};
use super::state::{CacheView, Rendered, ServerState};

/// Longest query string accepted (bytes); longer ones get 400.
pub const MAX_QUERY_BYTES: usize = 512;

type Body = Full<Bytes>;

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// The page shown before the first refresh has written a cache.
fn starting_page(reason: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>netprophet is starting</title>\
         <style>body{{font-family:system-ui,sans-serif;background:#0f172a;color:#e2e8f0;\
         display:flex;align-items:center;justify-content:center;height:100vh;margin:0}}\
         div{{max-width:32rem;text-align:center}}</style></head><body><div>\
         <h1>netprophet is warming up</h1><p>{reason}</p>\
         <p>This page retries every 30 seconds.</p></div></body></html>"
    )
}

fn unavailable(
    route: &'static str,
    view: &CacheView,
    json: bool,
) -> (Response<Body>, &'static str) {
    let reason = match view {
        CacheView::Missing => {
            "No prediction has been computed yet: the first refresh has not finished."
        }
        _ => "The prediction cache could not be read; the next refresh will replace it.",
    };
    let mut r = if json {
        response(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            serde_json::json!({ "error": reason }).to_string(),
        )
    } else {
        response(StatusCode::SERVICE_UNAVAILABLE, HTML, starting_page(reason))
    };
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("30"));
    (r, route)
}

/// Routes a request. Only GET and HEAD exist; anything else is 405.
pub fn handle<B>(state: &ServerState, req: Request<B>) -> Response<Body> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let route: &'static str = match path {
        "/" => "/",
        "/api/prediction" => "/api/prediction",
        "/api/history" => "/api/history",
        "/api/probes" => "/api/probes",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ if path.starts_with("/probe/") => "/probe/{id}",
        _ if path.starts_with("/api/probes/") => "/api/probes/{id}",
        _ => "other",
    };
    let hosts = req.headers().get_all(HOST).iter().count();
    let resp = if req.version() == Version::HTTP_11 && hosts != 1 {
        // RFC 9112 section 3.2: an HTTP/1.1 request without exactly one
        // Host header gets 400.
        response(
            StatusCode::BAD_REQUEST,
            TEXT,
            "an HTTP/1.1 request needs exactly one Host header\n",
        )
    } else if hosts > 1 {
        response(StatusCode::BAD_REQUEST, TEXT, "more than one Host header\n")
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(StatusCode::METHOD_NOT_ALLOWED, TEXT, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        match route {
            _ if query.len() > MAX_QUERY_BYTES => response(
                StatusCode::BAD_REQUEST,
                TEXT,
                format!("the query is longer than {MAX_QUERY_BYTES} bytes\n"),
            ),
            "/" => dashboard_page(state, query),
            "/api/prediction" => prediction(state),
            "/api/history" => history(state),
            "/api/probes" => probes(state, query),
            "/probe/{id}" => probe(state, &path["/probe/".len()..], false),
            "/api/probes/{id}" => probe(state, &path["/api/probes/".len()..], true),
            "/healthz" => healthz(state),
            "/metrics" => metrics(state),
            _ => response(StatusCode::NOT_FOUND, TEXT, "not found\n"),
        }
    };
    state.count(route, resp.status().as_u16());
    resp
}

fn bad_request(message: &str) -> Response<Body> {
    response(StatusCode::BAD_REQUEST, TEXT, format!("{message}\n"))
}

/// The filter and page number of a query (`q`, `page`), strictly.
fn filter_and_page(query: &str) -> Result<(Filter, usize), String> {
    let filter = match query_value(query, "q")? {
        Some(q) => Filter::parse(&q)?,
        None => Filter::All,
    };
    let page = match query_value(query, "page")? {
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| format!("page {p:?} is not a page number"))?,
        None => 1,
    };
    Ok((filter, page))
}

fn dashboard_page(state: &ServerState, query: &str) -> Response<Body> {
    let (filter, page) = match filter_and_page(query) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    match state.cache() {
        CacheView::Ready(c) => {
            let now = state.clock.now();
            let render = || dashboard::render(&c, now, &state.tz, &state.zone_name, &filter, page);
            if filter != Filter::All || page != 1 {
                // Filtered and later pages are rendered per request: a
                // hundred rows from the index, no scoring.
                return response(StatusCode::OK, HTML, render());
            }
            let age = cache_age(now, c.generated_at);
            // The page changes with the cache, with its age once a banner
            // shows it, and (with many probes) with the probes' ages, in
            // whole minutes.
            let time = match Freshness::of(now, c.generated_at) {
                Freshness::Fresh if c.predictions.len() == 1 && c.headline().probe_id.is_none() => {
                    i64::MIN
                }
                Freshness::Fresh => now.div_euclid(60),
                _ => age / 60,
            };
            let body = state.rendered(Rendered::Dashboard, &c, time, render);
            response(StatusCode::OK, HTML, body)
        }
        other => unavailable("/", &other, false).0,
    }
}

fn probes(state: &ServerState, query: &str) -> Response<Body> {
    let parsed = (|| -> Result<(Filter, usize, usize), String> {
        let (filter, _) = filter_and_page(query)?;
        let num = |key: &str, default: usize, max: usize| -> Result<usize, String> {
            match query_value(query, key)? {
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|v| *v <= max)
                    .ok_or_else(|| format!("{key} {v:?} is not a number up to {max}")),
                None => Ok(default),
            }
        };
        let limit = num("limit", API_LIMIT, crate::cache::MAX_PREDICTIONS)?;
        let offset = num("offset", 0, crate::cache::MAX_PREDICTIONS)?;
        Ok((filter, offset, limit))
    })();
    let (filter, offset, limit) = match parsed {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    match state.cache() {
        CacheView::Ready(c) => {
            if (&filter, offset, limit) == (&Filter::All, 0, API_LIMIT) {
                // The default page depends on the cache only.
                let body = state.rendered(Rendered::Probes, &c, 0, || {
                    pages::probes_json(&c, &filter, offset, limit)
                });
                return response(StatusCode::OK, JSON, body);
            }
            response(
                StatusCode::OK,
                JSON,
                pages::probes_json(&c, &filter, offset, limit),
            )
        }
        other => unavailable("/api/probes", &other, true).0,
    }
}

fn probe(state: &ServerState, segment: &str, json: bool) -> Response<Body> {
    let Some(id) = parse_probe_id(segment) else {
        return bad_request("a probe id is 1 to 20 digits");
    };
    let route = if json {
        "/api/probes/{id}"
    } else {
        "/probe/{id}"
    };
    match state.cache() {
        CacheView::Ready(c) => match c.find(id) {
            Some(i) => {
                let now = state.clock.now();
                if json {
                    response(StatusCode::OK, JSON, pages::probe_json(&c, i, now))
                } else {
                    response(
                        StatusCode::OK,
                        HTML,
                        pages::probe_page(&c, i, now, &state.tz, &state.zone_name),
                    )
                }
            }
            None => response(
                StatusCode::NOT_FOUND,
                TEXT,
                format!("probe {id} is not in the prediction cache\n"),
            ),
        },
        other => unavailable(route, &other, json).0,
    }
}

fn prediction(state: &ServerState) -> Response<Body> {
    match state.cache() {
        CacheView::Ready(c) => {
            let now = state.clock.now();
            // `age_seconds` changes every second; so may the body.
            let body = state.rendered(Rendered::Prediction, &c, now, || prediction_json(&c, now));
            response(StatusCode::OK, JSON, body)
        }
        other => unavailable("/api/prediction", &other, true).0,
    }
}

/// The prediction JSON's shape, borrowing from the cache: serialising it
/// costs the output string only (a `serde_json::json!` value copied every
/// prediction first).
#[derive(serde::Serialize)]
struct PredictionBody<'a> {
    probability: f64,
    risk_level: &'static str,
    alarm_threshold: f64,
    probe_id: Option<u64>,
    minute: i64,
    inputs: Inputs<'a>,
    generated_at: i64,
    age_seconds: i64,
    stale: bool,
    model: &'a crate::cache::ModelIdentity,
    source: &'a str,
    predictions: &'a [crate::cache::ProbePrediction],
}

/// A prediction's inputs as a JSON object, name to value.
struct Inputs<'a>(&'a [(String, Option<f64>)]);

impl serde::Serialize for Inputs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

fn prediction_json(c: &crate::cache::PredictionCache, now: i64) -> String {
    let head = c.headline();
    let body = PredictionBody {
        probability: head.probability,
        risk_level: if head.probability >= c.alarm_threshold() {
            "high"
        } else {
            "low"
        },
        alarm_threshold: c.alarm_threshold(),
        probe_id: head.probe_id,
        minute: head.minute,
        inputs: Inputs(&head.inputs),
        generated_at: c.generated_at,
        age_seconds: cache_age(now, c.generated_at),
        stale: Freshness::of(now, c.generated_at) != Freshness::Fresh,
        model: &c.model,
        source: &c.source,
        predictions: &c.predictions,
    };
    serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[derive(serde::Serialize)]
struct HistoryBody<'a> {
    probe_id: Option<u64>,
    history: &'a [crate::cache::HistoryPoint],
}

fn history(state: &ServerState) -> Response<Body> {
    match state.cache() {
        CacheView::Ready(c) => {
            // Rendered once per cache: a large history is not re-encoded
            // for every request.
            let body = state.rendered(Rendered::History, &c, 0, || {
                let body = HistoryBody {
                    probe_id: c.headline().probe_id,
                    history: &c.history,
                };
                serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
            });
            response(StatusCode::OK, JSON, body)
        }
        other => unavailable("/api/history", &other, true).0,
    }
}

fn healthz(state: &ServerState) -> Response<Body> {
    // Healthy means "serving a valid cache"; staleness is reported but is
    // the refresher's problem, not the server's.
    match state.cache() {
        CacheView::Ready(c) => {
            let age = cache_age(state.clock.now(), c.generated_at);
            response(
                StatusCode::OK,
                JSON,
                serde_json::json!({ "status": "ok", "cache_age_seconds": age }).to_string(),
            )
        }
        CacheView::Missing => response(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            r#"{"status":"starting","reason":"no cache yet"}"#,
        ),
        CacheView::Corrupt(_) => response(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            r#"{"status":"error","reason":"corrupt cache"}"#,
        ),
    }
}

fn metrics(state: &ServerState) -> Response<Body> {
    let mut out = String::with_capacity(2048);
    let view = state.cache();
    let (age, valid) = match &view {
        CacheView::Ready(c) => (cache_age(state.clock.now(), c.generated_at), 1),
        _ => (-1, 0),
    };
    metric(
        &mut out,
        "netprophet_cache_age_seconds",
        "gauge",
        "Age of the prediction cache (-1: none; below -300: it claims a future time, a clock is wrong).",
        age,
    );
    metric(
        &mut out,
        "netprophet_cache_valid",
        "gauge",
        "1 when a valid cache is being served.",
        valid,
    );
    let last_ok = state.refresh.last_ok.load(Ordering::Relaxed);
    // Without an in-process refresher (cron mode), a valid cache is the
    // evidence that the last refresh succeeded.
    let last_ok = if last_ok < 0 { valid } else { last_ok };
    metric(
        &mut out,
        "netprophet_last_refresh_success",
        "gauge",
        "1 when the last refresh succeeded.",
        last_ok,
    );
    metric(
        &mut out,
        "netprophet_refresh_failures_total",
        "counter",
        "Failed in-process refresh cycles.",
        state.refresh.failures.load(Ordering::Relaxed),
    );
    let running_for = if state.refresh.running.load(Ordering::Relaxed) {
        state
            .clock
            .now()
            .saturating_sub(state.refresh.last_attempt.load(Ordering::Relaxed))
            .max(0)
    } else {
        0
    };
    metric(
        &mut out,
        "netprophet_refresh_running_seconds",
        "gauge",
        "How long the in-process refresh cycle now running has run (0: none running).",
        running_for,
    );
    metric_head(
        &mut out,
        "netprophet_http_requests_total",
        "counter",
        "HTTP responses by route and status.",
    );
    for ((route, status), n) in state.request_counts() {
        let _ = writeln!(
            out,
            "netprophet_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    metric(
        &mut out,
        "netprophet_connections_rejected_total",
        "counter",
        "Connections closed at the connection limit.",
        state.rejected(),
    );
    if let CacheView::Ready(c) = &view {
        probe_metrics(c, state.clock.now(), state.metrics_probes, &mut out);
    }
    response(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        out,
    )
}

/// A metric family's `# HELP` and `# TYPE` lines.
fn metric_head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A metric without labels: its family lines and its one sample.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    metric_head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// One per-probe gauge's value.
type ProbeGauge<'a> = dyn Fn(usize) -> Option<f64> + 'a;

/// Per-probe gauges for the `limit` highest-risk probes (bounded
/// cardinality: Prometheus keeps one series per probe label), and the
/// alarm threshold the alert rule compares against.
fn probe_metrics(c: &Served, now: i64, limit: usize, out: &mut String) {
    metric(
        out,
        "netprophet_alarm_threshold",
        "gauge",
        "Risk from which a probe is shown as high risk.",
        c.alarm_threshold(),
    );
    metric(
        out,
        "netprophet_probes",
        "gauge",
        "Probes in the prediction cache.",
        c.predictions.len(),
    );
    metric(
        out,
        "netprophet_probes_at_risk",
        "gauge",
        "Probes at or above the alarm threshold.",
        c.at_risk,
    );
    let top: Vec<(u64, usize)> = c
        .order
        .iter()
        .map(|&i| i as usize)
        .filter_map(|i| c.predictions[i].probe_id.map(|id| (id, i)))
        .take(limit)
        .collect();
    let families: [(&str, &str, &ProbeGauge<'_>); 3] = [
        (
            "netprophet_risk",
            "Predicted degradation probability of a probe's path (highest-risk probes only, see --metrics-probes).",
            &|i| Some(c.predictions[i].probability),
        ),
        (
            "netprophet_latency_ms",
            "Mean RTT of the probe's latest scored minute.",
            &|i| c.latency(i),
        ),
        (
            "netprophet_data_age_seconds",
            "Seconds since the end of the probe's latest scored minute.",
            &|i| Some(cache_age(now, c.predictions[i].minute + 60) as f64),
        ),
    ];
    for (name, help, value) in families {
        metric_head(out, name, "gauge", help);
        for (id, i) in &top {
            if let Some(v) = value(*i) {
                let _ = writeln!(out, "{name}{{probe=\"{id}\"}} {v}");
            }
        }
    }
}

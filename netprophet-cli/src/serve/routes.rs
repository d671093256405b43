//! One handler per route. Every handler reads the cache snapshot and the
//! clock, nothing else.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::dashboard::{self, cache_age, Freshness};
use super::state::{CacheView, Rendered, ServerState};

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
    let route: &'static str = match path {
        "/" => "/",
        "/api/prediction" => "/api/prediction",
        "/api/history" => "/api/history",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
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
            "/" => dashboard_page(state),
            "/api/prediction" => prediction(state),
            "/api/history" => history(state),
            "/healthz" => healthz(state),
            "/metrics" => metrics(state),
            _ => response(StatusCode::NOT_FOUND, TEXT, "not found\n"),
        }
    };
    state.count(route, resp.status().as_u16());
    resp
}

fn dashboard_page(state: &ServerState) -> Response<Body> {
    match state.cache() {
        CacheView::Ready(c) => {
            let now = state.clock.now();
            let age = cache_age(now, c.generated_at);
            // The page changes with the cache, and with its age only once
            // a banner shows it (in whole minutes).
            let time = match Freshness::of(now, c.generated_at) {
                Freshness::Fresh => i64::MIN,
                _ => age / 60,
            };
            let body = state.rendered(Rendered::Dashboard, &c, time, || {
                dashboard::render(&c, now, &state.tz, &state.zone_name)
            });
            response(StatusCode::OK, HTML, body)
        }
        other => unavailable("/", &other, false).0,
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
    let (age, valid) = match state.cache() {
        CacheView::Ready(c) => (cache_age(state.clock.now(), c.generated_at), 1),
        _ => (-1, 0),
    };
    let _ = writeln!(
        out,
        "# HELP netprophet_cache_age_seconds Age of the prediction cache (-1: none; below -300: it claims a future time, a clock is wrong)."
    );
    let _ = writeln!(out, "# TYPE netprophet_cache_age_seconds gauge");
    let _ = writeln!(out, "netprophet_cache_age_seconds {age}");
    let _ = writeln!(
        out,
        "# HELP netprophet_cache_valid 1 when a valid cache is being served."
    );
    let _ = writeln!(out, "# TYPE netprophet_cache_valid gauge");
    let _ = writeln!(out, "netprophet_cache_valid {valid}");
    let last_ok = state.refresh.last_ok.load(Ordering::Relaxed);
    // Without an in-process refresher (cron mode), a valid cache is the
    // evidence that the last refresh succeeded.
    let last_ok = if last_ok < 0 { valid } else { last_ok };
    let _ = writeln!(
        out,
        "# HELP netprophet_last_refresh_success 1 when the last refresh succeeded."
    );
    let _ = writeln!(out, "# TYPE netprophet_last_refresh_success gauge");
    let _ = writeln!(out, "netprophet_last_refresh_success {last_ok}");
    let _ = writeln!(
        out,
        "# HELP netprophet_refresh_failures_total Failed in-process refresh cycles."
    );
    let _ = writeln!(out, "# TYPE netprophet_refresh_failures_total counter");
    let _ = writeln!(
        out,
        "netprophet_refresh_failures_total {}",
        state.refresh.failures.load(Ordering::Relaxed)
    );
    let running = state.refresh.running.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# HELP netprophet_refresh_running_seconds How long the in-process refresh cycle now running has run (0: none running)."
    );
    let _ = writeln!(out, "# TYPE netprophet_refresh_running_seconds gauge");
    let _ = writeln!(
        out,
        "netprophet_refresh_running_seconds {}",
        if running {
            state
                .clock
                .now()
                .saturating_sub(state.refresh.last_attempt.load(Ordering::Relaxed))
                .max(0)
        } else {
            0
        }
    );
    let _ = writeln!(
        out,
        "# HELP netprophet_http_requests_total HTTP responses by route and status."
    );
    let _ = writeln!(out, "# TYPE netprophet_http_requests_total counter");
    for ((route, status), n) in state.request_counts() {
        let _ = writeln!(
            out,
            "netprophet_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP netprophet_connections_rejected_total Connections closed at the connection limit."
    );
    let _ = writeln!(out, "# TYPE netprophet_connections_rejected_total counter");
    let _ = writeln!(
        out,
        "netprophet_connections_rejected_total {}",
        state.rejected()
    );
    response(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        out,
    )
}

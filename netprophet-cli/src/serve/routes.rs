//! One handler per route. Every handler reads the cache snapshot and the
//! clock, nothing else.

use std::fmt::Write;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};

use super::dashboard::{self, Freshness};
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
    let resp = if req.method() != Method::GET && req.method() != Method::HEAD {
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
            let age = (now - c.generated_at).max(0);
            // The page changes with the cache, and with its age only once
            // a banner shows it (in whole minutes).
            let time = match Freshness::of_age(age) {
                Freshness::Fresh => -1,
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
            let age = (now - c.generated_at).max(0);
            // `age_seconds` changes every second; so may the body.
            let body = state.rendered(Rendered::Prediction, &c, now, || prediction_json(&c, age));
            response(StatusCode::OK, JSON, body)
        }
        other => unavailable("/api/prediction", &other, true).0,
    }
}

fn prediction_json(c: &crate::cache::PredictionCache, age: i64) -> String {
    let head = c.headline();
    let body = serde_json::json!({
        "probability": head.probability,
        "risk_level": if head.probability >= c.alarm_threshold() { "high" } else { "low" },
        "alarm_threshold": c.alarm_threshold(),
        "probe_id": head.probe_id,
        "minute": head.minute,
        "inputs": head.inputs.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "generated_at": c.generated_at,
        "age_seconds": age,
        "stale": Freshness::of_age(age) != Freshness::Fresh,
        "model": c.model,
        "source": c.source,
        "predictions": c.predictions,
    });
    body.to_string()
}

fn history(state: &ServerState) -> Response<Body> {
    match state.cache() {
        CacheView::Ready(c) => response(
            StatusCode::OK,
            JSON,
            serde_json::json!({ "probe_id": c.headline().probe_id, "history": c.history })
                .to_string(),
        ),
        other => unavailable("/api/history", &other, true).0,
    }
}

fn healthz(state: &ServerState) -> Response<Body> {
    // Healthy means "serving a valid cache"; staleness is reported but is
    // the refresher's problem, not the server's.
    match state.cache() {
        CacheView::Ready(c) => {
            let age = (state.clock.now() - c.generated_at).max(0);
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
        CacheView::Ready(c) => ((state.clock.now() - c.generated_at).max(0), 1),
        _ => (-1, 0),
    };
    let _ = writeln!(
        out,
        "# HELP netprophet_cache_age_seconds Age of the prediction cache (-1: none)."
    );
    let _ = writeln!(out, "# TYPE netprophet_cache_age_seconds gauge");
    let _ = writeln!(out, "netprophet_cache_age_seconds {age}");
    let _ = writeln!(
        out,
        "# HELP netprophet_cache_valid 1 when a valid cache is being served."
    );
    let _ = writeln!(out, "# TYPE netprophet_cache_valid gauge");
    let _ = writeln!(out, "netprophet_cache_valid {valid}");
    let last_ok = state
        .refresh
        .last_ok
        .load(std::sync::atomic::Ordering::Relaxed);
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
        state
            .refresh
            .failures
            .load(std::sync::atomic::Ordering::Relaxed)
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

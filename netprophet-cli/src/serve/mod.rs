//! The HTTP endpoint: a hyper server that only ever reads the prediction
//! cache. It never fetches telemetry or runs the model inside a request,
//! so a slow Atlas API or a failing refresh cannot slow a page down.
//!
//! Shape: one accept loop; a semaphore bounds open connections (over the
//! limit, a connection is closed at once rather than queued); hyper bounds
//! header size and the time a client may take to send headers (which also
//! closes idle keep-alive connections); shutdown on SIGTERM or Ctrl-C stops
//! accepting and lets in-flight requests finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use jiff::tz::TimeZone;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub mod dashboard;
mod html;
pub mod overview;
pub mod pages;
mod routes;
mod state;

pub use crate::cache::{read_cache_file, MAX_CACHE_BYTES};
pub use state::{CacheReader, Clock, RefreshStatus, ServerState, DEFAULT_METRICS_PROBES};

/// Server settings. Defaults suit a 1 GiB, 2 vCPU VM.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The prediction cache to serve.
    pub cache: PathBuf,
    /// Time zone shown beside UTC.
    pub zone: String,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and the longest an
    /// idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Largest request head accepted (bytes); larger ones get 431.
    pub max_header_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cache: PathBuf::from("netprophet-cache.json"),
            zone: "America/Los_Angeles".into(),
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Resolves a time-zone name, with a clear error for a typo.
pub fn time_zone(name: &str) -> anyhow::Result<TimeZone> {
    TimeZone::get(name).map_err(|e| anyhow::anyhow!("unknown time zone {name:?}: {e}"))
}

/// Binds the listener (so the caller learns the real port at once, e.g.
/// with port 0 in tests).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves until `shutdown` completes, then waits (up to 10 s) for open
/// requests to finish.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = connection_builder(&config);
    tokio::pin!(shutdown);
    state.first_load(Duration::from_secs(1)).await;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // briefly instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    state.count_rejected();
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, req)) }
                });
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let wait = config.header_timeout;
                let fut = async move {
                    // Wait for the first bytes before handing the socket to
                    // hyper, which allocates its read buffer on the first
                    // read: an idle connection then costs a socket and this
                    // small task, not 8 KiB (1 000 idle clients: 3 MB, not
                    // 11 MB). Silent clients are dropped after the
                    // header timeout, as hyper would.
                    let mut first = [0u8; 1];
                    if !matches!(tokio::time::timeout(wait, stream.peek(&mut first)).await, Ok(Ok(1..))) {
                        drop(permit);
                        return;
                    }
                    let conn = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
                    let _ = conn.await;
                    drop(permit);
                };
                tokio::spawn(fut);
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("some connections did not close within 10 s");
        }
    }
    Ok(())
}

/// How every connection is served: header size and time limits, and
/// half-closed clients kept until they are answered.
fn connection_builder(config: &ServerConfig) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes.max(8192))
        // A client may send its request and shut down its write side
        // while it waits for the answer; without this, hyper took the
        // EOF as a reason to drop the connection, often before the
        // response was written.
        .half_close(true)
        .keep_alive(true);
    builder
}

/// Serves one connection on any byte stream with the settings and routes
/// of [`serve`] (which adds the connection limit and graceful shutdown);
/// the HTTP fuzz target feeds it generated requests in memory.
pub async fn serve_connection<IO>(io: IO, config: &ServerConfig, state: Arc<ServerState>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, req)) }
    });
    let _ = connection_builder(config)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

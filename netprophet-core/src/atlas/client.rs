//! The RIPE Atlas results API client.
//!
//! `GET {base}/api/v2/measurements/{msm}/results/?start=&stop=&format=json`
//! (and `probe_ids=` when asked) returns a JSON array of result objects. A
//! window is split into chunks (default 4 h) fetched in parallel by a
//! bounded number of workers; each request has a timeout (default 80 s)
//! and up to 4 attempts with exponential backoff (1.0 s, x1.5), waiting as
//! long as `Retry-After` says on 429 and 503. A body that is not a
//! complete JSON array (a connection cut mid-transfer) is retried too. A
//! chunk that still fails fails the fetch with an error naming the chunk.
//!
//! TLS is rustls with the ring crypto provider (audited and widely
//! deployed) and Mozilla's root certificates.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;

/// Settings of the client, with defaults suited to RIPE Atlas' public API
/// (msm 1001, 4-hour chunks, 4 in parallel, 80 s per request, 4 attempts
/// with a backoff growing from 1 s by 1.5x).
///
/// ```
/// use std::time::Duration;
/// use netprophet_core::atlas::client::ClientConfig;
///
/// let config = ClientConfig::default()
///     .base_url("http://127.0.0.1:8000")
///     .timeout(Duration::from_secs(5))
///     .attempts(2);
/// assert_eq!(config.measurement, 1001);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Scheme, host and port of the API (default `https://atlas.ripe.net`);
    /// tests point it at a server on 127.0.0.1.
    pub base_url: String,
    /// Measurement id (default 1001: IPv4 ping to k.root-servers.net).
    pub measurement: u64,
    /// Per-request timeout, connect to last byte (default 80 s).
    pub timeout: Duration,
    /// Attempts per chunk (default 4).
    pub attempts: u32,
    /// Wait before the second attempt (default 1 s).
    pub backoff: Duration,
    /// Growth of the wait per attempt (default 1.5).
    pub backoff_factor: f64,
    /// Longest `Retry-After` honoured (default 5 minutes).
    pub max_retry_after: Duration,
    /// Length of a chunk in seconds (default 4 h).
    pub chunk_seconds: i64,
    /// Chunks fetched at once (default 4).
    pub parallel: usize,
    /// Largest response body accepted (default 2 GiB).
    pub max_body: u64,
}

impl ClientConfig {
    /// With: Scheme, host and port of the API.
    pub fn base_url(mut self, value: impl Into<String>) -> Self {
        self.base_url = value.into();
        self
    }

    /// With: Measurement id.
    pub fn measurement(mut self, value: u64) -> Self {
        self.measurement = value;
        self
    }

    /// With: Per-request timeout, connect to last byte.
    pub fn timeout(mut self, value: Duration) -> Self {
        self.timeout = value;
        self
    }

    /// With: Attempts per chunk.
    pub fn attempts(mut self, value: u32) -> Self {
        self.attempts = value;
        self
    }

    /// With: Wait before the second attempt.
    pub fn backoff(mut self, value: Duration) -> Self {
        self.backoff = value;
        self
    }

    /// With: Growth of the wait per attempt.
    pub fn backoff_factor(mut self, value: f64) -> Self {
        self.backoff_factor = value;
        self
    }

    /// With: Longest `Retry-After` honoured.
    pub fn max_retry_after(mut self, value: Duration) -> Self {
        self.max_retry_after = value;
        self
    }

    /// With: Length of a chunk in seconds.
    pub fn chunk_seconds(mut self, value: i64) -> Self {
        self.chunk_seconds = value;
        self
    }

    /// With: Chunks fetched at once.
    pub fn parallel(mut self, value: usize) -> Self {
        self.parallel = value;
        self
    }

    /// With: Largest response body accepted, bytes.
    pub fn max_body(mut self, value: u64) -> Self {
        self.max_body = value;
        self
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "https://atlas.ripe.net".into(),
            measurement: 1001,
            timeout: Duration::from_secs(80),
            attempts: 4,
            backoff: Duration::from_secs(1),
            backoff_factor: 1.5,
            max_retry_after: Duration::from_secs(300),
            chunk_seconds: 4 * 3600,
            parallel: 4,
            max_body: 2 << 30,
        }
    }
}

/// A time window `[start, stop)` in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chunk {
    /// First second.
    pub start: i64,
    /// One past the last second.
    pub stop: i64,
}

impl std::fmt::Display for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} .. {} UTC",
            crate::time::format_utc(self.start),
            crate::time::format_utc(self.stop)
        )
    }
}

/// Splits `[start, stop)` into chunks of at most `seconds`.
///
/// ```
/// use netprophet_core::atlas::client::{chunks, Chunk};
/// assert_eq!(chunks(0, 10, 4), vec![Chunk { start: 0, stop: 4 }, Chunk { start: 4, stop: 8 }, Chunk { start: 8, stop: 10 }]);
/// ```
pub fn chunks(start: i64, stop: i64, seconds: i64) -> Vec<Chunk> {
    let step = seconds.max(1);
    let mut out = Vec::new();
    let mut t = start;
    while t < stop {
        let end = (t + step).min(stop);
        out.push(Chunk {
            start: t,
            stop: end,
        });
        t = end;
    }
    out
}

/// A fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The window is empty or reversed.
    #[error("the window {start} .. {stop} is empty")]
    EmptyWindow {
        /// Start.
        start: i64,
        /// Stop.
        stop: i64,
    },
    /// The client could not be set up (bad base URL, TLS set-up).
    #[error("Atlas client: {0}")]
    Setup(String),
    /// A chunk failed for good.
    #[error("chunk {chunk}: {message} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })]
    Chunk {
        /// The chunk.
        chunk: Chunk,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
}

/// Reads one response body (an `io::Read` over the bytes as they arrive);
/// an error means the body was unusable and the request is retried.
pub type BodyHandler<'h, T> = dyn Fn(&mut dyn std::io::Read) -> Result<T, String> + Sync + 'h;

/// The outcome of one attempt.
enum Attempt<T> {
    Done(T),
    /// Try again after this long (or the backoff when `None`).
    Retry(String, Option<Duration>),
    /// No point retrying (404, 400, ...).
    Fatal(String),
}

/// A blocking client for the results API.
pub struct AtlasClient {
    agent: ureq::Agent,
    config: ClientConfig,
}

impl AtlasClient {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(ClientError::Setup(format!(
                "base URL {:?} must start with http:// or https://",
                config.base_url
            )));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("netprophet/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(AtlasClient { agent, config })
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn url(&self) -> String {
        format!(
            "{}/api/v2/measurements/{}/results/",
            self.config.base_url.trim_end_matches('/'),
            self.config.measurement
        )
    }

    fn attempt<T>(&self, chunk: Chunk, probes: &[u64], handle: &BodyHandler<'_, T>) -> Attempt<T> {
        let mut req = self
            .agent
            .get(&self.url())
            .query("start", chunk.start.to_string())
            .query("stop", (chunk.stop - 1).to_string())
            .query("format", "json");
        if !probes.is_empty() {
            let ids: Vec<String> = probes.iter().map(u64::to_string).collect();
            req = req.query("probe_ids", ids.join(","));
        }
        let mut resp = match req.call() {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(e.to_string(), None),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(self.config.max_retry_after));
        if status == 429 || status == 503 {
            return Attempt::Retry(format!("HTTP {status}"), retry_after);
        }
        if status >= 500 {
            return Attempt::Retry(format!("HTTP {status}"), None);
        }
        if status != 200 {
            let body = resp
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            return Attempt::Fatal(format!(
                "HTTP {status}: {}",
                body.trim().chars().take(200).collect::<String>()
            ));
        }
        // The body is handed on as it arrives, never buffered whole: a
        // 4-hour chunk of every probe is hundreds of MB. A cut connection
        // shows up as a read error or an incomplete array in the handler.
        let mut reader = resp
            .body_mut()
            .with_config()
            .limit(self.config.max_body)
            .reader();
        match handle(&mut reader) {
            Ok(v) => Attempt::Done(v),
            Err(e) => Attempt::Retry(e, None),
        }
    }

    /// Fetches one chunk with retries; returns the API's JSON array,
    /// checked to be complete. (For large windows,
    /// [`AtlasClient::fetch_window`] streams bodies instead of holding them.)
    pub fn fetch_chunk(&self, chunk: Chunk, probes: &[u64]) -> Result<Vec<u8>, ClientError> {
        let read_all = |r: &mut dyn std::io::Read| -> Result<Vec<u8>, String> {
            let mut body = Vec::new();
            r.read_to_end(&mut body)
                .map_err(|e| format!("reading the body: {e}"))?;
            serde_json::from_slice::<Vec<&RawValue>>(&body)
                .map_err(|e| format!("the body is not a complete JSON array ({e})"))?;
            Ok(body)
        };
        self.fetch_chunk_with(chunk, probes, &AtomicBool::new(false), &read_all)
    }

    fn fetch_chunk_with<T>(
        &self,
        chunk: Chunk,
        probes: &[u64],
        cancel: &AtomicBool,
        handle: &BodyHandler<'_, T>,
    ) -> Result<T, ClientError> {
        let attempts = self.config.attempts.max(1);
        let mut wait = self.config.backoff;
        let mut last = String::new();
        for n in 1..=attempts {
            match self.attempt(chunk, probes, handle) {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fatal(message) => {
                    return Err(ClientError::Chunk {
                        chunk,
                        attempts: n,
                        message,
                    })
                }
                Attempt::Retry(message, after) => {
                    last = message;
                    if n == attempts || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(after.unwrap_or(wait));
                    wait = wait.mul_f64(self.config.backoff_factor);
                }
            }
        }
        Err(ClientError::Chunk {
            chunk,
            attempts,
            message: last,
        })
    }

    /// Fetches `[start, stop)` chunk by chunk with at most
    /// `config.parallel` requests in flight. `done(chunk)` says whether a
    /// chunk is already stored (a resumed run skips it); `store(chunk,
    /// body)` receives each fetched chunk's JSON array, from worker
    /// threads, as it arrives. The first failure stops new chunks from
    /// starting and is returned. `store` reads the body as it arrives and
    /// is called again on a retry, so it must not keep anything from a
    /// failed attempt.
    pub fn fetch_window(
        &self,
        start: i64,
        stop: i64,
        probes: &[u64],
        done: impl Fn(Chunk) -> bool + Sync,
        store: impl Fn(Chunk, &mut dyn std::io::Read) -> Result<(), String> + Sync,
    ) -> Result<Vec<Chunk>, ClientError> {
        if stop <= start {
            return Err(ClientError::EmptyWindow { start, stop });
        }
        let all = chunks(start, stop, self.config.chunk_seconds);
        let todo: Vec<Chunk> = all.iter().copied().filter(|c| !done(*c)).collect();
        let next = AtomicUsize::new(0);
        let cancel = AtomicBool::new(false);
        let failure: Mutex<Option<ClientError>> = Mutex::new(None);
        let workers = self.config.parallel.clamp(1, todo.len().max(1));
        let work = || loop {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&chunk) = todo.get(i) else {
                return;
            };
            let handle = |r: &mut dyn std::io::Read| store(chunk, r);
            let result = self.fetch_chunk_with(chunk, probes, &cancel, &handle);
            if let Err(e) = result {
                cancel.store(true, Ordering::Relaxed);
                let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
                return;
            }
        };
        // The calling thread is one of the workers: a one-chunk fetch (a
        // live refresh) then starts no thread, and its allocations reuse
        // the caller's heap instead of growing a second malloc arena
        // (about 2 MB of a refresh's peak RSS).
        std::thread::scope(|scope| {
            for _ in 1..workers {
                scope.spawn(work);
            }
            work();
        });
        match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(all),
        }
    }
}

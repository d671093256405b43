//! What the server shares between requests: the cache as last read from
//! disk, the clock, and counters for `/metrics`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use jiff::tz::TimeZone;

use crate::cache::{CacheError, PredictionCache};

/// Current time in Unix seconds. Injectable so tests (and the demo's
/// simulated clock) decide what "now" is.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| jiff::Timestamp::now().as_second()))
    }

    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// Outcome of in-process refresh cycles (`serve --refresh-every`).
#[derive(Debug, Default)]
pub struct RefreshStatus {
    /// Unix time of the last attempt (0: none yet).
    pub last_attempt: AtomicI64,
    /// 1 when the last attempt succeeded, 0 when it failed, -1 unknown.
    pub last_ok: AtomicI64,
    /// Number of failed attempts since start.
    pub failures: AtomicU64,
}

/// The cache file as last seen: its identity on disk and what it held.
struct Snapshot {
    modified: Option<SystemTime>,
    len: u64,
    cache: Result<Arc<PredictionCache>, String>,
}

/// What a rendered body depends on: which cache (by identity) and a
/// time-dependent part chosen by the route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RenderKey {
    cache: usize,
    time: i64,
}

/// A cached body; holding the cache it came from keeps its address (the
/// key) from being reused by a newer cache.
type RenderedBody = (RenderKey, Arc<PredictionCache>, bytes::Bytes);

/// Which body is cached.
#[derive(Clone, Copy, Debug)]
pub enum Rendered {
    /// The HTML dashboard.
    Dashboard = 0,
    /// The prediction JSON.
    Prediction = 1,
}

/// State shared by all connections.
pub struct ServerState {
    cache_path: PathBuf,
    /// The clock the pages are rendered against.
    pub clock: Clock,
    /// Zone shown beside UTC.
    pub tz: TimeZone,
    /// Its name.
    pub zone_name: String,
    snapshot: RwLock<Option<Snapshot>>,
    /// The last rendered dashboard and JSON, reused while the cache and
    /// what the page says about its age are unchanged: rendering is the
    /// only real work a request does.
    rendered: Mutex<[Option<RenderedBody>; 2]>,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    rejected: AtomicU64,
    /// Refresh outcomes when the server refreshes in-process.
    pub refresh: RefreshStatus,
}

/// What a request sees of the cache.
pub enum CacheView {
    /// No cache file yet.
    Missing,
    /// The file is unreadable or invalid.
    Corrupt(String),
    /// A valid cache.
    Ready(Arc<PredictionCache>),
}

impl ServerState {
    /// State for serving `cache_path`.
    pub fn new(cache_path: PathBuf, clock: Clock, tz: TimeZone, zone_name: String) -> ServerState {
        ServerState {
            cache_path,
            clock,
            tz,
            zone_name,
            snapshot: RwLock::new(None),
            rendered: Mutex::new([None, None]),
            requests: Mutex::new(BTreeMap::new()),
            rejected: AtomicU64::new(0),
            refresh: RefreshStatus {
                last_ok: AtomicI64::new(-1),
                ..RefreshStatus::default()
            },
        }
    }

    /// The cache, re-read only when the file changed (one `stat` per
    /// request; the refresher replaces the file by rename, so a changed
    /// mtime or size means a new cache).
    pub fn cache(&self) -> CacheView {
        let meta = match std::fs::metadata(&self.cache_path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return CacheView::Missing,
            Err(e) => return CacheView::Corrupt(format!("{}: {e}", self.cache_path.display())),
        };
        let (modified, len) = (meta.modified().ok(), meta.len());
        if let Some(s) = self.snapshot.read().expect("snapshot lock").as_ref() {
            if s.modified == modified && s.len == len {
                return view(&s.cache);
            }
        }
        let cache = match PredictionCache::read(&self.cache_path) {
            Ok(c) => Ok(Arc::new(c)),
            Err(CacheError::Missing(_)) => return CacheView::Missing,
            Err(e) => {
                tracing::error!("{e}");
                Err(e.to_string())
            }
        };
        let v = view(&cache);
        *self.snapshot.write().expect("snapshot lock") = Some(Snapshot {
            modified,
            len,
            cache,
        });
        v
    }

    /// The body for `which` of `cache` at time-part `time`, rendered by
    /// `render` only when it is not cached already.
    pub fn rendered(
        &self,
        which: Rendered,
        cache: &Arc<PredictionCache>,
        time: i64,
        render: impl FnOnce() -> String,
    ) -> bytes::Bytes {
        let key = RenderKey {
            cache: Arc::as_ptr(cache) as usize,
            time,
        };
        if let Some((k, _, body)) = &self.rendered.lock().expect("render lock")[which as usize] {
            if *k == key {
                return body.clone();
            }
        }
        let body = bytes::Bytes::from(render());
        self.rendered.lock().expect("render lock")[which as usize] =
            Some((key, cache.clone(), body.clone()));
        body
    }

    /// Counts a response for `/metrics`.
    pub fn count(&self, route: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route, status))
            .or_default() += 1;
    }

    /// Counts a connection refused at the connection limit.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Request counts by (route, status).
    pub fn request_counts(&self) -> Vec<((&'static str, u16), u64)> {
        let m = self.requests.lock().expect("metrics lock");
        m.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Connections refused at the limit.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

fn view(c: &Result<Arc<PredictionCache>, String>) -> CacheView {
    match c {
        Ok(c) => CacheView::Ready(c.clone()),
        Err(e) => CacheView::Corrupt(e.clone()),
    }
}

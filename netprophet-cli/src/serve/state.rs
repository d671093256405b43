//! What the server shares between requests: the cache as last read from
//! disk (by a loader thread, never by a request), the clock, and counters
//! for `/metrics`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use jiff::tz::TimeZone;

use super::overview::Served;
use crate::cache::{
    check_cache_file, read_cache_parsed, CacheError, PredictionCache, HISTORY_SECONDS,
};

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
    /// Whether a cycle is running now (since `last_attempt`).
    pub running: AtomicBool,
}

/// Probes exported on `/metrics` unless `serve --metrics-probes` says.
pub const DEFAULT_METRICS_PROBES: usize = 100;

/// How often the loader looks at the cache file when no request asks.
const POLL: Duration = Duration::from_millis(500);
/// Requests wake the loader at most this often (ms).
const NUDGE_EVERY_MS: u64 = 100;

/// Reads a cache file's bytes: `Ok(None)` when there is no file. The
/// server's loader thread calls it, never a request; tests replace it to
/// stand in for a slow disk.
pub type CacheReader = dyn Fn(&Path) -> Result<Option<Vec<u8>>, String> + Send + Sync;

/// Which file on disk a view was read from: a refresh replaces the file by
/// rename, so a new inode, mtime or size means a new cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Identity {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Identity {
    fn of(m: &std::fs::Metadata) -> Identity {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let inode = 0;
        Identity {
            modified: m.modified().ok(),
            len: m.len(),
            inode,
        }
    }
}

/// The view requests read, and what it was read from.
struct Loaded {
    identity: Option<Identity>,
    view: CacheView,
}

/// Most history points kept from a cache: two per minute of the chart's
/// 12 hours. A refresh writes at most one per minute.
pub const MAX_HISTORY_POINTS: usize = 2 * (HISTORY_SECONDS as usize / 60);

/// Keeps only what the chart and `/api/history` show: the 12 hours that
/// end at the latest point, at most [`MAX_HISTORY_POINTS`] (the latest).
/// A hostile cache with 600 000 points otherwise made every history
/// response hundreds of MB. (Counted from the latest point, not from
/// `generated_at`, so a cache re-dated to now keeps its chart.)
fn trim_history(c: &mut PredictionCache) {
    let Some(last) = c.history.iter().map(|p| p.minute).max() else {
        return;
    };
    let from = last.saturating_sub(HISTORY_SECONDS);
    c.history.retain(|p| p.minute > from);
    let extra = c.history.len().saturating_sub(MAX_HISTORY_POINTS);
    c.history.drain(..extra);
    c.history.shrink_to_fit();
}

/// Loads the cache file whenever it changes, on its own thread, so that no
/// request ever waits on the disk: a FIFO, a huge file or a hung mount at
/// the cache path delays only this thread, while requests keep answering
/// from the last view.
struct Loader {
    path: PathBuf,
    /// `None`: the default, parsing the file as it is read.
    read: Option<Arc<CacheReader>>,
    loaded: Arc<RwLock<Arc<Loaded>>>,
    first_done: Arc<AtomicBool>,
}

impl Loader {
    fn run(self, wake: Receiver<()>) {
        loop {
            self.load_once();
            self.first_done.store(true, Ordering::Relaxed);
            match wake.recv_timeout(POLL) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                // The server state is gone.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn store(&self, identity: Option<Identity>, view: CacheView) {
        if let CacheView::Corrupt(e) = &view {
            tracing::error!("{e}");
        }
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Loaded { identity, view });
    }

    fn load_once(&self) {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                let msg = format!("{}: {e}", self.path.display());
                if !matches!(&self.current().view, CacheView::Corrupt(m) if *m == msg) {
                    self.store(None, CacheView::Corrupt(msg));
                }
                return;
            }
        };
        let identity = meta.as_ref().map(Identity::of);
        let current = self.current();
        let unchanged = current.identity == identity
            && (identity.is_some() || matches!(current.view, CacheView::Missing));
        if unchanged {
            return;
        }
        let Some(meta) = meta else {
            self.store(None, CacheView::Missing);
            return;
        };
        // Checked on the path first, so a FIFO or a huge file is never
        // opened; the reader checks the opened file again (it may have been
        // replaced in between).
        let parsed = match check_cache_file(&self.path, &meta) {
            Err(e) => Err(Ok(e)),
            Ok(()) => match &self.read {
                None => read_cache_parsed(&self.path),
                Some(read) => match read(&self.path) {
                    Ok(None) => Ok(None),
                    Ok(Some(bytes)) => PredictionCache::from_slice(&bytes).map(Some).map_err(Err),
                    Err(e) => Err(Ok(e)),
                },
            },
        };
        let view = match parsed {
            Ok(None) => CacheView::Missing,
            Ok(Some(mut c)) => {
                trim_history(&mut c);
                CacheView::Ready(Arc::new(Served::new(c)))
            }
            Err(Ok(io)) => CacheView::Corrupt(io),
            Err(Err(message)) => CacheView::Corrupt(
                CacheError::Corrupt {
                    path: self.path.clone(),
                    message,
                }
                .to_string(),
            ),
        };
        self.store(identity, view);
    }
}

/// What a rendered body depends on: which cache (by identity) and a
/// time-dependent part chosen by the route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RenderKey {
    cache: usize,
    time: i64,
}

/// A cached body. It holds its cache weakly: that keeps the cache's
/// address (the key) from being reused by a newer cache, without keeping
/// an old, possibly large, cache's contents alive after the loader has
/// replaced it.
type RenderedBody = (RenderKey, Weak<Served>, bytes::Bytes);

/// Which body is cached.
#[derive(Clone, Copy, Debug)]
pub enum Rendered {
    /// The HTML dashboard.
    Dashboard = 0,
    /// The prediction JSON.
    Prediction = 1,
    /// The history JSON.
    History = 2,
    /// The first page of `/api/probes`.
    Probes = 3,
}

/// How many bodies are kept rendered.
const RENDERED: usize = 4;

/// State shared by all connections.
pub struct ServerState {
    cache_path: PathBuf,
    /// The clock the pages are rendered against.
    pub clock: Clock,
    /// Zone shown beside UTC.
    pub tz: TimeZone,
    /// Its name.
    pub zone_name: String,
    /// What the loader thread last read; requests only clone it.
    loaded: Arc<RwLock<Arc<Loaded>>>,
    /// Wakes the loader (capacity 1: a wake-up already pending is enough).
    wake: SyncSender<()>,
    /// When a request last woke the loader (ms on `started`'s clock).
    last_nudge: AtomicU64,
    started: Instant,
    /// Set once the loader has looked at the file the first time.
    first_done: Arc<AtomicBool>,
    /// The last rendered dashboard and JSON, reused while the cache and
    /// what the page says about its age are unchanged: rendering is the
    /// only real work a request does.
    rendered: Mutex<[Option<RenderedBody>; RENDERED]>,
    /// Most probes exported on `/metrics` (highest risk first), so a
    /// cache of thousands of probes cannot flood Prometheus.
    pub metrics_probes: usize,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    rejected: AtomicU64,
    /// Refresh outcomes when the server refreshes in-process.
    pub refresh: RefreshStatus,
}

/// What a request sees of the cache.
#[derive(Clone)]
pub enum CacheView {
    /// No cache file yet.
    Missing,
    /// The file is unreadable or invalid.
    Corrupt(String),
    /// A valid cache, indexed.
    Ready(Arc<Served>),
}

impl ServerState {
    /// State for serving `cache_path`; starts the thread that loads it.
    pub fn new(cache_path: PathBuf, clock: Clock, tz: TimeZone, zone_name: String) -> ServerState {
        Self::with_loader(cache_path, clock, tz, zone_name, None)
    }

    /// [`ServerState::new`] with the cache file read by `read` (tests stand
    /// in a slow disk with it).
    pub fn with_reader(
        cache_path: PathBuf,
        clock: Clock,
        tz: TimeZone,
        zone_name: String,
        read: Arc<CacheReader>,
    ) -> ServerState {
        Self::with_loader(cache_path, clock, tz, zone_name, Some(read))
    }

    fn with_loader(
        cache_path: PathBuf,
        clock: Clock,
        tz: TimeZone,
        zone_name: String,
        read: Option<Arc<CacheReader>>,
    ) -> ServerState {
        let loaded = Arc::new(RwLock::new(Arc::new(Loaded {
            identity: None,
            view: CacheView::Missing,
        })));
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let first_done = Arc::new(AtomicBool::new(false));
        let loader = Loader {
            path: cache_path.clone(),
            read,
            loaded: loaded.clone(),
            first_done: first_done.clone(),
        };
        if let Err(e) = std::thread::Builder::new()
            .name("cache-loader".into())
            .spawn(move || loader.run(woken))
        {
            // Without a loader every request says the cache is unreadable,
            // which is what /healthz should then report.
            *loaded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Loaded {
                identity: None,
                view: CacheView::Corrupt(format!("cannot start the cache loader: {e}")),
            });
        }
        ServerState {
            cache_path,
            clock,
            tz,
            zone_name,
            loaded,
            wake,
            last_nudge: AtomicU64::new(0),
            started: Instant::now(),
            first_done,
            rendered: Mutex::new([None, None, None, None]),
            metrics_probes: DEFAULT_METRICS_PROBES,
            requests: Mutex::new(BTreeMap::new()),
            rejected: AtomicU64::new(0),
            refresh: RefreshStatus {
                last_ok: AtomicI64::new(-1),
                ..RefreshStatus::default()
            },
        }
    }

    /// The cache path served.
    pub fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    /// The cache as the loader last read it. No I/O: the loader re-reads
    /// the file when it changes (polling, and woken by requests at most
    /// every 100 ms, so a new cache is served within milliseconds of the
    /// first request that follows it).
    pub fn cache(&self) -> CacheView {
        self.nudge_if_due();
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .view
            .clone()
    }

    /// Waits (up to `limit`) until the loader has looked at the cache file
    /// once, so a server that starts with a cache on disk serves it from
    /// its first request; a slow disk only delays the start by `limit`.
    pub async fn first_load(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.first_done.load(Ordering::Relaxed) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Asks the loader to look at the file now (after a refresh wrote it).
    pub fn reload(&self) {
        let _ = self.wake.try_send(());
    }

    fn nudge_if_due(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_nudge.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= NUDGE_EVERY_MS
            && self
                .last_nudge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.reload();
        }
    }

    /// The body for `which` of `cache` at time-part `time`, rendered by
    /// `render` only when it is not cached already.
    pub fn rendered(
        &self,
        which: Rendered,
        cache: &Arc<Served>,
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
            Some((key, Arc::downgrade(cache), body.clone()));
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

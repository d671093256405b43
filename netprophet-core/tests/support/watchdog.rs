//! Bounds for generated test cases: a case that runs longer than its time
//! limit, or a process whose resident memory passes its limit, stops the
//! whole test binary at once with the offending input printed, instead of
//! hanging CI or being killed by the OOM killer without a word.
//!
//! Shared by the fuzz targets of every crate (included with `#[path]`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The case being run: when it started (ms since `epoch`, 0 when idle)
/// and its input.
struct Current {
    epoch: Instant,
    started_ms: AtomicU64,
    input: Mutex<Vec<u8>>,
    name: Mutex<&'static str>,
}

fn current() -> &'static Arc<Current> {
    static CURRENT: OnceLock<Arc<Current>> = OnceLock::new();
    CURRENT.get_or_init(|| {
        let c = Arc::new(Current {
            epoch: Instant::now(),
            started_ms: AtomicU64::new(0),
            input: Mutex::new(Vec::new()),
            name: Mutex::new(""),
        });
        let watched = c.clone();
        std::thread::spawn(move || watch(&watched));
        c
    })
}

/// Longest a single case may run.
pub const CASE_LIMIT: Duration = Duration::from_secs(10);
/// Most resident memory the test process may use.
pub const RSS_LIMIT_BYTES: u64 = 1 << 30;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn watch(c: &Current) {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let started = c.started_ms.load(Ordering::Relaxed);
        let now = c.epoch.elapsed().as_millis() as u64;
        let slow = started != 0 && now.saturating_sub(started) > CASE_LIMIT.as_millis() as u64;
        let rss = rss_bytes().unwrap_or(0);
        if slow || rss > RSS_LIMIT_BYTES {
            let input = c.input.lock().map(|i| i.clone()).unwrap_or_default();
            let name = c.name.lock().map(|n| *n).unwrap_or("");
            eprintln!(
                "fuzz case of `{name}` {}: input ({} bytes, first 2000 shown): {:?}",
                if slow {
                    format!("ran longer than {CASE_LIMIT:?}")
                } else {
                    format!("took the process to {} MB resident", rss >> 20)
                },
                input.len(),
                String::from_utf8_lossy(&input[..input.len().min(2000)])
            );
            std::process::abort();
        }
    }
}

/// Runs one case of `name` on `input` under the bounds.
pub fn case<T>(name: &'static str, input: &[u8], f: impl FnOnce() -> T) -> T {
    let c = current();
    if let Ok(mut i) = c.input.lock() {
        i.clear();
        i.extend_from_slice(input);
    }
    if let Ok(mut n) = c.name.lock() {
        *n = name;
    }
    c.started_ms.store(
        (c.epoch.elapsed().as_millis() as u64).max(1),
        Ordering::Relaxed,
    );
    let out = f();
    c.started_ms.store(0, Ordering::Relaxed);
    out
}

/// Cases for a property: `base` times `NETPROPHET_FUZZ_SCALE` (default
/// 1; CI raises it in a release build to run over a million cases).
pub fn cases(base: u32) -> u32 {
    let scale: f64 = std::env::var("NETPROPHET_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    ((f64::from(base) * scale) as u32).max(1)
}

/// Counts the cases a test binary ran, printed at the end so a CI log
/// shows how many there were.
pub static RAN: AtomicU64 = AtomicU64::new(0);

/// Records one case run.
pub fn ran() {
    RAN.fetch_add(1, Ordering::Relaxed);
}

/// Runs `test` on `cases(base)` values of `strategy`, each under the
/// bounds, and prints how many ran (`cargo test -- --nocapture` shows it).
/// A failure panics with the smallest failing input proptest found.
pub fn run<S: proptest::strategy::Strategy>(
    name: &'static str,
    base: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    use proptest::test_runner::{Config, TestRunner};
    let n = cases(base);
    let config = Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    };
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, test);
    eprintln!(
        "fuzz {name}: {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    RAN.fetch_add(u64::from(n), Ordering::Relaxed);
    if let Err(e) = result {
        panic!("fuzz {name} failed: {e}");
    }
}

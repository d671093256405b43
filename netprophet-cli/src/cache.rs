//! The prediction cache: the one file a refresh cycle writes and the
//! server reads. Written atomically, read strictly: a torn or foreign file
//! is an error, never a half-rendered page.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod generated;
pub mod record;

pub use record::{MinuteOutcome, ProbeRecord, Runs};

/// Layout version of the cache file; bumped when fields change meaning.
/// Version 2 adds each prediction's strongest feature contributions and a
/// per-probe record (recent minutes, warnings, degraded minutes); files of
/// version 1 are still read (without them).
pub const CACHE_VERSION: u32 = 2;
/// The oldest layout version this build reads.
pub const OLDEST_CACHE_VERSION: u32 = 1;
/// How far back the dashboard chart reaches.
pub const HISTORY_SECONDS: i64 = 12 * 3600;
/// Most predictions a cache may hold.
pub const MAX_PREDICTIONS: usize = 50_000;
/// Most prediction inputs a cache may hold, over all its predictions.
pub const MAX_INPUTS: usize = 500_000;
/// The last second a cache may name: 9999-12-31T23:59:59Z.
pub(crate) const MAX_TIME: i64 = 253_402_300_799;

/// Why a cache could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No cache file exists yet (no refresh has succeeded).
    #[error("{}: no prediction cache yet", .0.display())]
    Missing(PathBuf),
    /// The file exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The cache file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid cache (torn, foreign, wrong version).
    #[error("{}: corrupt prediction cache: {message}", path.display())]
    Corrupt {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// The largest cache file the server reads: 64 MiB. A refresh writes a
/// few hundred KB; a larger file is refused (served as unreadable, 503)
/// instead of being read into memory (a 122 MB file took the server to
/// 800 MB of RSS).
pub const MAX_CACHE_BYTES: u64 = 64 << 20;

/// Reads a cache file (`Ok(None)` when there is none; the server's
/// default [`crate::serve::CacheReader`]): opens without blocking (a FIFO at the path
/// would otherwise wait for a writer forever), checks that what was opened
/// is a regular file of at most [`MAX_CACHE_BYTES`], and reads it.
pub fn read_cache_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let Some((file, meta)) = open_cache(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CACHE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_CACHE_BYTES {
        return Err(too_large(path));
    }
    Ok(Some(bytes))
}

/// Opens a cache file without blocking (a FIFO at the path would otherwise
/// wait for a writer forever) and checks that what was opened is a regular
/// file of at most [`MAX_CACHE_BYTES`]; `Ok(None)` when there is none.
fn open_cache(path: &Path) -> Result<Option<(std::fs::File, std::fs::Metadata)>, String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    check_cache_file(path, &meta)?;
    Ok(Some((file, meta)))
}

/// Reads and parses a cache file as the server's loader does by default:
/// the checks of [`read_cache_file`], then parsed as it is read (`Ok(None)`
/// when there is none). `Err(Ok(_))` is an I/O problem, `Err(Err(_))` a
/// file that is not a valid cache.
#[allow(clippy::type_complexity)]
pub fn read_cache_parsed(path: &Path) -> Result<Option<PredictionCache>, Result<String, String>> {
    let Some((file, _)) = open_cache(path).map_err(Ok)? else {
        return Ok(None);
    };
    let reader = std::io::BufReader::with_capacity(1 << 16, file.take(MAX_CACHE_BYTES));
    PredictionCache::from_reader(reader).map(Some).map_err(Err)
}

fn too_large(path: &Path) -> String {
    format!(
        "{}: larger than the {} MiB a prediction cache may have",
        path.display(),
        MAX_CACHE_BYTES >> 20
    )
}

/// A cache must be a regular file within [`MAX_CACHE_BYTES`].
pub fn check_cache_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() > MAX_CACHE_BYTES {
        return Err(too_large(path));
    }
    Ok(())
}

/// Which model produced the predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// File name of the model.
    pub file: String,
    /// FNV-1a 64 digest of the model file's bytes, in hex.
    pub digest: String,
    /// Number of trees.
    pub trees: usize,
    /// Feature names, in the order the model was scored with.
    pub features: Vec<String>,
    /// What the model predicts, in words ("a degraded minute 5 minutes
    /// ahead"); absent in caches of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicts: Option<String>,
    /// The model's alarm threshold on its (calibrated) probability, when
    /// it carries one; the dashboard shows red from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_threshold: Option<f64>,
    /// Whether the probabilities are calibrated (a stated 40 % comes true
    /// about 40 % of the time).
    #[serde(default)]
    pub calibrated: bool,
}

/// The prediction for one probe at its latest minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePrediction {
    /// RIPE Atlas probe id, when known.
    pub probe_id: Option<u64>,
    /// Start of the 1-minute bin the features describe (Unix seconds, UTC).
    pub minute: i64,
    /// Probability that the path is degraded 5 minutes after `minute`.
    pub probability: f64,
    /// The model inputs, by feature name (null = missing).
    pub inputs: Vec<(String, Option<f64>)>,
    /// The features that moved this prediction most, strongest first:
    /// exact TreeSHAP contributions (at most [`MAX_CONTRIBUTIONS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<Contribution>,
}

/// How many contributions a prediction keeps: the few an operator reads.
pub const MAX_CONTRIBUTIONS: usize = 5;

/// One feature's share of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Feature name.
    pub feature: String,
    /// The feature's value in the scored minute (null = missing).
    pub value: Option<f64>,
    /// Its TreeSHAP contribution to the model's margin (log-odds for a
    /// logistic model): positive pushes the risk up, negative down.
    pub contribution: f64,
}

/// The `keep` largest contributions by absolute value, strongest first,
/// from a row's TreeSHAP output (`contribs`: one value per feature, then
/// the bias, which is left out) and the row's inputs.
pub fn top_contributions(
    names: &[String],
    inputs: &[f32],
    contribs: &[f32],
    keep: usize,
) -> Vec<Contribution> {
    let mut order: Vec<usize> = (0..names.len().min(contribs.len()))
        .filter(|&i| contribs[i] != 0.0 && contribs[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        contribs[b]
            .abs()
            .total_cmp(&contribs[a].abs())
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .take(keep)
        .map(|i| Contribution {
            feature: names[i].clone(),
            value: inputs.get(i).map(|v| f64::from(*v)).filter(|v| !v.is_nan()),
            // Four decimals of log-odds are more than a page shows; the
            // float32 sum's full digits made a 12 000-probe cache 2 MB
            // larger.
            contribution: (f64::from(contribs[i]) * 1e4).round() / 1e4,
        })
        .collect()
}

impl ProbePrediction {
    /// The named input, when present and not missing.
    pub fn input(&self, name: &str) -> Option<f64> {
        self.inputs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| *v)
    }
}

/// One minute of the dashboard chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Start of the minute (Unix seconds, UTC).
    pub minute: i64,
    /// Mean RTT in ms (null when unknown).
    pub latency_ms: Option<f64>,
    /// RTT standard deviation in ms (null when unknown).
    pub jitter_ms: Option<f64>,
    /// Predicted degradation probability.
    pub risk: f64,
}

/// Everything the server shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionCache {
    /// [`CACHE_VERSION`].
    pub version: u32,
    /// When the refresh cycle that wrote this finished (Unix seconds).
    pub generated_at: i64,
    /// Where the telemetry came from.
    pub source: String,
    /// The model used.
    pub model: ModelIdentity,
    /// One prediction per probe of interest; the first is the headline.
    pub predictions: Vec<ProbePrediction>,
    /// Recent minutes of the headline probe, oldest first.
    pub history: Vec<HistoryPoint>,
    /// How many minutes ahead the model looks: a scored minute's outcome
    /// is the minute this much later (for the track record).
    #[serde(default = "default_horizon")]
    pub horizon_minutes: u32,
    /// Per-probe records (recent buckets, warnings, outcomes), one per
    /// probe with a prediction that has one; absent before version 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeRecord>,
}

fn default_horizon() -> u32 {
    5
}

/// Most runs (of scored, warned and degraded minutes) a cache may hold
/// over all its probes.
pub const MAX_RECORD_RUNS: usize = 2_000_000;

/// Probability from which a model without its own alarm threshold is
/// shown as high risk (the original system's 40 %).
pub const DEFAULT_ALARM: f64 = 0.40;

impl PredictionCache {
    /// The probability from which the headline is high risk: the model's
    /// own alarm threshold, or [`DEFAULT_ALARM`].
    pub fn alarm_threshold(&self) -> f64 {
        self.model
            .alarm_threshold
            .filter(|t| t.is_finite() && *t >= 0.0)
            .unwrap_or(DEFAULT_ALARM)
    }

    /// Reads and checks a cache file. It is read as the server reads it: bounded, and a FIFO or a
    /// device is refused instead of waited on (a refresh reads the previous
    /// cache for its history).
    pub fn read(path: &Path) -> Result<PredictionCache, CacheError> {
        // Parsed as it is read: a refresh of every probe reads the previous
        // cache (tens of MB for 12 000 probes) without a copy of its bytes.
        match read_cache_parsed(path) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(CacheError::Missing(path.to_owned())),
            Err(Ok(message)) => Err(CacheError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
            }),
            Err(Err(message)) => Err(CacheError::Corrupt {
                path: path.to_owned(),
                message,
            }),
        }
    }

    /// Parses and checks cache bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<PredictionCache, String> {
        let cache: PredictionCache = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        cache.check()?;
        Ok(cache)
    }

    /// Parses and checks a cache as it is read, without holding the file's
    /// bytes: a 12 000-probe cache is 20 MB of JSON, and the server's peak
    /// memory was that much higher with the bytes held.
    pub fn from_reader(reader: impl Read) -> Result<PredictionCache, String> {
        let cache: PredictionCache = serde_json::from_reader(reader).map_err(|e| e.to_string())?;
        cache.check()?;
        Ok(cache)
    }

    /// The bounds and invariants a cache read from a file must meet.
    fn check(&self) -> Result<(), String> {
        let cache = self;
        if !(OLDEST_CACHE_VERSION..=CACHE_VERSION).contains(&cache.version) {
            return Err(format!(
                "version {} (this build reads {OLDEST_CACHE_VERSION} to {CACHE_VERSION})",
                cache.version
            ));
        }
        if cache.predictions.is_empty() {
            return Err("no predictions".into());
        }
        // Bounds on what a server keeps in memory (a refresh of every
        // probe of msm 1001 writes about 12 000 predictions of 8 inputs).
        if cache.predictions.len() > MAX_PREDICTIONS {
            return Err(format!(
                "{} predictions (at most {MAX_PREDICTIONS})",
                cache.predictions.len()
            ));
        }
        let inputs: usize = cache.predictions.iter().map(|p| p.inputs.len()).sum();
        if inputs > MAX_INPUTS {
            return Err(format!("{inputs} prediction inputs (at most {MAX_INPUTS})"));
        }
        if let Some(p) = cache
            .predictions
            .iter()
            .find(|p| !(0.0..=1.0).contains(&p.probability))
        {
            return Err(format!("probability {} out of [0, 1]", p.probability));
        }
        // Times outside 1970..=9999 are not times (and ages computed from
        // them could overflow); they are refused like a torn file.
        let times = std::iter::once(("generated_at", cache.generated_at))
            .chain(cache.predictions.iter().map(|p| ("minute", p.minute)))
            .chain(cache.history.iter().map(|h| ("history minute", h.minute)));
        for (what, t) in times {
            if !(0..=MAX_TIME).contains(&t) {
                return Err(format!("{what} {t} is not a time in 1970..=9999"));
            }
        }
        if let Some(h) = cache
            .history
            .iter()
            .find(|h| !(0.0..=1.0).contains(&h.risk))
        {
            return Err(format!("history risk {} out of [0, 1]", h.risk));
        }
        if cache.probes.len() > cache.predictions.len() {
            return Err(format!(
                "{} probe records for {} predictions",
                cache.probes.len(),
                cache.predictions.len()
            ));
        }
        let why: usize = cache.predictions.iter().map(|p| p.why.len()).sum();
        if why > MAX_CONTRIBUTIONS * cache.predictions.len() {
            return Err(format!(
                "{why} contributions (at most {MAX_CONTRIBUTIONS} a prediction)"
            ));
        }
        if cache.horizon_minutes > 1440 {
            return Err(format!(
                "horizon of {} minutes (at most a day)",
                cache.horizon_minutes
            ));
        }
        let mut runs = 0usize;
        for r in &cache.probes {
            r.check()?;
            runs += r.runs();
        }
        if runs > MAX_RECORD_RUNS {
            return Err(format!("{runs} record runs (at most {MAX_RECORD_RUNS})"));
        }
        Ok(())
    }

    /// Writes the cache atomically: readers see the previous file or this
    /// one, never a mix, and a failure leaves the previous file untouched.
    pub fn write(&self, path: &Path) -> Result<(), CacheError> {
        // Compact: a record's numbers one per line made a 12 000-probe
        // cache several times larger.
        let bytes = serde_json::to_vec(self).map_err(|e| CacheError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        netprophet_core::atomic_file::write_with(path, |f| {
            use std::io::Write;
            let half = bytes.len() / 2;
            f.write_all(&bytes[..half])?;
            // A fault point for the tests that kill a refresh half-way
            // through this write (see `fault_pause`).
            fault_pause("cache-write");
            f.write_all(&bytes[half..])
        })
        .map_err(|source| CacheError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The headline prediction.
    pub fn headline(&self) -> &ProbePrediction {
        &self.predictions[0]
    }
}

/// Sleeps when `NETPROPHET_FAULT_PAUSE` names this point
/// (`cache-write:5000` pauses 5 s at `cache-write`): how the tests hold a
/// process in the middle of a write, to kill it there. Unset, it costs one
/// environment lookup per cache write.
pub(crate) fn fault_pause(point: &str) {
    let Ok(spec) = std::env::var("NETPROPHET_FAULT_PAUSE") else {
        return;
    };
    if let Some((name, ms)) = spec.split_once(':') {
        if name == point {
            let ms = ms.parse::<u64>().unwrap_or(0).min(60_000);
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

/// FNV-1a 64-bit digest: a stable identity for a model file, not a
/// security check.
pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small valid cache for tests.
    pub(crate) fn sample(generated_at: i64, probability: f64) -> PredictionCache {
        PredictionCache {
            version: CACHE_VERSION,
            generated_at,
            source: "test".into(),
            model: ModelIdentity {
                file: "m.json".into(),
                digest: digest(b"m"),
                trees: 1,
                features: vec!["avg_latency".into()],
                predicts: None,
                alarm_threshold: None,
                calibrated: false,
            },
            predictions: vec![ProbePrediction {
                probe_id: Some(7),
                minute: generated_at - 60,
                probability,
                inputs: vec![("avg_latency".into(), Some(12.5)), ("jitter".into(), None)],
                why: Vec::new(),
            }],
            history: (0..10)
                .map(|i| HistoryPoint {
                    minute: generated_at - 600 + i * 60,
                    latency_ms: Some(10.0 + i as f64),
                    jitter_ms: Some(1.0),
                    risk: 0.1 * i as f64,
                })
                .collect(),
            horizon_minutes: 5,
            probes: Vec::new(),
        }
    }

    #[test]
    fn version_1_files_are_still_read_and_records_are_checked() {
        // A version-1 cache as earlier builds wrote it: no contributions,
        // no records, no horizon.
        let mut v1 = serde_json::to_value(sample(1_000_000, 0.25)).unwrap();
        v1["version"] = 1.into();
        let o = v1.as_object_mut().unwrap();
        o.remove("probes");
        o.remove("horizon_minutes");
        let c = PredictionCache::from_slice(v1.to_string().as_bytes()).unwrap();
        assert_eq!((c.version, c.horizon_minutes), (1, 5));
        assert!(c.probes.is_empty() && c.predictions[0].why.is_empty());
        let mut bad = v1.clone();
        bad["version"] = 3.into();
        assert!(PredictionCache::from_slice(bad.to_string().as_bytes()).is_err());
        // A record with unsorted runs is refused, through either parser.
        let mut c2 = sample(1_000_000, 0.25);
        let minutes: Vec<MinuteOutcome> = (0..30)
            .map(|i| MinuteOutcome {
                minute: 999_000 - 1_800 + i * 60,
                latency: Some(1.0),
                threshold: Some(2.0),
                risk: 0.5,
                degraded: i % 7 == 0,
            })
            .collect();
        c2.probes
            .push(ProbeRecord::update(None, 7, &minutes, 0.4).unwrap());
        let text = serde_json::to_string(&c2).unwrap();
        assert_eq!(PredictionCache::from_reader(text.as_bytes()).unwrap(), c2);
        c2.probes[0].degraded.0.reverse();
        let text = serde_json::to_string(&c2).unwrap();
        assert!(PredictionCache::from_slice(text.as_bytes()).is_err());
        assert!(PredictionCache::from_reader(text.as_bytes()).is_err());
    }

    #[test]
    fn the_strongest_contributions_come_first() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let top = top_contributions(&names, &[1.0, f32::NAN, 3.0], &[0.5, -2.0, 0.0, 9.0], 5);
        let got: Vec<_> = top
            .iter()
            .map(|c| (c.feature.as_str(), c.contribution, c.value))
            .collect();
        assert_eq!(got, vec![("b", -2.0, None), ("a", 0.5, Some(1.0))]);
    }

    #[test]
    fn round_trip_and_strict_read() {
        let dir = std::env::temp_dir().join(format!("np-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.json");
        assert!(matches!(
            PredictionCache::read(&path),
            Err(CacheError::Missing(_))
        ));
        let c = sample(1_000_000, 0.25);
        c.write(&path).unwrap();
        assert_eq!(PredictionCache::read(&path).unwrap(), c);
        std::fs::write(&path, b"{\"version\": 1, \"generated_at\"").unwrap();
        assert!(matches!(
            PredictionCache::read(&path),
            Err(CacheError::Corrupt { .. })
        ));
        let mut bad = c.clone();
        bad.predictions[0].probability = 1.5;
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        assert!(matches!(
            PredictionCache::read(&path),
            Err(CacheError::Corrupt { .. })
        ));
        for absurd in [i64::MAX, i64::MIN, -1, 253_402_300_800] {
            let mut bad = c.clone();
            bad.generated_at = absurd;
            let text = serde_json::to_vec(&bad).unwrap();
            let err = PredictionCache::from_slice(&text).unwrap_err();
            assert!(err.contains("generated_at"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

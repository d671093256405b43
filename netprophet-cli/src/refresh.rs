//! One live cycle: fetch the last minutes of RIPE Atlas results, build each
//! selected probe's features with the streaming builder, score them, and
//! replace the prediction cache atomically. Used by `netprophet refresh`
//! (cron) and by `netprophet serve --refresh-every` (in-process).
//!
//! A failed cycle returns an error and leaves the previous cache exactly as
//! it was: nothing is written until everything has succeeded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context};
use netprophet_boost::{Forest, Predictor};
use netprophet_core::atlas::client::{AtlasClient, ClientConfig};
use netprophet_core::atlas::{read_stream, summary, ParseStats, SampleFilter};
use netprophet_core::features::{
    bin_of, row_major, FeatureFrame, ProbeCollector, StreamingFeatures, BIN_SECONDS,
};

use crate::cache::{
    top_contributions, HistoryPoint, MinuteOutcome, PredictionCache, ProbePrediction, ProbeRecord,
    CACHE_VERSION, DEFAULT_ALARM, HISTORY_SECONDS, MAX_CONTRIBUTIONS,
};
use crate::model_card::{fetch_minutes_of, model_schema, ModelCard};
use crate::telemetry::Selection;

/// What a refresh needs.
#[derive(Clone, Debug)]
pub struct RefreshConfig {
    /// Model file.
    pub model: PathBuf,
    /// Cache file to replace.
    pub cache: PathBuf,
    /// Atlas client settings.
    pub atlas: ClientConfig,
    /// Which probes to predict for.
    pub selection: Selection,
    /// Minutes of telemetry to fetch (65: a full 60-minute window plus
    /// the 5-minute momentum).
    pub minutes: i64,
}

/// What a successful refresh did.
#[derive(Clone, Debug)]
pub struct RefreshOutcome {
    /// Probes predicted for.
    pub probes: Vec<u64>,
    /// Headline probability.
    pub probability: f64,
    /// Minute it is for.
    pub minute: i64,
    /// Results and samples read.
    pub stats: ParseStats,
}

/// A model file's bytes and the minutes of telemetry its features look
/// back over: what a cycle reads before it fetches (the parse comes
/// later, see [`refresh_once`]).
fn read_model(path: &Path) -> anyhow::Result<(Vec<u8>, i64)> {
    let bytes = netprophet_boost::formats::read_model_file(path)
        .with_context(|| format!("reading the model {}", path.display()))?;
    let minutes = fetch_minutes_of(&bytes)
        .with_context(|| format!("loading the model {}", path.display()))?;
    Ok((bytes, minutes))
}

/// The model of `bytes` (read from `path`), its feature names and card.
fn parse_model(path: &Path, bytes: &[u8]) -> anyhow::Result<(Forest, Vec<String>, ModelCard)> {
    let loading = || format!("loading the model {}", path.display());
    let forest = Forest::from_slice(bytes).with_context(loading)?;
    let names = model_schema(&forest, None)?;
    let card = ModelCard::read(&forest, &names).with_context(loading)?;
    Ok((forest, names, card))
}

/// Reads and parses the model at `path` as every cycle does, so a model
/// no cycle could use is refused before serving starts.
pub fn check_model(path: &Path) -> anyhow::Result<()> {
    let (bytes, _) = read_model(path)?;
    let (forest, _, _) = parse_model(path, &bytes)?;
    Predictor::new(&forest)?;
    Ok(())
}

/// Runs one cycle at Unix time `now`.
pub fn refresh_once(cfg: &RefreshConfig, now: i64) -> anyhow::Result<RefreshOutcome> {
    // Fail fast on an unreadable model file; parse it later (see below).
    let (bytes, model_minutes) = read_model(&cfg.model)?;
    // A model whose features look back a day needs a day of telemetry.
    let minutes = cfg.minutes.max(model_minutes);
    let (mut probes, stats) = fetch_probes(cfg, now - minutes * 60, now)?;
    if stats.samples == 0 {
        bail!(
            "no usable ping sample in the last {} minutes ({} results; {})",
            minutes,
            stats.results,
            summary(&stats)
        );
    }
    let ids = selected(&cfg.selection, &probes);
    if ids.is_empty() {
        bail!("none of the requested probes reported in the last {minutes} minutes");
    }
    // Only the selected probes are needed from here on; the model's JSON
    // parse (the largest transient allocation) then reuses what the others
    // held, which keeps a many-probe refresh within 20 MB.
    probes.retain(&ids);
    let (forest, names, card) = parse_model(&cfg.model, &bytes)?;
    let model = LiveModel {
        predictor: Predictor::new(&forest)?,
        names: &names,
        card: &card,
    };
    // The last complete minute: the current one is still filling.
    let last_minute = bin_of(now) - BIN_SECONDS;
    let alarm = card.threshold.unwrap_or(DEFAULT_ALARM);
    let previous = PredictionCache::read(&cfg.cache).ok();
    let old_records: std::collections::HashMap<u64, &ProbeRecord> = previous
        .iter()
        .flat_map(|c| &c.probes)
        .map(|r| (r.probe_id, r))
        .collect();
    let mut predictions = Vec::new();
    let mut records = Vec::new();
    let mut headline_history = Vec::new();
    for &id in &ids {
        let bins = probes.probe(id).map(|p| p.bins()).unwrap_or_default();
        let Some(scored) = model.score(id, bins, last_minute)? else {
            continue;
        };
        if headline_history.is_empty() {
            headline_history = scored.history;
        }
        records.extend(ProbeRecord::update(
            old_records.get(&id).copied(),
            id,
            &scored.outcomes,
            alarm,
        ));
        predictions.push(scored.prediction);
    }
    if predictions.is_empty() {
        bail!("no complete minute to predict from yet");
    }
    // Probes that did not report this time keep their last prediction and
    // record for a while, so the overview shows how old their data is
    // instead of dropping them.
    if let Some(prev) = &previous {
        let fresh: std::collections::HashSet<Option<u64>> =
            predictions.iter().map(|p| p.probe_id).collect();
        for p in &prev.predictions {
            if p.probe_id.is_some()
                && !fresh.contains(&p.probe_id)
                && p.minute > now - KEEP_SILENT_SECONDS
            {
                predictions.push(p.clone());
                records.extend(
                    old_records
                        .get(&p.probe_id.unwrap_or(0))
                        .map(|r| (*r).clone()),
                );
            }
        }
    }
    let history = merge_history(
        previous
            .filter(|c| c.predictions.first().map(|p| p.probe_id) == Some(predictions[0].probe_id))
            .map(|c| c.history)
            .unwrap_or_default(),
        headline_history,
        now,
    );
    let cache = PredictionCache {
        version: CACHE_VERSION,
        generated_at: now,
        source: format!(
            "RIPE Atlas msm {}, probe {}, last {} minutes from {}",
            cfg.atlas.measurement,
            predictions[0].probe_id.unwrap_or(0),
            minutes,
            cfg.atlas.base_url
        ),
        model: card.identity(&cfg.model, &bytes, &forest, &names),
        predictions,
        history,
        horizon_minutes: card.target.horizon.min(1440) as u32,
        probes: records,
    };
    cache.write(&cfg.cache)?;
    Ok(RefreshOutcome {
        probes: ids,
        probability: cache.predictions[0].probability,
        minute: cache.predictions[0].minute,
        stats,
    })
}

/// Fetches `[start, now)` and collects the selected probes' samples.
/// Bodies are parsed as they arrive (a window of every probe is tens of
/// MB); each attempt collects into its own collector so a failed one
/// leaves nothing behind.
fn fetch_probes(
    cfg: &RefreshConfig,
    start: i64,
    now: i64,
) -> anyhow::Result<(ProbeCollector, ParseStats)> {
    let client = AtlasClient::new(cfg.atlas.clone())?;
    let explicit: Vec<u64> = match &cfg.selection {
        Selection::Probes(p) => p.clone(),
        _ => Vec::new(),
    };
    let filter = SampleFilter::new().window(start, now);
    let filter = if explicit.is_empty() {
        filter
    } else {
        filter.probes(explicit.iter().copied())
    };
    let gathered: Mutex<Vec<(ProbeCollector, ParseStats)>> = Mutex::new(Vec::new());
    client.fetch_window(
        start,
        now,
        &explicit,
        |_| false,
        |_, body| {
            let mut probes = ProbeCollector::new();
            let mut kept = ParseStats::default();
            let mut buf = Vec::new();
            let mut input = std::io::BufReader::with_capacity(1 << 16, body);
            let read = read_stream("Atlas response", &mut input, |r| {
                buf.clear();
                if filter.samples(&r, &mut kept, &mut buf) {
                    probes.extend(&buf);
                }
            })
            .map_err(|e| e.to_string())?;
            let mut stats = read;
            stats.merge(&kept);
            gathered
                .lock()
                .map_err(|e| e.to_string())?
                .push((probes, stats));
            Ok(())
        },
    )?;
    let mut probes = ProbeCollector::new();
    let mut stats = ParseStats::default();
    for (p, st) in gathered.into_inner().map_err(|e| anyhow::anyhow!("{e}"))? {
        probes.merge(p);
        stats.merge(&st);
    }
    Ok((probes, stats))
}

/// The probes to predict for, among those that reported.
fn selected(selection: &Selection, probes: &ProbeCollector) -> Vec<u64> {
    match selection {
        Selection::Probes(p) => p
            .iter()
            .copied()
            .filter(|p| probes.probe(*p).is_some())
            .collect(),
        Selection::MostActive => probes.most_active().into_iter().collect(),
        Selection::All => probes.probe_ids(),
    }
}

/// How long a probe that stopped reporting keeps its last prediction in
/// the cache (shown with its age): 6 hours.
const KEEP_SILENT_SECONDS: i64 = 6 * 3600;

/// One probe's refresh: its prediction, its minutes for the headline
/// chart, and each scored minute with its observed outcome.
struct Scored {
    prediction: ProbePrediction,
    history: Vec<HistoryPoint>,
    outcomes: Vec<MinuteOutcome>,
}

/// The loaded model, ready to score probes' live minutes.
struct LiveModel<'a> {
    predictor: Predictor,
    names: &'a [String],
    card: &'a ModelCard,
}

impl LiveModel<'_> {
    /// One probe's prediction for its latest minute and the risk of each
    /// minute of its latest segment; `None` without a complete minute.
    fn score(
        &self,
        id: u64,
        bins: Vec<(i64, netprophet_core::features::Bin)>,
        last_minute: i64,
    ) -> anyhow::Result<Option<Scored>> {
        let mut live = StreamingFeatures::new(self.card.features);
        let mut rows = Vec::new();
        for (minute, bin) in bins {
            // Replaying bins minute by minute: the streaming builder gets the
            // same per-minute statistics the batch path computes.
            live.push_bin(minute, bin, &mut rows)?;
        }
        live.close_through(last_minute, &mut rows);
        // Only the latest segment describes the path now: rows before a
        // gap longer than the forward-fill limit belong to another one.
        let start = rows
            .windows(2)
            .rposition(|w| w[1].timestamp - w[0].timestamp != BIN_SECONDS)
            .map_or(0, |i| i + 1);
        rows.drain(..start);
        let Some(last) = rows.len().checked_sub(1) else {
            return Ok(None);
        };
        let frame = FeatureFrame::from_rows(Some(id), &rows, self.card.features);
        let columns = frame
            .columns(self.names)
            .context("the model needs a feature netprophet does not compute")?;
        let x = row_major(&columns)?;
        let risks: Vec<f64> = self
            .predictor
            .predict(&x, self.names.len())?
            .into_iter()
            .map(|p| self.card.probability(f64::from(p)))
            .collect();
        // Why: the exact TreeSHAP contributions of the latest minute only
        // (one row per probe keeps a 12 000-probe refresh cheap).
        let width = self.names.len();
        let row = &x[last * width..(last + 1) * width];
        let mut contribs = vec![0f32; self.predictor.contributions_width()];
        let why = match self.predictor.contributions_row_into(row, &mut contribs) {
            Ok(()) => top_contributions(self.names, row, &contribs, MAX_CONTRIBUTIONS),
            // A model too deep for TreeSHAP still predicts; it has no "why".
            Err(_) => Vec::new(),
        };
        let prediction = ProbePrediction {
            probe_id: Some(id),
            minute: rows[last].timestamp,
            probability: risks[last],
            inputs: self
                .names
                .iter()
                .zip(&columns)
                .map(|(n, c)| (n.clone(), Some(c[last]).filter(|v| !v.is_nan())))
                .collect(),
            why,
        };
        let labels = netprophet_core::labels::label(&frame, self.card.target);
        let outcomes = rows
            .iter()
            .zip(&risks)
            .enumerate()
            .map(|(i, (r, risk))| MinuteOutcome {
                minute: r.timestamp,
                latency: Some(r.avg_latency).filter(|v| !v.is_nan()),
                threshold: labels.threshold.get(i).copied().filter(|v| v.is_finite()),
                risk: *risk,
                degraded: labels.now.get(i).copied().unwrap_or(false),
            })
            .collect();
        let history = rows
            .iter()
            .zip(&risks)
            .map(|(r, risk)| HistoryPoint {
                minute: r.timestamp,
                latency_ms: Some(r.avg_latency).filter(|v| !v.is_nan()),
                jitter_ms: Some(r.jitter).filter(|v| !v.is_nan()),
                risk: *risk,
            })
            .collect();
        Ok(Some(Scored {
            prediction,
            history,
            outcomes,
        }))
    }
}

/// Old points, replaced by new ones for the same minutes, within 12 h.
fn merge_history(old: Vec<HistoryPoint>, new: Vec<HistoryPoint>, now: i64) -> Vec<HistoryPoint> {
    let first_new = new.first().map_or(i64::MAX, |p| p.minute);
    let mut out: Vec<HistoryPoint> = old.into_iter().filter(|p| p.minute < first_new).collect();
    out.extend(new);
    out.retain(|p| p.minute > now - HISTORY_SECONDS);
    out
}

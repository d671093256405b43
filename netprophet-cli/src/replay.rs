//! Offline replay of recorded real telemetry, minute by minute, as if it
//! were arriving live. The demo uses it so the whole pipeline (features,
//! model, cache, dashboard) runs with no network.
//!
//! The recording bundled in the binary is the original system's 952 real
//! minutes of RIPE Atlas msm 1001 features (`fixtures/data/training_data.csv`).
//! The raw pings behind those minutes were not kept, so that replay starts
//! from the per-minute features rather than from Atlas result lines. Any
//! other recording (an Atlas archive, an RTT trace, a feature CSV) is
//! replayed from its frames ([`Replay::from_frames`]) with any model,
//! calibrated as the model says.

use anyhow::{bail, Context};
use netprophet_boost::{ColumnMap, Forest, Predictor};
use netprophet_core::time::parse_utc;

use crate::cache::record::RECORD_SECONDS;
use crate::cache::{
    top_contributions, HistoryPoint, MinuteOutcome, ModelIdentity, PredictionCache,
    ProbePrediction, ProbeRecord, CACHE_VERSION, DEFAULT_ALARM, HISTORY_SECONDS, MAX_CONTRIBUTIONS,
};
use crate::model_card::{model_schema, ModelCard};

/// The bundled recording.
pub const RECORDED_MINUTES: &str = include_str!("../../fixtures/data/training_data.csv");
/// Real RTT traces the demo replays beside the bundled recording, by
/// probe id: RIPE Atlas built-in measurements to b.root-servers.net,
/// 2016 (`fixtures/data/rtt-traces/`, MIT licence, notice beside them).
pub const BUNDLED_TRACES: [(u64, &str); 4] = [
    (
        11323,
        include_str!("../../fixtures/data/rtt-traces/11323.csv"),
    ),
    (
        13746,
        include_str!("../../fixtures/data/rtt-traces/13746.csv"),
    ),
    (
        15018,
        include_str!("../../fixtures/data/rtt-traces/15018.csv"),
    ),
    (
        17783,
        include_str!("../../fixtures/data/rtt-traces/17783.csv"),
    ),
];
/// The bundled model: `fixtures/tournament_model.json`, trained by
/// netprophet with the original system's recipe (SMOTE k=3, 200 trees,
/// depth 5, learning rate 0.1) on the 947 complete real rows, carrying its
/// feature names.
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../fixtures/tournament_model.json");

/// One recorded minute, scored.
#[derive(Debug, Clone)]
pub struct ScoredMinute {
    /// Start of the minute (Unix seconds, UTC).
    pub minute: i64,
    /// Model inputs in model order.
    pub inputs: Vec<f32>,
    /// Predicted degradation probability (calibrated when the model
    /// carries a calibration).
    pub risk: f64,
    /// Mean RTT of the minute, for the chart (whatever the model's inputs).
    pub latency: Option<f64>,
    /// RTT standard deviation of the minute.
    pub jitter: Option<f64>,
    /// The degradation threshold in force at the minute, ms.
    pub threshold: Option<f64>,
    /// Whether the minute turned out degraded (the labeller's "now").
    pub degraded: bool,
}

/// A scored recording, ready to be replayed.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The minutes, oldest first.
    pub minutes: Vec<ScoredMinute>,
    /// Names of the model inputs.
    pub features: Vec<String>,
    /// The model's identity, for the cache.
    pub model: ModelIdentity,
    /// Where the telemetry came from.
    pub source: String,
    /// The probe replayed, when the recording names one.
    pub probe_id: Option<u64>,
    /// Minutes ahead the model predicts.
    pub horizon: u32,
    /// The model, for the contributions of the minute shown (computed
    /// when a minute is shown, not for every minute of the recording).
    predictor: std::sync::Arc<Predictor>,
}

fn parse_minute(s: &str) -> anyhow::Result<i64> {
    parse_utc(s).with_context(|| format!("bad timestamp {s:?}"))
}

impl Replay {
    /// Scores every minute of a features CSV (header with a `timestamp`
    /// column and the model's feature columns, matched by name).
    pub fn score(
        csv_text: &str,
        forest: &Forest,
        features: &[String],
        model: ModelIdentity,
        source: &str,
    ) -> anyhow::Result<Replay> {
        let mut lines = csv_text.lines();
        let header: Vec<&str> = lines
            .next()
            .context("empty recording")?
            .split(',')
            .collect();
        let ts_col = header
            .iter()
            .position(|h| *h == "timestamp")
            .context("recording has no `timestamp` column")?;
        let map = ColumnMap::by_name(features, &header)?;
        let predictor = Predictor::new(forest)?;
        let mut minutes = Vec::new();
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                bail!(
                    "recording line {}: {} cells, header has {}",
                    i + 2,
                    cells.len(),
                    header.len()
                );
            }
            let record: Vec<f32> = cells
                .iter()
                .map(|c| c.trim().parse::<f64>().map_or(f32::NAN, |v| v as f32))
                .collect();
            let mut inputs = Vec::with_capacity(features.len());
            map.gather(&record, &mut inputs)?;
            let risk = f64::from(predictor.predict_row(&inputs)?);
            let column = |name: &str| {
                header
                    .iter()
                    .position(|h| *h == name)
                    .map(|c| f64::from(record[c]))
                    .filter(|v| !v.is_nan())
            };
            minutes.push(ScoredMinute {
                minute: parse_minute(cells[ts_col])
                    .with_context(|| format!("recording line {}", i + 2))?,
                inputs,
                risk,
                latency: column("avg_latency"),
                jitter: column("jitter"),
                threshold: column("threshold"),
                degraded: column("is_degraded").is_some_and(|v| v > 0.5),
            });
        }
        if minutes.is_empty() {
            bail!("recording has no rows");
        }
        Ok(Replay {
            minutes,
            features: features.to_vec(),
            model,
            source: source.to_owned(),
            probe_id: None,
            horizon: 5,
            predictor: std::sync::Arc::new(predictor),
        })
    }

    /// The bundled recording scored with the bundled model.
    pub fn bundled() -> anyhow::Result<Replay> {
        let forest = Forest::from_json_slice(BUNDLED_MODEL).context("bundled model")?;
        let features = model_schema(&forest, None)?;
        let card = ModelCard::read(&forest, &features)?;
        let model = card.identity(
            std::path::Path::new("tournament_model.json"),
            BUNDLED_MODEL,
            &forest,
            &features,
        );
        Replay::score(
            RECORDED_MINUTES,
            &forest,
            &features,
            model,
            "replay of 952 recorded real minutes, RIPE Atlas msm 1001 (2026-02-09)",
        )
    }

    /// Scores a probe's frames (its segments, in time order) with `forest`
    /// on feature `names`, calibrated as `card` says.
    pub fn from_frames(
        frames: &[netprophet_core::features::FeatureFrame],
        forest: &Forest,
        names: &[String],
        card: &ModelCard,
        model: ModelIdentity,
        source: &str,
    ) -> anyhow::Result<Replay> {
        let predictor = Predictor::new(forest)?;
        let mut minutes = Vec::new();
        for frame in frames {
            let x = frame
                .matrix(names)
                .context("the model needs a feature netprophet does not compute")?;
            let risks = predictor.predict(&x, names.len())?;
            let labels = netprophet_core::labels::label(frame, card.target);
            for (i, (row, risk)) in x.chunks(names.len().max(1)).zip(risks).enumerate() {
                let ok = |v: f64| (!v.is_nan()).then_some(v);
                minutes.push(ScoredMinute {
                    minute: frame.timestamp[i],
                    inputs: row.to_vec(),
                    risk: card.probability(f64::from(risk)),
                    latency: ok(frame.avg_latency[i]),
                    jitter: ok(frame.jitter[i]),
                    threshold: labels.threshold.get(i).copied().filter(|v| v.is_finite()),
                    degraded: labels.now.get(i).copied().unwrap_or(false),
                });
            }
        }
        if minutes.is_empty() {
            bail!("the recording has no minute to replay");
        }
        Ok(Replay {
            minutes,
            features: names.to_vec(),
            model,
            source: source.to_owned(),
            probe_id: frames.iter().find_map(|f| f.probe_id),
            horizon: card.target.horizon.min(1440) as u32,
            predictor: std::sync::Arc::new(predictor),
        })
    }

    fn input(&self, m: &ScoredMinute, name: &str) -> Option<f64> {
        let i = self.features.iter().position(|f| f == name)?;
        let v = m.inputs[i];
        (!v.is_nan()).then_some(f64::from(v))
    }

    /// The cache as it would be right after minute `index` arrived.
    pub fn cache_at(&self, index: usize) -> PredictionCache {
        let index = index.min(self.minutes.len() - 1);
        let now = &self.minutes[index];
        let history = self.minutes[..=index]
            .iter()
            .filter(|m| m.minute > now.minute - HISTORY_SECONDS)
            .map(|m| HistoryPoint {
                minute: m.minute,
                latency_ms: m.latency,
                jitter_ms: m.jitter,
                risk: m.risk,
            })
            .collect();
        PredictionCache {
            version: CACHE_VERSION,
            generated_at: now.minute + 60,
            source: self.source.clone(),
            model: self.model.clone(),
            predictions: vec![self.prediction_at(index, 0)],
            history,
            horizon_minutes: self.horizon,
            probes: Vec::new(),
        }
    }

    fn why(&self, m: &ScoredMinute) -> Vec<crate::cache::Contribution> {
        let mut contribs = vec![0f32; self.predictor.contributions_width()];
        match self
            .predictor
            .contributions_row_into(&m.inputs, &mut contribs)
        {
            Ok(()) => top_contributions(&self.features, &m.inputs, &contribs, MAX_CONTRIBUTIONS),
            // A model too deep for TreeSHAP still predicts; it has no "why".
            Err(_) => Vec::new(),
        }
    }

    fn alarm(&self) -> f64 {
        self.model.alarm_threshold.unwrap_or(DEFAULT_ALARM)
    }

    /// The prediction and record of minute `index`, dated `shift` seconds
    /// later (so recordings of other days run on one clock).
    pub fn probe_at(&self, index: usize, shift: i64) -> (ProbePrediction, Option<ProbeRecord>) {
        let index = index.min(self.minutes.len() - 1);
        let now = &self.minutes[index];
        let from = now.minute - RECORD_SECONDS;
        let outcomes: Vec<MinuteOutcome> = self.minutes[..=index]
            .iter()
            .filter(|m| m.minute > from)
            .map(|m| MinuteOutcome {
                minute: m.minute + shift,
                latency: m.latency,
                threshold: m.threshold,
                risk: m.risk,
                degraded: m.degraded,
            })
            .collect();
        let record = self
            .probe_id
            .and_then(|id| ProbeRecord::update(None, id, &outcomes, self.alarm()));
        (self.prediction_at(index, shift), record)
    }

    /// The prediction of minute `index`, dated `shift` seconds later.
    fn prediction_at(&self, index: usize, shift: i64) -> ProbePrediction {
        let now = &self.minutes[index.min(self.minutes.len() - 1)];
        ProbePrediction {
            probe_id: self.probe_id,
            minute: now.minute + shift,
            probability: now.risk,
            inputs: self
                .features
                .iter()
                .map(|f| (f.clone(), self.input(now, f)))
                .collect(),
            why: self.why(now),
        }
    }
}

/// Several recordings replayed together: the first one drives the clock
/// (its minute `index` is "now"); each other one is shifted so that its
/// chosen minute falls on the first one's starting minute, and shows its
/// latest minute up to "now".
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The recording that drives the clock (the headline).
    pub lead: Replay,
    /// The others, with the seconds each is shifted by.
    pub others: Vec<(Replay, i64)>,
}

impl Ensemble {
    /// `lead` alone.
    pub fn single(lead: Replay) -> Ensemble {
        Ensemble {
            lead,
            others: Vec::new(),
        }
    }

    /// Adds `other` so that its minute `at` coincides with the lead's
    /// minute `start`.
    pub fn add(&mut self, other: Replay, at: usize, start: usize) {
        let at = at.min(other.minutes.len() - 1);
        let start = start.min(self.lead.minutes.len() - 1);
        let shift = self.lead.minutes[start].minute - other.minutes[at].minute;
        self.others.push((other, shift));
    }

    /// The cache right after the lead's minute `index` arrived.
    pub fn cache_at(&self, index: usize) -> PredictionCache {
        let mut cache = self.lead.cache_at(index);
        if self.lead.probe_id.is_some() {
            cache.probes.extend(self.lead.probe_at(index, 0).1);
        }
        let now = cache.generated_at;
        for (r, shift) in &self.others {
            let k = r.minutes.partition_point(|m| m.minute + shift < now);
            if k == 0 {
                continue;
            }
            let (prediction, record) = r.probe_at(k - 1, *shift);
            cache.predictions.push(prediction);
            cache.probes.extend(record);
        }
        cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_replay_scores_every_recorded_minute() {
        let r = Replay::bundled().unwrap();
        assert_eq!(r.minutes.len(), 952);
        assert_eq!(r.minutes[0].minute, 1_770_621_660); // 2026-02-09 07:21 UTC
        assert!(r
            .minutes
            .windows(2)
            .all(|w| w[1].minute - w[0].minute == 60));
        assert!(r.minutes.iter().all(|m| (0.0..=1.0).contains(&m.risk)));
        let c = r.cache_at(951);
        assert_eq!(c.history.len(), 720, "12 h of minutes");
        assert_eq!(c.generated_at, r.minutes[951].minute + 60);
    }
}

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

use crate::cache::{
    HistoryPoint, ModelIdentity, PredictionCache, ProbePrediction, CACHE_VERSION, HISTORY_SECONDS,
};
use crate::model_card::{model_schema, ModelCard};

/// The bundled recording.
pub const RECORDED_MINUTES: &str = include_str!("../../fixtures/data/training_data.csv");
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
        let predictor = Predictor::new(forest);
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
        let predictor = Predictor::new(forest);
        let mut minutes = Vec::new();
        for frame in frames {
            let x = frame
                .matrix(names)
                .context("the model needs a feature netprophet does not compute")?;
            let risks = predictor.predict(&x, names.len())?;
            for (i, (row, risk)) in x.chunks(names.len().max(1)).zip(risks).enumerate() {
                let ok = |v: f64| (!v.is_nan()).then_some(v);
                minutes.push(ScoredMinute {
                    minute: frame.timestamp[i],
                    inputs: row.to_vec(),
                    risk: card.probability(f64::from(risk)),
                    latency: ok(frame.avg_latency[i]),
                    jitter: ok(frame.jitter[i]),
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
            predictions: vec![ProbePrediction {
                probe_id: None,
                minute: now.minute,
                probability: now.risk,
                inputs: self
                    .features
                    .iter()
                    .map(|f| (f.clone(), self.input(now, f)))
                    .collect(),
                why: Vec::new(),
            }],
            history,
            horizon_minutes: 5,
            probes: Vec::new(),
        }
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

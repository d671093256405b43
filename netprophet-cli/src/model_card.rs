//! What a netprophet model says about itself, in XGBoost's
//! `learner.attributes` (kept by XGBoost through load and save): the
//! target it predicts, how its minutes were formed, how much telemetry it
//! looks back, its calibration and alarm threshold, and how it was
//! trained. Models without these (the original system's, XGBoost's own)
//! still load: they predict the original target, uncalibrated.

use anyhow::{bail, Context};
use netprophet_boost::calibration::{self, Calibration};
use netprophet_boost::Forest;
use netprophet_core::features::FeatureConfig;
use netprophet_core::history::lookback_minutes;
use netprophet_core::labels::{LabelConfig, Target};
use netprophet_core::schema::FEATURE_COLUMNS;
use serde::Serialize;

use crate::cache::{digest, ModelIdentity};

/// Attribute: the target ([`LabelConfig`] as JSON).
pub const TARGET: &str = "netprophet_target";
/// Attribute: how minutes are formed ([`FeatureConfig`] as JSON).
pub const FEATURES: &str = "netprophet_feature_config";
/// Attribute: the alarm threshold on the calibrated probability.
pub const THRESHOLD: &str = "netprophet_threshold";
/// Attribute: the training recipe (JSON, for people).
pub const RECIPE: &str = "netprophet_recipe";
/// Attribute: what the model was trained on (text, for people).
pub const TRAINED_ON: &str = "netprophet_trained_on";

/// The feature names a model is scored with: its own, or the caller's
/// schema for a nameless model. A caller schema that contradicts the names
/// the model carries is refused rather than silently preferred.
pub fn model_schema(forest: &Forest, given: Option<&[String]>) -> anyhow::Result<Vec<String>> {
    match (&forest.feature_names, given) {
        (Some(own), Some(given)) if own.as_slice() != given => bail!(
            "--features {} contradicts the model's own feature names {}",
            given.join(","),
            own.join(",")
        ),
        (Some(own), _) => Ok(own.clone()),
        (None, Some(given)) => Ok(given.to_vec()),
        (None, None) => Ok(FEATURE_COLUMNS.iter().map(|s| s.to_string()).collect()),
    }
    .and_then(|names: Vec<String>| {
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            // Columns are matched by name: one column would feed both.
            bail!("feature name `{}` appears more than once", w[0]);
        }
        if names.len() != forest.num_feature {
            bail!(
                "the model has {} features but the schema names {} ({})",
                forest.num_feature,
                names.len(),
                names.join(",")
            );
        }
        Ok(names)
    })
}

/// A model's self-description.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelCard {
    /// What it predicts.
    pub target: LabelConfig,
    /// How its minutes are formed.
    pub features: FeatureConfig,
    /// Raw probability to observed rate, when calibrated.
    pub calibration: Option<Calibration>,
    /// Alarm threshold on the (calibrated) probability, when chosen.
    pub threshold: Option<f64>,
    /// Minutes of telemetry its features look back.
    pub lookback_minutes: usize,
}

impl ModelCard {
    /// Reads the card of `forest` (scored with feature `names`); a
    /// malformed attribute is an error naming it.
    pub fn read(forest: &Forest, names: &[String]) -> anyhow::Result<ModelCard> {
        let attr = |key: &str| forest.attributes.get(key);
        let target = match attr(TARGET) {
            Some(text) => serde_json::from_str::<LabelConfig>(text)
                .with_context(|| format!("model attribute `{TARGET}`"))?,
            None => LabelConfig::default(),
        };
        let problems = target.problems();
        if !problems.is_empty() {
            bail!("model attribute `{TARGET}`: {}", problems.join("; "));
        }
        let features = match attr(FEATURES) {
            Some(text) => serde_json::from_str::<FeatureConfig>(text)
                .with_context(|| format!("model attribute `{FEATURES}`"))?,
            None => FeatureConfig::default(),
        };
        if features.window == 0 {
            bail!("model attribute `{FEATURES}`: window must be at least 1");
        }
        let calibration = attr(calibration::ATTRIBUTE)
            .map(|text| Calibration::from_attribute(text))
            .transpose()?;
        let threshold = match attr(THRESHOLD) {
            Some(text) => {
                let t: f64 = text
                    .trim()
                    .parse()
                    .with_context(|| format!("model attribute `{THRESHOLD}`: {text:?}"))?;
                if t.is_nan() || t < 0.0 {
                    bail!("model attribute `{THRESHOLD}`: {t} is not a probability");
                }
                Some(t)
            }
            None => None,
        };
        Ok(ModelCard {
            target,
            features,
            calibration,
            threshold,
            lookback_minutes: lookback_minutes(names).max(features.window + features.change_lag),
        })
    }

    /// Stores the card in `forest`'s attributes.
    pub fn write(&self, forest: &mut Forest) -> anyhow::Result<()> {
        let a = &mut forest.attributes;
        a.insert(TARGET.into(), serde_json::to_string(&self.target)?);
        a.insert(FEATURES.into(), serde_json::to_string(&self.features)?);
        match &self.calibration {
            Some(c) => a.insert(calibration::ATTRIBUTE.into(), c.to_attribute()),
            None => a.remove(calibration::ATTRIBUTE),
        };
        match self.threshold {
            Some(t) => a.insert(THRESHOLD.into(), format!("{t}")),
            None => a.remove(THRESHOLD),
        };
        Ok(())
    }

    /// The probability to show for a raw model probability: calibrated
    /// when the model carries a calibration.
    pub fn probability(&self, raw: f64) -> f64 {
        match &self.calibration {
            Some(c) => c.apply(raw),
            None => raw,
        }
    }

    /// What the model predicts, in words, for the dashboard.
    pub fn predicts(&self) -> String {
        let t = &self.target;
        match t.target {
            Target::Original => format!("a degraded minute {} minutes ahead", t.horizon),
            Target::Sustained => {
                format!("a sustained degradation in the next {} minutes", t.horizon)
            }
            Target::Onset => format!(
                "a new sustained degradation in the next {} minutes",
                t.horizon
            ),
            _ => format!("target {} {} minutes ahead", t.target, t.horizon),
        }
    }

    /// How the cache names the model that `bytes` (from `file`) hold.
    pub fn identity(
        &self,
        file: &std::path::Path,
        bytes: &[u8],
        forest: &Forest,
        names: &[String],
    ) -> ModelIdentity {
        ModelIdentity {
            file: file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            digest: digest(bytes),
            trees: forest.num_trees(),
            features: names.to_vec(),
            predicts: Some(self.predicts()),
            alarm_threshold: self.threshold,
            calibrated: self.calibration.is_some(),
        }
    }

    /// Minutes of telemetry a live cycle must fetch: 65 (the rolling hour
    /// and the 5-minute change) for models of the per-minute features, as
    /// the original system fetched; for models that look back further, the
    /// look-back, the forward-fill limit before it, and a few minutes of
    /// slack for late results, so the values at "now" are the batch path's.
    pub fn fetch_minutes(&self) -> i64 {
        if self.lookback_minutes <= 65 {
            65
        } else {
            (self.lookback_minutes + self.features.max_fill + 5) as i64
        }
    }
}

/// Saves `forest` as XGBoost JSON at a path a user gave: atomically,
/// following a link to its target and refusing a device or FIFO
/// (`netprophet_core::atomic_file`).
pub fn save_model(forest: &Forest, path: &std::path::Path) -> anyhow::Result<()> {
    netprophet_core::atomic_file::write(path, forest.to_xgboost_json().as_bytes())
        .with_context(|| format!("saving the model to {}", path.display()))
}

/// The minutes of telemetry a live cycle needs for the model in `bytes`,
/// read without building its trees (a JSON model is scanned for its
/// feature names and attributes only; other formats are parsed whole).
pub fn fetch_minutes_of(bytes: &[u8]) -> anyhow::Result<i64> {
    #[derive(serde::Deserialize)]
    struct Peek {
        learner: PeekLearner,
    }
    #[derive(serde::Deserialize)]
    struct PeekLearner {
        #[serde(default)]
        attributes: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        feature_names: Vec<String>,
    }
    let (names, attributes) = match serde_json::from_slice::<Peek>(bytes) {
        Ok(p) => (p.learner.feature_names, p.learner.attributes),
        Err(_) => {
            let f = Forest::from_slice(bytes).context("reading the model")?;
            (f.feature_names.unwrap_or_default(), f.attributes)
        }
    };
    let mut shell = Forest::new(
        Vec::new(),
        netprophet_boost::Objective::BinaryLogistic,
        vec![0.5],
        0,
    )
    .context("an empty model")?;
    shell.attributes = attributes;
    Ok(ModelCard::read(&shell, &names)?.fetch_minutes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netprophet_boost::{Objective, Tree};

    fn forest() -> Forest {
        Forest::new(
            vec![Tree::stump(0, 0.5, false, -1.0, 1.0)],
            Objective::BinaryLogistic,
            vec![0.5],
            1,
        )
        .unwrap()
    }

    #[test]
    fn a_plain_model_predicts_the_original_target_uncalibrated() {
        let card = ModelCard::read(&forest(), &["avg_latency".into()]).unwrap();
        assert_eq!(card.target, LabelConfig::default());
        assert_eq!(card.probability(0.3), 0.3);
        assert_eq!(card.threshold, None);
        assert_eq!(card.fetch_minutes(), 65);
    }

    #[test]
    fn a_card_round_trips_and_bad_attributes_are_named() {
        let mut f = forest();
        let card = ModelCard {
            target: LabelConfig::sustained(),
            features: FeatureConfig::default(),
            calibration: Some(Calibration::fit_isotonic(&[0.1, 0.9], &[0, 1], None).unwrap()),
            threshold: Some(0.25),
            lookback_minutes: 1500,
        };
        card.write(&mut f).unwrap();
        let back = ModelCard::read(&f, &["spikes_yesterday".into()]).unwrap();
        assert_eq!(back, card);
        f.attributes.insert(THRESHOLD.into(), "high".into());
        let err = format!("{:#}", ModelCard::read(&f, &["zscore".into()]).unwrap_err());
        assert!(err.contains("netprophet_threshold"), "{err}");
        f.attributes.insert(THRESHOLD.into(), "0.2".into());
        f.attributes
            .insert(TARGET.into(), r#"{"target":"sustained","span":99}"#.into());
        let err = format!("{:#}", ModelCard::read(&f, &["zscore".into()]).unwrap_err());
        assert!(err.contains("span"), "{err}");
    }
}

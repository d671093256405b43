//! Matching input columns to a model's features by name, never by
//! position: a model fed its features in the wrong order still produces
//! numbers, just wrong ones, so the order is derived from names every time.

use crate::ModelError;

/// Where each of a model's features sits in an input header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    indices: Vec<usize>,
}

impl ColumnMap {
    /// Finds every model feature in `header`. A feature absent from the
    /// header, present twice in it, or named twice among the features, is
    /// an error naming it; extra header columns are ignored.
    ///
    /// ```
    /// use netprophet_boost::ColumnMap;
    /// let map = ColumnMap::by_name(&["b", "a"], &["timestamp", "a", "b"])?;
    /// assert_eq!(map.indices(), &[2, 1]);
    /// assert!(ColumnMap::by_name(&["c"], &["a", "b"]).is_err());
    /// assert!(ColumnMap::by_name(&["a", "a"], &["a", "b"]).is_err());
    /// # Ok::<(), netprophet_boost::ModelError>(())
    /// ```
    pub fn by_name(
        features: &[impl AsRef<str>],
        header: &[impl AsRef<str>],
    ) -> Result<ColumnMap, ModelError> {
        let names: Vec<String> = features.iter().map(|f| f.as_ref().to_owned()).collect();
        if let Some(name) = crate::model::first_duplicate(&names) {
            // Two model inputs would read the same column.
            return Err(ModelError::DuplicateFeature(name.to_owned()));
        }
        let mut indices = Vec::with_capacity(features.len());
        let mut missing = Vec::new();
        for f in features {
            let f = f.as_ref();
            let mut hits = header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.as_ref().trim() == f);
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => indices.push(i),
                (Some(_), Some(_)) => {
                    return Err(ModelError::Input(format!(
                        "column `{f}` appears more than once in the input"
                    )))
                }
                (None, _) => missing.push(f.to_owned()),
            }
        }
        if !missing.is_empty() {
            return Err(ModelError::Input(format!(
                "missing column{} {} (the model needs {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                features
                    .iter()
                    .map(|f| f.as_ref())
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        Ok(ColumnMap { indices })
    }

    /// Header position of each model feature, in model order.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Appends the model-ordered features of one input record to `out`.
    /// The record must be as wide as the header the map was built from.
    pub fn gather(&self, record: &[f32], out: &mut Vec<f32>) -> Result<(), ModelError> {
        for &i in &self.indices {
            let v = record.get(i).ok_or_else(|| {
                ModelError::Input(format!(
                    "record has {} values, column {i} is needed",
                    record.len()
                ))
            })?;
            out.push(*v);
        }
        Ok(())
    }
}

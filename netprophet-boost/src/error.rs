//! Errors of model construction, loading, saving and scoring.

use std::path::PathBuf;

/// Something is wrong with a model: its file, its structure, or its use.
///
/// Every variant says what is wrong and, where it is known, where (a file,
/// a JSON path such as `$.learner.gradient_booster.model.trees[3]`, a byte
/// offset, a line and column).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model's structure is inconsistent (bad child index, cycle, ...).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// The model uses a feature this crate does not implement.
    #[error("unsupported model feature: {0}")]
    Unsupported(String),
    /// A field of the document is missing or has the wrong type.
    #[error("at {path}: {message}")]
    Format {
        /// JSON path of the offending value.
        path: String,
        /// What was expected or found.
        message: String,
    },
    /// The bytes are not valid JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error (0 when not known).
        line: usize,
        /// 1-based column of the error (0 when not known).
        column: usize,
        /// What the JSON parser found.
        message: String,
    },
    /// The bytes are not valid UBJSON.
    #[error("not valid UBJSON at byte {offset}: {message}")]
    Ubjson {
        /// Byte offset where decoding failed.
        offset: usize,
        /// What was expected or found.
        message: String,
    },
    /// The input rows do not fit the model (wrong width, missing column).
    #[error("input does not fit the model: {0}")]
    Input(String),
    /// Reading or writing a model file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The base score cannot be turned into a margin for the objective
    /// (XGBoost's rule: a logistic objective needs a probability strictly
    /// inside (0, 1); any objective needs a finite number).
    #[error("base_score {value} is not {expected} for {objective}")]
    BaseScore {
        /// The stored base score.
        value: f32,
        /// The objective's name.
        objective: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// Two features have the same name, so columns matched by name would
    /// feed one input to both.
    #[error("feature name `{0}` appears more than once")]
    DuplicateFeature(String),
    /// Training parameters out of range: every bad one, not only the first.
    #[error("invalid training parameters: {}", list(.0))]
    Params(Vec<BadParam>),
    /// A source of training batches failed (its error names the input).
    #[error("reading training rows: {0}")]
    Batches(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A model file could not be loaded; wraps the cause with the file name.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why it could not be loaded.
        source: Box<ModelError>,
    },
}

/// One training parameter outside its valid range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    /// The parameter, as XGBoost names it (`learning_rate`, `max_depth`).
    pub name: &'static str,
    /// The value given, as text.
    pub value: String,
    /// What it must be, e.g. `a finite number > 0`.
    pub expected: &'static str,
}

impl std::fmt::Display for BadParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {} (must be {})",
            self.name, self.value, self.expected
        )
    }
}

fn list(bad: &[BadParam]) -> String {
    bad.iter()
        .map(BadParam::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A JSON parse error as a [`ModelError`]: where and what, not the
/// parser's own type, which would make it part of this crate's public API.
pub(crate) fn json_error(e: serde_json::Error) -> ModelError {
    ModelError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

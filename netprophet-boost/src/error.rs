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
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
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
    /// A model file could not be loaded; wraps the cause with the file name.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why it could not be loaded.
        source: Box<ModelError>,
    },
}

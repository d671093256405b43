//! Errors of model construction, loading and scoring.

/// Something is wrong with a model: its file, its structure, or its use.
///
/// Every variant says what is wrong and, where it is known, where (a JSON
/// path, a tree and node index, a byte offset).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model's structure is inconsistent (bad child index, cycle, ...).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// The model uses a feature this crate does not implement.
    #[error("unsupported model feature: {0}")]
    Unsupported(String),
}

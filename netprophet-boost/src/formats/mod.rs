//! Model file formats: XGBoost JSON and UBJSON (`save_model`), and the JSON
//! tree dump. Each reads into, or writes from, the plain [`Forest`].

use std::path::Path;

use crate::{Forest, ModelError};

pub mod dump;
mod ubjson;
mod xgboost_json;

pub use dump::DumpOptions;

/// The on-disk formats [`Forest::load`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// XGBoost `save_model` JSON (`.json`).
    Json,
    /// XGBoost `save_model` Universal Binary JSON (`.ubj`).
    Ubjson,
}

impl ModelFormat {
    /// Guesses the format from the first byte: UBJSON starts with `{`
    /// followed by a length marker, JSON with `{` and text.
    pub fn sniff(bytes: &[u8]) -> ModelFormat {
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
        match first {
            Some(i) if bytes[i] == b'{' => match bytes.get(i + 1) {
                Some(b'i' | b'U' | b'I' | b'l' | b'L' | b'$' | b'#' | b'}') => ModelFormat::Ubjson,
                _ => ModelFormat::Json,
            },
            _ => ModelFormat::Json,
        }
    }
}

impl Forest {
    /// Reads an XGBoost `save_model` JSON document (XGBoost 1.x to 3.x).
    pub fn from_json_slice(bytes: &[u8]) -> Result<Forest, ModelError> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(crate::error::json_error)?;
        xgboost_json::forest_from_value(&doc)
    }

    /// Reads an XGBoost `save_model` UBJSON document (`.ubj`).
    pub fn from_ubjson_slice(bytes: &[u8]) -> Result<Forest, ModelError> {
        xgboost_json::forest_from_value(&ubjson::decode(bytes)?)
    }

    /// Reads a JSON tree dump; see [`DumpOptions`] for what it lacks.
    pub fn from_dump_json(bytes: &[u8], options: &DumpOptions) -> Result<Forest, ModelError> {
        dump::forest_from_dump(bytes, options)
    }

    /// Reads a `save_model` document, JSON or UBJSON (detected from its
    /// bytes).
    pub fn from_slice(bytes: &[u8]) -> Result<Forest, ModelError> {
        match ModelFormat::sniff(bytes) {
            ModelFormat::Json => Forest::from_json_slice(bytes),
            ModelFormat::Ubjson => Forest::from_ubjson_slice(bytes),
        }
    }

    /// Loads a `save_model` file, JSON or UBJSON (detected from its bytes).
    /// Errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Forest, ModelError> {
        let path = path.as_ref();
        let bytes = read_model_file(path)?;
        Forest::from_slice(&bytes).map_err(|e| ModelError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// The model as an XGBoost 3.x `save_model` JSON document, which
    /// `xgboost.Booster(model_file=...)` loads. Feature names are included
    /// when the forest has them.
    pub fn to_xgboost_json(&self) -> String {
        xgboost_json::forest_to_value(self).to_string()
    }

    /// The model as XGBoost UBJSON bytes.
    pub fn to_xgboost_ubjson(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ubjson::encode(&xgboost_json::forest_to_value(self), &mut out);
        out
    }

    /// Saves the model as XGBoost JSON, atomically: written to a temporary
    /// file beside `path`, flushed, then renamed over it, so a crash leaves
    /// either the old file or the new one, never a torn one. (A link at
    /// `path` is replaced, not followed; netprophet-core's `atomic_file`
    /// follows links and refuses devices, for paths users give.)
    ///
    /// The forest is validated first: one edited into an invalid state is
    /// an error, not a file no reader accepts.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.validate()?;
        save(path.as_ref(), self.to_xgboost_json().as_bytes())
    }

    /// Saves the model as XGBoost UBJSON, atomically (as
    /// [`Forest::save_json`]).
    pub fn save_ubjson(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.validate()?;
        save(path.as_ref(), &self.to_xgboost_ubjson())
    }
}

/// Writes `bytes` to a temporary file in `path`'s directory and renames
/// it over `path`.
fn save(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    use std::io::Write;
    let io = |source: std::io::Error| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The largest model file read: 2 GiB, far above any tree model this crate
/// scores, so that a path naming a device such as `/dev/zero` fails instead
/// of reading until memory runs out.
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// Reads a model file's bytes: it must be a regular file of at most
/// [`MAX_MODEL_BYTES`] (a FIFO or a device is refused before it is read,
/// so reading never waits on a writer that does not come).
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    use std::io::Read;
    let io = |source: std::io::Error| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_MODEL_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            if meta.is_file() {
                "larger than the 2 GiB a model file may have".to_string()
            } else {
                "not a regular file".to_string()
            },
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "larger than the 2 GiB a model file may have",
        )));
    }
    Ok(bytes)
}

//! Gradient-boosted decision trees in pure Rust.
//!
//! `netprophet-boost` knows nothing about networks: it holds a boosted tree
//! ensemble as plain data ([`Forest`]), reads and writes it in XGBoost's
//! formats, scores it exactly as XGBoost's CPU predictor does, and trains new
//! ensembles with a histogram method.
//!
//! ```
//! use netprophet_boost::{Forest, Objective, Tree};
//!
//! // One stump: feature 0 < 0.5 goes left (leaf -1.0), else right (leaf 2.0).
//! let tree = Tree::stump(0, 0.5, true, -1.0, 2.0);
//! let forest = Forest::new(vec![tree], Objective::RegSquaredError, vec![0.0], 1)?;
//! assert_eq!(forest.num_trees(), 1);
//! # Ok::<(), netprophet_boost::ModelError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod model;

pub use error::ModelError;
pub use model::{Forest, Objective, Tree};

//! Gradient-boosted decision trees in pure Rust.
//!
//! `netprophet-boost` knows nothing about networks: it holds a boosted tree
//! ensemble as plain data ([`Forest`]), reads and writes it in XGBoost's
//! formats ([`Forest::load`], [`Forest::save_json`]), and scores it exactly
//! as XGBoost's CPU predictor does ([`Predictor`]).
//!
//! ```
//! use netprophet_boost::{ColumnMap, Forest, Predictor};
//!
//! // A model as XGBoost's `save_model` writes it (one stump on `latency`).
//! let json = r#"{"learner":{"feature_names":["latency"],"feature_types":["float"],
//!   "gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},
//!   "tree_info":[0],"trees":[{"base_weights":[0,-1,1],"default_left":[1,0,0],"id":0,
//!   "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
//!   "split_conditions":[30.0,-0.5,1.5],"split_indices":[0,0,0],"split_type":[0,0,0],
//!   "loss_changes":[3.0,0,0],"sum_hessian":[10,5,5],
//!   "tree_param":{"num_deleted":"0","num_feature":"1","num_nodes":"3","size_leaf_vector":"1"}}]},
//!   "name":"gbtree"},
//!   "learner_model_param":{"base_score":"[5E-1]","num_class":"0","num_feature":"1","num_target":"1"},
//!   "objective":{"name":"binary:logistic"}},"version":[3,1,3]}"#;
//! let forest = Forest::from_json_slice(json.as_bytes())?;
//! let predictor = Predictor::new(&forest)?;
//!
//! // Columns are matched by name, so extra or reordered columns are harmless.
//! let header = ["timestamp", "latency"];
//! let map = ColumnMap::by_name(forest.feature_names.as_deref().unwrap(), &header)?;
//! let mut row = Vec::new();
//! map.gather(&[1.7e9, 42.0], &mut row)?;
//! let p = predictor.predict_row(&row)?;
//! assert!((p - 0.8175745).abs() < 1e-6); // sigmoid(0 + 1.5)
//! # Ok::<(), netprophet_boost::ModelError>(())
//! ```
// No unsafe code, except in the one module that allows it (`simd`: the
// AVX-512 kernels of training (row partition, the last tree's leaves,
// logistic gradients) and of one-row scoring, whose loads, gathers,
// scatters and compressed stores need raw pointers; each access's bound
// is argued beside it).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod calibration;
mod columns;
mod error;
pub mod formats;
mod model;
mod predict;
mod prefetch;
mod simd;
pub mod train;

pub use columns::ColumnMap;
pub use error::{BadParam, ModelError};
pub use formats::{DumpOptions, ModelFormat};
pub use model::{Forest, Importance, Objective, Tree};
pub use predict::Predictor;

/// The crate README's examples, compiled and run as doctests so they stay
/// true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! RIPE Atlas ping telemetry turned into the rows a degradation model
//! trains on and predicts from.
//!
//! ```
//! use netprophet_core::schema::FEATURE_COLUMNS;
//!
//! // The column order the original production model was trained on.
//! assert_eq!(FEATURE_COLUMNS[0], "avg_latency");
//! assert_eq!(FEATURE_COLUMNS.len(), 8);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod schema;

//! RIPE Atlas ping telemetry turned into the rows a degradation model
//! trains on and predicts from.
//!
//! The pipeline: [`atlas`] parses results from any firmware and streams
//! archives; [`features`] bins samples into per-probe 1-minute frames with
//! pandas semantics; [`labels`] marks z-score degradations and the
//! five-minutes-ahead target; [`dataset`] holds labelled rows and the
//! feature CSV format.
//!
//! ```
//! use netprophet_core::atlas::{ArchiveReader, SampleFilter};
//! use netprophet_core::features::{FeatureConfig, ProbeCollector};
//! use netprophet_core::labels::{label, LabelConfig};
//!
//! let ndjson = br#"{"type":"ping","prb_id":6001,"timestamp":1770621662,"result":[{"rtt":7.8},{"rtt":7.7},{"x":"*"}]}
//! {"type":"ping","prb_id":6001,"timestamp":1770621902,"result":[{"rtt":9.1},{"rtt":8.7},{"rtt":8.8}]}
//! "#;
//! let mut probes = ProbeCollector::new();
//! let stats = ArchiveReader::from_reader("inline", &ndjson[..])
//!     .samples(&SampleFilter::default(), |s| probes.extend(s))
//!     .unwrap();
//! assert_eq!((stats.samples, stats.count(netprophet_core::atlas::SkipReason::Timeout)), (5, 1));
//!
//! let frame = &probes.probe_frames(6001, FeatureConfig::default())[0];
//! assert_eq!(frame.len(), 5); // 07:21 .. 07:25, gaps forward-filled
//! assert_eq!(frame.packet_count, [2, 0, 0, 0, 3]);
//! let labels = label(frame, LabelConfig::default());
//! // The target looks five minutes ahead: beyond these five minutes.
//! assert!(labels.target.iter().all(Option::is_none));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atlas;
pub mod atomic_file;
pub mod bounded;
pub mod dataset;
pub mod features;
pub mod history;
pub mod kdtree;
pub mod labels;
pub mod metrics;
pub mod minute;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod rolling;
pub mod schema;
pub mod shard;
pub mod smote;
pub mod split;
pub mod time;
pub mod traces;
pub mod warnings;

/// The crate README's examples, compiled and run as doctests so they stay
/// true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! RIPE Atlas ping results: the result model, its parser and archive
//! readers.

#[cfg(feature = "client")]
pub mod client;
mod elements;
mod packet;
pub mod reader;
pub mod result;
mod scan;

pub use elements::{for_each_element, MAX_ELEMENT_BYTES};
pub use reader::{read_stream, summary, ArchiveReader, ReadError};
pub use result::{
    parse_result, Malformed, Packet, ParseOutcome, ParseStats, PingResult, ResultError, Sample,
    SampleFilter, SkipReason, MAX_RTT_MS,
};

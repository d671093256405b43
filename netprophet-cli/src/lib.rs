//! The `netprophet` binary's building blocks: one module per subcommand
//! (`cmd`), the prediction cache the refresh cycle writes and the server
//! reads (`cache`), the HTTP endpoint (`serve`) and the offline replay of
//! recorded telemetry used by the demo (`replay`).
//!
//! This library exists so integration tests can drive the server with an
//! injected clock; it is not published.

pub mod atlas_args;
pub mod cache;
pub mod cmd;
pub mod input;
pub mod model_card;
pub mod plots;
pub mod protocol;
pub mod recipe;
pub mod refresh;
pub mod replay;
pub mod report;
pub mod serve;
pub mod telemetry;

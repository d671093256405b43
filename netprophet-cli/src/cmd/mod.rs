//! One module per subcommand: its arguments and what it does.

pub mod demo;
pub mod evaluate;
pub mod features;
pub mod fetch;
pub mod predict;
pub mod refresh;
pub mod serve;
pub mod train;
pub mod tune;

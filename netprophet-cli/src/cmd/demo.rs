//! `netprophet demo`.

/// Arguments of `netprophet demo`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet demo`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet demo` is not available in this build yet")
}

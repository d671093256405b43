//! `netprophet train`.

/// Arguments of `netprophet train`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet train`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet train` is not available in this build yet")
}

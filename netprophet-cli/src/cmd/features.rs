//! `netprophet features`.

/// Arguments of `netprophet features`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet features`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet features` is not available in this build yet")
}

//! `netprophet serve`.

/// Arguments of `netprophet serve`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet serve`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet serve` is not available in this build yet")
}

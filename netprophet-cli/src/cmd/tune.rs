//! `netprophet tune`.

/// Arguments of `netprophet tune`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet tune`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet tune` is not available in this build yet")
}

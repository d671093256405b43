//! `netprophet evaluate`.

/// Arguments of `netprophet evaluate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet evaluate`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet evaluate` is not available in this build yet")
}

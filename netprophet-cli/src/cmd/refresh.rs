//! `netprophet refresh`.

/// Arguments of `netprophet refresh`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet refresh`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet refresh` is not available in this build yet")
}

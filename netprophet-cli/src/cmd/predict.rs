//! `netprophet predict`.

/// Arguments of `netprophet predict`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet predict`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet predict` is not available in this build yet")
}

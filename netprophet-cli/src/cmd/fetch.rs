//! `netprophet fetch`.

/// Arguments of `netprophet fetch`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `netprophet fetch`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`netprophet fetch` is not available in this build yet")
}

//! `netprophet refresh`: one live cycle for cron. Exit 0 when the cache was
//! replaced, 1 (with one line on stderr) when anything failed, in which
//! case the previous cache is untouched.

use std::path::PathBuf;

use crate::atlas_args::{parse_time, AtlasArgs};
use crate::refresh::{refresh_once, RefreshConfig};
use crate::telemetry::Selection;

/// Arguments of `netprophet refresh`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Model file (XGBoost JSON or UBJSON).
    #[arg(long, default_value = "fixtures/tournament_model.json")]
    pub model: PathBuf,
    /// Prediction cache to replace (JSON, written atomically).
    #[arg(long, default_value = "/var/lib/netprophet/prediction.json")]
    pub cache: PathBuf,
    /// Predict for this probe (repeatable); default: the most active one.
    #[arg(long, conflicts_with = "all")]
    pub probe: Vec<u64>,
    /// Predict for every probe that reported.
    #[arg(long)]
    pub all: bool,
    /// Minutes of telemetry to fetch.
    #[arg(long, default_value_t = 65)]
    pub minutes: i64,
    /// Pretend the time is this (UTC), to replay a past window.
    #[arg(long, value_parser = parse_time)]
    pub now: Option<i64>,
    #[command(flatten)]
    pub atlas: AtlasArgs,
}

impl Args {
    /// The refresh these flags describe.
    pub fn config(&self) -> anyhow::Result<RefreshConfig> {
        anyhow::ensure!(
            (6..=10_080).contains(&self.minutes),
            "--minutes {} is not in 6..=10080 (a week)",
            self.minutes
        );
        Ok(RefreshConfig {
            model: self.model.clone(),
            cache: self.cache.clone(),
            atlas: self.atlas.config()?,
            selection: Selection::from_flags(&self.probe, self.all),
            minutes: self.minutes,
        })
    }
}

/// The current Unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs `netprophet refresh`.
pub fn run(args: Args) -> anyhow::Result<()> {
    crate::clobber::refuse_inputs_as_outputs(
        [("--cache", args.cache.as_path())],
        [args.model.as_path()],
    )?;
    let cfg = args.config()?;
    let out = refresh_once(&cfg, args.now.unwrap_or_else(now))?;
    eprintln!(
        "refreshed {}: risk {:.1} % for probe {} at {} ({} samples from {} results)",
        cfg.cache.display(),
        out.probability * 100.0,
        out.probes.first().copied().unwrap_or(0),
        netprophet_core::time::format_utc(out.minute),
        out.stats.samples,
        out.stats.results
    );
    Ok(())
}

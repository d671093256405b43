//! Command-line settings of the Atlas client, shared by `fetch`,
//! `refresh` and `serve --refresh-every`.

use std::time::Duration;

use netprophet_core::atlas::client::ClientConfig;

/// Where and how to reach the RIPE Atlas API.
#[derive(clap::Args, Clone, Debug)]
pub struct AtlasArgs {
    /// Base URL of the Atlas API.
    #[arg(long, default_value = "https://atlas.ripe.net")]
    pub base_url: String,
    /// Measurement id (1001: IPv4 ping to k.root-servers.net).
    #[arg(long, default_value_t = 1001)]
    pub msm: u64,
    /// Per-request timeout in seconds (up to a day).
    #[arg(long, default_value_t = 80.0, value_parser = crate::flags::timeout_seconds)]
    pub timeout: f64,
    /// Attempts per request.
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
    /// Seconds before the first retry (then x1.5 per retry; up to an hour).
    #[arg(long, default_value_t = 1.0, value_parser = crate::flags::backoff_seconds)]
    pub backoff: f64,
    /// Hours per chunk (a minute to a year).
    #[arg(long, default_value_t = 4.0, value_parser = crate::flags::chunk_hours)]
    pub chunk_hours: f64,
    /// Chunks fetched in parallel (1 to 64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

impl AtlasArgs {
    /// The client configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<ClientConfig> {
        anyhow::ensure!(self.timeout > 0.0, "--timeout must be > 0");
        anyhow::ensure!(self.backoff >= 0.0, "--backoff must be >= 0");
        anyhow::ensure!(self.chunk_hours > 0.0, "--chunk-hours must be > 0");
        Ok(ClientConfig::default()
            .base_url(self.base_url.as_str())
            .measurement(self.msm)
            .timeout(Duration::from_secs_f64(self.timeout))
            .attempts(self.attempts.max(1))
            .backoff(Duration::from_secs_f64(self.backoff))
            .chunk_seconds((self.chunk_hours * 3600.0).round().max(60.0) as i64)
            .parallel(usize::from(self.parallel.max(1))))
    }
}

/// Parses a UTC time (`2026-02-09 07:00`, `2026-02-09T07:00:00Z`, a date,
/// or Unix seconds) for a flag.
pub fn parse_time(text: &str) -> Result<i64, String> {
    netprophet_core::time::parse_utc(text).ok_or_else(|| {
        format!("{text:?} is not a UTC time (use YYYY-MM-DD[ HH:MM[:SS]], RFC 3339 with Z, or Unix seconds)")
    })
}

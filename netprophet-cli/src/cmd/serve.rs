//! `netprophet serve`: the dashboard and JSON API over the prediction cache.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::serve::{self, Clock, ServerConfig, ServerState};

/// Arguments of `netprophet serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. The default keeps it private to this host;
    /// put a reverse proxy in front, or pass 0.0.0.0:8080 deliberately.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The prediction cache written by `netprophet refresh`.
    #[arg(long, default_value = "netprophet-cache.json")]
    pub cache: PathBuf,
    /// Time zone shown beside UTC (IANA name).
    #[arg(long, default_value = "America/Los_Angeles")]
    pub zone: String,
    /// Most connections open at once (1 to 1000000); more are closed on
    /// arrival.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds a client has to send request headers; also the idle
    /// keep-alive timeout (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Refresh the cache in this process every so often (`10m`, `600s`,
    /// `1h`), so no cron job is needed. The model never runs inside a
    /// request: cycles run on a background thread and replace the cache
    /// file atomically.
    #[arg(long, value_parser = parse_every)]
    pub refresh_every: Option<Duration>,
    /// Model for in-process refreshes.
    #[arg(long, default_value = "fixtures/tournament_model.json")]
    pub model: PathBuf,
    /// For in-process refreshes: predict for this probe (repeatable).
    #[arg(long)]
    pub probe: Vec<u64>,
    /// Most probes given per-probe gauges on /metrics, highest risk
    /// first (0 to 100000): each is a Prometheus series per metric.
    #[arg(long, default_value_t = serve::DEFAULT_METRICS_PROBES as u32,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub metrics_probes: u32,
    #[command(flatten)]
    pub atlas: crate::atlas_args::AtlasArgs,
}

/// Parses `10m`, `600s`, `1h` or plain seconds.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10m"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use s, m or h)")),
    };
    if secs < 10.0 {
        return Err(format!("{text:?} is shorter than 10 s"));
    }
    // Also keeps Duration::from_secs_f64 from overflowing.
    if !secs.is_finite() || secs > 7.0 * 86_400.0 {
        return Err(format!("{text:?} is longer than a week"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl Args {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            cache: self.cache.clone(),
            zone: self.zone.clone(),
            max_connections: self.max_connections as usize,
            header_timeout: Duration::from_secs(self.header_timeout),
            ..ServerConfig::default()
        }
    }
}

/// A small runtime: two workers match the 2 vCPUs of the target VM and
/// keep the resident set small.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?)
}

/// Log lines to stderr, `RUST_LOG`-style filtering via `NETPROPHET_LOG`.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs a refresh cycle now and then every `every`, off the request
/// path (a blocking thread), recording each outcome for `/metrics`.
async fn refresh_loop(
    every: Duration,
    cfg: crate::refresh::RefreshConfig,
    state: Arc<ServerState>,
) {
    use std::sync::atomic::Ordering;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cfg = cfg.clone();
        let now = crate::cmd::refresh::now();
        state.refresh.last_attempt.store(now, Ordering::Relaxed);
        state.refresh.running.store(true, Ordering::Relaxed);
        let result =
            tokio::task::spawn_blocking(move || crate::refresh::refresh_once(&cfg, now)).await;
        state.refresh.running.store(false, Ordering::Relaxed);
        match result {
            Ok(Ok(out)) => {
                state.refresh.last_ok.store(1, Ordering::Relaxed);
                // Serve the new cache now, not at the loader's next poll.
                state.reload();
                tracing::info!(
                    "refresh: risk {:.1} % for probe {:?}",
                    out.probability * 100.0,
                    out.probes.first()
                );
            }
            Ok(Err(e)) => {
                state.refresh.last_ok.store(0, Ordering::Relaxed);
                state.refresh.failures.fetch_add(1, Ordering::Relaxed);
                // One line with each cause once (`{e:#}` repeats a cause
                // that its parent's message already quotes).
                tracing::warn!(
                    "refresh failed, keeping the last good cache: {}",
                    crate::one_line(&e)
                );
            }
            Err(e) => {
                state.refresh.last_ok.store(0, Ordering::Relaxed);
                state.refresh.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!("refresh task panicked: {e}");
            }
        }
    }
}

/// Runs `netprophet serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.refresh_every.is_some() {
        crate::clobber::refuse_inputs_as_outputs(
            [("--cache", args.cache.as_path())],
            [args.model.as_path()],
        )?;
        // A model that cannot load is a setting to fix, not a passing
        // failure: refuse to start rather than serve a cache that is never
        // refreshed. (A model that breaks later is logged and the last
        // good cache kept.)
        crate::refresh::check_model(&args.model).with_context(|| {
            format!(
                "--model {} for the in-process refreshes",
                args.model.display()
            )
        })?;
    }
    init_logging();
    let config = args.config();
    let tz = serve::time_zone(&config.zone)?;
    let mut state = ServerState::new(
        config.cache.clone(),
        Clock::system(),
        tz,
        config.zone.clone(),
    );
    state.metrics_probes = args.metrics_probes as usize;
    let state = Arc::new(state);
    let refresher = match args.refresh_every {
        Some(every) => Some((
            every,
            crate::refresh::RefreshConfig {
                model: args.model.clone(),
                cache: config.cache.clone(),
                atlas: args.atlas.config()?,
                selection: crate::telemetry::Selection::from_flags(&args.probe, false),
                minutes: 65,
            },
        )),
        None => None,
    };
    let runtime = runtime()?;
    let served = runtime.block_on(async move {
        let listener = serve::bind(config.listen).await?;
        if let Some((every, cfg)) = refresher {
            tokio::spawn(refresh_loop(every, cfg, state.clone()));
        }
        tracing::info!(
            "serving {} on http://{}",
            config.cache.display(),
            listener.local_addr()?
        );
        serve::serve(listener, config, state, serve::shutdown_signal()).await
    });
    // A refresh cycle may be in the middle of a download with retries;
    // dropping the runtime would wait for it, so SIGTERM would not stop the
    // process. The cycle writes the cache atomically, so abandoning it
    // leaves the last good cache in place.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

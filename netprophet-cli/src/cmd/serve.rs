//! `netprophet serve`: the dashboard and JSON API over the prediction cache.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Most connections open at once; more are closed on arrival.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client has to send request headers; also the idle
    /// keep-alive timeout.
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
}

impl Args {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            cache: self.cache.clone(),
            zone: self.zone.clone(),
            max_connections: self.max_connections,
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

/// Runs `netprophet serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging();
    let config = args.config();
    let tz = serve::time_zone(&config.zone)?;
    let state = Arc::new(ServerState::new(
        config.cache.clone(),
        Clock::system(),
        tz,
        config.zone.clone(),
    ));
    runtime()?.block_on(async move {
        let listener = serve::bind(config.listen).await?;
        tracing::info!(
            "serving {} on http://{}",
            config.cache.display(),
            listener.local_addr()?
        );
        serve::serve(listener, config, state, serve::shutdown_signal()).await
    })
}

//! `netprophet demo`: the whole pipeline offline, on bundled real data.
//!
//! Replays the 952 recorded real minutes of RIPE Atlas msm 1001 bundled in
//! the binary, one minute per tick on a simulated clock, scores each with
//! the bundled model, writes the prediction cache atomically as a live
//! refresh would, and serves the dashboard from it. When the recording
//! ends the simulated clock keeps running, so the stale-data banners
//! appear as they would if refreshes stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::replay::Replay;
use crate::serve::{self, Clock, ServerConfig, ServerState};

/// Arguments of `netprophet demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to serve the dashboard on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where to write the prediction cache (default: a file in the
    /// system's temporary directory).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Real seconds per simulated minute (0 to 3600).
    #[arg(long, default_value_t = 1.0, value_parser = crate::flags::tick_seconds)]
    pub tick: f64,
    /// Recorded minute to start from (earlier minutes fill the chart).
    #[arg(long, default_value_t = 180)]
    pub start: usize,
    /// Stop after this many ticks (default: run until Ctrl-C).
    #[arg(long)]
    pub ticks: Option<usize>,
    /// Replay without serving (as fast as possible unless --tick is set
    /// explicitly), then print a summary.
    #[arg(long)]
    pub no_serve: bool,
    /// Time zone shown beside UTC.
    #[arg(long, default_value = "America/Los_Angeles")]
    pub zone: String,
}

/// Runs `netprophet demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    super::serve::init_logging();
    let replay = Arc::new(Replay::bundled()?);
    let cache = args.cache.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("netprophet-demo-{}.json", std::process::id()))
    });
    let total = replay.minutes.len();
    let start = args.start.min(total - 1);
    let high = replay
        .minutes
        .iter()
        .filter(|m| m.risk >= serve::dashboard::HIGH_RISK)
        .count();
    eprintln!(
        "netprophet demo: {total} recorded real minutes (RIPE Atlas msm 1001), model {} ({} trees); \
         {high} minutes score >= 40 % risk",
        replay.model.file, replay.model.trees
    );
    // The simulated clock: the end of the latest replayed minute, then one
    // simulated minute per tick after the recording runs out.
    let sim_now = Arc::new(AtomicI64::new(replay.minutes[start].minute + 60));
    let write = |i: usize| -> anyhow::Result<()> {
        replay
            .cache_at(i)
            .write(&cache)
            .with_context(|| format!("writing the demo cache {}", cache.display()))
    };
    write(start)?;

    if args.no_serve {
        let ticks = args.ticks.unwrap_or(total - start);
        for t in 1..=ticks {
            write((start + t).min(total - 1))?;
        }
        let last = replay.cache_at((start + ticks).min(total - 1));
        println!(
            "replayed {ticks} minutes; last minute {} risk {:.4}; cache {}",
            last.headline().minute,
            last.headline().probability,
            cache.display()
        );
        return Ok(());
    }

    let tz = serve::time_zone(&args.zone)?;
    let clock_now = sim_now.clone();
    let state = Arc::new(ServerState::new(
        cache.clone(),
        Clock::from_fn(move || clock_now.load(Ordering::Relaxed)),
        tz,
        args.zone.clone(),
    ));
    let config = ServerConfig {
        listen: args.listen,
        cache: cache.clone(),
        zone: args.zone.clone(),
        ..ServerConfig::default()
    };
    let tick = Duration::from_secs_f64(args.tick.max(0.01));
    let max_ticks = args.ticks;
    super::serve::runtime()?.block_on(async move {
        let listener = serve::bind(config.listen).await?;
        let url = format!("http://{}/", listener.local_addr()?);
        println!("netprophet demo: dashboard at {url}  (Ctrl-C to stop)");
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let replayer = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.tick().await;
            let mut i = start;
            let mut ticks = 0usize;
            loop {
                interval.tick().await;
                ticks += 1;
                if i + 1 < total {
                    i += 1;
                    let (rp, cache) = (replay.clone(), cache.clone());
                    let written = tokio::task::spawn_blocking(move || rp.cache_at(i).write(&cache)).await;
                    if let Ok(Err(e)) = written {
                        tracing::error!("{e}");
                    }
                    sim_now.store(replay.minutes[i].minute + 60, Ordering::Relaxed);
                    if i + 1 == total {
                        eprintln!("netprophet demo: recording finished; the simulated clock keeps running, so the stale-data banners will show");
                    }
                } else {
                    sim_now.fetch_add(60, Ordering::Relaxed);
                }
                if max_ticks.is_some_and(|m| ticks >= m) {
                    let _ = done_tx.send(());
                    break;
                }
            }
        });
        let shutdown = async move {
            tokio::select! {
                () = serve::shutdown_signal() => {}
                _ = done_rx => {}
            }
        };
        let result = serve::serve(listener, config, state, shutdown).await;
        replayer.abort();
        result
    })
}

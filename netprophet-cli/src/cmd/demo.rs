//! `netprophet demo`: the whole pipeline offline, on bundled real data.
//!
//! Replays the 952 recorded real minutes of RIPE Atlas msm 1001 bundled in
//! the binary, one minute per tick on a simulated clock, beside four real
//! RTT traces of other probes (shifted onto the same clock), scores each
//! with the bundled model, writes the prediction cache atomically as a
//! live refresh would, and serves the overview and probe pages from it. When the recording
//! ends the simulated clock keeps running, so the stale-data banners
//! appear as they would if refreshes stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use netprophet_boost::Forest;
use netprophet_core::dataset::read_minutes_csv;

use crate::cache::ModelIdentity;
use crate::model_card::{model_schema, ModelCard};
use crate::replay::{Ensemble, Replay, BUNDLED_MODEL, BUNDLED_TRACES, RECORDED_MINUTES};
use crate::serve::{self, Clock, ServerConfig, ServerState};
use crate::telemetry::{input_kind, load_probes, InputKind, Selection, TraceArgs};

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
    /// Replay this recording instead of the bundled one: an Atlas
    /// archive, an RTT trace (such as fixtures/data/rtt-traces/11323.csv)
    /// or a feature CSV; one probe (--probe, or the most active).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// With --input: the probe to replay.
    #[arg(long)]
    pub probe: Option<u64>,
    /// Replay the bundled recording alone, without the four RTT traces
    /// of other probes beside it.
    #[arg(long)]
    pub single: bool,
    /// Score with this model instead of the bundled one (for example
    /// fixtures/sustained_model.json, calibrated, which warns of sustained
    /// episodes).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub traces: TraceArgs,
}

/// The model's bytes and file: `--model` or the bundled one.
fn model_bytes(args: &Args) -> anyhow::Result<(Vec<u8>, PathBuf)> {
    Ok(match &args.model {
        Some(path) => (
            netprophet_boost::formats::read_model_file(path)
                .with_context(|| format!("reading the model {}", path.display()))?,
            path.clone(),
        ),
        None => (
            BUNDLED_MODEL.to_vec(),
            PathBuf::from("tournament_model.json"),
        ),
    })
}

/// The demo's model, its feature names, card and identity.
fn load_model(args: &Args) -> anyhow::Result<(Forest, Vec<String>, ModelCard, ModelIdentity)> {
    let (bytes, file) = model_bytes(args)?;
    let forest = Forest::from_slice(&bytes)
        .with_context(|| format!("loading the model {}", file.display()))?;
    let names = model_schema(&forest, None)?;
    let card = ModelCard::read(&forest, &names)?;
    let identity = card.identity(&file, &bytes, &forest, &names);
    Ok((forest, names, card, identity))
}

/// The replay the flags ask for.
fn replay(args: &Args) -> anyhow::Result<Replay> {
    if args.input.is_none() && args.model.is_none() {
        return Replay::bundled();
    }
    let (forest, names, card, identity) = load_model(args)?;
    let (frames, source) = match &args.input {
        None => {
            let dir = std::env::temp_dir().join(format!("netprophet-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("recorded_minutes.csv");
            std::fs::write(&path, RECORDED_MINUTES)?;
            let frames = read_minutes_csv(&path)?.into_iter().map(|f| f.0).collect();
            let _ = std::fs::remove_dir_all(&dir);
            (
                frames,
                "replay of 952 recorded real minutes, RIPE Atlas msm 1001 (2026-02-09)".to_string(),
            )
        }
        Some(path) => {
            let columns = args.traces.columns();
            let frames: Vec<_> = match input_kind(path, &columns)? {
                InputKind::FeatureCsv => read_minutes_csv(path)?.into_iter().map(|f| f.0).collect(),
                InputKind::Archive | InputKind::Trace => {
                    let selection = Selection::from_flags(args.probe.as_slice(), false);
                    let loaded = load_probes(std::slice::from_ref(path), &columns, &selection)?;
                    eprintln!("{}", loaded.report(std::slice::from_ref(path)));
                    let id = loaded.probes.probe_ids()[0];
                    loaded.probes.probe_frames(id, card.features)
                }
            };
            let probe = frames.first().and_then(|f| f.probe_id);
            (
                frames,
                format!(
                    "replay of {}{}",
                    path.file_name().map_or_else(
                        || path.display().to_string(),
                        |n| n.to_string_lossy().into_owned()
                    ),
                    probe.map_or(String::new(), |p| format!(", probe {p}"))
                ),
            )
        }
    };
    Replay::from_frames(&frames, &forest, &names, &card, identity, &source)
}

/// The bundled RTT traces scored with the demo's model (`--model` or the
/// bundled one), one replay per probe.
fn trace_replays(args: &Args) -> anyhow::Result<Vec<Replay>> {
    let (forest, names, card, identity) = load_model(args)?;
    let dir = std::env::temp_dir().join(format!("netprophet-demo-traces-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let loaded = (|| -> anyhow::Result<Vec<Replay>> {
        let mut out = Vec::new();
        for (id, text) in BUNDLED_TRACES {
            // The reader takes the probe id from the file name.
            let path = dir.join(format!("{id}.csv"));
            std::fs::write(&path, text)?;
            let selection = Selection::from_flags(&[id], false);
            let probes = load_probes(
                std::slice::from_ref(&path),
                &args.traces.columns(),
                &selection,
            )?;
            let frames = probes.probes.probe_frames(id, card.features);
            let source = format!(
                "RTT trace of RIPE Atlas probe {id} to b.root-servers.net (2016), replayed shifted onto the demo clock"
            );
            out.push(Replay::from_frames(
                &frames,
                &forest,
                &names,
                &card,
                identity.clone(),
                &source,
            )?);
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

/// The recordings the flags ask for: the lead one, and unless `--input`
/// or `--single` is given, the bundled traces beside it.
fn ensemble(args: &Args) -> anyhow::Result<Ensemble> {
    let lead = replay(args)?;
    let mut all = Ensemble::single(lead);
    if args.input.is_none() && !args.single {
        let total = all.lead.minutes.len();
        let start = args.start.min(total - 1);
        for other in trace_replays(args)? {
            // Each trace's last minutes play alongside the lead's.
            let at = other.minutes.len().saturating_sub(total - start);
            all.add(other, at, start);
        }
    }
    Ok(all)
}

/// Runs `netprophet demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(cache) = &args.cache {
        crate::clobber::refuse_inputs_as_outputs(
            [("--cache", cache.as_path())],
            args.input.iter().chain(&args.model).map(PathBuf::as_path),
        )?;
    }
    super::serve::init_logging();
    let replay = Arc::new(ensemble(&args)?);
    let cache = args.cache.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("netprophet-demo-{}.json", std::process::id()))
    });
    let total = replay.lead.minutes.len();
    let start = args.start.min(total - 1);
    announce(&replay);
    replay
        .cache_at(start)
        .write(&cache)
        .with_context(|| format!("writing the demo cache {}", cache.display()))?;
    if args.no_serve {
        replay_offline(&replay, &cache, start, args.ticks.unwrap_or(total - start))
    } else {
        serve_replay(&args, replay, cache, start)
    }
}

/// One line on what is replayed, with which model, and how often it
/// alarms.
fn announce(all: &Ensemble) {
    let replay = &all.lead;
    let alarm = replay
        .model
        .alarm_threshold
        .unwrap_or(serve::dashboard::HIGH_RISK);
    let high = replay.minutes.iter().filter(|m| m.risk >= alarm).count();
    eprintln!(
        "netprophet demo: {} recorded real minutes ({}), model {} ({} trees, predicts {}); \
         {high} minutes score >= {:.0} % risk",
        replay.minutes.len(),
        replay.source,
        replay.model.file,
        replay.model.trees,
        replay
            .model
            .predicts
            .as_deref()
            .unwrap_or("a degraded minute 5 minutes ahead"),
        alarm * 100.0
    );
    if !all.others.is_empty() {
        let ids: Vec<String> = all
            .others
            .iter()
            .filter_map(|(r, _)| r.probe_id.map(|i| i.to_string()))
            .collect();
        eprintln!(
            "netprophet demo: beside it, real RTT traces of probes {} (2016), shifted onto the same clock",
            ids.join(", ")
        );
    }
}

/// `--no-serve`: writes the cache minute by minute as fast as it can and
/// says where it ended.
fn replay_offline(
    replay: &Ensemble,
    cache: &std::path::Path,
    start: usize,
    ticks: usize,
) -> anyhow::Result<()> {
    let total = replay.lead.minutes.len();
    for t in 1..=ticks {
        replay
            .cache_at((start + t).min(total - 1))
            .write(cache)
            .with_context(|| format!("writing the demo cache {}", cache.display()))?;
    }
    let last = replay.cache_at((start + ticks).min(total - 1));
    println!(
        "replayed {ticks} minutes; last minute {} risk {:.4}; {} probes; cache {}",
        last.headline().minute,
        last.headline().probability,
        last.predictions.len(),
        cache.display()
    );
    Ok(())
}

/// Serves the dashboard while a task writes one replayed minute per tick
/// on a simulated clock; after the recording, the clock keeps running so
/// the stale-data banners appear.
fn serve_replay(
    args: &Args,
    replay: Arc<Ensemble>,
    cache: PathBuf,
    start: usize,
) -> anyhow::Result<()> {
    let total = replay.lead.minutes.len();
    let sim_now = Arc::new(AtomicI64::new(replay.lead.minutes[start].minute + 60));
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
                    let written =
                        tokio::task::spawn_blocking(move || rp.cache_at(i).write(&cache)).await;
                    if let Ok(Err(e)) = written {
                        tracing::error!("{e}");
                    }
                    sim_now.store(replay.lead.minutes[i].minute + 60, Ordering::Relaxed);
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

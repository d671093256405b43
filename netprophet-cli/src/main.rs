//! `netprophet`: predict network path degradation from RIPE Atlas telemetry.
//!
//! Exit codes: 0 success; 1 the command failed (bad input, network, I/O;
//! one line on stderr says why); 2 the command line itself is wrong.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use netprophet_cli::cmd;

/// Predict, from RIPE Atlas ping telemetry, whether a network path will be
/// degraded five minutes from now, and serve that risk on a dashboard.
#[derive(Parser)]
#[command(name = "netprophet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download RIPE Atlas results for a window into an NDJSON archive.
    Fetch(cmd::fetch::Args),
    /// Turn an Atlas archive into 1-minute feature rows (CSV).
    Features(cmd::features::Args),
    /// Train a degradation model from an archive or a features CSV.
    Train(cmd::train::Args),
    /// Grid-search training parameters with time-ordered folds.
    Tune(cmd::tune::Args),
    /// Evaluate a model: report, confusion matrix, PR-AUC, baselines.
    Evaluate(cmd::evaluate::Args),
    /// Score rows (CSV or archive) with a model; one prediction per row.
    Predict(cmd::predict::Args),
    /// Run one live cycle: fetch, features, predict, write the cache.
    Refresh(cmd::refresh::Args),
    /// Serve the dashboard and JSON API from the prediction cache.
    Serve(cmd::serve::Args),
    /// Run the whole pipeline offline on bundled real data and serve it.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fetch(a) => cmd::fetch::run(a),
        Command::Features(a) => cmd::features::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Tune(a) => cmd::tune::run(a),
        Command::Evaluate(a) => cmd::evaluate::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Refresh(a) => cmd::refresh::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Demo(a) => cmd::demo::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`netprophet predict ... | head`) is the reader's
        // choice, not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("netprophet: error: {}", netprophet_cli::one_line(&err));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

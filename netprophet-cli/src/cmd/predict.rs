//! `netprophet predict`: score CSV or Parquet rows with a model, one line
//! per row.
//!
//! Columns are matched to the model's features by name. The original
//! system fed its live features in a different order from training and
//! nothing noticed, because its models carry no names; here a nameless
//! model is scored with an explicit schema (`--features`, or the documented
//! default) and every column is looked up by that name.
//!
//! Columns netprophet derives from per-minute telemetry (the extended,
//! relative and history feature sets) need not be in the file: when a
//! model needs them and the file has the per-minute columns (`timestamp`,
//! `avg_latency`, ...), they are computed from those, as `train` computed
//! them. A model that carries a calibration prints calibrated
//! probabilities (`--raw` for the model's own).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use netprophet_boost::{ColumnMap, Forest, Predictor};
use netprophet_core::bounded::{LineLimit, MAX_CSV_LINE};
use netprophet_core::dataset::{parse_cell, read_minutes_csv_with};
use netprophet_core::features::FeatureFrame;

use crate::model_card::{model_schema, ModelCard};

/// Output format of `netprophet predict`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// One line per row; a header line names the columns.
    Csv,
    /// A JSON array with one number (or array, for multi-class) per row.
    Json,
}

/// Arguments of `netprophet predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Model file: XGBoost JSON or UBJSON (`save_model`).
    #[arg(long)]
    model: PathBuf,
    /// CSV with a header row of feature names; extra columns are ignored,
    /// empty cells and `nan` are missing values.
    #[arg(long)]
    input: PathBuf,
    /// Print raw margins instead of probabilities.
    #[arg(long)]
    margin: bool,
    /// Print the model's raw probabilities, without the calibration it
    /// carries (what XGBoost itself predicts).
    #[arg(long, conflicts_with = "margin")]
    raw: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Also print each row's exact TreeSHAP contributions (XGBoost's
    /// `pred_contribs`): one column per feature, `shap_<feature>`, and
    /// `shap_bias`, in the model's margin (log-odds for binary:logistic),
    /// adding up to the row's margin. What raised or lowered the risk.
    #[arg(long)]
    contributions: bool,
    /// Feature names, in model order, for a model that stores none.
    /// Default for such models: the 8-feature training schema
    /// avg_latency,jitter,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std.
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
}

/// Parses one CSV cell (see [`parse_cell`] for what is missing).
fn cell(value: &str, row: usize, column: &str) -> anyhow::Result<f32> {
    // Parse as f64 and round once, as numpy does when XGBoost converts a
    // float64 array to float32.
    parse_cell(value).map(|x| x as f32).with_context(|| {
        format!(
            "row {row}, column `{column}`: {:?} is not a number",
            value.trim()
        )
    })
}

/// Rows of `names` computed from a feature CSV's per-minute columns, one
/// per CSV row, in file order.
fn derived_rows(
    input: &Path,
    names: &[String],
    config: netprophet_core::features::FeatureConfig,
) -> anyhow::Result<Vec<f32>> {
    crate::input::frames_matrix(read_minutes_csv_with(input, config)?, names)
}

/// Runs `netprophet predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let forest = Forest::load(&args.model)?;
    let names = model_schema(&forest, args.features.as_deref())?;
    // Read once: the card gives both the feature configuration rows are
    // derived with and the calibration applied to the scores.
    let card = ModelCard::read(&forest, &names)?;
    let data = if netprophet_core::parquet::is_parquet_input(&args.input) {
        crate::input::parquet_matrix(&args.input, &names, card.features)?
    } else {
        csv_rows(&args, &card, &names)?
    };
    let width = names.len();
    let predictor = Predictor::new(&forest)?;
    let values = if args.margin {
        predictor.margins(&data, width)?
    } else {
        let raw = predictor.predict(&data, width)?;
        if args.raw || card.calibration.is_none() {
            raw
        } else {
            raw.into_iter()
                .map(|p| card.probability(f64::from(p)) as f32)
                .collect()
        }
    };
    let rows = data.len() / width;
    let per_row = values.len().checked_div(rows).unwrap_or(1);
    let contributions = if args.contributions {
        let mut names_out = Vec::new();
        let groups = predictor.num_group();
        for g in 0..groups {
            let prefix = if groups == 1 {
                "shap_".to_string()
            } else {
                format!("shap_{g}_")
            };
            names_out.extend(names.iter().map(|n| format!("{prefix}{n}")));
            names_out.push(format!("{prefix}bias"));
        }
        Some((predictor.contributions(&data, width)?, names_out))
    } else {
        None
    };
    write_output(
        &values,
        per_row,
        args.format,
        args.margin,
        contributions.as_ref().map(|(c, n)| (&c[..], &n[..])),
    )
}

/// The model's feature rows from a CSV: its columns by name, or derived
/// from its per-minute columns.
fn csv_rows(args: &Args, card: &ModelCard, names: &[String]) -> anyhow::Result<Vec<f32>> {
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(LineLimit::new(file, MAX_CSV_LINE));
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", args.input.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    // Whatever a frame computes (asked of an empty one) can be derived.
    let derivable = |n: &String| FeatureFrame::default().column(n).is_some();
    let data = match ColumnMap::by_name(names, &header) {
        Ok(map) => {
            let mut data = Vec::new();
            for (i, record) in reader.records().enumerate() {
                let row = i + 2; // 1-based, after the header line
                let record =
                    record.with_context(|| format!("{}: line {row}", args.input.display()))?;
                for (&col, name) in map.indices().iter().zip(names) {
                    let raw = record.get(col).unwrap_or("");
                    data.push(
                        cell(raw, row, name).with_context(|| args.input.display().to_string())?,
                    );
                }
            }
            data
        }
        Err(_) if header.iter().any(|h| h == "timestamp") && names.iter().all(derivable) => {
            derived_rows(&args.input, names, card.features)?
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("{} does not fit the model", args.input.display()))
        }
    };
    Ok(data)
}

fn write_output(
    values: &[f32],
    per_row: usize,
    format: Format,
    margin: bool,
    contributions: Option<(&[f32], &[String])>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let what = if margin { "margin" } else { "prediction" };
    let rows = values.len().checked_div(per_row).unwrap_or(0);
    // A row's contributions, when asked for.
    let shap = |r: usize| contributions.map(|(c, n)| &c[r * n.len()..(r + 1) * n.len()]);
    match format {
        Format::Csv => {
            let mut cols: Vec<String> = if per_row == 1 {
                vec![what.to_string()]
            } else {
                (0..per_row).map(|k| format!("{what}_{k}")).collect()
            };
            if let Some((_, names)) = contributions {
                cols.extend(names.iter().cloned());
            }
            writeln!(out, "{}", cols.join(","))?;
            for (r, row) in values.chunks(per_row).enumerate() {
                let mut cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                if let Some(c) = shap(r) {
                    cells.extend(c.iter().map(|v| v.to_string()));
                }
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        Format::Json => {
            let json: Vec<serde_json::Value> = (0..rows)
                .map(|r| {
                    let row = &values[r * per_row..(r + 1) * per_row];
                    let value = if per_row == 1 {
                        serde_json::json!(row[0])
                    } else {
                        serde_json::json!(row)
                    };
                    match (shap(r), contributions) {
                        (Some(c), Some((_, names))) => {
                            let map: serde_json::Map<String, serde_json::Value> = names
                                .iter()
                                .zip(c)
                                .map(|(n, v)| (n.clone(), serde_json::json!(v)))
                                .collect();
                            serde_json::json!({ what: value, "contributions": map })
                        }
                        _ => value,
                    }
                })
                .collect();
            serde_json::to_writer(&mut out, &json)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

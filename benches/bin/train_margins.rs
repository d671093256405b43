//! Trains netprophet on a CSV of rows with parameters given as JSON and
//! writes the model's margins on those rows, one per line, so a script can
//! hold them against XGBoost's for the same rows and parameters
//! (`benches/parity_sweep.py`).
//!
//! Usage: `train_margins ROWS.csv PARAMS.json MARGINS.txt [MODEL.json]`
//!
//! `ROWS.csv` has a header; every column but `label` and `weight` is a
//! feature, in file order; an empty cell is a missing value. `PARAMS.json`
//! holds `TrainParams` as JSON (fields left out take their defaults).

use netprophet_boost::train::{train, TrainData, TrainParams};
use netprophet_boost::Predictor;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: train_margins ROWS.csv PARAMS.json MARGINS.txt [MODEL.json]");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[1]).expect("rows");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let label_col = header
        .iter()
        .position(|h| *h == "label")
        .expect("label column");
    let weight_col = header.iter().position(|h| *h == "weight");
    let features: Vec<usize> = (0..header.len())
        .filter(|&c| c != label_col && Some(c) != weight_col)
        .collect();
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let value = |c: usize| cells[c].parse::<f64>().map_or(f32::NAN, |v| v as f32);
        x.extend(features.iter().map(|&c| value(c)));
        y.push(value(label_col));
        if let Some(c) = weight_col {
            w.push(value(c));
        }
    }
    let params: TrainParams =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("params")).expect("params");
    let width = features.len();
    let mut data = TrainData::new(&x, width, &y);
    if weight_col.is_some() {
        data.weight = Some(&w);
    }
    let forest = match train(&data, &params) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("train: {e}");
            std::process::exit(1);
        }
    };
    let margins = Predictor::new(&forest)
        .unwrap()
        .margins(&x, width)
        .expect("margins");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3]).expect("out"));
    for m in margins {
        writeln!(out, "{m:?}").expect("write");
    }
    if let Some(path) = args.get(4) {
        forest.save_json(path).expect("model");
    }
}

//! Writes a GENERATED msm-1001-shaped Atlas archive for benchmarks (see
//! `netprophet_benches::write_atlas_archive`). Not real measurements.
//!
//! Usage: `gen_atlas OUT PROBES HOURS [SEED]`; OUT ending in `.gz` is
//! gzip-compressed.

use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, out, probes, hours, rest @ ..] => probes
            .parse::<usize>()
            .ok()
            .zip(hours.parse::<u32>().ok())
            .map(|(p, h)| {
                (
                    out.clone(),
                    p,
                    h,
                    rest.first().and_then(|s| s.parse().ok()).unwrap_or(1001),
                )
            }),
        _ => None,
    };
    let Some((out, probes, hours, seed)) = parsed else {
        eprintln!("usage: gen_atlas OUT PROBES HOURS [SEED]");
        std::process::exit(2);
    };
    let run = || -> std::io::Result<u64> {
        let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
        if out.ends_with(".gz") {
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            let n = netprophet_benches::write_atlas_archive(&mut gz, probes, hours, seed)?;
            gz.finish()?.flush()?;
            Ok(n)
        } else {
            let mut file = file;
            let n = netprophet_benches::write_atlas_archive(&mut file, probes, hours, seed)?;
            file.flush()?;
            Ok(n)
        }
    };
    match run() {
        Ok(n) => eprintln!("wrote {n} generated results to {out}"),
        Err(e) => {
            eprintln!("gen_atlas: {out}: {e}");
            std::process::exit(1);
        }
    }
}

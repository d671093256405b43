//! Writes a **generated, not real** prediction cache of many probes for
//! the serving benchmark (`compare_serving.py --many`): a refresh of every
//! probe of RIPE Atlas msm 1001 writes about 12 000 predictions, and no
//! such real cache is on hand. The cache's `source` says it is generated.
//!
//!     gen_cache OUT.json [PROBES] [RECORD_MINUTES] [NOW]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(out) = args.get(1) else {
        eprintln!("usage: gen_cache OUT.json [PROBES] [RECORD_MINUTES] [NOW]");
        std::process::exit(2);
    };
    let num = |i: usize, default: i64| -> i64 {
        args.get(i).map_or(default, |v| {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{v:?} is not a whole number");
                std::process::exit(2)
            })
        })
    };
    let probes = num(2, 12_000).clamp(1, 50_000) as usize;
    let minutes = num(3, 7 * 1440);
    let now = num(
        4,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let cache = netprophet_cli::cache::generated::generated_cache(probes, now, minutes, 1);
    if let Err(e) = cache.write(std::path::Path::new(out)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    println!("{out}: {probes} generated probes, {minutes} minutes of record each, {bytes} bytes");
}

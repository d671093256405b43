//! A small HTTP/1.1 load generator for the serving comparison: `N`
//! keep-alive connections each send GET requests back to back for a
//! duration, optionally while `IDLE` more connections sit open doing
//! nothing; prints requests/s, p50/p99 latency and errors as JSON, and
//! the server's RSS when given its pid(s).
//!
//! Usage: `loadgen [--rate R] ADDR PATH CONNECTIONS SECONDS [IDLE] [PID,PID...]`
//!
//! Without `--rate` the load is closed-loop: each connection sends its next
//! request as soon as the last answer arrives, so at saturation latency is
//! mostly queueing (connections / throughput). With `--rate R` it is
//! open-loop: the connections share a schedule of `R` requests per second
//! and latency is measured from each request's scheduled time, so a late
//! answer also counts against the requests it delayed (no coordinated
//! omission). That measures the server's latency at a given load.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn rss_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// One request on an open connection: `Some(true)` when the server will
/// close the connection after this response (as Gunicorn's sync workers
/// do), `Some(false)` when it stays open, `None` on any error.
fn request(reader: &mut BufReader<TcpStream>, req: &[u8]) -> Option<bool> {
    reader.get_mut().write_all(req).ok()?;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("HTTP/1.1 200") && !line.starts_with("HTTP/1.0 200") {
        return None;
    }
    let mut length = 0usize;
    let mut close = line.starts_with("HTTP/1.0");
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        } else if let Some(v) = lower.strip_prefix("connection:") {
            close = v.trim() == "close";
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(close)
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let mut rate: Option<f64> = None;
    if let Some(i) = args.iter().position(|a| a == "--rate") {
        rate = args.get(i + 1).and_then(|v| v.parse().ok());
        if rate.is_none_or(|r| r <= 0.0) {
            eprintln!("--rate needs a positive number of requests per second");
            std::process::exit(2);
        }
        args.drain(i..i + 2);
    }
    if args.len() < 5 {
        eprintln!("usage: loadgen [--rate R] ADDR PATH CONNECTIONS SECONDS [IDLE] [PID,PID...]");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let path = args[2].clone();
    let conns: usize = args[3].parse().expect("CONNECTIONS");
    let secs: f64 = args[4].parse().expect("SECONDS");
    let idle: usize = args.get(5).and_then(|v| v.parse().ok()).unwrap_or(0);
    let pids: Vec<String> = args
        .get(6)
        .map(|p| p.split(',').map(str::to_string).collect())
        .unwrap_or_default();

    let idle_conns: Vec<TcpStream> = (0..idle)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: loadgen\r\n\r\n").into_bytes();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    // Open loop: connection `i` owns every `conns`-th slot of the shared
    // schedule, starting at slot `i`.
    let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
    let workers: Vec<_> = (0..conns)
        .map(|i| {
            let (addr, req) = (addr.clone(), req.clone());
            std::thread::spawn(move || {
                let mut next = interval.map(|d| start + d.mul_f64(i as f64 / conns as f64));
                let mut lat = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let mut conn: Option<BufReader<TcpStream>> = None;
                while Instant::now() < deadline {
                    if conn.is_none() {
                        match TcpStream::connect(&addr) {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                                conn = Some(BufReader::new(s));
                            }
                            Err(_) => {
                                errors += 1;
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        }
                    }
                    let t = match (next.as_mut(), interval) {
                        (Some(due), Some(step)) => {
                            let now = Instant::now();
                            if *due > now {
                                std::thread::sleep(*due - now);
                            }
                            let scheduled = *due;
                            *due += step;
                            scheduled
                        }
                        _ => Instant::now(),
                    };
                    if t >= deadline {
                        break;
                    }
                    match request(conn.as_mut().expect("connected"), &req) {
                        Some(close) => {
                            lat.push(t.elapsed().as_micros() as u32);
                            if close {
                                conn = None;
                            }
                        }
                        None => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.join().expect("worker");
        all.extend(lat);
        errors += e;
    }
    let idle_alive = idle_conns.len();
    drop(idle_conns);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let rss: u64 = pids.iter().map(|p| rss_kib(p, "VmRSS:")).sum();
    let hwm: u64 = pids.iter().map(|p| rss_kib(p, "VmHWM:")).sum();
    println!(
        "{{\"connections\": {conns}, \"idle\": {idle_alive}, \"requests\": {}, \"rps\": {:.0}, \"p50_us\": {}, \"p99_us\": {}, \"errors\": {errors}, \"server_rss_kib\": {rss}, \"server_peak_rss_kib\": {hwm}}}",
        all.len(),
        all.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
}

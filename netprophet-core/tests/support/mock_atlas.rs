//! A mock of the RIPE Atlas results API on 127.0.0.1, serving recorded
//! real result objects, with scripted faults. Shared by the client tests
//! here and the CLI's live-service tests.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the next request gets.
#[derive(Clone, Debug)]
pub enum Fault {
    /// The matching results.
    Ok,
    /// This status with a short body.
    Status(u16),
    /// This status with `Retry-After: secs`.
    RetryAfter(u16, u64),
    /// Wait this long before answering (past the client's timeout).
    Stall(Duration),
    /// A 200 whose body stops halfway (the connection is closed).
    Truncated,
    /// A 200 with an empty list.
    Empty,
    /// The connection is closed without an answer once the request is in.
    Reset,
}

/// One request the mock saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Path and query.
    pub target: String,
    /// When it arrived.
    pub at: Instant,
}

impl Seen {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.replace("%2C", ","))
        })
    }
}

/// The running mock.
pub struct MockAtlas {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Fault>>>,
}

/// The real result lines of `fixtures/data/ping-firmware-variants.ndjson`
/// that carry per-packet results.
pub fn real_results() -> Vec<Value> {
    let text = include_str!("../../../fixtures/data/ping-firmware-variants.ndjson");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("result").is_some())
        .collect()
}

/// Recorded real result objects re-timed every 240 s (msm 1001's cadence)
/// over `[start, stop)` and re-numbered as `probes` in turn.
pub fn retimed(start: i64, stop: i64, probes: &[u64]) -> Vec<Value> {
    let real = real_results();
    let mut out = Vec::new();
    let mut k = 0usize;
    let mut t = start + 17;
    while t < stop {
        for (j, p) in probes.iter().enumerate() {
            let mut v = real[(k + j) % real.len()].clone();
            v["prb_id"] = (*p).into();
            v["timestamp"] = (t + j as i64 * 3).into();
            v["msm_id"] = 1001.into();
            out.push(v);
        }
        k += 1;
        t += 240;
    }
    out
}

impl MockAtlas {
    /// Starts serving `results` with `script` faults (then `Ok` forever).
    pub fn start(results: Vec<Value>, script: Vec<Fault>) -> MockAtlas {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let results = Arc::new(results);
        let (s2, sc2) = (seen.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, script, results) = (s2.clone(), sc2.clone(), results.clone());
                std::thread::spawn(move || serve(stream, &seen, &script, &results));
            }
        });
        MockAtlas { url, seen, script }
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Replaces the remaining script.
    pub fn set_script(&self, faults: Vec<Fault>) {
        *self.script.lock().unwrap() = VecDeque::from(faults);
    }
}

fn serve(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    script: &Mutex<VecDeque<Fault>>,
    results: &[Value],
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let request = Seen {
        target,
        at: Instant::now(),
    };
    seen.lock().unwrap().push(request.clone());
    let fault = script.lock().unwrap().pop_front().unwrap_or(Fault::Ok);
    let respond = |stream: &mut TcpStream, status: u16, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    let matching = || -> Vec<u8> {
        let start: i64 = request
            .param("start")
            .and_then(|s| s.parse().ok())
            .unwrap_or(i64::MIN);
        let stop: i64 = request
            .param("stop")
            .and_then(|s| s.parse().ok())
            .unwrap_or(i64::MAX);
        let probes: Option<Vec<u64>> = request
            .param("probe_ids")
            .map(|p| p.split(',').filter_map(|x| x.parse().ok()).collect());
        let chosen: Vec<&Value> = results
            .iter()
            .filter(|v| {
                let t = v["timestamp"].as_i64().unwrap_or(0);
                let p = v["prb_id"].as_u64().unwrap_or(0);
                t >= start && t <= stop && probes.as_ref().is_none_or(|ps| ps.contains(&p))
            })
            .collect();
        serde_json::to_vec(&chosen).unwrap()
    };
    match fault {
        Fault::Ok => respond(&mut stream, 200, "", &matching()),
        Fault::Empty => respond(&mut stream, 200, "", b"[]"),
        Fault::Status(s) => respond(&mut stream, s, "", b"{\"error\":\"mock\"}"),
        Fault::RetryAfter(s, secs) => {
            respond(&mut stream, s, &format!("Retry-After: {secs}\r\n"), b"{}")
        }
        Fault::Stall(d) => {
            std::thread::sleep(d);
            respond(&mut stream, 200, "", &matching());
        }
        Fault::Reset => {}
        Fault::Truncated => {
            let body = matching();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

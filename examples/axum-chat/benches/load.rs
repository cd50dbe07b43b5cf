//! How much of the chat service's CPU is unattributed with `#[route]` only, with
//! `featgen::axum::RouteLayer`, and with the layer and `featgen::axum::serve`, under the same
//! bounded load on loopback.
//!
//! `cargo bench -p axum-chat --bench load` starts the `axum-chat` binary three times
//! (`CHAT_ROUTE_LAYER=off`, `layer`, then `on`), each time with the profiler at 100 Hz writing to
//! a fresh directory, drives it from this process over keep-alive HTTP/1.1 connections, stops it
//! with SIGINT (the last profile is flushed), and reads the profiles: the CPU share per endpoint
//! label, the unattributed share, and the frames where the unattributed CPU was spent.
//!
//! `LOAD_MODES` (default `off,layer,on`) picks the runs, for instance `LOAD_MODES=on` with a
//! larger `LOAD_REQUESTS` for a tight figure on the last one.
//!
//! The load is bounded in count and time: `LOAD_REQUESTS` requests (default 120,000) over
//! `LOAD_CONNECTIONS` connections (default 4), stopped early after `LOAD_SECS` (default 90) per
//! run. Each session of 8 requests uses its own channel: three messages of `LOAD_BODY_BYTES`
//! (default 2,048) of text are sent, one is edited, the channel's messages are listed (a JSON
//! response of about three times that), then typing, a voice message and the profile.

use featgen::profiler::proto::Profile;
use prost::Message;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The load of one run.
#[derive(Clone, Copy, Debug)]
struct Load {
    requests: u64,
    connections: u64,
    deadline: Duration,
    body_bytes: usize,
}

impl Load {
    fn from_env() -> Load {
        let number = |name: &str, default: u64| {
            std::env::var(name).map_or(default, |value| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}"))
            })
        };
        Load {
            requests: number("LOAD_REQUESTS", 120_000),
            connections: number("LOAD_CONNECTIONS", 4).max(1),
            deadline: Duration::from_secs(number("LOAD_SECS", 90)),
            body_bytes: number("LOAD_BODY_BYTES", 2048) as usize,
        }
    }
}

/// One keep-alive HTTP/1.1 connection to the server.
struct Connection {
    reader: BufReader<TcpStream>,
    addr: String,
}

impl Connection {
    fn open(addr: &str) -> Connection {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream.set_nodelay(true).unwrap();
        Connection {
            reader: BufReader::new(stream),
            addr: addr.to_owned(),
        }
    }

    /// Sends one request and reads the whole response; returns its status and body.
    fn send(&mut self, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
        let stream = self.reader.get_mut();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, body)
    }
}

/// Drives one connection until `sent` reaches the bound or the deadline passes.
fn drive(addr: &str, load: Load, sent: &AtomicU64, start: Instant, worker: u64) {
    let mut connection = Connection::open(addr);
    let text: String = "featgen ".repeat(load.body_bytes / 8);
    let message = format!(r#"{{"content":"{text}"}}"#);
    let edit = format!(r#"{{"content":"{text} (edited)"}}"#);
    let mut session = worker;
    while start.elapsed() < load.deadline && sent.fetch_add(8, Ordering::Relaxed) < load.requests {
        let channel = session;
        session += load.connections;
        let messages = format!("/channels/{channel}/messages");
        let mut first_id = 0;
        for _ in 0..3 {
            let (status, body) = connection.send("POST", &messages, &message);
            assert_eq!(status, 200);
            if first_id == 0 {
                let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
                first_id = reply["data"]["id"].as_u64().unwrap();
            }
        }
        let (status, _) = connection.send("PATCH", &format!("{messages}/{first_id}"), &edit);
        assert_eq!(status, 200);
        let (status, listed) = connection.send("GET", &messages, "");
        assert_eq!(status, 200);
        assert!(listed.len() > 3 * load.body_bytes, "{} bytes", listed.len());
        let typing = format!("/channels/{channel}/typing");
        assert_eq!(connection.send("POST", &typing, "").0, 200);
        let voice = format!("/voice/{channel}/messages");
        assert_eq!(connection.send("POST", &voice, &message).0, 200);
        assert_eq!(connection.send("GET", "/users/@me", "").0, 200);
    }
}

/// What the server attributes, by its `CHAT_ROUTE_LAYER` setting.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `off`: `#[route]` only, served by `axum::serve`.
    RouteOnly,
    /// `layer`: `RouteLayer`, served by `axum::serve`.
    Layer,
    /// `on`: `RouteLayer`, served by `featgen::axum::serve`.
    LayerAndServe,
}

impl Mode {
    fn setting(self) -> &'static str {
        match self {
            Mode::RouteOnly => "off",
            Mode::Layer => "layer",
            Mode::LayerAndServe => "on",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Mode::RouteOnly => "#[route] only (axum::serve)",
            Mode::Layer => "with RouteLayer (axum::serve)",
            Mode::LayerAndServe => "with RouteLayer and featgen::axum::serve",
        }
    }
}

/// Starts the server with the profiler writing into `dir`; returns it and its address.
fn start_server(dir: &Path, mode: Mode) -> (Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_axum-chat"))
        .env("CHAT_ADDR", "127.0.0.1:0")
        .env("CHAT_ROUTE_LAYER", mode.setting())
        .env("FEATGEN_PROFILER_HZ", "100")
        .env("FEATGEN_PROFILER_DIR", dir)
        .env("FEATGEN_PROFILER_SERVICE_NAME", "axum-chat")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the axum-chat binary");
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        if let Some(addr) = line.trim().strip_prefix("listening on http://") {
            break addr.to_owned();
        }
    };
    (server, addr)
}

/// CPU of one run, from its profiles.
#[derive(Default)]
struct Breakdown {
    total_ns: i64,
    /// By `endpoint` label (`""` unattributed), with whether the samples had a `feature`.
    by_endpoint: HashMap<(String, bool), i64>,
    /// Unattributed CPU by leaf frame.
    unattributed_leaf: HashMap<String, i64>,
    /// Unattributed CPU by the innermost frame outside std, core, alloc and libc.
    unattributed_caller: HashMap<String, i64>,
    /// Unattributed CPU by what its stack shows it was doing (see [`activity`]).
    unattributed_activity: HashMap<&'static str, i64>,
}

/// What an unattributed sample's stack (leaf first) shows it was doing: a connection's or a
/// request's work (hyper, axum, the accept loop of `featgen::axum::serve` or the chat's own
/// frames: the first request head of a connection, accepting it), the profiler's own threads,
/// the async runtime (I/O driver, timers, scheduler), a leaf alone (the walk could not go
/// further), or other. The kinds are tried in that order: a sample with a request's frame
/// anywhere on its stack is a request's work, even with tokio's scheduler below it.
fn activity<'a>(stack: impl Iterator<Item = &'a str>) -> &'static str {
    const KINDS: [(&str, &[&str]); 3] = [
        (
            "a connection or request (hyper, axum, featgen's serve or the service's frames)",
            &[
                "hyper::",
                "hyper_util::",
                "axum::",
                "axum_core::",
                "axum_chat::",
                "featgen::axum",
            ],
        ),
        ("the profiler's threads", &["featgen::profiler"]),
        (
            "the async runtime (I/O driver, timers, scheduler)",
            &["tokio::", "mio::"],
        ),
    ];
    let frames: Vec<&str> = stack.collect();
    KINDS
        .iter()
        .find(|(_, prefixes)| {
            frames.iter().any(|frame| {
                let frame = frame.trim_start_matches('<');
                prefixes.iter().any(|prefix| frame.starts_with(prefix))
            })
        })
        .map_or(
            if frames.len() > 1 {
                "other"
            } else {
                "a leaf frame only (the stack walk stopped in libc or libm, built without frame pointers)"
            },
            |(kind, _)| kind,
        )
}

impl Breakdown {
    fn read(dir: &Path) -> Breakdown {
        let mut breakdown = Breakdown::default();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".pb.gz") {
                continue;
            }
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            breakdown.add(&Profile::decode(raw.as_slice()).unwrap());
        }
        breakdown
    }

    fn add(&mut self, profile: &Profile) {
        for sample in &profile.sample {
            let cpu = sample.value[0];
            self.total_ns += cpu;
            let label = |key: &str| profile.labels(sample).find(|(k, _)| *k == key);
            let endpoint = label("endpoint").map_or("", |(_, value)| value);
            let has_feature = label("feature").is_some();
            *self
                .by_endpoint
                .entry((endpoint.to_owned(), has_feature))
                .or_default() += cpu;
            if endpoint.is_empty() {
                *self
                    .unattributed_activity
                    .entry(activity(profile.stack(sample)))
                    .or_default() += cpu;
                let mut stack = profile.stack(sample);
                let leaf = stack.next().unwrap_or("[unknown]");
                *self.unattributed_leaf.entry(leaf.to_owned()).or_default() += cpu;
                let caller = std::iter::once(leaf)
                    .chain(stack)
                    .find(|frame| {
                        frame.contains("::")
                            && ![
                                "std::", "core::", "alloc::", "<alloc::", "<core::", "<std::",
                            ]
                            .iter()
                            .any(|prefix| frame.starts_with(prefix))
                    })
                    .unwrap_or(leaf);
                *self.unattributed_caller.entry(shorten(caller)).or_default() += cpu;
            }
        }
    }

    fn share(&self, cpu: i64) -> f64 {
        100.0 * cpu as f64 / self.total_ns.max(1) as f64
    }

    fn unattributed(&self) -> f64 {
        self.share(
            self.by_endpoint
                .get(&(String::new(), false))
                .copied()
                .unwrap_or(0),
        )
    }

    /// Samples taken: each stands for one period (10 ms of CPU at 100 Hz).
    fn samples(&self) -> i64 {
        self.total_ns / 10_000_000
    }

    /// The standard error of the unattributed share, in points: each sample is unattributed or
    /// not, independently, with the measured probability.
    fn unattributed_error(&self) -> f64 {
        let share = self.unattributed() / 100.0;
        100.0 * (share * (1.0 - share) / self.samples().max(1) as f64).sqrt()
    }

    fn print(&self, title: &str, requests: u64, wall: Duration) {
        println!(
            "\n## {title}: {requests} requests in {:.1} s, {:.2} CPU-s sampled ({} samples at 100 Hz)",
            wall.as_secs_f64(),
            self.total_ns as f64 / 1e9,
            self.samples()
        );
        println!(
            "unattributed: {:.1}% ± {:.1} (standard error)",
            self.unattributed(),
            self.unattributed_error()
        );
        let mut rows: Vec<_> = self.by_endpoint.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for ((endpoint, has_feature), cpu) in rows {
            let name = match (endpoint.as_str(), has_feature) {
                ("", _) => "(unattributed)".to_owned(),
                (endpoint, true) => endpoint.to_owned(),
                (endpoint, false) => format!("{endpoint} (unmatched, no feature)"),
            };
            println!("  {:>5.1}%  {name}", self.share(*cpu));
        }
        println!("unattributed CPU by what its stack shows (share of all CPU):");
        let mut kinds: Vec<_> = self.unattributed_activity.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (kind, cpu) in kinds {
            println!("  {:>5.1}%  {kind}", self.share(*cpu));
        }
        for (what, frames) in [
            ("leaf frames", &self.unattributed_leaf),
            (
                "innermost frames outside std/libc",
                &self.unattributed_caller,
            ),
        ] {
            println!("unattributed CPU by {what} (share of all CPU):");
            let mut frames: Vec<_> = frames.iter().collect();
            frames.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (frame, cpu) in frames.into_iter().take(12) {
                println!("  {:>5.1}%  {frame}", self.share(*cpu));
            }
        }
    }
}

/// A frame name with the generic arguments inside its outermost `<..>` removed, cut to 110
/// characters.
fn shorten(frame: &str) -> String {
    let mut depth = 0;
    let mut out = String::new();
    for c in frame.chars() {
        match c {
            '<' => {
                if depth == 0 {
                    out.push(c);
                }
                depth += 1;
            }
            '>' => {
                depth -= 1;
                if depth == 0 {
                    out.push(c);
                }
            }
            _ if depth <= 1 => out.push(c),
            _ => {}
        }
    }
    out.chars().take(110).collect()
}

/// Runs the load against a fresh server in `mode`, prints the breakdown and returns the
/// unattributed share and its standard error.
fn run(load: Load, mode: Mode) -> (f64, f64) {
    let dir = std::env::temp_dir().join(format!(
        "featgen-load-{}-{}",
        std::process::id(),
        mode.setting()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, addr) = start_server(&dir, mode);
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..load.connections)
        .map(|worker| {
            let (addr, sent) = (addr.clone(), sent.clone());
            std::thread::spawn(move || drive(&addr, load, &sent, start, worker))
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let wall = start.elapsed();
    let requests = sent.load(Ordering::Relaxed).min(load.requests);
    let stopped = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.wait().unwrap().success(), "the server failed");
    let breakdown = Breakdown::read(&dir);
    breakdown.print(mode.title(), requests, wall);
    std::fs::remove_dir_all(&dir).unwrap();
    (breakdown.unattributed(), breakdown.unattributed_error())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that names neither run skips both.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter.as_deref().is_some_and(|f| !"load".contains(f)) {
        return;
    }
    let load = Load::from_env();
    println!("load: {load:?}");
    let modes = std::env::var("LOAD_MODES").unwrap_or_else(|_| "off,layer,on".to_owned());
    let mut summary = Vec::new();
    for setting in modes.split(',') {
        let mode = [Mode::RouteOnly, Mode::Layer, Mode::LayerAndServe]
            .into_iter()
            .find(|mode| mode.setting() == setting)
            .unwrap_or_else(|| panic!("LOAD_MODES lists off, layer, on; not {setting:?}"));
        let (share, error) = run(load, mode);
        summary.push(format!("{share:.1}% ± {error:.1} {}", mode.title()));
    }
    println!("\nunattributed CPU: {}", summary.join("; "));
}

//! The Pyroscope sinks against a local HTTP server: the exact push and `/ingest` requests, and
//! behavior when the collector is down, slow, rate-limiting or failing.
#![cfg(all(feature = "pyroscope", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::proto::PushRequest;
use featgen::profiler::{Profiler, Protocol, Pyroscope, SinkStats, Stats};
use prost::Message;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::*;

/// A configuration that cuts a profile only at stop (one request per label set).
fn one_interval() -> featgen::profiler::ProfilerBuilder {
    Profiler::builder()
        .frequency_hz(1000)
        .interval(Duration::from_secs(3600))
        .service_name("svc")
        .label("deployment", "ci")
}

#[test]
fn push_sends_the_exact_request() {
    let _serial = exclusive();
    let server = Server::start(|_| Reply::OK);
    let destination = Pyroscope::new(server.url())
        .basic_auth("user", "secret")
        .tenant_id("tenant-1")
        .header("X-Extra", "extra-secret");
    let debug = format!("{destination:?}");
    assert!(
        !debug.contains("secret"),
        "Debug leaks a credential: {debug}"
    );
    let profiler = one_interval().pyroscope(destination).start().unwrap();
    workload(Duration::from_millis(200), Duration::from_millis(50));
    let stats = profiler.stop();
    assert_conserved(&stats);
    assert_eq!(
        stats.sinks.len(),
        1,
        "a Pyroscope sink replaces the default directory"
    );
    assert_eq!(stats.sinks[0].sink, "pyroscope-push");
    assert_eq!(stats.sinks[0].profiles_sent, 1);

    let request = server.requests.try_recv().unwrap();
    assert!(
        server.requests.try_recv().is_err(),
        "one request per interval"
    );
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/push.v1.PusherService/Push");
    assert!(request.query.is_empty());
    let header = |name: &str| request.headers.get(name).map(String::as_str);
    assert_eq!(header("content-type"), Some("application/proto"));
    assert_eq!(header("connect-protocol-version"), Some("1"));
    assert_eq!(header("authorization"), Some("Basic dXNlcjpzZWNyZXQ="));
    assert_eq!(header("x-scope-orgid"), Some("tenant-1"));
    assert_eq!(header("x-extra"), Some("extra-secret"));

    let push = PushRequest::decode(request.body.as_slice()).unwrap();
    assert_eq!(push.series.len(), 1);
    let series = &push.series[0];
    let labels: Vec<_> = series
        .labels
        .iter()
        .map(|label| (label.name.as_str(), label.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("__name__", "process_cpu"),
            ("service_name", "svc"),
            ("deployment", "ci")
        ]
    );
    assert_eq!(series.samples.len(), 1);
    let id = &series.samples[0].id;
    assert!(
        id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4,
        "{id}"
    );
    let profile = decode_gzip_profile(&series.samples[0].raw_profile);
    assert_cpu_nanoseconds(&profile);
    assert_eq!(profile.period, 1_000_000);
    let total: i64 = profile.sample.iter().map(|sample| sample.value[0]).sum();
    assert_eq!(total as u64, stats.samples_reported * 1_000_000);
    // The completed call travels in the same profile, as its second sample type.
    assert_eq!(
        requests_by_endpoint(std::slice::from_ref(&profile)),
        std::collections::BTreeMap::from([("send_message".to_owned(), 1)])
    );
    let by_feature = cpu_by_feature(std::slice::from_ref(&profile));
    let messaging = by_feature["messaging"] as f64 / 1e9;
    assert!((0.17..0.23).contains(&messaging), "{by_feature:?}");
    for sample in &profile.sample {
        let labels: Vec<_> = profile.labels(sample).collect();
        assert!(
            labels.is_empty()
                || labels
                    == [
                        ("feature", "messaging"),
                        ("endpoint", "send_message"),
                        ("feature_group", "chat"),
                        ("team", "chat-team"),
                        ("tier", "tier0"),
                        ("feature_id", "1")
                    ],
            "{labels:?}"
        );
    }
}

#[test]
fn ingest_sends_one_folded_request_per_label_set() {
    let _serial = exclusive();
    let server = Server::start(|_| Reply::OK);
    let destination = Pyroscope::new(server.url())
        .protocol(Protocol::Ingest)
        .tenant_id("tenant-1");
    let profiler = one_interval().pyroscope(destination).start().unwrap();
    workload(Duration::from_millis(200), Duration::from_millis(50));
    let stats = profiler.stop();
    assert_conserved(&stats);
    assert_eq!(stats.sinks[0].sink, "pyroscope-ingest");

    let requests: Vec<_> = server.requests.try_iter().collect();
    let mut names = Vec::new();
    let mut periods = 0u64;
    let mut messaging = 0u64;
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/ingest");
        assert_eq!(
            request.headers.get("x-scope-orgid").map(String::as_str),
            Some("tenant-1")
        );
        let query = |key: &str| {
            request
                .query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let keys: Vec<_> = request.query.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["name", "from", "until", "format", "sampleRate", "spyName"]
        );
        let (from, until): (u64, u64) = (
            query("from").parse().unwrap(),
            query("until").parse().unwrap(),
        );
        assert!(from <= until && until - from <= 2, "{from}..{until}");
        assert_eq!(query("format"), "folded");
        assert_eq!(query("sampleRate"), "1000");
        assert_eq!(query("spyName"), "featgen");
        let body = String::from_utf8(request.body.clone()).unwrap();
        let mut count = 0;
        for line in body.lines() {
            let (stack, n) = line.rsplit_once(' ').unwrap();
            assert!(!stack.is_empty(), "{line}");
            count += n.parse::<u64>().unwrap();
        }
        periods += count;
        let name = query("name");
        if name.contains("feature=messaging") {
            messaging += count;
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "svc.cpu{deployment=ci}",
            "svc.cpu{feature=messaging,endpoint=send_message,feature_group=chat,team=chat-team,tier=tier0,feature_id=1,deployment=ci}",
        ]
    );
    assert_eq!(periods, stats.samples_reported);
    assert!(
        (170..230).contains(&messaging),
        "{messaging} periods of 1 ms"
    );
}

/// A profiler cutting a profile every 200 ms into a small queue with fast retries.
fn failing_setup(url: String) -> featgen::profiler::ProfilerBuilder {
    short_intervals().pyroscope(
        Pyroscope::new(url)
            .basic_auth("user", "secret")
            .timeout(Duration::from_millis(300)),
    )
}

fn sink(stats: &Stats) -> &SinkStats {
    &stats.sinks[0]
}

#[test]
fn a_down_collector_drops_oldest_counts_and_recovers_when_back() {
    let _serial = exclusive();
    // Reserve a port, then close it: connections are refused until the server comes up.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let profiler = failing_setup(format!("http://127.0.0.1:{port}"))
        .start()
        .unwrap();
    let mut most_pending = 0;
    for _ in 0..8 {
        workload(Duration::from_millis(150), Duration::ZERO);
        most_pending = most_pending.max(sink(&profiler.stats()).profiles_pending);
    }
    let during = profiler.stats();
    assert!(
        most_pending <= 4,
        "queue of 3 plus one in flight, saw {most_pending}"
    );
    assert_eq!(sink(&during).profiles_sent, 0);
    assert!(sink(&during).profiles_dropped.queue_full > 0, "{during:#?}");
    assert!(sink(&during).send_failures > 0);
    let error = sink(&during).last_error.clone().unwrap();
    assert!(!error.contains("secret"), "{error}");

    // The collector comes back on the same port: what is queued gets delivered.
    let server = Server::serve(TcpListener::bind(("127.0.0.1", port)).unwrap(), |_| {
        Reply::OK
    });
    wait_for_stats(
        &profiler,
        "the queued profiles to reach the collector",
        |stats| sink(stats).profiles_sent >= 3,
    );
    let stats = profiler.stop();
    assert_conserved(&stats);
    assert!(sink(&stats).profiles_sent >= 3, "{stats:#?}");
    assert_eq!(
        server.requests.try_iter().count() as u64,
        sink(&stats).profiles_sent
    );
}

#[test]
fn rate_limits_and_server_errors_are_retried_client_errors_are_not() {
    let _serial = exclusive();
    let answered = Arc::new(AtomicUsize::new(0));
    let server = Server::start({
        let answered = answered.clone();
        move |_| {
            let status = match answered.fetch_add(1, Ordering::SeqCst) {
                0 => 429,
                1 => 503,
                2 => 500,
                3 => 400,
                _ => 200,
            };
            Reply {
                status,
                delay: Duration::ZERO,
            }
        }
    });
    let profiler = failing_setup(server.url()).start().unwrap();
    workload(Duration::from_millis(600), Duration::ZERO);
    // The first profile meets 429, 503, 500 and is then rejected with 400; the others pass.
    wait_for_stats(&profiler, "four failed sends and an empty queue", |stats| {
        sink(stats).send_failures >= 4 && sink(stats).profiles_pending == 0
    });
    let stats = profiler.stop();
    assert_conserved(&stats);
    let sink = sink(&stats);
    assert_eq!(sink.send_failures, 4, "{stats:#?}");
    assert_eq!(sink.profiles_dropped.rejected, 1, "the HTTP 400 one");
    assert_eq!(
        sink.profiles_dropped.total(),
        1,
        "nothing else lost: {stats:#?}"
    );
    assert_eq!(sink.profiles_sent, stats.profiles_built - 1);
    assert!(sink.last_error.as_deref().unwrap().starts_with("HTTP 400"));
}

#[test]
fn a_slow_collector_times_out_without_blocking_and_recovers() {
    let _serial = exclusive();
    let slow = Arc::new(AtomicBool::new(true));
    let server = Server::start({
        let slow = slow.clone();
        move |_| Reply {
            status: 200,
            delay: if slow.load(Ordering::SeqCst) {
                Duration::from_secs(2)
            } else {
                Duration::ZERO
            },
        }
    });
    let profiler = failing_setup(server.url()).start().unwrap();
    // The service keeps running and profiling while uploads time out.
    workload(Duration::from_millis(700), Duration::ZERO);
    let during = wait_for_stats(&profiler, "a send to time out", |stats| {
        sink(stats).send_failures >= 1
    });
    assert!(sink(&during).profiles_pending <= 4, "{during:#?}");
    slow.store(false, Ordering::SeqCst);
    wait_for_stats(
        &profiler,
        "a profile to reach the recovered collector",
        |stats| sink(stats).profiles_sent >= 1,
    );
    let stats = profiler.stop();
    assert_conserved(&stats);
    assert!(sink(&stats).profiles_sent >= 1, "{stats:#?}");
    assert!(
        sink(&stats)
            .last_error
            .as_deref()
            .unwrap()
            .contains("imeout"),
        "{stats:#?}"
    );
}

//! Real profiles to shares: a workload runs under the runtime's profiler with a `deployment`
//! label and the directory sink, and the shares computed from its files (CPU and completed calls)
//! agree exactly with an independent decode of the same files by Google's protobuf runtime in
//! Python.
#![cfg(target_os = "linux")]

use featgen::{FeatureInfo, Route, RouteKind};
use featgen_attribution::period::{Period, Step};
use featgen_attribution::pprof::LabelNames;
use featgen_attribution::profiles::{ReadOptions, read_dir};
use featgen_attribution::resolve::Resolver;
use featgen_attribution::shares::shares;
use featgen_attribution::time::UtcTime;
use std::time::{Duration, Instant};

const fn route(endpoint: &'static str, name: &'static str, id: u32) -> Route {
    Route {
        kind: RouteKind::Endpoint,
        method: "POST",
        path: "/x",
        endpoint,
        feature: FeatureInfo {
            name,
            id,
            group: "chat",
            team: "msgs-team",
            tier: "S",
        },
        module: module_path!(),
        file: file!(),
        line: line!(),
        calls: featgen::Calls::new(),
    }
}

static CREATE_MESSAGE: Route = route("create_message", "messaging", 1);
/// A route built before `messaging` was renamed: its old name, with the id it kept.
static LEGACY_SEND: Route = route("legacy_send", "chat-messages", 1);
static SEARCH: Route = route("search_messages", "message-search", 27);

/// Calls of `create_message` made besides the worker's one.
const QUICK_CALLS: u64 = 250;

/// (start_time, deployment, feature, endpoint) of a row.
type RowKey = (i64, String, Option<String>, Option<String>);

/// Spins for `wall` of wall-clock time.
fn spin(wall: Duration) {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < wall {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

#[test]
fn shares_of_real_profiles_match_an_independent_decode() {
    let dir = tempfile::tempdir().unwrap();
    let profiler = featgen::profiler::Profiler::builder()
        .frequency_hz(1000)
        .interval(Duration::from_millis(250))
        .service_name("messages")
        .label("deployment", "messages-production")
        .local_dir(dir.path())
        .start()
        .unwrap();
    let started = UtcTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let workers: Vec<_> = [(&CREATE_MESSAGE, 300), (&LEGACY_SEND, 100), (&SEARCH, 200)]
        .into_iter()
        .map(|(route, millis)| {
            std::thread::spawn(move || {
                {
                    let _route = featgen::enter(route);
                    spin(Duration::from_millis(millis));
                }
                spin(Duration::from_millis(50));
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    // Quick calls: counted, whether or not a CPU sample lands in them.
    for _ in 0..QUICK_CALLS {
        let _route = featgen::enter(&CREATE_MESSAGE);
    }
    let stats = profiler.stop();
    assert!(stats.profiles_built >= 2, "{stats:#?}");

    let registry = featgen_tests::workspace_root().join("registry");
    let resolver = Resolver::load(&registry).unwrap_or_else(|err| panic!("{}", err.message));
    let from = started.floor(3_600);
    let options = ReadOptions {
        labels: LabelNames::default(),
        period: Period::new(from, UtcTime(from.0 + 2 * 3_600), Step::Hour).unwrap(),
        skip_damaged: false,
        threads: 0,
    };
    let read = read_dir(dir.path(), &options).unwrap();
    assert_eq!(read.summary.profiles, stats.profiles_built);
    assert!(read.summary.skipped.is_empty() && read.summary.no_deployment.files == 0);
    let result = shares(read.cpu, Step::Hour, &resolver);
    assert!(result.unknown.is_empty(), "{:?}", result.unknown);

    // Every sample reported is in the rows, exactly.
    let total: u64 = result.rows.iter().map(|row| row.cpu_ns).sum();
    assert_eq!(total, stats.samples_reported * 1_000_000);
    let messaging: Vec<_> = result
        .rows
        .iter()
        .filter(|row| row.feature.as_deref() == Some("messaging"))
        .collect();
    // The old name resolved through its feature_id: one feature, two endpoints.
    assert!(
        messaging
            .iter()
            .any(|row| row.endpoint.as_deref() == Some("legacy_send"))
    );
    // Every call completed under the profiler is in the rows, exactly; every row has the count.
    let mut requests: std::collections::BTreeMap<Option<&str>, u64> = Default::default();
    for row in &result.rows {
        let count = row
            .requests
            .unwrap_or_else(|| panic!("{row:?} has no requests"));
        *requests.entry(row.endpoint.as_deref()).or_default() += count;
    }
    assert_eq!(
        requests,
        [
            (None, 0),
            (Some("create_message"), 1 + QUICK_CALLS),
            (Some("legacy_send"), 1),
            (Some("search_messages"), 1)
        ]
        .into_iter()
        .collect()
    );
    for row in &result.rows {
        assert_eq!(row.deployment, "messages-production");
        match row.feature.as_deref() {
            Some("messaging") => assert_eq!(
                (row.feature_id, row.team.as_deref()),
                (1, Some("msgs-team"))
            ),
            Some("message-search") => {
                assert_eq!((row.feature_id, row.tier.as_deref()), (27, Some("B")))
            }
            Some(other) => panic!("unexpected feature {other}"),
            None => assert_eq!((row.feature_id, row.endpoint.as_ref()), (-1, None)),
        }
    }

    // The independent decode (feature names as labeled: map the old name to the new one).
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/expected_shares.py");
    let output = featgen_tests::run_ok(
        featgen_tests::python_command()
            .arg(script)
            .arg("deployment")
            .args(&files),
    );
    let expected: Vec<serde_json::Value> = serde_json::from_str(&output).unwrap();
    let mut theirs: std::collections::BTreeMap<RowKey, (u64, f64, Option<u64>)> =
        std::collections::BTreeMap::new();
    for row in &expected {
        let feature = row["feature"].as_str().map(|name| match name {
            "chat-messages" => "messaging".to_owned(),
            other => other.to_owned(),
        });
        let entry = theirs
            .entry((
                row["start_time"].as_i64().unwrap(),
                row["deployment"].as_str().unwrap().to_owned(),
                feature,
                row["endpoint"].as_str().map(str::to_owned),
            ))
            .or_default();
        entry.0 += row["cpu_ns"].as_u64().unwrap();
        entry.1 += row["share"].as_f64().unwrap();
        if let Some(requests) = row["requests"].as_u64() {
            entry.2 = Some(entry.2.unwrap_or(0) + requests);
        }
    }
    let ours: std::collections::BTreeMap<_, _> = result
        .rows
        .iter()
        .map(|row| {
            (
                (
                    row.start_time.0,
                    row.deployment.to_string(),
                    row.feature.as_deref().map(str::to_owned),
                    row.endpoint.as_deref().map(str::to_owned),
                ),
                (row.cpu_ns, row.percentage_of_cpu, row.requests),
            )
        })
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (key, (cpu_ns, share, requests)) in &ours {
        let (their_cpu, their_share, their_requests) = theirs[key];
        assert_eq!(*cpu_ns, their_cpu, "{key:?}");
        assert_eq!(*requests, their_requests, "{key:?}");
        assert!(
            (share - their_share).abs() < 1e-12,
            "{key:?}: {share} vs {their_share}"
        );
    }
}

//! The profiler end to end with the local directory sink: labels, stacks, values and the
//! conservation of samples.
#![cfg(all(feature = "profiler", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::Profiler;
use std::time::Duration;
use support::*;

#[inline(never)]
fn burn_messaging(cpu: Duration) -> Duration {
    std::hint::black_box(burn_cpu(cpu))
}

/// Process CPU time (all threads).
fn process_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec into `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[test]
fn profiles_carry_route_labels_stacks_and_conserve_samples() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let cpu_before = process_cpu();
    let profiler = Profiler::builder()
        .frequency_hz(1000)
        .interval(Duration::from_millis(500))
        .service_name("test-svc")
        .label("deployment", "ci")
        .local_dir(dir.path())
        .start()
        .unwrap();
    let worker = std::thread::spawn(|| {
        let messaging = {
            let _route = featgen::enter(&SEND_MESSAGE);
            burn_messaging(Duration::from_millis(600))
        };
        let search = {
            let _route = featgen::enter(&SEARCH);
            format_cpu(Duration::from_millis(200))
        };
        (messaging, search)
    });
    let (messaging_truth, search_truth) = worker.join().unwrap();
    let stats = profiler.stop();
    let cpu_total = process_cpu() - cpu_before;

    // Conservation: every period taken is reported or counted as dropped, and the sink
    // delivered everything reported.
    assert_eq!(stats.samples_pending, 0, "{stats:#?}");
    assert_eq!(
        stats.samples_taken,
        stats.samples_reported + stats.samples_dropped_buffer_full,
        "{stats:#?}"
    );
    assert_eq!(stats.samples_dropped_buffer_full, 0, "{stats:#?}");
    let sink = &stats.sinks[0];
    assert_eq!(sink.sink, "dir");
    assert_eq!(sink.samples_sent, stats.samples_reported, "{stats:#?}");
    assert_eq!(sink.profiles_sent, stats.profiles_built);
    assert_eq!(sink.profiles_dropped.total(), 0);

    let profiles = read_profiles(dir.path());
    assert_eq!(profiles.len() as u64, stats.profiles_built);
    assert!(
        profiles.len() >= 2,
        "0.8 s of work over 0.5 s intervals spans several files"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|name| name.to_string_lossy().starts_with("test-svc.")),
        "{names:?}"
    );

    let mut periods = 0;
    for profile in &profiles {
        assert_cpu_nanoseconds(profile);
        let period_type = profile.period_type.as_ref().unwrap();
        assert_eq!(
            (
                profile.string(period_type.r#type),
                profile.string(period_type.unit)
            ),
            ("cpu", "nanoseconds")
        );
        assert_eq!(profile.period, 1_000_000);
        assert!(profile.time_nanos > 0 && profile.duration_nanos > 0);
        for sample in &profile.sample {
            assert_eq!(sample.value.len(), 2);
            assert_eq!(
                sample.value[0] % profile.period,
                0,
                "values are count x period"
            );
            periods += sample.value[0] / profile.period;
            let labels: Vec<_> = profile.labels(sample).collect();
            match labels
                .iter()
                .find(|(key, _)| *key == "feature")
                .map(|(_, v)| *v)
            {
                // Route labels, then the series labels that make each file stand alone.
                Some("messaging") => assert_eq!(
                    labels,
                    [
                        ("feature", "messaging"),
                        ("endpoint", "send_message"),
                        ("feature_group", "chat"),
                        ("team", "chat-team"),
                        ("tier", "tier0"),
                        ("feature_id", "1"),
                        ("service_name", "test-svc"),
                        ("deployment", "ci")
                    ]
                ),
                Some("search") => assert_eq!(labels.len(), 8),
                Some(other) => panic!("unexpected feature {other}"),
                None => assert_eq!(
                    labels,
                    [("service_name", "test-svc"), ("deployment", "ci")],
                    "unattributed samples carry only the series labels"
                ),
            }
        }
    }
    assert_eq!(periods as u64, stats.samples_reported);
    // One call of each route, in whichever interval it completed.
    assert_eq!(
        requests_by_endpoint(&profiles),
        std::collections::BTreeMap::from([
            ("search".to_owned(), 1),
            ("send_message".to_owned(), 1)
        ])
    );

    // Per-thread CPU timers: the sampled CPU matches each route's CPU time, and all sampled CPU
    // matches the process's (no thread counted twice by the process-wide fallback).
    let by_feature = cpu_by_feature(&profiles);
    let sampled =
        |feature: &str| Duration::from_nanos(by_feature.get(feature).copied().unwrap_or(0) as u64);
    let close = |sampled: Duration, truth: Duration| {
        let (s, t) = (sampled.as_secs_f64(), truth.as_secs_f64());
        (s - t).abs() <= 0.1 * t + 0.02
    };
    assert!(
        close(sampled("messaging"), messaging_truth),
        "{by_feature:?} vs {messaging_truth:?}"
    );
    assert!(
        close(sampled("search"), search_truth),
        "{by_feature:?} vs {search_truth:?}"
    );
    let all: i64 = by_feature.values().sum();
    assert!(
        close(Duration::from_nanos(all as u64), cpu_total),
        "{by_feature:?} vs process {cpu_total:?}"
    );

    // Frame-pointer stacks, symbolized. The leaf is always the running function; callers come
    // from frame pointers, which the shipped std has (this test may be built without them).
    let (mut leaf_ok, mut total, mut multi_frame, mut search_total) = (0, 0, 0, 0);
    for profile in &profiles {
        for sample in &profile.sample {
            let stack: Vec<_> = profile.stack(sample).collect();
            if profile
                .labels(sample)
                .any(|label| label == ("feature", "messaging"))
            {
                total += sample.value[0];
                let leaf = stack[0];
                if leaf.contains("burn_cpu")
                    || leaf.contains("thread_cpu")
                    || leaf.starts_with("core::")
                    || leaf.starts_with('<')
                    || leaf.contains("clock_gettime")
                    || leaf.starts_with('[')
                {
                    leaf_ok += sample.value[0];
                }
            }
            if profile
                .labels(sample)
                .any(|label| label == ("feature", "search"))
            {
                search_total += sample.value[0];
                if stack.len() >= 3 && stack.contains(&"alloc::fmt::format::format_inner") {
                    multi_frame += sample.value[0];
                }
            }
        }
    }
    assert!(
        leaf_ok as f64 >= 0.95 * total as f64,
        "{leaf_ok} of {total} ns"
    );
    assert!(
        multi_frame as f64 >= 0.3 * search_total as f64,
        "{multi_frame} of {search_total} ns walked through format_inner"
    );
}

#[test]
fn threads_that_never_run_a_route_are_sampled_as_unattributed() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let cpu_before = process_cpu();
    let profiler = Profiler::builder()
        .frequency_hz(1000)
        .local_dir(dir.path())
        .start()
        .unwrap();
    let burnt = std::thread::spawn(|| burn_cpu(Duration::from_millis(300)))
        .join()
        .unwrap();
    // The truth is all the process used while sampling: the thread's 300 ms and the profiler's
    // own threads (reading symbol tables, scanning threads), which are unattributed too.
    let truth = process_cpu() - cpu_before;
    assert!(truth >= burnt);
    let stats = profiler.stop();
    assert_eq!(
        stats.samples_taken,
        stats.samples_reported + stats.samples_dropped_buffer_full
    );
    let by_feature = cpu_by_feature(&read_profiles(dir.path()));
    assert_eq!(
        by_feature.keys().collect::<Vec<_>>(),
        [""],
        "only unattributed samples"
    );
    let sampled = Duration::from_nanos(by_feature[""] as u64);
    assert!(
        sampled.as_secs_f64() > 0.8 * truth.as_secs_f64()
            && sampled.as_secs_f64() < 1.3 * truth.as_secs_f64(),
        "{sampled:?} sampled for {truth:?} of process CPU"
    );
    assert_eq!(stats.samples_unattributed, stats.samples_reported);
}

#[test]
fn files_decode_with_googles_protobuf_runtime() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = Profiler::builder()
        .frequency_hz(1000)
        .interval(Duration::from_secs(3600))
        .service_name("py")
        .local_dir(dir.path())
        .start()
        .unwrap();
    std::thread::spawn(|| {
        let _route = featgen::enter(&SEND_MESSAGE);
        format_cpu(Duration::from_millis(200));
    })
    .join()
    .unwrap();
    let stats = profiler.stop();
    let ours = read_profiles(dir.path());
    assert_eq!(ours.len(), 1);

    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/profiler/decode_pprof.py");
    let output = featgen_tests::run_ok(featgen_tests::python_command().arg(script).arg(&file));
    let decoded: serde_json::Value = serde_json::from_str(output.trim()).unwrap();
    assert_eq!(
        decoded["sample_type"],
        serde_json::json!([["cpu", "nanoseconds"], ["requests", "count"]])
    );
    assert_eq!(
        decoded["period_type"],
        serde_json::json!(["cpu", "nanoseconds"])
    );
    assert_eq!(decoded["period"], 1_000_000);
    let samples = decoded["samples"].as_array().unwrap();
    assert_eq!(samples.len(), ours[0].sample.len());
    let mut total = 0;
    let mut messaging = 0;
    for (theirs, mine) in samples.iter().zip(&ours[0].sample) {
        let value = theirs["value"][0].as_i64().unwrap();
        assert_eq!(theirs["value"], serde_json::json!(mine.value));
        total += value;
        let stack: Vec<_> = theirs["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        assert_eq!(stack, ours[0].stack(mine).collect::<Vec<_>>());
        let labels = theirs["labels"].as_object().unwrap();
        if !labels.contains_key("feature") {
            assert_eq!(theirs["labels"], serde_json::json!({"service_name": "py"}));
            continue;
        }
        messaging += value;
        let expected = serde_json::json!({
            "feature": "messaging", "endpoint": "send_message", "feature_group": "chat",
            "team": "chat-team", "tier": "tier0", "feature_id": "1", "service_name": "py"
        });
        assert_eq!(theirs["labels"], expected);
    }
    assert_eq!(total as u64, stats.samples_reported * 1_000_000);
    assert!(
        messaging > 150_000_000,
        "{messaging} ns of the 200 ms labeled"
    );
}

use featgen_features::Feature;

/// A real `#[route]` (sync: the route is set per call).
#[featgen::route(POST, "/channels/{channel_id}/messages", feature = Messaging, endpoint = "messages.create")]
fn create_message() -> Duration {
    format_cpu(Duration::from_millis(150))
}

/// A real `#[task]` (async: the route is set per poll).
#[featgen::task(feature = Feature::Profiles)]
async fn refresh_profiles() -> Duration {
    let mut used = Duration::ZERO;
    for _ in 0..3 {
        used += burn_cpu(Duration::from_millis(50));
        tokio::task::yield_now().await;
    }
    used
}

#[test]
fn routes_marked_with_the_attributes_label_their_samples() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = profiler_until_stop(dir.path());
    let (sync_truth, async_truth) = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (create_message(), runtime.block_on(refresh_profiles()))
    })
    .join()
    .unwrap();
    profiler.stop();

    let profiles = read_profiles(dir.path());
    let by_feature = cpu_by_feature(&profiles);
    for (route, truth) in [
        ("messages.create", sync_truth),
        ("refresh_profiles", async_truth),
    ] {
        let record = featgen::routes()
            .iter()
            .find(|r| r.endpoint == route)
            .unwrap();
        let feature_id = record.feature.id.to_string();
        let expected = [
            ("feature", record.feature.name),
            ("endpoint", record.endpoint),
            ("feature_group", record.feature.group),
            ("team", record.feature.team),
            ("tier", record.feature.tier),
            ("feature_id", feature_id.as_str()),
        ];
        // Route labels first; the series labels (`service_name`) follow.
        let labeled = profiles.iter().any(|profile| {
            profile.sample.iter().any(|sample| {
                profile
                    .labels(sample)
                    .take(expected.len())
                    .eq(expected.iter().copied())
            })
        });
        assert!(labeled, "no sample labeled {expected:?}");
        let sampled = Duration::from_nanos(by_feature[record.feature.name] as u64);
        let (s, t) = (sampled.as_secs_f64(), truth.as_secs_f64());
        assert!(
            (s - t).abs() <= 0.15 * t + 0.02,
            "{route}: sampled {sampled:?}, truth {truth:?}"
        );
    }
}

//! Stress: four threads mixing allocation, locks, syscalls and deep recursion, sampled at
//! 1000 Hz while the profiler is also started and stopped repeatedly under load, once with each
//! sampling engine. The signal
//! handler interrupts malloc, futex waits and the kernel at arbitrary points: nothing may
//! deadlock or crash, and the counts must reconcile every time.
#![cfg(all(feature = "profiler", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::{Profiler, SamplingEngine, Stats};
use featgen::{FeatureInfo, Route, RouteKind};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use support::*;

/// A route per workload, named after it.
const fn route(endpoint: &'static str) -> Route {
    Route {
        kind: RouteKind::Task,
        method: "",
        path: "",
        endpoint,
        feature: FeatureInfo {
            name: endpoint,
            id: 9,
            group: "stress",
            team: "stress-team",
            tier: "tier2",
        },
        module: module_path!(),
        file: file!(),
        line: line!(),
        calls: featgen::Calls::new(),
    }
}

static ALLOC: Route = route("alloc");
static LOCKS: Route = route("locks");
static SYSCALLS: Route = route("syscalls");
static RECURSION: Route = route("recursion");

/// A deeply nested value whose derived `Debug` recurses once per level through std's
/// formatting code (built with frame pointers), so stacks are deep even in a build without.
#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug only")]
struct Nested(Option<Box<Nested>>);

fn nested(depth: usize) -> Nested {
    (0..depth).fold(Nested(None), |inner, _| Nested(Some(Box::new(inner))))
}

/// The workload threads and the CPU time (ns) each has used so far.
struct Workloads {
    threads: Vec<std::thread::JoinHandle<()>>,
    cpu: Arc<Vec<AtomicU64>>,
}

impl Workloads {
    /// Waits until every thread has used at least `cpu` of CPU time, however busy the machine.
    fn wait_for_cpu(&self, cpu: Duration) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while self
            .cpu
            .iter()
            .any(|used| used.load(Ordering::Relaxed) < cpu.as_nanos() as u64)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "workloads starved: {:?}",
                self.cpu
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts the four workloads (five threads); they run until `stop` is set.
fn start_workloads(stop: &Arc<AtomicBool>) -> Workloads {
    let cpu: Arc<Vec<AtomicU64>> = Arc::new((0..5).map(|_| AtomicU64::new(0)).collect());
    let spawned = AtomicUsize::new(0);
    let shared = Arc::new(Mutex::new(Vec::<u64>::new()));
    let table = Arc::new(RwLock::new(0u64));
    let mut threads = Vec::new();
    let spawn = |route: &'static Route, work: Box<dyn FnMut() + Send>| {
        let (stop, cpu) = (stop.clone(), cpu.clone());
        let index = spawned.fetch_add(1, Ordering::Relaxed);
        std::thread::Builder::new()
            // Room for the deep recursion.
            .stack_size(64 << 20)
            .spawn(move || {
                let _route = featgen::enter(route);
                let mut work = work;
                while !stop.load(Ordering::Relaxed) {
                    work();
                    cpu[index].store(thread_cpu().as_nanos() as u64, Ordering::Relaxed);
                }
            })
            .unwrap()
    };
    threads.push(spawn(
        &ALLOC,
        Box::new(|| {
            let mut keep: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 16 + i * 64]).collect();
            keep.retain(|v| v.len() % 3 != 0);
            std::hint::black_box(
                keep.iter()
                    .map(|v| String::from_utf8_lossy(v).len())
                    .sum::<usize>(),
            );
        }),
    ));
    threads.push(spawn(&LOCKS, {
        let (shared, table) = (shared.clone(), table.clone());
        Box::new(move || {
            for i in 0..100 {
                shared.lock().unwrap().push(i);
                *table.write().unwrap() += 1;
                std::hint::black_box(*table.read().unwrap());
            }
            shared.lock().unwrap().clear();
        })
    }));
    // A second lock user so that the locks are contended.
    threads.push(spawn(&LOCKS, {
        let shared = shared.clone();
        Box::new(move || {
            for i in 0..100 {
                shared.lock().unwrap().push(i);
            }
        })
    }));
    threads.push(spawn(&SYSCALLS, {
        let mut null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        Box::new(move || {
            for _ in 0..50 {
                null.write_all(b"featgen").unwrap();
            }
            for _ in 0..10 {
                std::hint::black_box(std::fs::metadata("/proc/self/stat").is_ok());
            }
            std::thread::yield_now();
            std::thread::sleep(Duration::from_micros(1));
        })
    }));
    threads.push(spawn(
        &RECURSION,
        Box::new(|| {
            let text = format!("{:?}", nested(3000));
            assert!(text.len() > 3000);
        }),
    ));
    Workloads { threads, cpu }
}

fn assert_reconciled(stats: &Stats) {
    assert_eq!(stats.samples_pending, 0, "{stats:#?}");
    assert_eq!(
        stats.samples_taken,
        stats.samples_reported + stats.samples_dropped_buffer_full,
        "{stats:#?}"
    );
    let sink = &stats.sinks[0];
    assert_eq!(
        sink.samples_sent + sink.samples_dropped.total(),
        stats.samples_reported
    );
}

#[test]
fn perf_event_engine_sustains_1000_hz_and_repeated_restarts_under_mixed_load() {
    sustained_1000_hz_and_repeated_restarts_under_mixed_load(SamplingEngine::PerfEvent);
}

#[test]
fn timer_create_engine_sustains_1000_hz_and_repeated_restarts_under_mixed_load() {
    sustained_1000_hz_and_repeated_restarts_under_mixed_load(SamplingEngine::TimerCreate);
}

/// The stress run with `engine` chosen explicitly (so it fails where it is not available).
fn sustained_1000_hz_and_repeated_restarts_under_mixed_load(engine: SamplingEngine) {
    let _serial = exclusive();
    let stop = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let builder = || {
        Profiler::builder()
            .frequency_hz(1000)
            .interval(Duration::from_millis(500))
            .local_dir(dir.path())
            .sampling_engine(engine)
    };
    let name = match engine {
        SamplingEngine::PerfEvent => "perf_event",
        _ => "timer_create",
    };

    // Sustained run.
    let profiler = builder().start().unwrap();
    let workloads = start_workloads(&stop);
    std::thread::sleep(Duration::from_secs(3));
    workloads.wait_for_cpu(Duration::from_millis(300));
    let stats = profiler.stop();
    assert_reconciled(&stats);
    assert_eq!(stats.sampler, name);
    assert_eq!(stats.perf_event_fallbacks, 0, "{stats:#?}");
    assert!(stats.samples_taken > 1000, "{stats:#?}");
    let profiles = read_profiles(dir.path());
    let comment = format!("sampler={name}");
    for profile in &profiles {
        let comments: Vec<_> = profile.comment.iter().map(|&c| profile.string(c)).collect();
        assert_eq!(comments, [comment.as_str()], "the profile names its engine");
    }
    let by_feature = cpu_by_feature(&profiles);
    for feature in ["alloc", "locks", "syscalls", "recursion"] {
        assert!(
            by_feature.get(feature).copied().unwrap_or(0) > 0,
            "{feature}: {by_feature:?}"
        );
    }
    // Deep stacks are cut at the maximum depth and marked at the root.
    let truncated = profiles.iter().any(|profile| {
        profile.sample.iter().any(|sample| {
            let stack: Vec<_> = profile.stack(sample).collect();
            stack.last() == Some(&"[truncated]") && stack.len() == 129
        })
    });
    assert!(truncated, "the recursion should produce truncated stacks");

    // Start and stop repeatedly while the workloads keep running.
    for round in 0..10 {
        let profiler = builder().start().unwrap();
        std::thread::sleep(Duration::from_millis(100 + 10 * round));
        let stats = profiler.stop();
        assert_reconciled(&stats);
        assert!(stats.samples_taken > 0, "round {round}: {stats:#?}");
    }

    // A buffer far too small for the load: drops are counted, and still reconcile.
    let profiler = builder().buffer_capacity(4).start().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let stats = profiler.stop();
    assert_reconciled(&stats);
    assert!(stats.samples_dropped_buffer_full > 0, "{stats:#?}");

    stop.store(true, Ordering::Relaxed);
    for thread in workloads.threads {
        thread.join().unwrap();
    }
}

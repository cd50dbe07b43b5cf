//! Overhead of the featgen profiler, with each sampling engine, against no profiler and pprof-rs,
//! in one run, measured two ways.
//!
//! Run (release, with frame pointers as a service should be built):
//!
//! ```text
//! RUSTFLAGS="-C force-frame-pointers=yes" cargo bench -p featgen --bench profiler_overhead
//! ```
//!
//! Each configuration runs in a fresh child process (so that peak memory is its own and the
//! one `SIGPROF` handler is not shared): a CPU-bound workload of a fixed amount of work on two
//! threads, each under a route.
//!
//! 1. **Direct accounting**, which run-to-run noise does not touch: the profiler's own CPU as
//!    featgen's `stats()` reports it (time inside the signal handler, CPU of its reporter and
//!    sink threads), the calling thread's CPU in `start` and `stop`, and an estimate of what
//!    those miss per signal (the kernel delivering a signal and returning from it: a signal
//!    raised to self with an empty handler, timed here), each as a fraction of the workload's
//!    own CPU.
//! 2. **Paired comparison** of the process's CPU time: every configuration runs in each round
//!    right beside a run without profiler (ABAB: the order within a pair alternates, and the
//!    order of the configurations rotates between rounds), and the overhead is the median of the
//!    paired differences with a distribution-free 95% confidence interval for it (order
//!    statistics of the binomial). A machine whose speed drifts over minutes moves both runs of
//!    a pair alike.
//!
//! From the paired runs at 1000 Hz the total cost of one sample (handler, kernel, cache effects:
//! everything) is also derived with its confidence interval and projected onto 100 Hz, where the
//! effect is ten times smaller than the noise of any single comparison but the projection's
//! error is ten times smaller too.
//!
//! `FEATGEN_BENCH_ROUNDS` (default 10) and `FEATGEN_BENCH_UNITS` (work units per thread, default
//! 300, about 3.7 s of CPU per thread here) change the run's size.
//!
//! With `FEATGEN_BENCH_SOAK_SECS=600` it instead runs a memory soak: a service-like workload
//! (two threads at about a quarter of a core each, thousands of distinct stacks) for that long,
//! once without profiler and once with featgen at 1000 Hz and 10 s intervals, side by side, and
//! prints both peak RSS.

use featgen::profiler::{Profiler, SamplingEngine};
use featgen::{FeatureInfo, Route, RouteKind};
use std::process::Command;
use std::time::{Duration, Instant};

/// Paired rounds; `FEATGEN_BENCH_ROUNDS` overrides.
const ROUNDS: usize = 10;
/// Work units per thread; `FEATGEN_BENCH_UNITS` overrides.
const UNITS: u64 = 300;
/// Signals raised per run of the signal-delivery microbenchmark.
const SIGNALS: u32 = 200_000;
/// The profiled configurations, each paired with a run without profiler.
const CONFIGS: [&str; 6] = [
    "featgen-perf_event-100",
    "featgen-timer_create-100",
    "pprof-100",
    "featgen-perf_event-1000",
    "featgen-timer_create-1000",
    "pprof-1000",
];

static BENCH: Route = Route {
    kind: RouteKind::Task,
    method: "",
    path: "",
    endpoint: "bench",
    feature: FeatureInfo {
        name: "bench",
        id: 1,
        group: "bench",
        team: "bench",
        tier: "bench",
    },
    module: module_path!(),
    file: file!(),
    line: line!(),
    calls: featgen::Calls::new(),
};

/// Recursive work, so that stacks have some depth.
#[inline(never)]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

/// The fixed amount of work: `units` per thread on two threads. Returns the CPU time (ns) the
/// two threads used, read from their own CPU clocks (signal handlers included).
fn workload(units: u64) -> u64 {
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let _route = featgen::enter(&BENCH);
                for _ in 0..units {
                    std::hint::black_box(fib(std::hint::black_box(32)));
                }
                thread_cpu_ns()
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .sum()
}

/// The calling thread's CPU time in ns.
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `now`.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
        0
    );
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time of this process, and its peak RSS in KiB.
fn usage() -> (Duration, u64) {
    // SAFETY: getrusage fills the zeroed struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_maxrss as u64,
    )
}

/// What one child run measured (one line of its output).
#[derive(Clone, Copy, Debug)]
struct Run {
    /// CPU time of the whole process, s.
    cpu_s: f64,
    /// Signals (samples) taken.
    signals: f64,
    /// Sampling periods they stand for.
    periods: f64,
    /// Peak RSS, KiB.
    peak_kib: f64,
    /// Time inside featgen's signal handler, ns (`Stats::handler_ns`).
    handler_ns: f64,
    /// CPU of featgen's reporter and sink threads, ns (`Stats::profiler_threads_cpu_ns`).
    threads_ns: f64,
    /// CPU of the calling thread (profiler start, stop and report; spawning and joining), ns.
    main_ns: f64,
    /// CPU of the two workload threads, ns, handler time included.
    workload_ns: f64,
}

impl Run {
    fn parse(line: &str) -> Run {
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|field| field.parse().unwrap())
            .collect();
        Run {
            cpu_s: fields[0],
            signals: fields[1],
            periods: fields[2],
            peak_kib: fields[3],
            handler_ns: fields[4],
            threads_ns: fields[5],
            main_ns: fields[6],
            workload_ns: fields[7],
        }
    }

    /// The workload's own CPU, without the handler's time on its threads, ns.
    fn own_workload_ns(&self) -> f64 {
        self.workload_ns - self.handler_ns
    }
}

/// Runs one configuration in this (child) process and prints its [`Run`]: the samples taken
/// (signals) and the sampling periods they stand for (featgen weighs a sample by the periods of
/// CPU time it completes, pprof-rs counts each as one period).
fn child(mode: &str) {
    let start = usage().0;
    if let Some(seconds) = mode.strip_prefix("soak-") {
        let until = Instant::now() + Duration::from_secs(seconds.parse().unwrap());
        let dir = std::env::temp_dir().join(format!("featgen-soak-{}", std::process::id()));
        let profiler = std::env::var_os("FEATGEN_BENCH_SOAK_PROFILE").map(|_| {
            Profiler::builder()
                .frequency_hz(1000)
                .local_dir(&dir)
                .start()
                .unwrap()
        });
        soak_workload(until);
        let taken = profiler.map_or(0, |profiler| profiler.stop().samples_taken);
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{} {taken} {taken} {}",
            (usage().0 - start).as_secs_f64(),
            usage().1
        );
        return;
    }
    if mode == "signal-cost" {
        return signal_cost();
    }
    let units = env_or("FEATGEN_BENCH_UNITS", UNITS);
    let main_start = thread_cpu_ns();
    let (workload_ns, signals, periods, handler_ns, threads_ns) = match mode.split_once('-') {
        None => (workload(units), 0, 0, 0, 0),
        Some(("featgen", engine_hz)) => {
            let (engine, hz) = engine_hz.rsplit_once('-').unwrap();
            let engine = match engine {
                "perf_event" => SamplingEngine::PerfEvent,
                "timer_create" => SamplingEngine::TimerCreate,
                _ => panic!("unknown engine {engine}"),
            };
            let dir = std::env::temp_dir().join(format!("featgen-bench-{}", std::process::id()));
            let profiler = Profiler::builder()
                .frequency_hz(hz.parse().unwrap())
                .sampling_engine(engine)
                .local_dir(&dir)
                .start()
                .unwrap();
            let workload_ns = workload(units);
            let stats = profiler.stop();
            assert_eq!(stats.sampler, engine_hz.rsplit_once('-').unwrap().0);
            let _ = std::fs::remove_dir_all(&dir);
            (
                workload_ns,
                stats.signals,
                stats.samples_taken,
                stats.handler_ns,
                stats.profiler_threads_cpu_ns,
            )
        }
        Some(("pprof", hz)) => {
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(hz.parse().unwrap())
                .build()
                .unwrap();
            let workload_ns = workload(units);
            let report = guard.report().build().unwrap();
            let samples: u64 = report.data.values().map(|count| *count as u64).sum();
            (workload_ns, samples, samples, 0, 0)
        }
        _ => panic!("unknown mode {mode}"),
    };
    let main_ns = thread_cpu_ns() - main_start;
    let (end, peak) = usage();
    println!(
        "{} {signals} {periods} {peak} {handler_ns} {threads_ns} {main_ns} {workload_ns}",
        (end - start).as_secs_f64()
    );
}

/// A signal handler that does nothing.
extern "C" fn empty_handler(_: libc::c_int) {}

/// The kernel's share of a sample that the handler's own clock does not see: raising a signal to
/// this thread with an empty handler (the `tgkill` system call, building the signal frame,
/// calling the handler, `rt_sigreturn`), beside a trivial system call. Prints the ns of each.
fn signal_cost() {
    // SAFETY: sigaction is plain data; the handler is a valid function for a non-SA_SIGINFO
    // handler; SIGUSR1 is not used by anything else in this process.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = empty_handler as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    // SAFETY: getpid and gettid have no preconditions.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let per_call = |call: &dyn Fn()| {
        let start = thread_cpu_ns();
        for _ in 0..SIGNALS {
            call();
        }
        (thread_cpu_ns() - start) as f64 / f64::from(SIGNALS)
    };
    // SAFETY: tgkill to this thread with a signal whose handler is installed above.
    let signal = per_call(&|| unsafe {
        libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1);
    });
    // SAFETY: getppid has no preconditions.
    let syscall = per_call(&|| unsafe {
        libc::syscall(libc::SYS_getppid);
    });
    println!("{signal} {syscall}");
}

/// An integer setting from the environment, `default` when unset.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T
where
    T::Err: std::fmt::Debug,
{
    std::env::var(name).map_or(default, |value| value.parse().unwrap())
}

/// Runs this executable as a child in `mode` and returns its output line.
fn run_child(mode: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .env("FEATGEN_BENCH_MODE", mode)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{mode}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median of `values` with a distribution-free confidence interval for it: the order
/// statistics `k` and `n + 1 - k` for the largest `k` whose coverage (from the binomial
/// distribution with p = 1/2) is still at least 95%; with too few values for that, the whole
/// range. Returns (median, low, high, coverage).
fn median_ci(values: &[f64]) -> (f64, f64, f64, f64) {
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    let n = sorted.len();
    // P(B <= j) for B ~ Binomial(n, 1/2).
    let cdf = |j: usize| -> f64 {
        let mut term = 0.5f64.powi(n as i32);
        let mut sum = term;
        for i in 0..j {
            term *= (n - i) as f64 / (i + 1) as f64;
            sum += term;
        }
        sum
    };
    // Interval [x_(k), x_(n+1-k)] (1-based) covers the median with 1 - 2 P(B <= k - 1).
    let mut k = 1;
    while k < n / 2 && 1.0 - 2.0 * cdf(k) >= 0.95 {
        k += 1;
    }
    let coverage = 1.0 - 2.0 * cdf(k - 1);
    (mid, sorted[k - 1], sorted[n - k], coverage)
}

/// One profiled run and the run without profiler beside it.
struct Pair {
    profiled: Run,
    plain: Run,
}

impl Pair {
    /// The profiled run's extra CPU, as a fraction of the plain run's.
    fn overhead(&self) -> f64 {
        (self.profiled.cpu_s - self.plain.cpu_s) / self.plain.cpu_s
    }
}

fn main() {
    if let Ok(mode) = std::env::var("FEATGEN_BENCH_MODE") {
        return child(&mode);
    }
    if let Ok(seconds) = std::env::var("FEATGEN_BENCH_SOAK_SECS") {
        return soak(&seconds);
    }
    let rounds = env_or("FEATGEN_BENCH_ROUNDS", ROUNDS);
    let units = env_or("FEATGEN_BENCH_UNITS", UNITS);
    let started = Instant::now();
    let mut pairs: Vec<Vec<Pair>> = CONFIGS.iter().map(|_| Vec::new()).collect();
    let mut signal_costs = Vec::new();
    for round in 0..rounds {
        let cost: Vec<f64> = run_child("signal-cost")
            .split_whitespace()
            .map(|field| field.parse().unwrap())
            .collect();
        signal_costs.push((cost[0], cost[1]));
        for offset in 0..CONFIGS.len() {
            let index = (round + offset) % CONFIGS.len();
            let mut pair = [CONFIGS[index], "none"];
            if (round + offset) % 2 == 1 {
                pair.reverse();
            }
            let runs = pair.map(|mode| (mode, Run::parse(&run_child(mode))));
            let get = |wanted: &str| runs.iter().find(|(mode, _)| *mode == wanted).unwrap().1;
            pairs[index].push(Pair {
                profiled: get(CONFIGS[index]),
                plain: get("none"),
            });
        }
    }
    let signal_ns = median(&mut signal_costs.iter().map(|cost| cost.0).collect::<Vec<_>>());
    let syscall_ns = median(&mut signal_costs.iter().map(|cost| cost.1).collect::<Vec<_>>());
    report(
        &pairs,
        rounds,
        units,
        signal_ns,
        syscall_ns,
        started.elapsed(),
    );
}

/// Median over the pairs of one configuration of `value` of the profiled run.
fn median_of(pairs: &[Pair], value: impl Fn(&Run) -> f64) -> f64 {
    median(
        &mut pairs
            .iter()
            .map(|pair| value(&pair.profiled))
            .collect::<Vec<_>>(),
    )
}

/// Prints the three tables.
fn report(
    pairs: &[Vec<Pair>],
    rounds: usize,
    units: u64,
    signal_ns: f64,
    syscall_ns: f64,
    elapsed: Duration,
) {
    let plain: Vec<Run> = pairs.iter().flatten().map(|pair| pair.plain).collect();
    let plain_cpu = median(&mut plain.iter().map(|run| run.cpu_s).collect::<Vec<_>>());
    let plain_peak = median(&mut plain.iter().map(|run| run.peak_kib).collect::<Vec<_>>());
    let (plain_min, plain_max) = plain.iter().fold((f64::MAX, f64::MIN), |(low, high), run| {
        (low.min(run.cpu_s), high.max(run.cpu_s))
    });
    println!(
        "2 threads x {units} x fib(32); {rounds} rounds of {} pairs, {:.0} s in all. Without \
         profiler: {} runs, CPU {plain_min:.3} to {plain_max:.3} s (median {plain_cpu:.3}, \
         spread {:.1}%), peak RSS {:.1} MiB.\n",
        CONFIGS.len(),
        elapsed.as_secs_f64(),
        plain.len(),
        (plain_max - plain_min) / plain_min * 100.0,
        plain_peak / 1024.0
    );

    println!(
        "Direct accounting (featgen's `stats()`, medians over the rounds), as a fraction of the \
         workload's own CPU. Kernel per signal: a signal raised to self with an empty handler, \
         {:.2} µs ({:.2} µs of it a bare system call), times the signals.\n",
        signal_ns / 1000.0,
        syscall_ns / 1000.0
    );
    println!(
        "| profiler | samples per CPU-s | handler µs per sample | in the handler | reporter + \
         sink threads | start + stop | kernel per signal (est.) | total accounted |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let percent = |fraction: f64| format!("{:.3}%", fraction * 100.0);
    for (config, pairs) in CONFIGS.iter().zip(pairs) {
        if !config.starts_with("featgen") {
            continue;
        }
        let fraction = |value: &dyn Fn(&Run) -> f64| {
            median_of(pairs, |run| value(run) / run.own_workload_ns())
        };
        let handler = fraction(&|run| run.handler_ns);
        let threads = fraction(&|run| run.threads_ns);
        let main_thread = fraction(&|run| run.main_ns);
        let kernel = fraction(&|run| run.signals * signal_ns);
        let total = fraction(&|run| {
            run.handler_ns + run.threads_ns + run.main_ns + run.signals * signal_ns
        });
        println!(
            "| {config} | {:.0} | {:.2} | {} | {} | {} | {} | **{}** |",
            median_of(pairs, |run| run.signals / run.cpu_s),
            median_of(pairs, |run| run.handler_ns / run.signals.max(1.0) / 1000.0),
            percent(handler),
            percent(threads),
            percent(main_thread),
            percent(kernel),
            percent(total),
        );
    }

    println!(
        "\nPaired comparison of the process's CPU time: the median of the {rounds} paired \
         differences (profiled run minus the run without profiler beside it) with its \
         distribution-free confidence interval.\n"
    );
    println!(
        "| profiler | CPU s (median) | overhead, median of pairs | confidence interval | samples \
         per CPU-s | CPU accounted in the profile | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (config, pairs) in CONFIGS.iter().zip(pairs) {
        let hz: f64 = config.rsplit_once('-').unwrap().1.parse().unwrap();
        let overheads: Vec<f64> = pairs.iter().map(Pair::overhead).collect();
        let (mid, low, high, coverage) = median_ci(&overheads);
        println!(
            "| {config} | {:.3} | {:+.2}% | {:+.2}% to {:+.2}% ({:.0}%) | {:.0} | {:.0}% | {:.1} |",
            median_of(pairs, |run| run.cpu_s),
            mid * 100.0,
            low * 100.0,
            high * 100.0,
            coverage * 100.0,
            median_of(pairs, |run| run.signals / run.cpu_s),
            median_of(pairs, |run| run.periods / hz / run.cpu_s) * 100.0,
            median_of(pairs, |run| run.peak_kib) / 1024.0,
        );
    }

    println!(
        "\nThe whole cost of one sample, from the pairs at 1000 Hz (the paired difference less \
         the directly measured reporter, sink and start/stop CPU, over the signals), and projected \
         onto the samples each engine takes at 100 Hz plus its directly measured fixed costs \
         there.\n"
    );
    println!(
        "| engine | µs per sample, median of pairs (CI) | of which handler + kernel est. | \
         projected overhead at 100 Hz (CI) |"
    );
    println!("|---|---|---|---|");
    for engine in ["featgen-perf_event", "featgen-timer_create", "pprof"] {
        let index_of = |hz: &str| {
            CONFIGS
                .iter()
                .position(|config| *config == format!("{engine}-{hz}"))
                .unwrap()
        };
        let (fast, slow) = (&pairs[index_of("1000")], &pairs[index_of("100")]);
        let fixed_ns = |run: &Run| run.threads_ns + run.main_ns;
        let per_sample: Vec<f64> = fast
            .iter()
            .map(|pair| {
                let extra_ns =
                    (pair.profiled.cpu_s - pair.plain.cpu_s) * 1e9 - fixed_ns(&pair.profiled);
                extra_ns / pair.profiled.signals.max(1.0)
            })
            .collect();
        let (mid, low, high, coverage) = median_ci(&per_sample);
        let direct = median_of(fast, |run| run.handler_ns / run.signals.max(1.0)) + signal_ns;
        // At 100 Hz: samples per ns of the workload's CPU, and the fixed costs' fraction.
        let rate = median_of(slow, |run| run.signals / run.own_workload_ns());
        let fixed = median_of(slow, |run| fixed_ns(run) / run.own_workload_ns());
        let project = |ns_per_sample: f64| (ns_per_sample * rate + fixed) * 100.0;
        let accounted = if engine == "pprof" {
            "n/a".to_owned()
        } else {
            format!("{:.2} µs", direct / 1000.0)
        };
        println!(
            "| {engine} | {:.2} µs ({:.2} to {:.2}, {:.0}%) | {accounted} | **{:+.3}%** ({:+.3}% \
             to {:+.3}%) |",
            mid / 1000.0,
            low / 1000.0,
            high / 1000.0,
            coverage * 100.0,
            project(mid),
            project(low),
            project(high),
        );
    }
}

/// Recursion through `depth` frames of one of a few functions, so stacks vary in depth and shape.
#[inline(never)]
fn shaped(depth: u32, shape: u32) -> u64 {
    if depth == 0 {
        return fib(18);
    }
    match shape % 3 {
        0 => shaped(depth - 1, shape / 3 + 1) + 1,
        1 => shaped(depth - 1, shape / 3 + 2) ^ 2,
        _ => shaped(depth - 1, shape / 3).wrapping_mul(3),
    }
}

/// The soak workload: varied stacks at a low duty cycle until `until`.
fn soak_workload(until: Instant) {
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            std::thread::spawn(move || {
                let _route = featgen::enter(&BENCH);
                let mut round = thread;
                while Instant::now() < until {
                    let busy = Instant::now();
                    std::hint::black_box(shaped(1 + round % 120, round));
                    round += 1;
                    std::thread::sleep(busy.elapsed() * 3);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
/// Runs the soak with and without the profiler side by side and prints both peak RSS.
fn soak(seconds: &str) {
    let run = |profile: bool| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env("FEATGEN_BENCH_MODE", format!("soak-{seconds}"));
        if profile {
            command.env("FEATGEN_BENCH_SOAK_PROFILE", "1");
        }
        command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (plain, profiled) = (run(false), run(true));
    for (name, child) in [("none", plain), ("featgen-1000", profiled)] {
        let output = child.wait_with_output().unwrap();
        let line = String::from_utf8(output.stdout).unwrap();
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|field| field.parse().unwrap())
            .collect();
        println!(
            "soak {seconds} s, {name}: CPU {:.1} s, samples {}, peak RSS {:.1} MiB",
            fields[0],
            fields[1],
            fields[3] / 1024.0
        );
    }
}

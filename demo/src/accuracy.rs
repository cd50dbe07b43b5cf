//! Accuracy, shown: a workload whose true CPU per endpoint is known, profiled as a service
//! would be, so featgen's split can be set against the truth and against the source article's
//! two naive methods (equal cost per request; latency as the proxy for cost).
//!
//! Three endpoints of three features spend 10x different CPU per request (about 40 ms, 12 ms
//! and 4 ms), and their latency is dominated by I/O waits that have nothing to do with their
//! CPU (the cheap-to-run `messages.list` waits longest on its "database"). Each request waits on
//! its backend, then builds its response in one burst of CPU. [`CLIENTS`] clients, each one
//! request at a time, ask for about 1.7 cores, and pause between requests when theirs queue, so
//! that on an idle machine or a busy one the latency stays the I/O waits'. The truth is every poll's CPU, read from the
//! thread's own CPU clock around the poll; the profile is what the sampling profiler wrote.
//!
//! How close featgen can be is set by its samples. The `perf_event` sampler places one sample
//! at a random point of every period of a thread's CPU time, so a burst of CPU longer than the
//! period gets its whole periods' samples exactly and only its two ends are left to chance: the
//! variance of an endpoint's sample count is at most about a third of a sample squared per poll
//! ([`poll_count_variance`]), where independent samples would give one per sample. The run
//! records that variance per endpoint, and [`compare`] turns it into a standard error.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use featgen::route;
use featgen_features::Feature;

use crate::DemoError;

/// One endpoint of the workload and what was measured of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The endpoint label profiles carry.
    pub endpoint: &'static str,
    /// Its feature's registry name.
    pub feature: &'static str,
    /// Requests completed.
    pub requests: u64,
    /// CPU measured around every poll, in ns: the truth.
    pub cpu_ns: u64,
    /// Summed wall-clock latency of its requests, in ns: what the latency proxy divides by.
    pub latency_ns: u64,
    /// Summed I/O wait its requests asked for, in ns: the part of the latency that is not CPU
    /// or waiting for a worker.
    pub wait_ns: u64,
    /// Expected variance of its sample count, in samples squared: [`poll_count_variance`]
    /// summed over its polls at the run's sampling period.
    pub count_variance: f64,
}

/// The three endpoints: (CPU per request, I/O wait per request), in microseconds, before each
/// request's jitter.
const SHAPES: [(u64, u64); 3] = [(40_000, 400_000), (12_000, 2_000_000), (4_000, 200_000)];

/// Worker threads: more than the machine's two cores, so that a short request's burst shares
/// the cores with a long one's rather than waiting for it to end.
const WORKERS: usize = 4;

/// Concurrent clients for a busy service, each sending `messages.send`, `messages.list`,
/// `users.me` in turn, one request at a time: a round of the three is 56 ms of CPU in about
/// 2.7 s, so 84 clients ask for about 1.7 cores.
pub const CLIENTS: u64 = 84;

#[route(POST, "/accuracy/send", feature = Messaging, endpoint = "messages.send")]
async fn send(cpu: Duration, wait: Duration) {
    wait_then_work(cpu, wait).await;
}

#[route(GET, "/accuracy/list", feature = MessageHistory, endpoint = "messages.list")]
async fn list(cpu: Duration, wait: Duration) {
    wait_then_work(cpu, wait).await;
}

#[route(GET, "/accuracy/me", feature = Profiles, endpoint = "users.me")]
async fn me(cpu: Duration, wait: Duration) {
    wait_then_work(cpu, wait).await;
}

/// The I/O wait, then all the CPU in one poll: a handler that queries its backend, then
/// builds its response.
async fn wait_then_work(cpu: Duration, wait: Duration) {
    tokio::time::sleep(wait).await;
    burn_cpu(cpu);
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec and the clock id is a constant the kernel
    // knows; clock_gettime writes nothing else.
    #[allow(unsafe_code)]
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now)
    };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Spins until the calling thread has used `cpu` more CPU time.
fn burn_cpu(cpu: Duration) {
    let start = thread_cpu();
    let mut x = 1u64;
    while thread_cpu() - start < cpu {
        for _ in 0..200 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

/// The expected variance of the number of samples that fall in one burst of CPU `periods`
/// sampling periods long, under the `perf_event` sampler's one sample at a uniformly random
/// point of each period of the thread's CPU time, the burst starting at a random point of a
/// period. A burst within one period (fraction q of it) is sampled once with probability q;
/// a longer one gets one sample per whole period it covers and only its two partly covered
/// periods vary: averaged over where it starts, `x(1-x)^2 + x^2 - 2x^3/3` below one period,
/// 1/3 from one period on (independent samples would give `x`).
///
/// Summed over an endpoint's polls this bounds the variance of its count from above: two
/// bursts sharing a period vary together less than apart (`q(1-q)` is subadditive).
pub fn poll_count_variance(periods: f64) -> f64 {
    if periods >= 1.0 {
        1.0 / 3.0
    } else {
        let x = periods;
        x * (1.0 - x) * (1.0 - x) + x * x - 2.0 * x * x * x / 3.0
    }
}

/// An endpoint's running totals, shared by its requests.
#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    cpu_ns: AtomicU64,
    latency_ns: AtomicU64,
    wait_ns: AtomicU64,
    /// [`poll_count_variance`] summed, in millionths of a sample squared.
    count_variance_micro: AtomicU64,
}

/// Adds every poll's CPU time to `totals`: the truth, by construction independent of the
/// profiler; and what that poll adds to the variance of the endpoint's sample count.
struct CpuPerPoll<'a> {
    request: Pin<Box<dyn Future<Output = ()> + Send>>,
    totals: &'a Totals,
    period_ns: u64,
}

impl Future for CpuPerPoll<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let before = thread_cpu();
        let poll = self.request.as_mut().poll(cx);
        let cpu_ns = (thread_cpu() - before).as_nanos() as u64;
        let variance = poll_count_variance(cpu_ns as f64 / self.period_ns as f64);
        self.totals.cpu_ns.fetch_add(cpu_ns, Ordering::Relaxed);
        self.totals
            .count_variance_micro
            .fetch_add((variance * 1e6).round() as u64, Ordering::Relaxed);
        poll
    }
}

/// A factor in [0.5, 1.5) from `n`, golden-ratio hashed: each request's CPU and wait vary by
/// ±50% so that nothing falls into step with anything periodic.
fn jitter(n: u64) -> f64 {
    0.5 + (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64
}

/// Sends requests in turn until `deadline`, starting with endpoint `first`, numbering them
/// from `requests` (shared by all clients) for their jitter.
///
/// Between two requests the client pauses: twice as long (from 1 ms) after a request that
/// spent more than a tenth of its I/O wait on neither its wait nor its CPU (queued for a
/// worker, or its thread preempted by other processes), 10% shorter after one that did not.
/// So the clients together ask for about the CPU there is, on an idle machine or a busy one,
/// and every request's latency stays its I/O wait's.
async fn client(
    first: usize,
    deadline: Instant,
    totals: &[Totals; 3],
    requests: &AtomicU64,
    period_ns: u64,
) {
    let mut endpoint = first;
    let mut pause = Duration::ZERO;
    while Instant::now() < deadline {
        let factor = jitter(requests.fetch_add(1, Ordering::Relaxed));
        let (cpu, wait) = SHAPES[endpoint];
        let cpu = Duration::from_micros(cpu).mul_f64(factor);
        let wait = Duration::from_micros(wait).mul_f64(factor);
        let request: Pin<Box<dyn Future<Output = ()> + Send>> = match endpoint {
            0 => Box::pin(send(cpu, wait)),
            1 => Box::pin(list(cpu, wait)),
            _ => Box::pin(me(cpu, wait)),
        };
        let totals = &totals[endpoint];
        let started = Instant::now();
        CpuPerPoll {
            request,
            totals,
            period_ns,
        }
        .await;
        let latency = started.elapsed();
        totals
            .latency_ns
            .fetch_add(latency.as_nanos() as u64, Ordering::Relaxed);
        totals
            .wait_ns
            .fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
        totals.requests.fetch_add(1, Ordering::Relaxed);
        endpoint = (endpoint + 1) % SHAPES.len();
        pause = if latency.saturating_sub(wait + cpu) > wait / 10 {
            (pause * 2).max(Duration::from_millis(1))
        } else {
            pause.mul_f64(0.9)
        };
        let resume = (Instant::now() + pause).min(deadline);
        tokio::time::sleep_until(resume.into()).await;
    }
}

/// Runs the workload with `clients` clients (see [`CLIENTS`]) for `duration` of wall time (then
/// lets every client finish its request) under the `perf_event` sampling profiler at `hz`,
/// writing its profiles (labeled `deployment=accuracy`) to `profiles`; returns the truth per
/// endpoint.
///
/// Fails where perf events are not permitted, or when any thread fell back to the tick-driven
/// `timer_create` timer or any sample was dropped: the comparison would not be of the sampler
/// whose error it states.
pub fn run(
    duration: Duration,
    hz: u32,
    clients: u64,
    profiles: &Path,
) -> Result<Vec<Measured>, DemoError> {
    let profiler = featgen::profiler::Profiler::builder()
        .service_name("featgen-accuracy")
        .label("deployment", "accuracy")
        .local_dir(profiles)
        .frequency_hz(hz)
        .sampling_engine(featgen::profiler::SamplingEngine::PerfEvent)
        .start()
        .map_err(|err| {
            let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .map_or("unreadable".into(), |level| level.trim().to_owned());
            DemoError::Fleet(format!(
                "starting the profiler with perf events (kernel.perf_event_paranoid = \
                 {paranoid}; 2 or lower permits them): {err}"
            ))
        })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .on_thread_start(featgen::profiler::register_current_thread)
        .build()
        .map_err(|err| DemoError::Fleet(format!("starting the runtime: {err}")))?;
    let period_ns = 1_000_000_000 / u64::from(hz.max(1));
    let totals: Arc<[Totals; 3]> = Arc::default();
    let requests = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let deadline = Instant::now() + duration;
        let mut running = tokio::task::JoinSet::new();
        for n in 0..clients {
            let (totals, requests) = (totals.clone(), requests.clone());
            running.spawn(async move {
                // Clients start 30 ms apart, so the first requests' bursts do not coincide.
                tokio::time::sleep(Duration::from_millis(30 * n)).await;
                let first = (n % 3) as usize;
                client(first, deadline, &totals, &requests, period_ns).await;
            });
        }
        while running.join_next().await.is_some() {}
    });
    drop(runtime);
    let stats = profiler.stop();
    let dropped = stats.samples_dropped_buffer_full
        + stats
            .sinks
            .iter()
            .map(|sink| sink.samples_dropped.total())
            .sum::<u64>();
    if stats.sampler != "perf_event" || stats.perf_event_fallbacks > 0 || dropped > 0 {
        return Err(DemoError::Fleet(format!(
            "the profiler sampled with {} ({} threads fell back to timer_create) and dropped \
             {dropped} samples; the comparison needs every thread on perf events, nothing dropped",
            stats.sampler, stats.perf_event_fallbacks
        )));
    }
    let names = [
        ("messages.send", "messaging"),
        ("messages.list", "message-history"),
        ("users.me", "profiles"),
    ];
    Ok(names
        .iter()
        .zip(totals.iter())
        .map(|(&(endpoint, feature), totals)| Measured {
            endpoint,
            feature,
            requests: totals.requests.load(Ordering::Relaxed),
            cpu_ns: totals.cpu_ns.load(Ordering::Relaxed),
            latency_ns: totals.latency_ns.load(Ordering::Relaxed),
            wait_ns: totals.wait_ns.load(Ordering::Relaxed),
            count_variance: totals.count_variance_micro.load(Ordering::Relaxed) as f64 / 1e6,
        })
        .collect())
}

/// Each endpoint's fraction of the total under one method.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The endpoint label.
    pub endpoint: &'static str,
    /// The truth: its CPU over all CPU.
    pub truth: f64,
    /// featgen's: its sampled CPU over all attributed sampled CPU.
    pub featgen: f64,
    /// The expected standard error of `featgen`, from the endpoint's count variance and the
    /// number of attributed samples: how far featgen may be from the truth by chance.
    pub standard_error: f64,
    /// The standard error had the same number of samples been independent (`sqrt(p(1-p)/n)`),
    /// whatever the shape of the CPU; never below `standard_error` for bursts of a period or
    /// more.
    pub independent_standard_error: f64,
    /// The article's first naive method: its requests over all requests.
    pub equal_per_request: f64,
    /// The article's second naive method: its summed latency over all latency.
    pub latency_proxy: f64,
}

/// Sets featgen's per-endpoint CPU (`sampled_ns`, by endpoint label, from the profiles of a run
/// at `hz`) against the truth and the naive methods. Unattributed CPU (the runtime's own) is
/// left out of every method alike: the workload's requests are what is being split.
pub fn compare(measured: &[Measured], hz: u32, sampled_ns: impl Fn(&str) -> u64) -> Vec<Split> {
    let fraction = |part: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            part as f64 / total as f64
        }
    };
    let sum = |value: fn(&Measured) -> u64| measured.iter().map(value).sum::<u64>();
    let (cpu, requests, latency) = (
        sum(|m| m.cpu_ns),
        sum(|m| m.requests),
        sum(|m| m.latency_ns),
    );
    let sampled: u64 = measured.iter().map(|m| sampled_ns(m.endpoint)).sum();
    let samples = (sampled as f64 * f64::from(hz) / 1e9).max(1.0);
    measured
        .iter()
        .map(|m| {
            let truth = fraction(m.cpu_ns, cpu);
            Split {
                endpoint: m.endpoint,
                truth,
                featgen: fraction(sampled_ns(m.endpoint), sampled),
                standard_error: m.count_variance.sqrt() / samples,
                independent_standard_error: (truth * (1.0 - truth) / samples).sqrt(),
                equal_per_request: fraction(m.requests, requests),
                latency_proxy: fraction(m.latency_ns, latency),
            }
        })
        .collect()
}

/// featgen's CPU per endpoint label, read from the profiles in `profiles` the way
/// `featgen shares` reads them (every sample of every file, whatever its step).
pub fn sampled_cpu_by_endpoint(
    profiles: &Path,
) -> Result<std::collections::BTreeMap<String, u64>, DemoError> {
    use featgen_attribution::period::{Period, Step};
    use featgen_attribution::profiles::{ReadOptions, read_dir};
    use featgen_attribution::time::DAY;

    let now = featgen_attribution::UtcTime::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64),
    );
    // Two whole days around now hold every profile of a run that started minutes ago.
    let from = now.floor(DAY);
    let period = Period::new(
        featgen_attribution::UtcTime::from_unix(from.unix() - DAY),
        featgen_attribution::UtcTime::from_unix(from.unix() + DAY),
        Step::Day,
    )
    .map_err(DemoError::Fleet)?;
    let options = ReadOptions {
        labels: Default::default(),
        period,
        skip_damaged: false,
        threads: 0,
    };
    let read = read_dir(profiles, &options)
        .map_err(|err| DemoError::Fleet(format!("reading the profiles: {err}")))?;
    let mut by_endpoint = std::collections::BTreeMap::new();
    for labeled in read.cpu {
        if let Some(endpoint) = labeled.endpoint {
            *by_endpoint.entry(endpoint).or_default() += labeled.cpu_ns;
        }
    }
    Ok(by_endpoint)
}

//! Accuracy, shown: a workload whose true CPU per endpoint is known, profiled as a service
//! would be, so featgen's split can be set against the truth and against the source article's
//! two naive methods (equal cost per request; latency as the proxy for cost).
//!
//! Three endpoints of three features spend 10x different CPU per request (about 2 ms, 0.6 ms
//! and 0.2 ms), and their latency is dominated by I/O waits that have nothing to do with their
//! CPU (the cheap-to-run `messages.list` waits longest on its "database"). Requests interleave on
//! two tokio workers. The truth is every poll's CPU, read from the thread's own CPU clock around
//! the poll; the profile is what the sampling profiler wrote.

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
}

/// The three endpoints: (CPU per request, I/O wait per request), in microseconds.
const SHAPES: [(u64, u64); 3] = [(2_000, 6_000), (600, 45_000), (200, 3_000)];

#[route(POST, "/accuracy/send", feature = Messaging, endpoint = "messages.send")]
async fn send(cpu: Duration, wait: Duration) {
    work_then_wait(cpu, wait).await;
}

#[route(GET, "/accuracy/list", feature = MessageHistory, endpoint = "messages.list")]
async fn list(cpu: Duration, wait: Duration) {
    work_then_wait(cpu, wait).await;
}

#[route(GET, "/accuracy/me", feature = Profiles, endpoint = "users.me")]
async fn me(cpu: Duration, wait: Duration) {
    work_then_wait(cpu, wait).await;
}

/// Half the CPU, the I/O wait, the other half: a handler that reads, waits on a backend, writes.
async fn work_then_wait(cpu: Duration, wait: Duration) {
    burn_cpu(cpu / 2);
    tokio::time::sleep(wait).await;
    burn_cpu(cpu / 2);
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

/// Adds every poll's CPU time to `cpu`: the truth, by construction independent of the profiler.
struct CpuPerPoll<F> {
    inner: Pin<Box<F>>,
    cpu: Arc<AtomicU64>,
}

impl<F: Future> Future for CpuPerPoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = thread_cpu();
        let poll = self.inner.as_mut().poll(cx);
        self.cpu
            .fetch_add((thread_cpu() - before).as_nanos() as u64, Ordering::Relaxed);
        poll
    }
}

/// Runs the workload for `duration` of wall time under the sampling profiler at `hz`, writing
/// its profiles (labeled `deployment=accuracy`) to `profiles`; returns the truth per endpoint.
pub fn run(duration: Duration, hz: u32, profiles: &Path) -> Result<Vec<Measured>, DemoError> {
    let profiler = featgen::profiler::Profiler::builder()
        .service_name("featgen-accuracy")
        .label("deployment", "accuracy")
        .local_dir(profiles)
        .frequency_hz(hz)
        .start()
        .map_err(|err| DemoError::Fleet(format!("starting the profiler: {err}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(featgen::profiler::register_current_thread)
        .build()
        .map_err(|err| DemoError::Fleet(format!("starting the runtime: {err}")))?;
    let counters: [[Arc<AtomicU64>; 3]; 3] = Default::default();
    runtime.block_on(async {
        let deadline = Instant::now() + duration;
        let mut tick = tokio::time::interval(Duration::from_millis(4));
        let mut tasks = tokio::task::JoinSet::new();
        let mut n: u64 = 0;
        while Instant::now() < deadline {
            tick.tick().await;
            // One request of each endpoint per tick: equal request counts, 10x different CPU.
            for endpoint in 0..3 {
                // Vary each request by ±50% so polls do not fall into step with anything periodic.
                let jitter = 0.5
                    + (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
                let (cpu, wait) = SHAPES[endpoint];
                let cpu = Duration::from_micros(cpu).mul_f64(jitter);
                let wait = Duration::from_micros(wait).mul_f64(jitter);
                let [requests, cpu_ns, latency_ns] = counters[endpoint].clone();
                let request: Pin<Box<dyn Future<Output = ()> + Send>> = match endpoint {
                    0 => Box::pin(send(cpu, wait)),
                    1 => Box::pin(list(cpu, wait)),
                    _ => Box::pin(me(cpu, wait)),
                };
                tasks.spawn(async move {
                    let started = Instant::now();
                    CpuPerPoll {
                        inner: Box::pin(request),
                        cpu: cpu_ns,
                    }
                    .await;
                    latency_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    requests.fetch_add(1, Ordering::Relaxed);
                });
                n += 1;
            }
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
    drop(runtime);
    drop(profiler);
    let names = [
        ("messages.send", "messaging"),
        ("messages.list", "message-history"),
        ("users.me", "profiles"),
    ];
    Ok(names
        .iter()
        .zip(&counters)
        .map(
            |(&(endpoint, feature), [requests, cpu_ns, latency_ns])| Measured {
                endpoint,
                feature,
                requests: requests.load(Ordering::Relaxed),
                cpu_ns: cpu_ns.load(Ordering::Relaxed),
                latency_ns: latency_ns.load(Ordering::Relaxed),
            },
        )
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
    /// The article's first naive method: its requests over all requests.
    pub equal_per_request: f64,
    /// The article's second naive method: its summed latency over all latency.
    pub latency_proxy: f64,
}

/// Sets featgen's per-endpoint CPU (`sampled_ns`, by endpoint label, from the profiles) against
/// the truth and the naive methods. Unattributed CPU (the runtime's own) is left out of every
/// method alike: the workload's requests are what is being split.
pub fn compare(measured: &[Measured], sampled_ns: impl Fn(&str) -> u64) -> Vec<Split> {
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
    measured
        .iter()
        .map(|m| Split {
            endpoint: m.endpoint,
            truth: fraction(m.cpu_ns, cpu),
            featgen: fraction(sampled_ns(m.endpoint), sampled),
            equal_per_request: fraction(m.requests, requests),
            latency_proxy: fraction(m.latency_ns, latency),
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

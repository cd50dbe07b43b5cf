//! Profiler configuration: the builder, its environment variables and errors, and
//! [`ProfilerBuilder::start`], which turns a configuration into a running profiler. The
//! Pyroscope destination's own settings are in [`super::pyroscope_destination`].

#[cfg(feature = "pyroscope")]
use super::pyroscope_destination::{Protocol, Pyroscope};
use super::report::ReportSettings;
use super::sink::dir::DirSink;
#[cfg(feature = "pyroscope")]
use super::sink::pyroscope::PyroscopeSink;
use super::sink::{QueueSettings, SinkWorker};
use super::threads::Sampler;
use super::timers::{self, Engine};
use super::{Live, ProfilerGuard, Running, ThreadCpu, live, report_loop};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Environment variables read by [`ProfilerBuilder::from_env`], with what each sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "FEATGEN_PROFILER_HZ",
        "sampling frequency in Hz of CPU time per thread (default 100)",
    ),
    (
        "FEATGEN_PROFILER_INTERVAL_SECS",
        "upload interval in seconds, aligned to wall-clock multiples (default 10)",
    ),
    (
        "FEATGEN_PROFILER_SERVICE_NAME",
        "`service_name` label and file prefix (default: the executable's name)",
    ),
    (
        "FEATGEN_PROFILER_LABELS",
        "static series labels, `name=value,name=value` (e.g. `deployment=prod`)",
    ),
    (
        "FEATGEN_PROFILER_DIR",
        "directory of gzip pprof files (the default sink, `featgen-profiles`)",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_URL",
        "Pyroscope base URL, e.g. `https://profiles.example.com`",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_PROTOCOL",
        "`push` (default) or `ingest` (legacy `/ingest`, folded)",
    ),
    ("FEATGEN_PROFILER_PYROSCOPE_USER", "HTTP Basic user"),
    (
        "FEATGEN_PROFILER_PYROSCOPE_PASSWORD",
        "HTTP Basic password (never logged)",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_TENANT",
        "`X-Scope-OrgID` header",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_HEADERS",
        "extra headers, `Name=value,Name=value` (values never logged)",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_CA_FILE",
        "PEM file of the CA certificate(s) to trust instead of the built-in roots",
    ),
    (
        "FEATGEN_PROFILER_PYROSCOPE_TIMEOUT_SECS",
        "HTTP timeout per request (default 10)",
    ),
    (
        "FEATGEN_PROFILER_BUFFER",
        "sample buffer capacity in samples (default 2048)",
    ),
    (
        "FEATGEN_PROFILER_QUEUE",
        "profiles queued per sink before the oldest is dropped (default 30)",
    ),
    (
        "FEATGEN_PROFILER_MAX_AGE_SECS",
        "profiles older than this are dropped, not sent (default 3000)",
    ),
    (
        "FEATGEN_PROFILER_SHUTDOWN_TIMEOUT_SECS",
        "time given to sinks to send what is queued at stop (default 5)",
    ),
    (
        "FEATGEN_PROFILER_SAMPLER",
        "sampling engine: `auto` (default: perf_event where permitted, else timer_create), \
         `perf_event` or `timer_create`",
    ),
];

/// Label names the profiler sets itself, which static labels may not reuse.
const RESERVED_LABELS: &[&str] = &[
    "__name__",
    "service_name",
    "feature",
    "endpoint",
    "feature_group",
    "team",
    "tier",
    "feature_id",
];

/// Pyroscope accepts 30 label names per series: the reserved ones leave this many.
const MAX_STATIC_LABELS: usize = 30 - RESERVED_LABELS.len();

/// A configuration error, or a failure to start.
#[derive(Debug)]
pub enum Error {
    /// A setting is invalid; the message names it.
    Config(String),
    /// A profiler is already running in this process (there is one `SIGPROF`).
    AlreadyRunning,
    /// Starting failed (timers, handler, threads).
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(message) => write!(f, "invalid profiler configuration: {message}"),
            Error::AlreadyRunning => {
                f.write_str("a featgen profiler is already running in this process")
            }
            Error::Io(err) => write!(f, "cannot start the profiler: {err}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::Io(err)
    }
}

/// What raises the samples (see the README's "How it samples").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SamplingEngine {
    /// `PerfEvent` where perf events are permitted, else `TimerCreate` (logged, and named in
    /// `stats()` and in every profile).
    #[default]
    Auto,
    /// A Linux perf event on each thread's task clock, overflowing at randomized points of its
    /// CPU time; `start` fails where perf events are not permitted.
    PerfEvent,
    /// A `timer_create` CPU-time timer per thread, checked at the scheduler tick.
    TimerCreate,
}

/// Settings of a profiler, from [`crate::profiler::Profiler::builder`].
#[derive(Clone, Debug)]
pub struct ProfilerBuilder {
    pub(crate) hz: u32,
    pub(crate) interval: Duration,
    pub(crate) service_name: Option<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) dir: Option<PathBuf>,
    #[cfg(feature = "pyroscope")]
    pub(crate) pyroscope: Vec<Pyroscope>,
    pub(crate) buffer_capacity: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) max_profile_age: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) backoff: (Duration, Duration),
    pub(crate) engine: SamplingEngine,
}

impl Default for ProfilerBuilder {
    fn default() -> ProfilerBuilder {
        ProfilerBuilder {
            hz: 100,
            interval: Duration::from_secs(10),
            service_name: None,
            labels: Vec::new(),
            dir: None,
            #[cfg(feature = "pyroscope")]
            pyroscope: Vec::new(),
            buffer_capacity: 2048,
            queue_capacity: 30,
            // Pyroscope rejects profiles older than 1 h: leave margin for the last attempt.
            max_profile_age: Duration::from_secs(50 * 60),
            shutdown_timeout: Duration::from_secs(5),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            engine: SamplingEngine::Auto,
        }
    }
}

impl ProfilerBuilder {
    /// Samples per second of CPU time, per thread (default 100; at most 10,000).
    pub fn frequency_hz(mut self, hz: u32) -> Self {
        self.hz = hz;
        self
    }

    /// How often profiles are cut and sent, aligned to wall-clock multiples (default 10 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The `service_name` series label (default: the executable's file name).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a static series label, e.g. `("deployment", "prod-eu")`.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// Writes one gzip pprof file per interval into `dir`. This is the default sink
    /// (`featgen-profiles` in the working directory) when no sink is configured.
    pub fn local_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Sends profiles to a Pyroscope server (may be called for several servers). With the
    /// `pyroscope` feature; HTTPS needs a rustls crypto provider (see [`Pyroscope`]).
    #[cfg(feature = "pyroscope")]
    pub fn pyroscope(mut self, destination: Pyroscope) -> Self {
        self.pyroscope.push(destination);
        self
    }

    /// Capacity of the preallocated sample buffer, in samples of about 1 KiB (default 2048;
    /// the reporter empties it every 100 ms).
    pub fn buffer_capacity(mut self, samples: usize) -> Self {
        self.buffer_capacity = samples;
        self
    }

    /// Profiles queued per sink before the oldest is dropped (default 30).
    pub fn queue_capacity(mut self, profiles: usize) -> Self {
        self.queue_capacity = profiles;
        self
    }

    /// Profiles whose window ended longer ago are dropped instead of sent (default 50 min,
    /// under Pyroscope's 1 h window).
    pub fn max_profile_age(mut self, age: Duration) -> Self {
        self.max_profile_age = age;
        self
    }

    /// Time the sinks get at stop to send what is queued (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// First and longest delay between retries of a failed send (default 1 s and 60 s).
    pub fn retry_backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.backoff = (first, longest);
        self
    }

    /// The sampling engine (default [`SamplingEngine::Auto`]).
    pub fn sampling_engine(mut self, engine: SamplingEngine) -> Self {
        self.engine = engine;
        self
    }

    /// Applies the `FEATGEN_PROFILER_*` environment variables (see [`ENV_VARS`]) over the
    /// settings made so far.
    pub fn from_env(self) -> Result<Self, Error> {
        self.from_vars(std::env::vars())
    }

    /// Like [`ProfilerBuilder::from_env`], from the given `(name, value)` pairs.
    pub fn from_vars(
        mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Error> {
        let mut pyroscope_url = None;
        let mut pyroscope_settings = Vec::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("FEATGEN_PROFILER_") else {
                continue;
            };
            let bad = |what: &str| Error::Config(format!("{name}: {what}"));
            let number = |value: &str| {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| bad("expected a whole number"))
            };
            let seconds = |value: &str| {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .ok_or_else(|| bad("expected seconds"))
            };
            match key {
                "HZ" => self.hz = u32::try_from(number(&value)?).map_err(|_| bad("too large"))?,
                "INTERVAL_SECS" => self.interval = seconds(&value)?,
                "SERVICE_NAME" => self.service_name = Some(value),
                "LABELS" => self
                    .labels
                    .extend(pairs(&value).map_err(|what| bad(&what))?),
                "DIR" => self.dir = Some(value.into()),
                "PYROSCOPE_URL" => pyroscope_url = Some(value),
                "PYROSCOPE_PROTOCOL"
                | "PYROSCOPE_USER"
                | "PYROSCOPE_PASSWORD"
                | "PYROSCOPE_TENANT"
                | "PYROSCOPE_HEADERS"
                | "PYROSCOPE_CA_FILE"
                | "PYROSCOPE_TIMEOUT_SECS" => pyroscope_settings.push((key.to_owned(), value)),
                "BUFFER" => self.buffer_capacity = number(&value)? as usize,
                "QUEUE" => self.queue_capacity = number(&value)? as usize,
                "MAX_AGE_SECS" => self.max_profile_age = seconds(&value)?,
                "SHUTDOWN_TIMEOUT_SECS" => self.shutdown_timeout = seconds(&value)?,
                "SAMPLER" => {
                    self.engine = match value.trim() {
                        "auto" => SamplingEngine::Auto,
                        "perf_event" => SamplingEngine::PerfEvent,
                        "timer_create" => SamplingEngine::TimerCreate,
                        _ => return Err(bad("expected `auto`, `perf_event` or `timer_create`")),
                    }
                }
                _ => return Err(bad("unknown variable (see featgen::profiler::ENV_VARS)")),
            }
        }
        match pyroscope_url {
            Some(url) => self.add_pyroscope_from_vars(url, pyroscope_settings)?,
            None => {
                if let Some((key, _)) = pyroscope_settings.first() {
                    return Err(Error::Config(format!(
                        "FEATGEN_PROFILER_{key} is set but FEATGEN_PROFILER_PYROSCOPE_URL is not"
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Adds the destination of the `FEATGEN_PROFILER_PYROSCOPE_*` variables.
    #[cfg(feature = "pyroscope")]
    fn add_pyroscope_from_vars(
        &mut self,
        url: String,
        settings: Vec<(String, String)>,
    ) -> Result<(), Error> {
        self.pyroscope.push(Pyroscope::from_vars(url, settings)?);
        Ok(())
    }

    /// Without the `pyroscope` feature there is no Pyroscope sink: say so rather than ignore it.
    #[cfg(not(feature = "pyroscope"))]
    fn add_pyroscope_from_vars(
        &mut self,
        _url: String,
        _settings: Vec<(String, String)>,
    ) -> Result<(), Error> {
        Err(Error::Config(
            "FEATGEN_PROFILER_PYROSCOPE_URL is set but this program's featgen was built without \
             its `pyroscope` feature (the Pyroscope sink)"
                .into(),
        ))
    }

    /// Whether a Pyroscope destination is configured.
    #[cfg(feature = "pyroscope")]
    fn has_pyroscope(&self) -> bool {
        !self.pyroscope.is_empty()
    }

    /// Without the `pyroscope` feature, none can be.
    #[cfg(not(feature = "pyroscope"))]
    fn has_pyroscope(&self) -> bool {
        false
    }

    /// Checks the settings and fills in defaults; what `start` runs with.
    pub(crate) fn validate(mut self) -> Result<Self, Error> {
        if !(1..=10_000).contains(&self.hz) {
            return Err(Error::Config(format!(
                "frequency {} Hz is outside 1..=10000",
                self.hz
            )));
        }
        if self.interval < Duration::from_millis(100) {
            return Err(Error::Config("the interval must be at least 100 ms".into()));
        }
        let service_name = self
            .service_name
            .take()
            .unwrap_or_else(default_service_name);
        // It names files and goes into `/ingest`'s `name`, where these characters are syntax.
        if service_name.is_empty() || service_name.contains(['{', '}', ',', '=', '/']) {
            return Err(Error::Config(format!(
                "service name `{service_name}` must be non-empty without `{{`, `}}`, `,`, `=` or `/`"
            )));
        }
        self.service_name = Some(service_name);
        if self.labels.len() > MAX_STATIC_LABELS {
            return Err(Error::Config(format!(
                "at most {MAX_STATIC_LABELS} static labels"
            )));
        }
        for (name, _) in &self.labels {
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || RESERVED_LABELS.contains(&name.as_str()) {
                return Err(Error::Config(format!(
                    "label name `{name}` must match [A-Za-z_][A-Za-z0-9_]* and not be one of {RESERVED_LABELS:?}"
                )));
            }
        }
        #[cfg(feature = "pyroscope")]
        {
            self.pyroscope = self
                .pyroscope
                .into_iter()
                .map(Pyroscope::validate)
                .collect::<Result<_, _>>()?;
        }
        if self.dir.is_none() && !self.has_pyroscope() {
            self.dir = Some(PathBuf::from("featgen-profiles"));
        }
        if self.backoff.0.is_zero() || self.backoff.1 < self.backoff.0 {
            return Err(Error::Config(
                "retry backoff must be positive, first <= longest".into(),
            ));
        }
        Ok(self)
    }

    /// Starts sampling and the reporter; the guard stops and flushes when dropped.
    ///
    /// Fails with [`Error::AlreadyRunning`] when a profiler runs already, with
    /// [`Error::Config`] for invalid settings, and with [`Error::Io`] when timers, the signal
    /// handler or threads cannot be set up (another `SIGPROF` handler is installed, for one).
    pub fn start(self) -> Result<ProfilerGuard, Error> {
        let config = self.validate()?;
        let mut slot = live();
        if slot.is_some() {
            return Err(Error::AlreadyRunning);
        }
        // Calls completed before the first interval are in none: discard them.
        crate::calls::take(|_, _| {});
        let service_name = config.service_name.clone().unwrap_or_default();
        let queue = QueueSettings {
            capacity: config.queue_capacity,
            max_age: config.max_profile_age,
            backoff_min: config.backoff.0,
            backoff_max: config.backoff.1,
        };
        let mut sinks = Vec::new();
        if let Some(dir) = &config.dir {
            let sink = DirSink::new(dir.clone(), service_name.clone(), &config.labels);
            sinks.push(SinkWorker::spawn("dir", Box::new(sink), queue.clone())?);
        }
        let (pyroscope_sinks, folded) = config.start_pyroscope_sinks(&service_name, &queue)?;
        sinks.extend(pyroscope_sinks);
        let period_ns = 1_000_000_000 / u64::from(config.hz);
        let (sampler, fallback_reason) =
            Sampler::start(period_ns, config.buffer_capacity, config.engine)?;
        log_engine(sampler.engine(), config.hz, fallback_reason);
        let settings = ReportSettings {
            period_ns,
            folded,
            sampler: sampler.engine().name(),
        };
        let live = Arc::new(Live {
            samples_reported: AtomicU64::new(0),
            samples_unattributed: AtomicU64::new(0),
            profiles_built: AtomicU64::new(0),
            buffer_bytes: sampler.ring().bytes() as u64,
            engine: sampler.engine(),
            sinks: Mutex::new(sinks),
            reporter_cpu: ThreadCpu::default(),
        });
        let (stop, stopped) = mpsc::channel();
        let reporter = std::thread::Builder::new()
            .name("featgen-profiler".into())
            .spawn({
                let (live, ring, interval) =
                    (live.clone(), sampler.ring().clone(), config.interval);
                move || report_loop(&live, &ring, &settings, interval, &stopped)
            });
        let reporter = match reporter {
            Ok(reporter) => reporter,
            Err(err) => {
                sampler.stop();
                return Err(err.into());
            }
        };
        *slot = Some(live.clone());
        Ok(ProfilerGuard {
            live,
            running: Some(Running {
                sampler,
                reporter,
                stop,
            }),
            shutdown_timeout: config.shutdown_timeout,
        })
    }
}

impl ProfilerBuilder {
    /// Starts a sink per Pyroscope destination; also says whether any needs folded stacks
    /// (`/ingest`).
    #[cfg(feature = "pyroscope")]
    fn start_pyroscope_sinks(
        &self,
        service_name: &str,
        queue: &QueueSettings,
    ) -> std::io::Result<(Vec<SinkWorker>, bool)> {
        let mut sinks = Vec::new();
        for destination in &self.pyroscope {
            let name = match destination.protocol {
                Protocol::Push => "pyroscope-push",
                Protocol::Ingest => "pyroscope-ingest",
            };
            let sink = PyroscopeSink::new(
                destination.clone(),
                service_name.to_owned(),
                self.labels.clone(),
                self.hz,
            );
            sinks.push(SinkWorker::spawn(name, Box::new(sink), queue.clone())?);
        }
        let folded = self
            .pyroscope
            .iter()
            .any(|p| p.protocol == Protocol::Ingest);
        Ok((sinks, folded))
    }

    /// Without the `pyroscope` feature there are none.
    #[cfg(not(feature = "pyroscope"))]
    fn start_pyroscope_sinks(
        &self,
        _service_name: &str,
        _queue: &QueueSettings,
    ) -> std::io::Result<(Vec<SinkWorker>, bool)> {
        Ok((Vec::new(), false))
    }
}

/// The startup log line: which engine samples, and why not perf events when they were wanted.
fn log_engine(engine: Engine, hz: u32, fallback_reason: Option<std::io::Error>) {
    match fallback_reason {
        None => log::info!(
            "featgen profiler: sampling at {hz} Hz of CPU time per thread with {}",
            engine.name()
        ),
        Some(reason) => log::warn!(
            "featgen profiler: perf events not permitted ({reason}{}); sampling at {hz} Hz with \
             timer_create, whose samples follow the scheduler tick (less accurate for tasks that \
             wait on timers)",
            timers::paranoid_hint()
        ),
    }
}

/// Parses `name=value,name=value`.
pub(super) fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| format!("`{pair}` is not name=value"))
        })
        .collect()
}

/// The executable's file name, or `featgen-service`.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "featgen-service".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    #[cfg(feature = "pyroscope")]
    fn environment_sets_everything_and_debug_redacts_secrets() {
        // The service's crypto provider, which an `https://` destination needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = ProfilerBuilder::default()
            .from_vars(vars(&[
                ("FEATGEN_PROFILER_HZ", "250"),
                ("FEATGEN_PROFILER_INTERVAL_SECS", "2.5"),
                ("FEATGEN_PROFILER_SERVICE_NAME", "api"),
                ("FEATGEN_PROFILER_LABELS", "deployment=prod, region=eu"),
                (
                    "FEATGEN_PROFILER_PYROSCOPE_URL",
                    "https://u:pw@pyro.example/",
                ),
                ("FEATGEN_PROFILER_PYROSCOPE_PROTOCOL", "ingest"),
                ("FEATGEN_PROFILER_PYROSCOPE_TENANT", "t1"),
                ("FEATGEN_PROFILER_PYROSCOPE_HEADERS", "X-Token=s3cr3t"),
                ("FEATGEN_PROFILER_QUEUE", "7"),
                ("PATH", "/bin"),
            ]))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(builder.hz, 250);
        assert_eq!(builder.interval, Duration::from_millis(2500));
        assert_eq!(builder.service_name.as_deref(), Some("api"));
        assert_eq!(
            builder.labels,
            [
                ("deployment".into(), "prod".into()),
                ("region".into(), "eu".into())
            ]
        );
        assert_eq!(builder.queue_capacity, 7);
        assert_eq!(
            builder.dir, None,
            "a configured Pyroscope replaces the default directory"
        );
        let destination = &builder.pyroscope[0];
        assert_eq!(destination.url, "https://pyro.example");
        assert_eq!(destination.protocol, Protocol::Ingest);
        assert_eq!(destination.basic_auth.as_ref().unwrap().1.expose(), "pw");
        let debug = format!("{builder:?}");
        assert!(
            !debug.contains("pw\"") && !debug.contains("s3cr3t"),
            "{debug}"
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let err = ProfilerBuilder::default()
            .from_vars(vars(&[("FEATGEN_PROFILER_HZ", "fast")]))
            .unwrap_err();
        assert!(err.to_string().contains("FEATGEN_PROFILER_HZ"), "{err}");
        let err = ProfilerBuilder::default()
            .from_vars(vars(&[("FEATGEN_PROFILER_PYROSCOPE_TENANT", "t")]))
            .unwrap_err();
        assert!(err.to_string().contains("PYROSCOPE_URL"), "{err}");
        let err = ProfilerBuilder::default()
            .label("feature", "x")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("feature"), "{err}");
        let err = ProfilerBuilder::default()
            .from_vars(vars(&[("FEATGEN_PROFILER_SAMPLER", "perf")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("FEATGEN_PROFILER_SAMPLER"),
            "{err}"
        );
    }

    #[test]
    fn environment_chooses_the_engine() {
        for (value, engine) in [
            ("auto", SamplingEngine::Auto),
            ("perf_event", SamplingEngine::PerfEvent),
            ("timer_create", SamplingEngine::TimerCreate),
        ] {
            let builder = ProfilerBuilder::default()
                .sampling_engine(SamplingEngine::PerfEvent)
                .from_vars(vars(&[("FEATGEN_PROFILER_SAMPLER", value)]))
                .unwrap();
            assert_eq!(builder.engine, engine);
        }
        assert_eq!(ProfilerBuilder::default().engine, SamplingEngine::Auto);
    }

    #[test]
    #[cfg(not(feature = "pyroscope"))]
    fn a_pyroscope_url_without_the_feature_is_an_error() {
        let err = ProfilerBuilder::default()
            .from_vars(vars(&[(
                "FEATGEN_PROFILER_PYROSCOPE_URL",
                "http://pyro.example",
            )]))
            .unwrap_err();
        assert!(err.to_string().contains("`pyroscope` feature"), "{err}");
    }
}

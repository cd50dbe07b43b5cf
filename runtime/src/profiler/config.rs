//! Profiler configuration: the builder, the Pyroscope destination, environment variables.

use std::fmt;
use std::path::PathBuf;
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

/// A string that `Debug` never prints (passwords, header values).
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// CA certificates a Pyroscope destination trusts: the PEM as given and, once validated, the
/// certificates. `Debug` prints only how many bytes and certificates there are.
#[derive(Clone)]
pub(crate) struct RootCertificates {
    pem: Vec<u8>,
    /// Filled by [`RootCertificates::parse`]; what the sink hands to ureq.
    pub(crate) certificates: Vec<ureq::tls::Certificate<'static>>,
}

impl RootCertificates {
    /// Parses the PEM: at least one certificate, every section well-formed and every
    /// certificate one that rustls accepts as a trust anchor (ureq would skip the others
    /// silently, and the destination would then fail every handshake).
    fn parse(mut self) -> Result<RootCertificates, Error> {
        let bad = |what: String| Error::Config(format!("Pyroscope root certificate: {what}"));
        let mut certificates = Vec::new();
        for item in ureq::tls::parse_pem(&self.pem) {
            // Not the parser's message: it may quote a line of the PEM.
            let item = item.map_err(|_| {
                bad("malformed PEM (bad BEGIN line, missing END line or bad base64)".into())
            })?;
            match item {
                ureq::tls::PemItem::Certificate(certificate) => certificates.push(certificate),
                // A CA file holds no key: one here means the wrong file, and a key should not
                // be kept in memory for the life of the profiler.
                _ => return Err(bad("the PEM holds a private key".into())),
            }
        }
        if certificates.is_empty() {
            return Err(bad("no `BEGIN CERTIFICATE` section in the PEM".into()));
        }
        let mut store = rustls::RootCertStore::empty();
        for (index, certificate) in certificates.iter().enumerate() {
            store
                .add(rustls::pki_types::CertificateDer::from(certificate.der()))
                .map_err(|err| bad(format!("certificate {} is not usable: {err}", index + 1)))?;
        }
        self.certificates = certificates;
        Ok(self)
    }
}

impl fmt::Debug for RootCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{} bytes of PEM, {} certificates>",
            self.pem.len(),
            self.certificates.len()
        )
    }
}

/// The wire protocol of a Pyroscope destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /push.v1.PusherService/Push` (Connect, protobuf): current servers.
    Push,
    /// `POST /ingest?name=...&format=folded`: older servers.
    Ingest,
}

/// A Grafana Pyroscope destination. `Debug` redacts the password and header values.
#[derive(Clone, Debug)]
pub struct Pyroscope {
    pub(crate) url: String,
    pub(crate) protocol: Protocol,
    pub(crate) basic_auth: Option<(String, Secret)>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) headers: Vec<(String, Secret)>,
    pub(crate) timeout: Duration,
    pub(crate) root_certificates: Option<RootCertificates>,
}

impl Pyroscope {
    /// A destination at `url` (`http://` or `https://`, TLS via rustls), using the push API.
    /// Credentials in the URL (`https://user:password@host`) are moved to Basic auth.
    pub fn new(url: impl Into<String>) -> Pyroscope {
        Pyroscope {
            url: url.into(),
            protocol: Protocol::Push,
            basic_auth: None,
            tenant_id: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            root_certificates: None,
        }
    }

    /// Selects the wire protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Pyroscope {
        self.protocol = protocol;
        self
    }

    /// Sends HTTP Basic credentials.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Pyroscope {
        self.basic_auth = Some((user.into(), Secret(password.into())));
        self
    }

    /// Sends `X-Scope-OrgID: tenant`.
    pub fn tenant_id(mut self, tenant: impl Into<String>) -> Pyroscope {
        self.tenant_id = Some(tenant.into());
        self
    }

    /// Sends an extra header (e.g. `Authorization: Bearer ...`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Pyroscope {
        self.headers.push((name.into(), Secret(value.into())));
        self
    }

    /// Timeout of each HTTP request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Pyroscope {
        self.timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) in `pem` (PEM text, e.g. the contents of `ca.crt`)
    /// **instead of** the built-in Mozilla (webpki) roots, for an in-house collector signed by
    /// a private CA: this destination then accepts only servers these certificates vouch for.
    /// (ureq 3 takes a single root set, so the two cannot be combined: to trust public CAs as
    /// well, concatenate their certificates into `pem`.) An invalid PEM makes
    /// [`ProfilerBuilder::start`] fail with [`Error::Config`]; the certificate never appears in
    /// `Debug` output or errors.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Pyroscope {
        self.root_certificates = Some(RootCertificates {
            pem: pem.into(),
            certificates: Vec::new(),
        });
        self
    }

    /// Checks the URL and root certificates, moves URL credentials to Basic auth and drops a
    /// trailing `/`.
    fn validate(mut self) -> Result<Pyroscope, Error> {
        self.root_certificates = self
            .root_certificates
            .map(RootCertificates::parse)
            .transpose()?;
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return Err(Error::Config(
                "the Pyroscope URL needs an http:// or https:// scheme".into(),
            ));
        };
        if scheme != "http" && scheme != "https" {
            return Err(Error::Config(format!(
                "unsupported Pyroscope URL scheme `{scheme}`"
            )));
        }
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let (user, password) = rest[..at].split_once(':').unwrap_or((&rest[..at], ""));
            self.basic_auth = Some((user.to_owned(), Secret(password.to_owned())));
            self.url = format!("{scheme}://{}", &rest[at + 1..]);
        }
        while self.url.ends_with('/') {
            self.url.pop();
        }
        Ok(self)
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

    /// Sends profiles to a Pyroscope server (may be called for several servers).
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
        let mut pyroscope: Option<Pyroscope> = None;
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
                "PYROSCOPE_URL" => pyroscope = Some(Pyroscope::new(value)),
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
        if let Some(mut destination) = pyroscope {
            let (mut user, mut password) = (String::new(), None);
            for (key, value) in pyroscope_settings {
                let bad = |what: &str| Error::Config(format!("FEATGEN_PROFILER_{key}: {what}"));
                match key.as_str() {
                    "PYROSCOPE_PROTOCOL" => {
                        destination.protocol = match value.as_str() {
                            "push" => Protocol::Push,
                            "ingest" => Protocol::Ingest,
                            _ => return Err(bad("expected `push` or `ingest`")),
                        }
                    }
                    "PYROSCOPE_USER" => user = value,
                    "PYROSCOPE_PASSWORD" => password = Some(value),
                    "PYROSCOPE_TENANT" => destination.tenant_id = Some(value),
                    "PYROSCOPE_CA_FILE" => {
                        let pem = std::fs::read(&value)
                            .map_err(|err| bad(&format!("cannot read `{value}`: {err}")))?;
                        destination = destination.root_certificate_pem(pem);
                    }
                    "PYROSCOPE_HEADERS" => {
                        for (name, value) in pairs(&value).map_err(|what| bad(&what))? {
                            destination = destination.header(name, value);
                        }
                    }
                    _ => {
                        let secs = value.trim().parse::<f64>().ok();
                        destination.timeout = secs
                            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                            .ok_or_else(|| bad("expected seconds"))?;
                    }
                }
            }
            if !user.is_empty() || password.is_some() {
                destination = destination.basic_auth(user, password.unwrap_or_default());
            }
            self.pyroscope.push(destination);
        } else if let Some((key, _)) = pyroscope_settings.first() {
            return Err(Error::Config(format!(
                "FEATGEN_PROFILER_{key} is set but FEATGEN_PROFILER_PYROSCOPE_URL is not"
            )));
        }
        Ok(self)
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
        self.pyroscope = self
            .pyroscope
            .into_iter()
            .map(Pyroscope::validate)
            .collect::<Result<_, _>>()?;
        if self.dir.is_none() && self.pyroscope.is_empty() {
            self.dir = Some(PathBuf::from("featgen-profiles"));
        }
        if self.backoff.0.is_zero() || self.backoff.1 < self.backoff.0 {
            return Err(Error::Config(
                "retry backoff must be positive, first <= longest".into(),
            ));
        }
        Ok(self)
    }
}

/// Parses `name=value,name=value`.
fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
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
    fn environment_sets_everything_and_debug_redacts_secrets() {
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
}

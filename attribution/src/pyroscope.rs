//! CPU per label from Grafana Pyroscope: `querier.v1.QuerierService/SelectSeries`.
//!
//! One query asks for `process_cpu` CPU nanoseconds summed per (deployment label,
//! `service_name`, `feature`, `feature_id`, `endpoint`), one point per step. Pyroscope adds a
//! profile with timestamp `Ts` to the first point `T = start + k·step` with `T >= Ts`, so the
//! point at `T` sums `(T - step, T]`; uploads sit on the 10-second wall-clock grid, so a query
//! starting on the hour would put each hour's first upload into the previous hour. The window
//! is therefore shifted 5 s before the grid: the point at `H + step - 5 s` sums exactly the
//! uploads whose windows start in `[H, H + step)`, and is mapped back to `H`. Every upload is
//! counted once, in the step its window starts in.
//!
//! The deployment of a series is its deployment label (`deployment` by default), else its
//! `service_name`, as for profile files. Requests counts are not queried (the rows get none).
//!
//! Credentials come from the environment ([`PyroscopeOptions::from_env`]) or the URL and never
//! appear in errors or `Debug` output. Refusals (4xx) fail at once with the URL, the status and
//! the start of the body; 408, 429, 5xx and transport errors (including timeouts) are retried
//! with exponential backoff, a bounded number of times.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use serde::Deserialize;

use crate::row::LabeledCpu;
use crate::time::UtcTime;

/// The profile type of CPU time in Pyroscope.
pub const CPU_PROFILE_TYPE: &str = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/// The query path, relative to the server URL.
pub const SELECT_SERIES_PATH: &str = "/querier.v1.QuerierService/SelectSeries";
/// How far before the 10-second upload grid each step's point is placed, in milliseconds.
const GRID_OFFSET_MS: i64 = 5_000;
/// Longest part of an error body quoted in errors.
const ERROR_BODY_LIMIT: usize = 512;

/// A credential or header value: shown as `***` in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach the server (the options of the profiler's Pyroscope sink).
#[derive(Clone, Debug)]
pub struct PyroscopeOptions {
    /// HTTP Basic credentials.
    pub basic_auth: Option<(String, Secret)>,
    /// Sent as `X-Scope-OrgID`.
    pub tenant: Option<String>,
    /// Extra headers (`Authorization: Bearer ...`).
    pub headers: Vec<(String, Secret)>,
    /// A PEM file of CA certificates to trust **instead of** Mozilla's roots (ureq takes one
    /// root set; concatenate public roots into the file to keep them).
    pub ca_file: Option<PathBuf>,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// Retries after the first attempt, for 408, 429, 5xx and transport errors.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

impl Default for PyroscopeOptions {
    fn default() -> PyroscopeOptions {
        PyroscopeOptions {
            basic_auth: None,
            tenant: None,
            headers: Vec::new(),
            ca_file: None,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

impl PyroscopeOptions {
    /// Options from `FEATGEN_PYROSCOPE_USER`, `FEATGEN_PYROSCOPE_PASSWORD`,
    /// `FEATGEN_PYROSCOPE_TENANT`, `FEATGEN_PYROSCOPE_HEADERS` (`Name=value,Name=value`) and
    /// `FEATGEN_PYROSCOPE_CA_FILE`, over the defaults.
    pub fn from_env() -> Result<PyroscopeOptions, String> {
        PyroscopeOptions::from_vars(|name| std::env::var(name).ok())
    }

    /// [`PyroscopeOptions::from_env`] over any variable lookup.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<PyroscopeOptions, String> {
        let mut options = PyroscopeOptions::default();
        let user = var("FEATGEN_PYROSCOPE_USER");
        let password = var("FEATGEN_PYROSCOPE_PASSWORD");
        if user.is_some() || password.is_some() {
            options.basic_auth = Some((
                user.unwrap_or_default(),
                Secret(password.unwrap_or_default()),
            ));
        }
        options.tenant = var("FEATGEN_PYROSCOPE_TENANT");
        options.ca_file = var("FEATGEN_PYROSCOPE_CA_FILE").map(PathBuf::from);
        for pair in var("FEATGEN_PYROSCOPE_HEADERS")
            .unwrap_or_default()
            .split(',')
            .filter(|pair| !pair.trim().is_empty())
        {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                // Not the value: it may be a token.
                "FEATGEN_PYROSCOPE_HEADERS: expected Name=value,Name=value".to_owned()
            })?;
            options
                .headers
                .push((name.trim().to_owned(), Secret(value.trim().to_owned())));
        }
        Ok(options)
    }
}

/// What to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyroscopeQuery {
    /// Only this `service_name`, if given.
    pub service: Option<String>,
    /// A label selector to add (`{namespace="prod"}`).
    pub selector: Option<String>,
    /// The label naming the deployment (`deployment`).
    pub deployment_label: String,
    /// First step start, inclusive (aligned to `step_seconds`).
    pub from: UtcTime,
    /// Last step end, exclusive (aligned to `step_seconds`).
    pub to: UtcTime,
    /// 3,600 (hours) or 86,400 (days).
    pub step_seconds: i64,
}

/// Why the query failed.
#[derive(Debug)]
pub struct PyroscopeError {
    /// The URL queried (without credentials).
    pub url: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong (with the start of the body when the server refused).
    pub message: String,
}

impl fmt::Display for PyroscopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(
                f,
                "Pyroscope {} answered HTTP {status}: {}",
                self.url, self.message
            ),
            None => write!(f, "Pyroscope {}: {}", self.url, self.message),
        }
    }
}

impl std::error::Error for PyroscopeError {}

/// A Pyroscope server to query.
pub struct PyroscopeClient {
    agent: ureq::Agent,
    base: String,
    options: PyroscopeOptions,
}

/// The base URL without credentials and trailing `/`, and the credentials it held.
fn split_url(url: &str) -> Result<(String, Option<(String, Secret)>), String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| *scheme == "http" || *scheme == "https")
        .ok_or_else(|| "the Pyroscope URL needs an http:// or https:// scheme".to_owned())?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (credentials, rest) = match rest[..authority_end].rfind('@') {
        Some(at) => {
            let (user, password) = rest[..at].split_once(':').unwrap_or((&rest[..at], ""));
            (
                Some((user.to_owned(), Secret(password.to_owned()))),
                &rest[at + 1..],
            )
        }
        None => (None, rest),
    };
    Ok((
        format!("{scheme}://{}", rest.trim_end_matches('/')),
        credentials,
    ))
}

/// The `Authorization` value of HTTP Basic authentication.
fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The label selector: `service_name` if given, then the user's matchers.
fn label_selector(query: &PyroscopeQuery) -> Result<String, String> {
    let mut matchers = Vec::new();
    if let Some(service) = &query.service {
        let escaped = service.replace('\\', "\\\\").replace('"', "\\\"");
        matchers.push(format!("service_name=\"{escaped}\""));
    }
    if let Some(selector) = &query.selector {
        let inner = selector
            .trim()
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or_else(|| {
                format!("the selector `{selector}` must be written {{label=\"value\", ...}}")
            })?;
        if !inner.trim().is_empty() {
            matchers.push(inner.trim().to_owned());
        }
    }
    Ok(format!("{{{}}}", matchers.join(",")))
}

/// Connect JSON: int64 timestamps are strings, but accept numbers too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int64 {
    Text(String),
    Number(i64),
}

#[derive(Deserialize)]
struct Point {
    #[serde(default)]
    value: f64,
    timestamp: Int64,
}

#[derive(Deserialize)]
struct Label {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    points: Vec<Point>,
}

#[derive(Deserialize)]
struct SelectSeriesResponse {
    #[serde(default)]
    series: Vec<Series>,
}

impl PyroscopeClient {
    /// A client for the server at `url` (`https://user:password@host` moves the credentials to
    /// Basic auth, over any in `options`).
    pub fn new(url: &str, mut options: PyroscopeOptions) -> Result<PyroscopeClient, String> {
        let (base, credentials) = split_url(url)?;
        if credentials.is_some() {
            options.basic_auth = credentials;
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path)
                .map_err(|err| format!("cannot read CA file {}: {err}", path.display()))?;
            let mut certificates = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => {
                        certificates.push(certificate);
                    }
                    Ok(_) => return Err(format!("CA file {} holds a private key", path.display())),
                    Err(_) => return Err(format!("CA file {} is not valid PEM", path.display())),
                }
            }
            if certificates.is_empty() {
                return Err(format!("CA file {} has no certificate", path.display()));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certificates));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .tls_config(tls.build())
            .http_status_as_error(false)
            .user_agent(concat!("featgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(PyroscopeClient {
            agent,
            base,
            options,
        })
    }

    /// The JSON body of the query for `query`.
    pub fn request_body(query: &PyroscopeQuery) -> Result<serde_json::Value, String> {
        let step = query.step_seconds;
        if step <= 0 || query.from.unix() % step != 0 || query.to.unix() % step != 0 {
            return Err(format!(
                "the period {} .. {} must be whole steps of {step} s",
                query.from, query.to
            ));
        }
        if query.to <= query.from {
            return Err(format!(
                "the period {} .. {} is empty",
                query.from, query.to
            ));
        }
        let step_ms = step * 1_000;
        Ok(serde_json::json!({
            "profileTypeID": CPU_PROFILE_TYPE,
            "labelSelector": label_selector(query)?,
            "start": query.from.unix() * 1_000 + step_ms - GRID_OFFSET_MS,
            "end": query.to.unix() * 1_000 - GRID_OFFSET_MS,
            "groupBy": [&query.deployment_label, "service_name", "feature", "feature_id", "endpoint"],
            "step": step,
            "aggregation": "TIME_SERIES_AGGREGATION_TYPE_SUM",
        }))
    }

    /// The server's URL without credentials, to name it in messages.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// CPU per (step, deployment, feature, feature id, endpoint) in the query's period, sorted.
    pub fn cpu(&self, query: &PyroscopeQuery) -> Result<Vec<LabeledCpu>, PyroscopeError> {
        let url = format!("{}{SELECT_SERIES_PATH}", self.base);
        let fail = |status, message: String| PyroscopeError {
            url: url.clone(),
            status,
            message,
        };
        let body = Self::request_body(query).map_err(|message| fail(None, message))?;
        let body = serde_json::to_vec(&body).map_err(|err| fail(None, err.to_string()))?;
        let mut attempt = 0;
        let text = loop {
            let mut request = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Connect-Protocol-Version", "1");
            if let Some((user, password)) = &self.options.basic_auth {
                request = request.header("Authorization", basic_auth(user, &password.0));
            }
            if let Some(tenant) = &self.options.tenant {
                request = request.header("X-Scope-OrgID", tenant);
            }
            for (name, value) in &self.options.headers {
                request = request.header(name, &value.0);
            }
            let (status, retry, message) = match request.send(&body[..]) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string();
                    if (200..300).contains(&status) {
                        break text.map_err(|err| {
                            fail(Some(status), format!("cannot read the answer: {err}"))
                        })?;
                    }
                    let mut text = text.unwrap_or_default();
                    if text.len() > ERROR_BODY_LIMIT {
                        let mut end = ERROR_BODY_LIMIT;
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.truncate(end);
                        text.push_str("...");
                    }
                    let retry = status == 408 || status == 429 || status >= 500;
                    (Some(status), retry, text.trim().to_owned())
                }
                Err(err) => (None, true, err.to_string()),
            };
            if !retry || attempt >= self.options.retries {
                let tries = if attempt > 0 {
                    format!(" (after {} attempts)", attempt + 1)
                } else {
                    String::new()
                };
                return Err(fail(status, format!("{message}{tries}")));
            }
            thread::sleep(self.options.backoff.saturating_mul(1 << attempt.min(16)));
            attempt += 1;
        };
        let response: SelectSeriesResponse = serde_json::from_str(&text)
            .map_err(|err| fail(None, format!("not a SelectSeries answer: {err}")))?;
        Ok(self.to_rows(query, response))
    }

    /// Maps each point back to its step and sums series that land on the same key.
    fn to_rows(&self, query: &PyroscopeQuery, response: SelectSeriesResponse) -> Vec<LabeledCpu> {
        type Key = (UtcTime, String, Option<String>, Option<i64>, Option<String>);
        let mut sums: BTreeMap<Key, u64> = BTreeMap::new();
        let step_ms = query.step_seconds * 1_000;
        for series in response.series {
            let label = |name: &str| {
                series
                    .labels
                    .iter()
                    .find(|label| label.name == name && !label.value.is_empty())
                    .map(|label| label.value.clone())
            };
            let deployment = label(&query.deployment_label)
                .or_else(|| label("service_name"))
                .unwrap_or_default();
            let feature = label("feature");
            let feature_id = label("feature_id").and_then(|id| id.parse().ok());
            let endpoint = label("endpoint");
            for point in series.points {
                let timestamp = match point.timestamp {
                    Int64::Number(ms) => ms,
                    Int64::Text(text) => match text.parse() {
                        Ok(ms) => ms,
                        Err(_) => continue,
                    },
                };
                // The point at H + step - 5 s holds the step starting at H.
                let start_ms = timestamp + GRID_OFFSET_MS - step_ms;
                let step_start = UtcTime(start_ms.div_euclid(1_000)).floor(query.step_seconds);
                let cpu_ns = point.value.max(0.0).round() as u64;
                let key = (
                    step_start,
                    deployment.clone(),
                    feature.clone(),
                    feature_id,
                    endpoint.clone(),
                );
                *sums.entry(key).or_default() += cpu_ns;
            }
        }
        sums.into_iter()
            .map(
                |((step_start, deployment, feature, feature_id, endpoint), cpu_ns)| LabeledCpu {
                    step_start,
                    deployment,
                    feature,
                    feature_id,
                    endpoint,
                    cpu_ns,
                    samples: 0,
                    requests: None,
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A request as the test server saw it.
    #[derive(Debug)]
    struct Seen {
        request_line: String,
        headers: Vec<(String, String)>,
        body: serde_json::Value,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        }
    }

    /// An HTTP/1.1 server on 127.0.0.1 answering each request with the next of `answers`
    /// (status, body, delay before answering); returns its URL and what it saw.
    fn server(answers: Vec<(u16, String, Duration)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for (status, body, delay) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap();
                    headers.push((name.to_owned(), value.trim().to_owned()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, value)| value.parse().unwrap());
                let mut body_bytes = vec![0; length];
                reader.read_exact(&mut body_bytes).unwrap();
                log.lock().unwrap().push(Seen {
                    request_line: request_line.trim_end().to_owned(),
                    headers,
                    body: serde_json::from_slice(&body_bytes).unwrap(),
                });
                thread::sleep(delay);
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    const HOUR: i64 = 1_749_740_400; // 2025-06-12 15:00:00 UTC

    fn query() -> PyroscopeQuery {
        PyroscopeQuery {
            service: Some("chat \"api\"".into()),
            selector: Some("{namespace=\"prod\"}".into()),
            deployment_label: "deployment".into(),
            from: UtcTime(HOUR),
            to: UtcTime(HOUR + 2 * 3_600),
            step_seconds: 3_600,
        }
    }

    fn options() -> PyroscopeOptions {
        PyroscopeOptions {
            basic_auth: Some(("me".into(), Secret("s3cret".into()))),
            tenant: Some("team-a".into()),
            headers: vec![("X-Extra".into(), Secret("token".into()))],
            retries: 2,
            backoff: Duration::from_millis(1),
            ..PyroscopeOptions::default()
        }
    }

    /// Points at the two hours' query points (H + 3595 s, H + 7195 s), as Pyroscope answers.
    fn answer() -> String {
        let first = (HOUR + 3_595) * 1_000;
        let second = (HOUR + 7_195) * 1_000;
        serde_json::json!({"series": [
            {"labels": [
                {"name": "deployment", "value": "messages-production"},
                {"name": "service_name", "value": "chat"},
                {"name": "feature", "value": "messaging"},
                {"name": "feature_id", "value": "1"},
                {"name": "endpoint", "value": "create_message"}],
             "points": [{"value": 1.5e9, "timestamp": first.to_string()},
                        {"value": 2.5e9, "timestamp": second.to_string()}]},
            {"labels": [{"name": "service_name", "value": "chat"}],
             "points": [{"value": 7.0, "timestamp": second}]}
        ]})
        .to_string()
    }

    fn ok() -> (u16, String, Duration) {
        (200, answer(), Duration::ZERO)
    }

    fn expected() -> Vec<LabeledCpu> {
        let row = |hour: i64, deployment: &str, labeled: bool, cpu_ns| LabeledCpu {
            step_start: UtcTime(HOUR + hour * 3_600),
            deployment: deployment.into(),
            feature: labeled.then(|| "messaging".into()),
            feature_id: labeled.then_some(1),
            endpoint: labeled.then(|| "create_message".into()),
            cpu_ns,
            samples: 0,
            requests: None,
        };
        vec![
            row(0, "messages-production", true, 1_500_000_000),
            row(1, "chat", false, 7),
            row(1, "messages-production", true, 2_500_000_000),
        ]
    }

    #[test]
    fn asks_select_series_and_maps_points_to_their_hours() {
        let (url, seen) = server(vec![ok()]);
        let client = PyroscopeClient::new(&format!("{url}/"), options()).unwrap();
        assert_eq!(client.cpu(&query()).unwrap(), expected());
        let seen = seen.lock().unwrap();
        let request = &seen[0];
        assert_eq!(
            request.request_line,
            "POST /querier.v1.QuerierService/SelectSeries HTTP/1.1"
        );
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(request.header("Connect-Protocol-Version"), Some("1"));
        assert_eq!(request.header("Authorization"), Some("Basic bWU6czNjcmV0"));
        assert_eq!(request.header("X-Scope-OrgID"), Some("team-a"));
        assert_eq!(request.header("X-Extra"), Some("token"));
        assert_eq!(
            request.body,
            serde_json::json!({
                "profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                "labelSelector": "{service_name=\"chat \\\"api\\\"\",namespace=\"prod\"}",
                // The first point sums (H - 5 s, H + 3595 s]: the uploads of H .. H + 3590 s.
                "start": (HOUR + 3_595) * 1_000,
                "end": (HOUR + 7_195) * 1_000,
                "groupBy": ["deployment", "service_name", "feature", "feature_id", "endpoint"],
                "step": 3_600,
                "aggregation": "TIME_SERIES_AGGREGATION_TYPE_SUM",
            })
        );
    }

    #[test]
    fn a_refusal_is_not_retried_and_names_url_and_status() {
        let (url, seen) = server(vec![
            (401, "no such tenant ".repeat(100), Duration::ZERO),
            ok(),
        ]);
        let error = PyroscopeClient::new(&url, options())
            .unwrap()
            .cpu(&query())
            .unwrap_err();
        assert_eq!(error.status, Some(401));
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "Pyroscope {url}/querier.v1.QuerierService/SelectSeries answered HTTP 401: no such tenant"
            )),
            "{text}"
        );
        assert!(text.ends_with("...") && text.len() < 700, "{text}");
        assert!(!text.contains("s3cret") && !text.contains("bWU6"));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn overload_and_server_errors_are_retried() {
        let (url, seen) = server(vec![
            (429, "slow down".into(), Duration::ZERO),
            (503, "unavailable".into(), Duration::ZERO),
            ok(),
        ]);
        let client = PyroscopeClient::new(&url, options()).unwrap();
        assert_eq!(client.cpu(&query()).unwrap(), expected());
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn retries_are_bounded() {
        let (url, seen) = server(vec![(500, "boom".into(), Duration::ZERO); 3]);
        let error = PyroscopeClient::new(&url, options())
            .unwrap()
            .cpu(&query())
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("HTTP 500: boom (after 3 attempts)"),
            "{error}"
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_slow_server_hits_the_timeout() {
        let (url, _seen) = server(vec![(200, answer(), Duration::from_secs(5))]);
        let options = PyroscopeOptions {
            timeout: Duration::from_millis(200),
            retries: 0,
            ..options()
        };
        let error = PyroscopeClient::new(&url, options)
            .unwrap()
            .cpu(&query())
            .unwrap_err();
        assert_eq!(error.status, None);
        assert!(error.to_string().contains("timeout"), "{error}");
    }

    #[test]
    fn connection_errors_are_retried_then_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = PyroscopeClient::new(&url, options())
            .unwrap()
            .cpu(&query())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("Pyroscope {url}/querier")),
            "{error}"
        );
        assert!(error.ends_with("(after 3 attempts)"), "{error}");
    }

    #[test]
    fn options_and_urls() {
        let vars = |name: &str| match name {
            "FEATGEN_PYROSCOPE_USER" => Some("u".to_owned()),
            "FEATGEN_PYROSCOPE_PASSWORD" => Some("p".to_owned()),
            "FEATGEN_PYROSCOPE_HEADERS" => Some("Authorization=Bearer x, X-A=b".to_owned()),
            _ => None,
        };
        let options = PyroscopeOptions::from_vars(vars).unwrap();
        assert_eq!(options.basic_auth, Some(("u".into(), Secret("p".into()))));
        assert_eq!(options.headers.len(), 2);
        assert!(!format!("{options:?}").contains("Bearer"));
        let (base, credentials) = split_url("https://me:pw@host:4040/prefix/").unwrap();
        assert_eq!(base, "https://host:4040/prefix");
        assert_eq!(credentials, Some(("me".into(), Secret("pw".into()))));
        assert!(split_url("host:4040").is_err());
        let mut bad = query();
        bad.from = UtcTime(HOUR + 1);
        assert!(PyroscopeClient::request_body(&bad).is_err());
        bad = query();
        bad.selector = Some("namespace=prod".into());
        assert!(PyroscopeClient::request_body(&bad).is_err());
    }
}

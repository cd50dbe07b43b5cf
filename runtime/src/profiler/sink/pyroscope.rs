//! The Grafana Pyroscope sinks: the push API (Connect, protobuf) and the legacy `/ingest`.
//!
//! Push sends one `PushRequest` per interval whose single series carries `__name__=process_cpu`,
//! `service_name` and the static labels, and whose gzip pprof carries the per-sample labels
//! (`feature`, `endpoint`, ...), which the server turns into series labels. `/ingest` has no
//! per-sample labels, so it sends one folded body per label set with the labels in `name`.

use super::{SendError, Sink};
use crate::profiler::proto::{LabelPair, PushRequest, RawProfileSeries, RawSample};
use crate::profiler::pyroscope_destination::{Protocol, Pyroscope, crypto_provider};
use crate::profiler::report::{Report, unix_nanos};
use prost::Message;
use std::time::SystemTime;

/// Longest error body kept in `last_error`.
const ERROR_BODY_LIMIT: u64 = 512;

/// Sends reports to a Pyroscope server.
pub(crate) struct PyroscopeSink {
    agent: ureq::Agent,
    config: Pyroscope,
    service_name: String,
    static_labels: Vec<(String, String)>,
    /// The sampling rate in Hz, for `/ingest`'s `sampleRate`.
    hz: u32,
    /// For `/ingest`: the report being sent (its window start) and how many of its series the
    /// server already accepted, so that a retry does not send them twice.
    ingest_progress: Option<(SystemTime, usize)>,
}

impl PyroscopeSink {
    /// A sink for `config`; `static_labels` are added to every series.
    pub(crate) fn new(
        config: Pyroscope,
        service_name: String,
        static_labels: Vec<(String, String)>,
        hz: u32,
    ) -> PyroscopeSink {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(roots) = &config.root_certificates {
            // Replaces the default webpki roots (see `Pyroscope::root_certificate_pem`).
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots.certificates));
        }
        let provider = crypto_provider();
        if let Some(provider) = &provider {
            tls = tls.unversioned_rustls_crypto_provider(provider.clone());
        }
        let mut agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .tls_config(tls.build())
            // Statuses are classified below (retry 429/5xx, reject other 4xx).
            .http_status_as_error(false)
            .user_agent(concat!("featgen/", env!("CARGO_PKG_VERSION")));
        if provider.is_none() {
            // Only `http://` gets here (`start` requires a provider for HTTPS); ureq would
            // panic on a redirect to HTTPS, so none is followed: a 3xx is a rejected send.
            agent = agent.max_redirects(0);
        }
        let agent = agent.build().new_agent();
        PyroscopeSink {
            agent,
            config,
            service_name,
            static_labels,
            hz,
            ingest_progress: None,
        }
    }

    /// Adds authentication and configured headers. Their values never appear in errors.
    fn authorize<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some((user, password)) = &self.config.basic_auth {
            request = request.header("Authorization", basic_auth(user, password.expose()));
        }
        if let Some(tenant) = &self.config.tenant_id {
            request = request.header("X-Scope-OrgID", tenant);
        }
        for (name, value) in &self.config.headers {
            request = request.header(name, value.expose());
        }
        request
    }

    fn push(&self, report: &Report) -> Result<(), SendError> {
        let mut labels = vec![
            LabelPair {
                name: "__name__".into(),
                value: "process_cpu".into(),
            },
            LabelPair {
                name: "service_name".into(),
                value: self.service_name.clone(),
            },
        ];
        labels.extend(self.static_labels.iter().map(|(name, value)| LabelPair {
            name: name.clone(),
            value: value.clone(),
        }));
        let body = PushRequest {
            series: vec![RawProfileSeries {
                labels,
                samples: vec![RawSample {
                    raw_profile: report.pprof_gz.clone(),
                    id: uuid_v4(),
                }],
            }],
        }
        .encode_to_vec();
        let request = self
            .agent
            .post(format!("{}/push.v1.PusherService/Push", self.config.url))
            .header("Content-Type", "application/proto")
            .header("Connect-Protocol-Version", "1");
        classify(self.authorize(request).send(&body[..]))
    }

    fn ingest(&mut self, report: &Report) -> Result<(), SendError> {
        let done = match self.ingest_progress {
            Some((start, done)) if start == report.start => done,
            _ => 0,
        };
        let seconds = |time: SystemTime| (unix_nanos(time) / 1_000_000_000).to_string();
        for (index, series) in report.folded.iter().enumerate().skip(done) {
            let labels: Vec<String> = series
                .labels
                .iter()
                .map(|(name, value)| (*name, value.as_ref()))
                .chain(
                    self.static_labels
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                )
                .map(|(name, value)| format!("{name}={}", ingest_label_value(value)))
                .collect();
            let name = format!("{}.cpu{{{}}}", self.service_name, labels.join(","));
            let request = self
                .agent
                .post(format!("{}/ingest", self.config.url))
                .query("name", &name)
                .query("from", seconds(report.start))
                .query("until", seconds(report.end))
                .query("format", "folded")
                .query("sampleRate", self.hz.to_string())
                .query("spyName", "featgen")
                .header("Content-Type", "text/plain");
            classify(self.authorize(request).send(series.body.as_bytes()))?;
            self.ingest_progress = Some((report.start, index + 1));
        }
        Ok(())
    }
}

impl Sink for PyroscopeSink {
    fn send(&mut self, report: &Report) -> Result<(), SendError> {
        match self.config.protocol {
            Protocol::Push => self.push(report),
            Protocol::Ingest => self.ingest(report),
        }
    }
}

/// Maps an HTTP outcome to success, retry (transport errors, 408, 429, 5xx) or rejection.
fn classify(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(), SendError> {
    let mut response = result.map_err(|err| SendError::Retry(err.to_string()))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    // The first ERROR_BODY_LIMIT bytes, whatever the body's length (a limited read_to_string
    // fails on a longer body and left "HTTP 500: ").
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(response.body_mut().as_reader(), ERROR_BODY_LIMIT + 1),
        &mut body,
    );
    let cut = body.len() as u64 > ERROR_BODY_LIMIT;
    body.truncate(ERROR_BODY_LIMIT as usize);
    let body = String::from_utf8_lossy(&body);
    let message = format!(
        "HTTP {status}: {}{}",
        body.trim(),
        if cut { "…" } else { "" }
    );
    if status == 408 || status == 429 || status >= 500 {
        Err(SendError::Retry(message))
    } else {
        Err(SendError::Reject(message))
    }
}

/// `/ingest` label values cannot contain `,` or `}` and are not escaped: braces become
/// parentheses (route paths such as `/users/{id}`) and commas semicolons.
fn ingest_label_value(value: &str) -> String {
    value.replace('{', "(").replace('}', ")").replace(',', ";")
}

/// The `Authorization` value of HTTP Basic authentication.
fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut encoded = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let triple = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                encoded.push(char::from(
                    ALPHABET[(triple >> (18 - 6 * position) & 63) as usize],
                ));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

/// A random (version 4) UUID, the upload id Pyroscope expects.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: writes at most 16 bytes into `bytes`.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled != 16 {
        // Uniqueness, not secrecy, is what matters: fall back to the clock and a counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&unix_nanos(SystemTime::now()).to_ne_bytes());
        bytes[8..].copy_from_slice(&(count ^ u64::from(std::process::id())).to_ne_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_matches_rfc_7617_example() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let (a, b) = (uuid_v4(), uuid_v4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    fn answer(status: u16, body: &str) -> Result<(), SendError> {
        let response = ureq::http::Response::builder()
            .status(status)
            .body(ureq::Body::builder().data(body.to_owned()))
            .unwrap();
        classify(Ok(response))
    }

    #[test]
    fn error_bodies_are_kept_and_long_ones_truncated() {
        let Err(SendError::Retry(short)) = answer(500, "database down\n") else {
            panic!("a 500 is retried");
        };
        assert_eq!(short, "HTTP 500: database down");
        let long = "x".repeat(5000);
        let Err(SendError::Reject(message)) = answer(400, &long) else {
            panic!("a 400 is rejected");
        };
        let expected = format!("HTTP 400: {}…", "x".repeat(ERROR_BODY_LIMIT as usize));
        assert_eq!(message, expected);
    }

    #[test]
    fn ingest_values_lose_only_forbidden_characters() {
        assert_eq!(
            ingest_label_value("POST /users/{id},x"),
            "POST /users/(id);x"
        );
    }
}

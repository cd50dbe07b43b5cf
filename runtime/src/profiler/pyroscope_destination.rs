//! A Grafana Pyroscope destination as a service configures it (URL, protocol, credentials,
//! trusted roots, from code or from `FEATGEN_PROFILER_PYROSCOPE_*`), and the rustls crypto
//! provider its HTTPS uses. Built with the `pyroscope` feature; the sender is
//! [`super::sink::pyroscope`].
//!
//! The crypto provider is the service's choice, not featgen's: the process default the service
//! installed (`CryptoProvider::install_default`, e.g. with aws-lc-rs or ring), else the ring
//! provider when featgen's `pyroscope-ring` feature is on. With neither, an `https://`
//! destination fails [`super::ProfilerBuilder::start`] with [`Error::Config`] saying so.

use super::config::{Error, pairs};
use rustls::crypto::CryptoProvider;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
    /// [`super::ProfilerBuilder::start`] fail with [`Error::Config`]; the certificate never
    /// appears in `Debug` output or errors.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Pyroscope {
        self.root_certificates = Some(RootCertificates {
            pem: pem.into(),
            certificates: Vec::new(),
        });
        self
    }

    /// The destination the `FEATGEN_PROFILER_PYROSCOPE_*` variables describe: `url`, and the
    /// other variables as (name without `FEATGEN_PROFILER_`, value) pairs.
    pub(crate) fn from_vars(
        url: String,
        settings: Vec<(String, String)>,
    ) -> Result<Pyroscope, Error> {
        let mut destination = Pyroscope::new(url);
        let (mut user, mut password) = (String::new(), None);
        for (key, value) in settings {
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
        Ok(destination)
    }

    /// Checks the URL, the root certificates and that HTTPS has a crypto provider, moves URL
    /// credentials to Basic auth and drops a trailing `/`.
    pub(super) fn validate(mut self) -> Result<Pyroscope, Error> {
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
        if self.url.starts_with("https://") {
            require_provider(&self.url, crypto_provider().as_ref())?;
        }
        Ok(self)
    }
}

/// The rustls crypto provider of the Pyroscope sinks: the process default the service
/// installed, else the one a featgen feature compiles in, else none (then only `http://`
/// destinations work).
pub(crate) fn crypto_provider() -> Option<Arc<CryptoProvider>> {
    CryptoProvider::get_default()
        .cloned()
        .or_else(built_in_provider)
}

/// The provider of the `pyroscope-ring` feature.
#[cfg(feature = "pyroscope-ring")]
fn built_in_provider() -> Option<Arc<CryptoProvider>> {
    Some(Arc::new(rustls::crypto::ring::default_provider()))
}

/// No provider is compiled in: the service installs one.
#[cfg(not(feature = "pyroscope-ring"))]
fn built_in_provider() -> Option<Arc<CryptoProvider>> {
    None
}

/// Fails when the HTTPS destination `url` (credentials already removed) has no `provider`,
/// saying how a service gives it one.
fn require_provider(url: &str, provider: Option<&Arc<CryptoProvider>>) -> Result<(), Error> {
    match provider {
        Some(_) => Ok(()),
        None => Err(Error::Config(format!(
            "the Pyroscope destination `{url}` needs a rustls crypto provider for HTTPS: install \
             the service's as the process default before `start()` (e.g. \
             `rustls::crypto::aws_lc_rs::default_provider().install_default()`), or enable \
             featgen's `pyroscope-ring` feature"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_without_a_crypto_provider_says_how_to_install_one() {
        let err = require_provider("https://pyro.example", None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`https://pyro.example`"), "{message}");
        assert!(message.contains("install_default()"), "{message}");
        assert!(message.contains("pyroscope-ring"), "{message}");
        let ring = Arc::new(rustls::crypto::ring::default_provider());
        assert!(require_provider("https://pyro.example", Some(&ring)).is_ok());
    }
}

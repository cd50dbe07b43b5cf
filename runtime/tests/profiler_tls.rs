//! The Pyroscope sink over HTTPS against a local rustls server whose certificate is signed by a
//! CA made at test time: trusted through `Pyroscope::root_certificate_pem` (or its environment
//! variable) the push arrives; without it the handshake fails, is counted and blocks nothing.
#![cfg(all(feature = "pyroscope", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::{Error, ProfilerBuilder, Pyroscope};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

/// A private CA and an HTTPS server on 127.0.0.1 presenting a certificate it signed.
struct TlsServer {
    ca_pem: String,
    server: Server,
}

/// What a service does before starting the profiler: installs its rustls crypto provider as the
/// process default, which the Pyroscope sink then uses (ring here: rcgen and the test server
/// use it already). Another test of this binary may have installed it first.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TlsServer {
    fn start() -> TlsServer {
        install_crypto_provider();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_cert =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap()
                .signed_by(&server_key, &ca)
                .unwrap();
        // The ring provider, the one the client side uses too, so no second crypto library.
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
        let config = Arc::new(config);
        let server = Server::serve_wrapped(
            TcpListener::bind("127.0.0.1:0").unwrap(),
            move |tcp| {
                let connection = rustls::ServerConnection::new(config.clone()).unwrap();
                rustls::StreamOwned::new(connection, tcp)
            },
            |_| Reply::OK,
        );
        TlsServer {
            ca_pem: ca.pem(),
            server,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.addr.port())
    }
}

/// Runs some attributed CPU under `builder`, stops, and checks that every profile reached the
/// server as a push request over TLS.
fn assert_pushed_over_tls(builder: ProfilerBuilder, tls: &TlsServer) {
    let profiler = builder.start().unwrap();
    workload(Duration::from_millis(300), Duration::ZERO);
    let stats = profiler.stop();
    assert_conserved(&stats);
    let sink = &stats.sinks[0];
    assert_eq!(sink.sink, "pyroscope-push");
    assert!(sink.profiles_sent >= 1, "{stats:#?}");
    assert_eq!(sink.send_failures, 0, "{stats:#?}");
    let requests: Vec<_> = tls.server.requests.try_iter().collect();
    assert_eq!(requests.len() as u64, sink.profiles_sent);
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/push.v1.PusherService/Push");
    }
}

#[test]
fn a_trusted_private_ca_lets_the_push_through() {
    let _serial = exclusive();
    let tls = TlsServer::start();
    let destination = Pyroscope::new(tls.url())
        .basic_auth("user", "secret")
        .root_certificate_pem(tls.ca_pem.clone());
    let debug = format!("{destination:?}");
    let body_line = tls.ca_pem.lines().nth(1).unwrap();
    assert!(
        !debug.contains("secret") && !debug.contains("CERTIFICATE") && !debug.contains(body_line),
        "Debug leaks a credential or the certificate: {debug}"
    );
    assert_pushed_over_tls(short_intervals().pyroscope(destination), &tls);
}

#[test]
fn the_ca_file_environment_variable_trusts_it_too() {
    let _serial = exclusive();
    let tls = TlsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem).unwrap();
    let builder = short_intervals()
        .from_vars([
            ("FEATGEN_PROFILER_PYROSCOPE_URL".to_owned(), tls.url()),
            (
                "FEATGEN_PROFILER_PYROSCOPE_CA_FILE".to_owned(),
                ca_file.display().to_string(),
            ),
        ])
        .unwrap();
    assert_pushed_over_tls(builder, &tls);

    let err = short_intervals()
        .from_vars([
            ("FEATGEN_PROFILER_PYROSCOPE_URL".to_owned(), tls.url()),
            (
                "FEATGEN_PROFILER_PYROSCOPE_CA_FILE".to_owned(),
                dir.path().join("missing.pem").display().to_string(),
            ),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("PYROSCOPE_CA_FILE"), "{err}");
}

#[test]
fn an_untrusted_server_fails_the_handshake_counted_without_blocking() {
    let _serial = exclusive();
    let tls = TlsServer::start();
    let profiler = short_intervals()
        .pyroscope(Pyroscope::new(tls.url()).timeout(Duration::from_millis(300)))
        .start()
        .unwrap();
    // The service keeps running and profiling while every upload fails.
    workload(Duration::from_millis(600), Duration::ZERO);
    let during = wait_for_stats(&profiler, "a failed handshake", |stats| {
        stats.sinks[0].send_failures >= 1
    });
    assert!(during.sinks[0].profiles_pending <= 4, "{during:#?}");
    let stopping = Instant::now();
    let stats = profiler.stop();
    // Not a speed check: stop must end at its shutdown timeout (500 ms) whatever the server
    // does; the generous bound only tells a hang from a slow, loaded machine.
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "stop took {:?}: it waited on the server instead of its shutdown timeout",
        stopping.elapsed()
    );
    assert_conserved(&stats);
    let sink = &stats.sinks[0];
    assert_eq!(sink.profiles_sent, 0, "{stats:#?}");
    assert!(sink.profiles_dropped.total() >= 1, "{stats:#?}");
    let error = sink.last_error.as_deref().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(
        tls.server.requests.try_recv().is_err(),
        "no request may pass an untrusted handshake"
    );
}

#[test]
fn an_invalid_certificate_fails_start_without_panicking() {
    let _serial = exclusive();
    let invalid: [&[u8]; 4] = [
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\n@@@ not base64 @@@\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        // Well-formed PEM around bytes that are no certificate.
        b"-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
    ];
    install_crypto_provider();
    for pem in invalid {
        let result = short_intervals()
            .pyroscope(Pyroscope::new("https://127.0.0.1:1").root_certificate_pem(pem))
            .start();
        let Err(Error::Config(message)) = result else {
            panic!("{pem:?} was accepted");
        };
        assert!(message.contains("root certificate"), "{message}");
        assert!(
            !message.contains("AAEC") && !message.contains("@@@"),
            "{message}"
        );
    }
}

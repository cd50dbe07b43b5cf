//! CPU shares to Datadog as DogStatsD gauges.
//!
//! Each share row becomes two gauges, `featgen.cpu_share` (the fraction of 1) and
//! `featgen.cpu_seconds`, tagged `deployment`, `feature`, `feature_group`, `team`, `tier` and
//! `endpoint`, and timestamped with the row's step (`|T<unix seconds>`, DogStatsD 1.3, Agent
//! 7.40+), so the Agent stores them at the hour they describe instead of aggregating them into
//! now. Lines are packed into datagrams of at most [`StatsdOptions::max_datagram`] bytes (the
//! Agent's 8 KiB buffer by default). Every distinct tag set is a billed custom metric, so
//! [`StatsdOptions::feature_level`] sends one series per feature instead (endpoints summed).
//!
//! Tag values are sanitized as Datadog does on intake, so what is sent is what is shown:
//! lowercase, characters other than letters, digits, `_ - : . /` replaced with `_`, at most 200
//! characters per tag. Unattributed CPU is tagged `feature:unattributed` and
//! `endpoint:unattributed`; other null fields are left out.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;

use crate::row::ShareRow;

/// The Agent's default DogStatsD buffer (`dogstatsd_buffer_size`).
pub const DEFAULT_MAX_DATAGRAM: usize = 8_192;
/// The longest tag (`key:value`) Datadog keeps.
const MAX_TAG: usize = 200;

/// How to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsdOptions {
    /// Largest datagram in bytes (the Agent's `dogstatsd_buffer_size`; keep it under the path
    /// MTU, e.g. 1432, when the Agent is across a network).
    pub max_datagram: usize,
    /// One series per (step, deployment, feature), endpoints summed, without the `endpoint`
    /// tag: far fewer custom metrics when there are thousands of endpoints.
    pub feature_level: bool,
}

impl Default for StatsdOptions {
    fn default() -> StatsdOptions {
        StatsdOptions {
            max_datagram: DEFAULT_MAX_DATAGRAM,
            feature_level: false,
        }
    }
}

/// Why gauges could not be sent.
#[derive(Debug)]
pub enum StatsdError {
    /// One metric line is longer than the datagram limit.
    LineTooLong {
        /// The line's length in bytes.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The address does not parse or resolve, or the socket failed.
    Io {
        /// The `--statsd` address.
        address: String,
        /// What failed.
        error: std::io::Error,
    },
}

impl fmt::Display for StatsdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsdError::LineTooLong { length, limit } => write!(
                f,
                "a DogStatsD line of {length} bytes exceeds the datagram limit of {limit} bytes; \
                 raise the limit"
            ),
            StatsdError::Io { address, error } => {
                write!(f, "cannot send DogStatsD datagrams to {address}: {error}")
            }
        }
    }
}

impl std::error::Error for StatsdError {}

/// What was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsdReport {
    /// Metric lines (two per series).
    pub metrics: usize,
    /// Datagrams.
    pub datagrams: usize,
    /// Bytes sent.
    pub bytes: usize,
}

/// Appends the tag `key:value`, sanitized as Datadog's intake does, after a `,` unless first.
fn push_tag(line: &mut String, key: &str, value: &str) {
    if !line.ends_with('#') {
        line.push(',');
    }
    let start = line.len();
    line.push_str(key);
    line.push(':');
    for c in value.chars() {
        if line.len() - start >= MAX_TAG {
            break;
        }
        line.push(match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-' | ':' | '.' | '/') => c,
            _ => '_',
        });
    }
}

/// One series: the fields that become tags, with its share and CPU.
struct Series<'a> {
    row: &'a ShareRow,
    endpoint: Option<Option<&'a str>>,
    share: f64,
    cpu_ns: u64,
}

impl Series<'_> {
    fn tags(&self) -> String {
        let row = self.row;
        let mut tags = String::from("#");
        push_tag(&mut tags, "deployment", &row.deployment);
        push_tag(
            &mut tags,
            "feature",
            row.feature.as_deref().unwrap_or("unattributed"),
        );
        for (key, value) in [
            ("feature_group", &row.feature_group),
            ("team", &row.team),
            ("tier", &row.tier),
        ] {
            if let Some(value) = value {
                push_tag(&mut tags, key, value);
            }
        }
        if let Some(endpoint) = self.endpoint {
            push_tag(&mut tags, "endpoint", endpoint.unwrap_or("unattributed"));
        }
        tags
    }
}

/// The series to send: one per row, or per (step, deployment, feature) when feature-level.
fn series<'a>(rows: &'a [ShareRow], feature_level: bool) -> Vec<Series<'a>> {
    if !feature_level {
        return rows
            .iter()
            .map(|row| Series {
                row,
                endpoint: Some(row.endpoint.as_deref()),
                share: row.percentage_of_cpu,
                cpu_ns: row.cpu_ns,
            })
            .collect();
    }
    let mut features: BTreeMap<_, Series<'a>> = BTreeMap::new();
    for row in rows {
        let key = (
            row.start_time,
            &row.deployment,
            row.feature_id,
            &row.feature,
        );
        let series = features.entry(key).or_insert(Series {
            row,
            endpoint: None,
            share: 0.0,
            cpu_ns: 0,
        });
        series.share += row.percentage_of_cpu;
        series.cpu_ns += row.cpu_ns;
    }
    features.into_values().collect()
}

/// The DogStatsD datagrams for `rows`, each at most `options.max_datagram` bytes, lines in row
/// order (feature-level: in (step, deployment, feature id, feature) order).
pub fn datagrams(rows: &[ShareRow], options: &StatsdOptions) -> Result<Vec<String>, StatsdError> {
    let mut datagrams = Vec::new();
    let mut current = String::new();
    let mut line = String::new();
    for series in series(rows, options.feature_level) {
        let tags = series.tags();
        let timestamp = series.row.start_time.unix();
        let cpu_seconds = series.cpu_ns as f64 / 1e9;
        for (name, value) in [
            ("featgen.cpu_share", series.share),
            ("featgen.cpu_seconds", cpu_seconds),
        ] {
            line.clear();
            let _ = write!(line, "{name}:{value}|g|{tags}|T{timestamp}");
            if line.len() > options.max_datagram {
                return Err(StatsdError::LineTooLong {
                    length: line.len(),
                    limit: options.max_datagram,
                });
            }
            if !current.is_empty() && current.len() + 1 + line.len() > options.max_datagram {
                datagrams.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&line);
        }
    }
    if !current.is_empty() {
        datagrams.push(current);
    }
    Ok(datagrams)
}

/// Sends the gauges of `rows` to `address`: `HOST:PORT` over UDP (the Agent listens on
/// `127.0.0.1:8125`), or `unix:///path/dsd.socket` for the Agent's Unix datagram socket.
pub fn send(
    address: &str,
    rows: &[ShareRow],
    options: &StatsdOptions,
) -> Result<StatsdReport, StatsdError> {
    let datagrams = datagrams(rows, options)?;
    let io = |error| StatsdError::Io {
        address: address.to_owned(),
        error,
    };
    let report = StatsdReport {
        metrics: datagrams.iter().map(|d| d.lines().count()).sum(),
        datagrams: datagrams.len(),
        bytes: datagrams.iter().map(String::len).sum(),
    };
    if let Some(path) = address.strip_prefix("unix://") {
        let socket = UnixDatagram::unbound().map_err(io)?;
        for datagram in &datagrams {
            socket.send_to(datagram.as_bytes(), path).map_err(io)?;
        }
    } else {
        let target = std::net::ToSocketAddrs::to_socket_addrs(address)
            .map_err(io)?
            .next()
            .ok_or_else(|| io(std::io::Error::other("the address resolves to nothing")))?;
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).map_err(io)?;
        socket.connect(target).map_err(io)?;
        for datagram in &datagrams {
            socket.send(datagram.as_bytes()).map_err(io)?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::row::UNATTRIBUTED_ID;
    use crate::time::UtcTime;

    fn row(feature: Option<&str>, endpoint: Option<&str>, share: f64, cpu_ns: u64) -> ShareRow {
        ShareRow {
            start_time: UtcTime(1_749_740_400),
            end_time: UtcTime(1_749_744_000),
            deployment: "Messages-Production".into(),
            feature: feature.map(Into::into),
            endpoint: endpoint.map(Into::into),
            percentage_of_cpu: share,
            feature_id: if feature.is_some() {
                1
            } else {
                UNATTRIBUTED_ID
            },
            feature_group: feature.map(|_| "chat".into()),
            team: feature.map(|_| "msgs team".into()),
            tier: feature.map(|_| "S".into()),
            cpu_ns,
            samples: 1,
            requests: None,
        }
    }

    fn rows() -> Vec<ShareRow> {
        vec![
            row(
                Some("messaging"),
                Some("create_message"),
                0.25,
                1_500_000_000,
            ),
            row(
                Some("messaging"),
                Some("GET /messages|{id}"),
                0.5,
                3_000_000_000,
            ),
            row(None, None, 0.25, 1_500_000_000),
        ]
    }

    /// Receives `count` datagrams sent by `send` to a real UDP socket on loopback.
    fn received(options: &StatsdOptions, count: usize) -> Vec<String> {
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let report = send(&address, &rows(), options).unwrap();
        assert_eq!(report.datagrams, count);
        let mut buffer = vec![0; 65_536];
        (0..count)
            .map(|_| {
                let length = listener.recv(&mut buffer).unwrap();
                String::from_utf8(buffer[..length].to_vec()).unwrap()
            })
            .collect()
    }

    const TAGS: &str = "#deployment:messages-production,feature:messaging,feature_group:chat,team:msgs_team,tier:s";

    #[test]
    fn sends_two_gauges_per_row_packed_into_datagrams() {
        let datagrams = received(&StatsdOptions::default(), 1);
        assert_eq!(
            datagrams[0],
            [
                format!("featgen.cpu_share:0.25|g|{TAGS},endpoint:create_message|T1749740400"),
                format!("featgen.cpu_seconds:1.5|g|{TAGS},endpoint:create_message|T1749740400"),
                format!("featgen.cpu_share:0.5|g|{TAGS},endpoint:get_/messages__id_|T1749740400"),
                format!("featgen.cpu_seconds:3|g|{TAGS},endpoint:get_/messages__id_|T1749740400"),
                "featgen.cpu_share:0.25|g|#deployment:messages-production,feature:unattributed,endpoint:unattributed|T1749740400".into(),
                "featgen.cpu_seconds:1.5|g|#deployment:messages-production,feature:unattributed,endpoint:unattributed|T1749740400".into(),
            ]
            .join("\n")
        );
    }

    #[test]
    fn splits_datagrams_at_the_size_limit() {
        let one = datagrams(&rows(), &StatsdOptions::default())
            .unwrap()
            .remove(0);
        let lines: Vec<&str> = one.lines().collect();
        // Room for two lines (with the newline between them) per datagram, never three.
        let limit = lines
            .chunks(2)
            .map(|pair| pair[0].len() + 1 + pair[1].len())
            .max()
            .unwrap();
        let options = StatsdOptions {
            max_datagram: limit,
            ..StatsdOptions::default()
        };
        let datagrams = received(&options, 3);
        assert_eq!(datagrams.join("\n"), one);
        for datagram in &datagrams {
            assert!(datagram.len() <= limit);
            assert_eq!(datagram.lines().count(), 2);
        }
        let error = datagrams_error(10);
        assert!(error.starts_with("a DogStatsD line of "), "{error}");
    }

    fn datagrams_error(limit: usize) -> String {
        let options = StatsdOptions {
            max_datagram: limit,
            feature_level: false,
        };
        datagrams(&rows(), &options).unwrap_err().to_string()
    }

    #[test]
    fn feature_level_sums_endpoints() {
        let options = StatsdOptions {
            feature_level: true,
            ..StatsdOptions::default()
        };
        let datagrams = received(&options, 1);
        assert_eq!(
            datagrams[0],
            [
                "featgen.cpu_share:0.25|g|#deployment:messages-production,feature:unattributed|T1749740400".to_owned(),
                "featgen.cpu_seconds:1.5|g|#deployment:messages-production,feature:unattributed|T1749740400".to_owned(),
                format!("featgen.cpu_share:0.75|g|{TAGS}|T1749740400"),
                format!("featgen.cpu_seconds:4.5|g|{TAGS}|T1749740400"),
            ]
            .join("\n")
        );
    }

    #[test]
    fn tags_are_sanitized_and_bounded() {
        let mut long = row(Some("f"), Some(&"é".repeat(500)), 1.0, 0);
        long.deployment = "a,b|c#d\ne".into();
        let datagram = datagrams(&[long], &StatsdOptions::default())
            .unwrap()
            .remove(0);
        let first = datagram.lines().next().unwrap();
        assert!(first.starts_with("featgen.cpu_share:1|g|#deployment:a_b_c_d_e,feature:f,"));
        let tags = first.split('|').nth(2).unwrap();
        let endpoint = tags
            .split(',')
            .find(|t| t.starts_with("endpoint:"))
            .unwrap();
        assert_eq!(endpoint.len(), MAX_TAG);
    }

    #[test]
    fn nothing_to_send_sends_nothing() {
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let report = send(&address, &[], &StatsdOptions::default()).unwrap();
        assert_eq!(report, StatsdReport::default());
        let error = send("localhost", &rows(), &StatsdOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("cannot send DogStatsD datagrams to localhost: "),
            "{error}"
        );
    }
}

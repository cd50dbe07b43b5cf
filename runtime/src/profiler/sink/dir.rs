//! The local directory sink: one gzip pprof file per interval.
//!
//! Files are named `<service>.<start ms>-<end ms>.<pid>.<n>.pb.gz` (Unix milliseconds of the
//! window, the process id and a per-process counter, so that the replicas of a deployment, which
//! cut their windows on the same aligned boundaries, can share one directory without
//! overwriting each other) and written under a temporary name first, so a reader never sees a
//! partial file. `go tool pprof -tags FILE` lists their labels.
//!
//! Each file stands alone: besides the route labels, every sample carries the series labels
//! that Pyroscope would keep beside the profile (`service_name` and the static labels, such as
//! `deployment`), so that files collected from many processes can be grouped by deployment
//! (`featgen shares --profiles DIR`).

use super::{SendError, Sink};
use crate::profiler::proto;
use crate::profiler::report::Report;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use prost::Message;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

/// Writes each report to a file in `dir`.
pub(crate) struct DirSink {
    dir: PathBuf,
    service_name: String,
    /// `service_name` and the static labels, written on every sample.
    series_labels: Vec<(String, String)>,
}

impl DirSink {
    /// A sink writing into `dir`, labeling samples with `service_name` and `static_labels`.
    pub(crate) fn new(
        dir: PathBuf,
        service_name: String,
        static_labels: &[(String, String)],
    ) -> DirSink {
        let mut series_labels = vec![("service_name".to_owned(), service_name.clone())];
        series_labels.extend_from_slice(static_labels);
        DirSink {
            dir,
            service_name,
            series_labels,
        }
    }

    /// The report's profile with the series labels added to every sample.
    ///
    /// The report's profile is shared with the Pyroscope sinks, which send these labels as
    /// series labels instead; re-encoding one profile per interval here costs a few
    /// milliseconds on the sink's own thread.
    fn standalone(&self, pprof_gz: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut raw = Vec::new();
        GzDecoder::new(pprof_gz).read_to_end(&mut raw)?;
        let mut profile = proto::Profile::decode(raw.as_slice()).map_err(std::io::Error::other)?;
        let mut string = |text: &str| match profile.string_table.iter().position(|s| s == text) {
            Some(index) => index as i64,
            None => {
                profile.string_table.push(text.to_owned());
                profile.string_table.len() as i64 - 1
            }
        };
        let labels: Vec<proto::Label> = self
            .series_labels
            .iter()
            .map(|(key, value)| proto::Label {
                key: string(key),
                str: string(value),
                ..proto::Label::default()
            })
            .collect();
        for sample in &mut profile.sample {
            sample.label.extend_from_slice(&labels);
        }
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&profile.encode_to_vec())?;
        gz.finish()
    }
}

impl Sink for DirSink {
    fn send(&mut self, report: &Report) -> Result<(), SendError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let millis = |time: std::time::SystemTime| {
            time.duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis())
        };
        let name = format!(
            "{}.{}-{}.{}.{}.pb.gz",
            self.service_name,
            millis(report.start),
            millis(report.end),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        // The profile was built in this process: failing to re-read it is a bug, not a retry.
        let bytes = self
            .standalone(&report.pprof_gz)
            .map_err(|err| SendError::Reject(format!("cannot label the profile: {err}")))?;
        let path = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        // A full or read-only disk may recover: retry until the profile expires.
        let retry =
            |err: std::io::Error| SendError::Retry(format!("{}: {err}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(retry)?;
        std::fs::write(&partial, &bytes).map_err(retry)?;
        std::fs::rename(&partial, &path).map_err(retry)
    }
}

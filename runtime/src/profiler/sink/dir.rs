//! The local directory sink: one gzip pprof file per interval.
//!
//! Files are named `<service>.<start ms>-<end ms>.<pid>.<n>.pb.gz` (Unix milliseconds of the
//! window, the process id and a per-process counter, so that the replicas of a deployment, which
//! cut their windows on the same aligned boundaries, can share one directory without
//! overwriting each other) and written under a temporary name first, so a reader never sees a
//! partial file. `go tool pprof -tags FILE` lists their labels.

use super::{SendError, Sink};
use crate::profiler::report::Report;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

/// Writes each report to a file in `dir`.
pub(crate) struct DirSink {
    pub dir: PathBuf,
    pub service_name: String,
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
        let path = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        // A full or read-only disk may recover: retry until the profile expires.
        let retry =
            |err: std::io::Error| SendError::Retry(format!("{}: {err}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(retry)?;
        std::fs::write(&partial, &report.pprof_gz).map_err(retry)?;
        std::fs::rename(&partial, &path).map_err(retry)
    }
}

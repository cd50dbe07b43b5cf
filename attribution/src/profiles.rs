//! A directory of pprof files to CPU per (step, deployment, label set).
//!
//! Files are found recursively and read in path order, one at a time per worker thread (so
//! memory stays bounded by one profile per thread, whatever the directory holds); sums are
//! integers, so the result does not depend on which thread read which file. Hidden files and
//! directories are skipped: the profiler's directory sink writes `.NAME.partial` first and
//! renames it when complete.
//!
//! Nothing is dropped silently. A file is read, or skipped and counted by reason in
//! [`ReadSummary`]: profiles of something other than CPU always; damaged files (corrupt or
//! truncated gzip, decompression bombs, malformed protobuf, no window) only when asked, and
//! otherwise the run fails naming the first one. CPU whose samples name no deployment is
//! counted too, with its nanoseconds.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use foldhash::HashMap;

use crate::period::Period;
use crate::pprof::{Contents, Damage, LabelNames, ProfileCpu, Reader};
use crate::row::LabeledCpu;
use crate::time::UtcTime;

/// How to read a directory of profiles.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Label names (the deployment label).
    pub labels: LabelNames,
    /// The steps to keep.
    pub period: Period,
    /// Skip (and count) damaged files instead of failing on the first one.
    pub skip_damaged: bool,
    /// Worker threads; 0 for one per available CPU.
    pub threads: usize,
}

/// Files skipped for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// How many.
    pub files: u64,
    /// The first in path order, and what was wrong with it.
    pub first: Option<(PathBuf, String)>,
}

/// CPU that could not be given a deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Homeless {
    /// Files with such samples.
    pub files: u64,
    /// Their CPU in the period, ns.
    pub cpu_ns: u64,
    /// The first such file in path order.
    pub first: Option<PathBuf>,
}

/// What a read found, besides the CPU itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Files found under the directory.
    pub files: u64,
    /// CPU profiles read.
    pub profiles: u64,
    /// Of those, profiles whose window lies wholly outside the period.
    pub outside_period: u64,
    /// Files not counted, by reason.
    pub skipped: BTreeMap<&'static str, Skipped>,
    /// CPU in the period whose samples carry neither the deployment label nor `service_name`.
    pub no_deployment: Homeless,
}

impl ReadSummary {
    /// One line per thing the user should know was not counted, for stderr.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .skipped
            .iter()
            .map(|(reason, skipped)| {
                let first = skipped
                    .first
                    .as_ref()
                    .map_or(String::new(), |(path, detail)| {
                        format!(" (first: {}: {detail})", path.display())
                    });
                format!("skipped {} file(s): {reason}{first}", skipped.files)
            })
            .collect();
        let homeless = &self.no_deployment;
        if homeless.files > 0 {
            warnings.push(format!(
                "{} ns of CPU in {} file(s) not counted: samples carry neither the deployment label nor `service_name` (first: {}); pass --deployment-label or label the profiles",
                homeless.cpu_ns,
                homeless.files,
                homeless.first.as_deref().unwrap_or(Path::new("")).display()
            ));
        }
        warnings
    }
}

/// Why a directory could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The directory or a file in it could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// A file is damaged (and damaged files are not skipped).
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        damage: Damage,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            ReadError::Damaged { path, damage } => write!(
                f,
                "{}: {damage} (remove or repair the file, or pass --skip-damaged to count and skip such files)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// CPU read from a directory, with what was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilesRead {
    /// CPU per (step, deployment, feature, feature_id, endpoint), in that order.
    pub cpu: Vec<LabeledCpu>,
    /// Counts and skipped files.
    pub summary: ReadSummary,
}

/// Reads every profile under `dir` (see the module documentation).
pub fn read_dir(dir: &Path, options: &ReadOptions) -> Result<ProfilesRead, ReadError> {
    let files = find_files(dir)?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let first_error = AtomicUsize::new(usize::MAX);
    let errors = Mutex::new(Vec::new());
    let workers: Vec<Worker> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut worker = Worker::new(options);
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        // Files are claimed in order: once one fails, every file before it has
                        // been claimed, so the error reported is always the first in order.
                        if index >= files.len() || index > first_error.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Err(error) = worker.file(index, &files[index]) {
                            first_error.fetch_min(index, Ordering::Relaxed);
                            errors
                                .lock()
                                .unwrap_or_else(|poisoned| poisoned.into_inner())
                                .push((index, error));
                        }
                    }
                    worker
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut errors = errors
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(at) = (0..errors.len()).min_by_key(|&at| errors[at].0) {
        return Err(errors.swap_remove(at).1);
    }
    let mut totals = BTreeMap::new();
    let mut skipped: BTreeMap<&'static str, WorkerSkipped> = BTreeMap::new();
    let mut homeless = WorkerHomeless::default();
    let mut summary = ReadSummary {
        files: files.len() as u64,
        ..ReadSummary::default()
    };
    for worker in workers {
        let worker = worker.tally;
        for (key, sums) in worker.keyed_totals() {
            totals.entry(key).or_insert_with(Totals::default).add(&sums);
        }
        summary.profiles += worker.summary.profiles;
        summary.outside_period += worker.summary.outside_period;
        for (reason, theirs) in worker.skipped {
            let ours = skipped.entry(reason).or_default();
            ours.files += theirs.files;
            ours.first = min_first(ours.first.take(), theirs.first);
        }
        homeless.files += worker.homeless.files;
        homeless.cpu_ns += worker.homeless.cpu_ns;
        homeless.first = min_first(homeless.first.take(), worker.homeless.first);
    }
    summary.skipped = skipped
        .into_iter()
        .map(|(reason, skipped)| {
            let first = skipped.first.map(|(_, first)| first);
            (
                reason,
                Skipped {
                    files: skipped.files,
                    first,
                },
            )
        })
        .collect();
    summary.no_deployment = Homeless {
        files: homeless.files,
        cpu_ns: homeless.cpu_ns,
        first: homeless.first.map(|(_, path)| path),
    };
    let cpu = totals
        .into_iter()
        .map(
            |((step_start, deployment, feature, feature_id, endpoint), sums)| LabeledCpu {
                step_start,
                deployment,
                feature,
                feature_id,
                endpoint,
                cpu_ns: sums.cpu,
                samples: sums.samples,
                requests: sums.requests,
            },
        )
        .collect();
    Ok(ProfilesRead { cpu, summary })
}

/// Of two "first file" candidates (file index first), the earlier.
fn min_first<T: Ord>(a: Option<(usize, T)>, b: Option<(usize, T)>) -> Option<(usize, T)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Every regular, non-hidden file under `dir`, sorted by path.
fn find_files(dir: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReadError::Io { path, error }
    };
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let entry = entry.map_err(io(&current))?;
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            let file_type = entry.file_type().map_err(io(&path))?;
            // Symbolic links are followed to files only, so a link cannot make a cycle.
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file()
                || file_type.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file())
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

type Key = (UtcTime, String, Option<String>, Option<i64>, Option<String>);

/// A worker's key: [`Key`] with the label values interned.
type WorkerKey = (UtcTime, u32, Option<u32>, Option<i64>, Option<u32>);

/// Sums of one key.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    cpu: u64,
    samples: u64,
    requests: Option<u64>,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.cpu += other.cpu;
        self.samples += other.samples;
        self.requests = match (self.requests, other.requests) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }
}

/// Label values seen by one worker, numbered: a value already seen is looked up, not copied.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.into());
        self.ids.insert(value.into(), id);
        id
    }

    fn value(&self, id: u32) -> String {
        self.values[id as usize].to_string()
    }
}

/// One thread's share of the work.
struct Worker<'a> {
    options: &'a ReadOptions,
    reader: Reader,
    tally: Tally,
}

/// What one worker has counted.
#[derive(Default)]
struct Tally {
    interner: Interner,
    totals: HashMap<WorkerKey, Totals>,
    summary: ReadSummary,
    skipped: BTreeMap<&'static str, WorkerSkipped>,
    homeless: WorkerHomeless,
}

/// Like [`Skipped`], with the file's index to find the first across threads.
#[derive(Default)]
struct WorkerSkipped {
    files: u64,
    first: Option<(usize, (PathBuf, String))>,
}

#[derive(Default)]
struct WorkerHomeless {
    files: u64,
    cpu_ns: u64,
    first: Option<(usize, PathBuf)>,
}

impl Tally {
    fn skip(&mut self, index: usize, path: &Path, reason: &'static str, detail: String) {
        let entry = self.skipped.entry(reason).or_default();
        entry.files += 1;
        if entry.first.is_none() {
            entry.first = Some((index, (path.to_path_buf(), detail)));
        }
    }

    /// Adds one profile's CPU in the period.
    fn profile(&mut self, index: usize, path: &Path, period: Period, profile: ProfileCpu<'_>) {
        self.summary.profiles += 1;
        let (start, duration) = (profile.time_nanos, profile.duration_nanos);
        let mut in_period = false;
        period.apportion(start, duration, [], |_, []| in_period = true);
        if !in_period {
            self.summary.outside_period += 1;
            return;
        }
        let mut homeless_cpu = 0;
        for series in profile.series {
            let requests = series.requests;
            let values = [series.cpu_ns, series.samples, requests.unwrap_or(0)];
            let Some(deployment) = series.deployment else {
                period.apportion(start, duration, values, |_, [cpu, _, _]| {
                    homeless_cpu += cpu;
                });
                continue;
            };
            let deployment = self.interner.id(&deployment);
            // No feature label: unattributed, whatever else the sample says.
            let (feature, endpoint, feature_id) = match &series.feature {
                Some(feature) => (
                    Some(self.interner.id(feature)),
                    series.endpoint.as_deref().map(|e| self.interner.id(e)),
                    series.feature_id,
                ),
                None => (None, None, None),
            };
            period.apportion(
                start,
                duration,
                values,
                |step, [cpu, samples, requests_part]| {
                    if cpu == 0 && samples == 0 && requests_part == 0 {
                        return;
                    }
                    let key = (step, deployment, feature, feature_id, endpoint);
                    self.totals.entry(key).or_default().add(&Totals {
                        cpu,
                        samples,
                        requests: requests.map(|_| requests_part),
                    });
                },
            );
        }
        if homeless_cpu > 0 {
            self.homeless.files += 1;
            self.homeless.cpu_ns += homeless_cpu;
            if self.homeless.first.is_none() {
                self.homeless.first = Some((index, path.to_path_buf()));
            }
        }
    }

    /// The totals with their label values, for merging across workers.
    fn keyed_totals(&self) -> impl Iterator<Item = (Key, Totals)> + '_ {
        let value = |id: u32| self.interner.value(id);
        self.totals.iter().map(
            move |(&(step, deployment, feature, feature_id, endpoint), totals)| {
                let key = (
                    step,
                    value(deployment),
                    feature.map(value),
                    feature_id,
                    endpoint.map(value),
                );
                (key, *totals)
            },
        )
    }
}

impl<'a> Worker<'a> {
    fn new(options: &'a ReadOptions) -> Worker<'a> {
        Worker {
            options,
            reader: Reader::new(options.labels.clone()),
            tally: Tally::default(),
        }
    }

    fn file(&mut self, index: usize, path: &Path) -> Result<(), ReadError> {
        let read = self.reader.read_file(path).map_err(|error| ReadError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let read = read.and_then(|contents| match contents {
            Contents::Cpu(profile) if profile.time_nanos <= 0 => Err(Damage::Malformed(
                "no time_nanos: the profile's window is unknown",
            )),
            other => Ok(other),
        });
        match read {
            Ok(Contents::Cpu(profile)) => {
                self.tally
                    .profile(index, path, self.options.period, profile);
            }
            Ok(Contents::NotCpu(types)) => {
                let detail = format!("sample types {}", types.join(", "));
                self.tally.skip(
                    index,
                    path,
                    "not a CPU profile (no cpu/nanoseconds sample type)",
                    detail,
                );
            }
            Err(damage) if self.options.skip_damaged => {
                self.tally
                    .skip(index, path, damage.kind(), damage.to_string());
            }
            Err(damage) => {
                return Err(ReadError::Damaged {
                    path: path.to_path_buf(),
                    damage,
                });
            }
        }
        Ok(())
    }
}

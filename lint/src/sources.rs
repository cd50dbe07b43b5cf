//! Finding and parsing the source files: a parallel, `.gitignore`-aware walk (the `ignore` crate,
//! as ripgrep uses) lists every `.rs` and `.py` file, then parser threads parse them.
//!
//! Memory stays proportional to the facts, not to the source: each parser thread (one per core,
//! at most 12) holds one file's text and syntax tree at a time and keeps only what the file
//! tells ([`RustFile`], markers); texts are dropped as soon as a file is scanned, and set-aside
//! files are read again if resolution needs them ([`Deferred`]).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};

use crate::LintError;
use crate::config::LintConfig;
use crate::facts::Marker;
use crate::finding::{Finding, Location, Rule, display};
use crate::rust::prune::{Pruning, Triggers};
use crate::rust::scan::{RustFile, TaskPattern};
use crate::rust::{depth, module_of, scan};

/// Everything the scanners found.
pub(crate) struct Sources {
    /// Parses Rust files (kept for the deferred ones).
    pub parser: RustParser,
    /// Rust files with the key of their crate.
    pub rust: Vec<(PathBuf, RustFile)>,
    /// Rust files that cannot declare or register an endpoint or task (see [`crate::rust::prune`]):
    /// parsed only when a registration names a function they might define.
    pub deferred: Vec<Deferred>,
    /// Rust files parsed without some `impl` blocks ([`Pruning::Deep`]): parsed again with
    /// them when a registration names a function they might define.
    pub shallow: Vec<Deferred>,
    /// Markers found in Python files.
    pub python: Vec<Marker>,
    /// Files that do not parse.
    pub parse_errors: Vec<Finding>,
    /// Number of files parsed (or attempted).
    pub files: usize,
}

/// A Rust file set aside, unparsed or partly parsed. Its text is not kept (memory stays
/// proportional to the facts, not to the source): it is read again if resolution needs it.
pub(crate) struct Deferred {
    /// Key of its crate.
    pub krate: PathBuf,
    /// Its module path.
    pub module: Vec<String>,
    /// Display path.
    pub path: String,
    /// Where to read it.
    pub file: PathBuf,
    /// For a file parsed without some `impl` blocks, the names of the functions in them (it
    /// is parsed again only for those); `None` for a file not parsed at all.
    pub defines: Option<Vec<String>>,
}

/// Everything needed to parse a Rust file of this run.
pub(crate) struct RustParser {
    tasks: Vec<TaskPattern>,
    triggers: Triggers,
}

impl RustParser {
    pub(crate) fn new(config: &LintConfig) -> Self {
        let tasks: Vec<TaskPattern> = config
            .task_calls
            .iter()
            .map(|t| TaskPattern::new(t))
            .collect();
        let triggers = Triggers::new(&tasks);
        RustParser { tasks, triggers }
    }

    /// Parses a Rust file; with its facts, the names of the functions in the `impl` blocks
    /// left out (see [`Pruning::Deep`]).
    ///
    /// # Errors
    /// Where and why it does not parse.
    pub fn parse(
        &self,
        path: &str,
        module: Vec<String>,
        source: &str,
        pruning: Pruning,
    ) -> Result<(RustFile, Vec<String>), (Location, String)> {
        scan::scan(path, module, source, &self.tasks, &self.triggers, pruning)
            .map_err(|(at, message)| (at, format!("cannot parse Rust: {message}")))
    }
}

/// A [`Rule::ParseError`] finding.
pub(crate) fn parse_error(location: Location, message: String) -> Finding {
    Finding {
        rule: Rule::ParseError,
        location,
        message,
        handler: None,
        registered_at: None,
        suggestion: None,
    }
}

/// Walks `roots` and parses every source file in them.
///
/// # Errors
/// A root that does not exist, or an invalid include/exclude glob.
pub(crate) fn collect(roots: &[PathBuf], config: &LintConfig) -> Result<Sources, LintError> {
    let parser = RustParser::new(config);
    let found = Mutex::new(Found::default());
    // The walk only lists the files: parsing needs threads with deeper stacks than the
    // walker's (see `depth`).
    let walked = Mutex::new(Vec::new());
    for root in roots {
        if !root.exists() {
            return Err(LintError::Path(
                root.clone(),
                "no such file or directory".to_owned(),
            ));
        }
        let mut overrides = OverrideBuilder::new(root);
        for glob in &config.include {
            overrides
                .add(glob)
                .map_err(|err| LintError::Config(err.to_string()))?;
        }
        for glob in &config.exclude {
            overrides
                .add(&format!("!{glob}"))
                .map_err(|err| LintError::Config(err.to_string()))?;
        }
        let overrides = overrides
            .build()
            .map_err(|err| LintError::Config(err.to_string()))?;
        WalkBuilder::new(root)
            .overrides(overrides)
            // Honour .gitignore even outside a git checkout (fixtures, exported trees).
            .require_git(false)
            .build_parallel()
            .run(|| {
                Box::new(|entry| {
                    match entry {
                        Ok(entry)
                            if entry.file_type().is_some_and(|t| t.is_file())
                                && language(entry.path()).is_some() =>
                        {
                            lock(&walked).push(entry.into_path());
                        }
                        Ok(_) => {}
                        // An unreadable directory is a finding like an unreadable file:
                        // the rest is still linted and every output format stays complete.
                        Err(err) => lock(&found).parse_errors.push(walk_error(&err, root)),
                    }
                    WalkState::Continue
                })
            });
    }
    // Parsed in path order (the walk's order varies from run to run), each file by whichever
    // parser thread is free.
    let mut walked = walked.into_inner().unwrap_or_else(|e| e.into_inner());
    walked.sort_unstable();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    depth::on_parser_threads(threads, || {
        while let Some(path) = walked.get(next.fetch_add(1, Ordering::Relaxed)) {
            if let Some(parsed) = parse(path, &parser, config) {
                merge(&found, parsed);
            }
        }
    });
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Sources {
        parser,
        rust: found.rust,
        deferred: found.deferred,
        shallow: found.shallow,
        python: found.python,
        parse_errors: found.parse_errors,
        files: found.files,
    })
}

/// A [`Rule::ParseError`] finding for what the walker could not read, at the path it names
/// (else at `root`).
fn walk_error(err: &ignore::Error, root: &Path) -> Finding {
    fn path_of(err: &ignore::Error) -> Option<&Path> {
        match err {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::Loop { child, .. } => Some(child),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Partial(errors) => errors.iter().find_map(path_of),
            _ => None,
        }
    }
    let at = Location {
        path: display(path_of(err).unwrap_or(root)),
        line: 1,
        column: 1,
    };
    parse_error(at, format!("cannot read the directory: {err}"))
}

/// What the walk and the parser threads accumulate.
#[derive(Default)]
struct Found {
    rust: Vec<(PathBuf, RustFile)>,
    deferred: Vec<Deferred>,
    shallow: Vec<Deferred>,
    python: Vec<Marker>,
    parse_errors: Vec<Finding>,
    files: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a Vec half-pushed: keep going.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one file gave.
enum Parsed {
    /// Parsed; set aside too when `impl` blocks were left out.
    Rust(PathBuf, RustFile, Option<Deferred>),
    Deferred(Deferred),
    Python(Vec<Marker>),
    Error(Finding),
}

fn merge(found: &Mutex<Found>, parsed: Parsed) {
    let mut found = lock(found);
    found.files += 1;
    match parsed {
        Parsed::Rust(krate, file, shallow) => {
            found.rust.push((krate, file));
            found.shallow.extend(shallow);
        }
        Parsed::Deferred(file) => found.deferred.push(file),
        Parsed::Python(markers) => found.python.extend(markers),
        Parsed::Error(finding) => found.parse_errors.push(finding),
    }
}

/// Most parser threads, as for the walk (which the `ignore` crate caps at 12).
const MAX_THREADS: usize = 12;

/// Largest source file linted, as for registry files: parsing needs memory many times the
/// size of the text, and generated files this large register no endpoints.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The text of `path`, or `None` when it is larger than [`MAX_FILE_BYTES`] (never reading
/// more than that).
fn read_limited(path: &Path) -> std::io::Result<Option<String>> {
    let file = std::fs::File::open(path)?;
    // Sized once from the metadata (through `take` the reader cannot tell): no regrowing.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_FILE_BYTES) + 1;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

fn whole_file(path: String) -> Location {
    Location {
        path,
        line: 1,
        column: 1,
    }
}

/// The text of `path` (shown as `shown`).
///
/// # Errors
/// Where and why it cannot be linted (unreadable, not UTF-8, larger than [`MAX_FILE_BYTES`]),
/// for a [`Rule::ParseError`] finding.
pub(crate) fn read_source(path: &Path, shown: &str) -> Result<String, (Location, String)> {
    let message = match read_limited(path) {
        Ok(Some(source)) => return Ok(source),
        Ok(None) => format!(
            "the file is larger than {} MiB, the most featgen lint reads",
            MAX_FILE_BYTES >> 20
        ),
        Err(err) => format!("cannot read the file: {err}"),
    };
    Err((whole_file(shown.to_owned()), message))
}

/// Whether `path` is Rust (`Some(true)`) or Python (`Some(false)`) source, by its extension.
fn language(path: &Path) -> Option<bool> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("rs") => Some(true),
        Some("py") => Some(false),
        _ => None,
    }
}

fn parse(path: &Path, parser: &RustParser, config: &LintConfig) -> Option<Parsed> {
    let rust = language(path)?;
    let shown = display(path);
    let source = match read_source(path, &shown) {
        Ok(source) => source,
        Err((at, message)) => return Some(Parsed::Error(parse_error(at, message))),
    };
    Some(if rust {
        let (krate, module) = module_of(path);
        if !parser.triggers.file_matters(&source) {
            return Some(Parsed::Deferred(Deferred {
                krate,
                module,
                path: shown,
                file: path.to_owned(),
                defines: None,
            }));
        }
        match parser.parse(&shown, module.clone(), &source, Pruning::Deep) {
            Ok((file, blanked)) if blanked.is_empty() => Parsed::Rust(krate, file, None),
            Ok((file, blanked)) => {
                let shallow = Deferred {
                    krate: krate.clone(),
                    module,
                    path: shown,
                    file: path.to_owned(),
                    defines: Some(blanked),
                };
                Parsed::Rust(krate, file, Some(shallow))
            }
            Err((at, message)) => Parsed::Error(parse_error(at, message)),
        }
    } else {
        match crate::python::scan(&shown, &source, config) {
            Ok(markers) => Parsed::Python(markers),
            Err((at, message)) => Parsed::Error(parse_error(at, message)),
        }
    })
}

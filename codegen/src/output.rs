//! Writing generated files: only where the contents changed, each through a temporary file
//! renamed into place, so a reader never sees a half-written file; and checking them, with a
//! short diff of what is stale.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::render::GeneratedFile;

/// What happened to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Already up to date; not touched.
    Unchanged,
    /// Did not exist.
    Created,
    /// Existed with other contents.
    Updated,
}

/// How a file on disk compares with what would be generated. The file is compared a block at
/// a time rather than read whole: generated files run to megabytes, and most are unchanged.
fn status(path: &Path, contents: &str) -> std::io::Result<FileStatus> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(FileStatus::Created),
        Err(err) => return Err(err),
    };
    if file.metadata()?.len() != contents.len() as u64 {
        return Ok(FileStatus::Updated);
    }
    let mut block = [0u8; 64 * 1024];
    let mut expected = contents.as_bytes();
    loop {
        let read = file.read(&mut block)?;
        if read == 0 {
            return Ok(if expected.is_empty() {
                FileStatus::Unchanged
            } else {
                FileStatus::Updated
            });
        }
        match expected.strip_prefix(&block[..read]) {
            Some(rest) => expected = rest,
            None => return Ok(FileStatus::Updated),
        }
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory renamed over
/// the target, so readers see the old file or the new one, never a part. (No fsync: generated
/// files are reproducible, so durability across a power cut is not worth a disk flush each.)
/// Creates missing parent directories.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.featgen-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents.as_bytes())?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes every file under `out_dir` whose contents differ (the files in parallel); returns
/// each path (joined to `out_dir`) with what happened to it.
pub fn write(
    out_dir: &Path,
    files: &[GeneratedFile],
) -> std::io::Result<Vec<(PathBuf, FileStatus)>> {
    featgen_registry::par::map(files, |file| {
        let path = out_dir.join(&file.path);
        let state = status(&path, &file.contents)?;
        if state != FileStatus::Unchanged {
            write_atomic(&path, &file.contents)?;
        }
        Ok((path, state))
    })
    .into_iter()
    .collect()
}

/// A generated file that does not match what the registry produces now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    /// The file (joined to the output directory).
    pub path: PathBuf,
    /// `Created` when the file is missing, `Updated` when its contents differ.
    pub status: FileStatus,
    /// A unified diff from the file on disk to the expected contents, cut to a few lines.
    pub diff: String,
}

/// Lines of diff shown per stale file.
const DIFF_LINES: usize = 20;

/// The files under `out_dir` that are missing or differ from `files`.
pub fn check(out_dir: &Path, files: &[GeneratedFile]) -> std::io::Result<Vec<Stale>> {
    let mut stale = Vec::new();
    for file in files {
        let path = out_dir.join(&file.path);
        let state = status(&path, &file.contents)?;
        let diff = match state {
            FileStatus::Unchanged => continue,
            FileStatus::Created => String::new(),
            FileStatus::Updated => {
                let existing = std::fs::read(&path)?;
                short_diff(&String::from_utf8_lossy(&existing), &file.contents, &path)
            }
        };
        stale.push(Stale {
            path,
            status: state,
            diff,
        });
    }
    Ok(stale)
}

fn short_diff(old: &str, new: &str, path: &Path) -> String {
    let name = path.display().to_string();
    let diff = TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(1)
        .header(&name, &format!("{name} (expected)"))
        .to_string();
    let total = text.lines().count();
    let mut shown: String = text
        .lines()
        .take(DIFF_LINES)
        .map(|l| format!("{l}\n"))
        .collect();
    if total > DIFF_LINES {
        shown.push_str(&format!("... {} more diff lines\n", total - DIFF_LINES));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> GeneratedFile {
        GeneratedFile {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn writes_only_changed_files_and_checks_them() {
        let dir = tempfile::tempdir().unwrap();
        let files = [file("a/x.txt", "one\n"), file("y.txt", "two\n")];
        let first = write(dir.path(), &files).unwrap();
        assert!(first.iter().all(|(_, s)| *s == FileStatus::Created));
        let again = write(dir.path(), &files).unwrap();
        assert!(again.iter().all(|(_, s)| *s == FileStatus::Unchanged));
        assert!(check(dir.path(), &files).unwrap().is_empty());

        let changed = [
            file("a/x.txt", "one\nmore\n"),
            file("y.txt", "two\n"),
            file("z.txt", "new\n"),
        ];
        let stale = check(dir.path(), &changed).unwrap();
        assert_eq!(stale.len(), 2);
        assert_eq!(stale[0].status, FileStatus::Updated);
        assert!(stale[0].diff.contains("+more"), "{}", stale[0].diff);
        assert_eq!(stale[1].status, FileStatus::Created);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
    }

    #[test]
    fn compares_contents_beyond_the_length_and_the_first_block() {
        let dir = tempfile::tempdir().unwrap();
        let big = "0123456789abcdef".repeat(20_000);
        write(dir.path(), &[file("big.txt", &big), file("y.txt", "two\n")]).unwrap();
        let mut last_changed = big.clone();
        last_changed.replace_range(big.len() - 1.., "F");
        let same_length = [file("big.txt", &last_changed), file("y.txt", "twx\n")];
        let report = write(dir.path(), &same_length).unwrap();
        assert!(
            report.iter().all(|(_, s)| *s == FileStatus::Updated),
            "{report:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("big.txt")).unwrap(),
            last_changed
        );
        let report = write(dir.path(), &same_length).unwrap();
        assert!(
            report.iter().all(|(_, s)| *s == FileStatus::Unchanged),
            "{report:?}"
        );
    }
}

//! Writing generated files: only where the contents changed, each through a temporary file
//! renamed into place, so a reader never sees a half-written file, and a build as one change
//! (every file or none, see [`write_all`]); and checking them, with a short diff of what is
//! stale.

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
        // A file where a directory should be: the file cannot exist, as good as missing.
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(FileStatus::Created);
        }
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
/// Creates missing parent directories. A device or pipe at `path` (`/dev/null`, a FIFO) is
/// written through instead: renaming over it would replace it with a regular file.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|meta| !meta.is_file() && !meta.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(contents.as_bytes());
    }
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

/// Writes every file under `out_dir` whose contents differ, as one change (see
/// [`write_all`]); returns each path (joined to `out_dir`) with what happened to it.
pub fn write(
    out_dir: &Path,
    files: &[GeneratedFile],
) -> std::io::Result<Vec<(PathBuf, FileStatus)>> {
    write_all(&[(out_dir, files)])
}

/// One file ready to be renamed into place.
struct Prepared {
    path: PathBuf,
    status: FileStatus,
    /// The new contents, beside the target (`None` when the file is unchanged).
    temp: Option<PathBuf>,
    /// Directories created for it, outermost first.
    created_dirs: Vec<PathBuf>,
}

/// Writes the files of every `(out_dir, files)` set whose contents differ, all or nothing:
///
/// 1. every changed file is written to a temporary file beside its target (in parallel),
///    creating missing directories; if any of that fails, the temporary files and the created
///    directories are removed and nothing else was touched;
/// 2. then the temporary files are renamed over their targets, set after set, in order (so a
///    set given last, such as the lock, is replaced last); if a rename fails, the files
///    already replaced get their old contents back (kept as hard links until the end).
///
/// Returns each path (joined to its `out_dir`) with what happened to it, in order.
///
/// # Errors
/// The first I/O error, naming the path; the files on disk are then as before.
pub fn write_all(
    sets: &[(&Path, &[GeneratedFile])],
) -> std::io::Result<Vec<(PathBuf, FileStatus)>> {
    let files: Vec<(PathBuf, &str)> = sets
        .iter()
        .flat_map(|(dir, files)| {
            files
                .iter()
                .map(|f| (dir.join(&f.path), f.contents.as_str()))
        })
        .collect();
    let prepared: Vec<std::io::Result<Prepared>> =
        featgen_registry::par::map(&files, |(path, contents)| prepare(path, contents));
    if prepared.iter().any(Result::is_err) {
        let mut first_error = None;
        let mut ready = Vec::new();
        for result in prepared {
            match result {
                Ok(file) => ready.push(file),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        discard(&ready);
        return Err(first_error.unwrap_or_else(|| std::io::Error::other("no error")));
    }
    let prepared: Vec<Prepared> = prepared.into_iter().flatten().collect();
    commit(&prepared)?;
    Ok(prepared.into_iter().map(|p| (p.path, p.status)).collect())
}

/// `err` with the path it is about.
fn at_path(path: &Path, err: std::io::Error) -> std::io::Error {
    std::io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// A sibling of `path` for featgen's own use: `.name.featgen-PID.suffix`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.featgen-{}.{suffix}", std::process::id()))
}

/// Step 1 of [`write_all`] for one file.
fn prepare(path: &Path, contents: &str) -> std::io::Result<Prepared> {
    let status = status(path, contents).map_err(|err| at_path(path, err))?;
    let mut prepared = Prepared {
        path: path.to_path_buf(),
        status,
        temp: None,
        created_dirs: Vec::new(),
    };
    if status == FileStatus::Unchanged {
        return Ok(prepared);
    }
    let result = (|| {
        if path.is_dir() {
            let err = std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "a directory is where the file goes",
            );
            return Err(at_path(path, err));
        }
        // Missing ancestors, created one by one so that a rollback removes exactly those.
        let missing: Vec<&Path> = path
            .ancestors()
            .skip(1)
            .filter(|dir| !dir.as_os_str().is_empty())
            .take_while(|dir| !dir.exists())
            .collect();
        for dir in missing.into_iter().rev() {
            match std::fs::create_dir(dir) {
                Ok(()) => prepared.created_dirs.push(dir.to_path_buf()),
                // Created meanwhile for another file of the build.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(err) => return Err(at_path(dir, err)),
            }
        }
        let temp = sibling(path, "tmp");
        let written =
            std::fs::File::create(&temp).and_then(|mut file| file.write_all(contents.as_bytes()));
        prepared.temp = Some(temp);
        written.map_err(|err| at_path(path, err))
    })();
    match result {
        Ok(()) => Ok(prepared),
        Err(err) => {
            discard(std::slice::from_ref(&prepared));
            Err(err)
        }
    }
}

/// Removes the temporary files and created directories of `prepared` (rollback of step 1).
fn discard(prepared: &[Prepared]) {
    for file in prepared {
        if let Some(temp) = &file.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
    // Innermost first; a directory another file still uses is not empty and stays.
    let mut dirs: Vec<&PathBuf> = prepared.iter().flat_map(|p| &p.created_dirs).collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Step 2 of [`write_all`]: renames every prepared file into place, or none.
fn commit(prepared: &[Prepared]) -> std::io::Result<()> {
    // (file, backup of its old contents) for every file replaced so far.
    let mut replaced: Vec<(&Prepared, Option<PathBuf>)> = Vec::new();
    let mut failure = None;
    for file in prepared {
        let Some(temp) = &file.temp else { continue };
        let backup = if file.status == FileStatus::Updated {
            let backup = sibling(&file.path, "old");
            let _ = std::fs::remove_file(&backup);
            match std::fs::hard_link(&file.path, &backup)
                .or_else(|_| std::fs::copy(&file.path, &backup).map(drop))
            {
                Ok(()) => Some(backup),
                Err(err) => {
                    failure = Some(at_path(&file.path, err));
                    break;
                }
            }
        } else {
            None
        };
        if let Err(err) = std::fs::rename(temp, &file.path) {
            if let Some(backup) = &backup {
                let _ = std::fs::remove_file(backup);
            }
            failure = Some(at_path(&file.path, err));
            break;
        }
        replaced.push((file, backup));
    }
    let Some(err) = failure else {
        for (_, backup) in replaced {
            if let Some(backup) = backup {
                let _ = std::fs::remove_file(backup);
            }
        }
        return Ok(());
    };
    for (file, backup) in replaced.into_iter().rev() {
        let _ = match backup {
            Some(backup) => std::fs::rename(backup, &file.path),
            None => std::fs::remove_file(&file.path),
        };
    }
    discard(prepared);
    Err(err)
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

    /// `featgen report --out /dev/null` run as root once renamed a regular file over
    /// `/dev/null`; a FIFO stands in for the device here.
    #[test]
    fn a_pipe_is_written_through_not_renamed_over() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("report.pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, "<html></html>").unwrap();
        assert_eq!(reader.join().unwrap(), "<html></html>");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
    fn a_file_that_cannot_be_written_means_none_is() {
        let dir = tempfile::tempdir().unwrap();
        let lock_dir = dir.path().join("lock");
        write(dir.path(), &[file("a.txt", "old\n")]).unwrap();
        // A directory where one output goes, a file where another's directory goes.
        std::fs::create_dir_all(dir.path().join("b.txt/inside")).unwrap();
        std::fs::write(dir.path().join("c"), "in the way\n").unwrap();
        let lock = [file("featgen.lock", "new lock\n")];
        for blocked in ["b.txt", "c/d.txt"] {
            let files = [
                file("a.txt", "new\n"),
                file("new/deep/e.txt", "new\n"),
                file(blocked, "new\n"),
            ];
            let err = write_all(&[(dir.path(), &files), (&lock_dir, &lock)]).unwrap_err();
            assert!(err.to_string().contains(blocked), "{err}");
            assert_eq!(
                std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
                "old\n"
            );
            assert!(
                !dir.path().join("new").exists(),
                "created directories are removed"
            );
            assert!(!lock_dir.exists(), "the lock is not written");
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["a.txt", "b.txt", "c"], "no temporary file is left");
        }
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

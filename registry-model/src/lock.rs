//! `featgen.lock`: the stable ids of features, feature groups, teams and tiers.
//!
//! Ids are what profiles, cost rows and SQL facts are keyed by, so they must never change or be
//! reused: a name keeps its id forever (also when it is removed and later re-added), a
//! `renamed_from` moves the old name's id to the new name, and new names get ids above every
//! id ever assigned. Removed names stay in the lock as `retired` so that their ids stay taken.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use foldhash::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic, Label, line_column};

/// File name of the lock, beside the registry.
pub const LOCK_FILE: &str = "featgen.lock";

/// The fix for a damaged lock.
const REGENERATE_HELP: &str = "featgen.lock is written by `featgen build`; restore it from \
                               version control rather than editing ids by hand";

/// One name's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockEntry {
    /// The id.
    pub id: u32,
    /// The name is no longer in the registry; its id stays reserved.
    pub retired: bool,
}

/// The ids of one kind of entry (features, teams, ...), by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    entries: HashMap<String, LockEntry>,
}

/// A name to give an id to, and the name it had before, if it was renamed.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// The current name.
    pub name: &'a str,
    /// `renamed_from`, when set.
    pub renamed_from: Option<&'a str>,
}

impl Section {
    /// The entry for `name`, active or retired.
    pub fn get(&self, name: &str) -> Option<LockEntry> {
        self.entries.get(name).copied()
    }

    /// Assigns ids to exactly the `wanted` names (in the given order for new ones) and retires
    /// every other name.
    ///
    /// # Errors
    /// When a new name would need an id above `u32::MAX` (ids are never reused, so none is
    /// left): the highest id taken.
    pub fn assign(&mut self, wanted: &[Wanted<'_>]) -> Result<(), u32> {
        let current: HashSet<&str> = wanted.iter().map(|w| w.name).collect();
        for w in wanted {
            if self.entries.contains_key(w.name) {
                continue;
            }
            let Some(old) = w.renamed_from else { continue };
            if current.contains(old) {
                continue;
            }
            if let Some(entry) = self.entries.remove(old) {
                self.entries.insert(w.name.to_owned(), entry);
            }
        }
        let highest = self.entries.values().map(|e| e.id).max().unwrap_or(0);
        let mut next = u64::from(highest) + 1;
        for w in wanted {
            // Look up before allocating the key: nearly every name is already in the lock.
            if !self.entries.contains_key(w.name) {
                self.entries.insert(
                    w.name.to_owned(),
                    LockEntry {
                        id: u32::try_from(next).map_err(|_| highest)?,
                        retired: false,
                    },
                );
                next += 1;
            }
        }
        for (name, entry) in &mut self.entries {
            entry.retired = !current.contains(name.as_str());
        }
        Ok(())
    }

    /// Every entry, active and retired, sorted by id: how readers of old facts (profiles, cost
    /// rows recorded under an id) find the name an id had.
    pub fn by_id(&self) -> Vec<(&str, LockEntry)> {
        let mut entries: Vec<_> = self.entries.iter().map(|(n, e)| (n.as_str(), *e)).collect();
        entries.sort_by_key(|(_, e)| e.id);
        entries
    }
}

/// The whole lock file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    /// Feature ids.
    pub features: Section,
    /// Feature group ids.
    pub feature_groups: Section,
    /// Team ids.
    pub teams: Section,
    /// Tier ids.
    pub tiers: Section,
}

const SECTIONS: [&str; 4] = ["features", "feature_groups", "teams", "tiers"];

impl Lock {
    fn sections(&self) -> [&Section; 4] {
        [
            &self.features,
            &self.feature_groups,
            &self.teams,
            &self.tiers,
        ]
    }

    fn section_mut(&mut self, name: &str) -> Option<&mut Section> {
        match name {
            "features" => Some(&mut self.features),
            "feature_groups" => Some(&mut self.feature_groups),
            "teams" => Some(&mut self.teams),
            "tiers" => Some(&mut self.tiers),
            _ => None,
        }
    }

    /// Reads `path`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, Box<Diagnostic>> {
        match std::fs::read(path) {
            Ok(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => Lock::parse(text, path),
                // Damage like any other: `invalid-lock`, at the first bad byte.
                Err(err) => {
                    let (line, column) = line_column(&bytes, err.valid_up_to());
                    Err(Box::new(
                        Diagnostic::error(Code::InvalidLock, format!("{LOCK_FILE} is not UTF-8"))
                            .at(Label::new(path, line, column, 1))
                            .help(REGENERATE_HELP),
                    ))
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(err) => Err(Box::new(Diagnostic::error(
                Code::Io,
                format!("cannot read {}: {err}", path.display()),
            ))),
        }
    }

    /// Parses lock text; `path` is only used in diagnostics.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, Box<Diagnostic>> {
        let invalid = |offset: usize, message: String| {
            let (line, column) = line_column(text.as_bytes(), offset);
            Box::new(
                Diagnostic::error(Code::InvalidLock, message)
                    .at(Label::new(path, line, column, 1))
                    .help(REGENERATE_HELP),
            )
        };
        // The borrowed, spanned tree: no owned copy of 10,000 entries, and every error below
        // points at the key or value it is about.
        let table = toml::de::DeTable::parse(text).map_err(|err| {
            let offset = err.span().map_or(0, |s| s.start);
            invalid(offset, err.message().to_owned())
        })?;
        let integer = |value: &toml::de::DeValue<'_>| {
            value
                .as_integer()
                .and_then(|n| u32::from_str_radix(n.as_str(), n.radix()).ok())
        };
        let mut lock = Lock::default();
        for (key, value) in table.get_ref() {
            let (key_at, key) = (key.span().start, key.get_ref().as_ref());
            if key == "version" {
                if integer(value.get_ref()) != Some(1) {
                    let message = format!("unsupported lock version {}", &text[value.span()]);
                    return Err(invalid(value.span().start, message));
                }
                continue;
            }
            let Some(section) = lock.section_mut(key) else {
                return Err(invalid(key_at, format!("unknown section `{key}`")));
            };
            let Some(entries) = value.get_ref().as_table() else {
                return Err(invalid(key_at, format!("`{key}` must be a table")));
            };
            let mut seen_ids = BTreeMap::new();
            section.entries.reserve(entries.len());
            for (name, entry) in entries {
                let (name_at, name) = (name.span().start, name.get_ref().as_ref());
                let parsed = match entry.get_ref() {
                    toml::de::DeValue::Table(t) => t
                        .get("id")
                        .and_then(|id| integer(id.get_ref()))
                        .map(|id| LockEntry {
                            id,
                            retired: t
                                .get("retired")
                                .and_then(|retired| retired.get_ref().as_bool())
                                .unwrap_or(false),
                        }),
                    other => integer(other).map(|id| LockEntry { id, retired: false }),
                };
                let Some(parsed) = parsed.filter(|e| e.id > 0) else {
                    return Err(invalid(
                        entry.span().start,
                        format!("`{key}.{name}` must be a positive id"),
                    ));
                };
                if let Some(other) = seen_ids.insert(parsed.id, name) {
                    return Err(invalid(
                        name_at,
                        format!(
                            "id {} is given to both `{other}` and `{name}` in `{key}`",
                            parsed.id
                        ),
                    ));
                }
                section.entries.insert(name.to_owned(), parsed);
            }
        }
        Ok(lock)
    }

    /// The file's text: deterministic, entries sorted by id so that new ids append.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# featgen.lock: stable ids of the feature registry, maintained by `featgen build`.\n\
             # Commit it. Ids never change and are never reused, so facts recorded under an id keep\n\
             # joining; `retired` names were removed or renamed and keep their id reserved.\n\
             version = 1\n",
        );
        for (name, section) in SECTIONS.iter().zip(self.sections()) {
            let _ = write!(out, "\n[{name}]\n");
            for (entry_name, entry) in section.by_id() {
                if entry.retired {
                    let _ = writeln!(
                        out,
                        "{entry_name} = {{ id = {}, retired = true }}",
                        entry.id
                    );
                } else {
                    let _ = writeln!(out, "{entry_name} = {}", entry.id);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted<'a>(names: &[&'a str]) -> Vec<Wanted<'a>> {
        names
            .iter()
            .map(|&name| Wanted {
                name,
                renamed_from: None,
            })
            .collect()
    }

    fn ids(section: &Section) -> Vec<(String, u32, bool)> {
        section
            .by_id()
            .into_iter()
            .map(|(n, e)| (n.to_owned(), e.id, e.retired))
            .collect()
    }

    #[test]
    fn ids_survive_reordering_removal_and_readding() {
        let mut s = Section::default();
        s.assign(&wanted(&["a", "b", "c"])).unwrap();
        s.assign(&wanted(&["c", "a"])).unwrap();
        s.assign(&wanted(&["d", "c", "a"])).unwrap();
        assert_eq!(
            ids(&s),
            [
                ("a".into(), 1, false),
                ("b".into(), 2, true),
                ("c".into(), 3, false),
                ("d".into(), 4, false)
            ]
        );
        s.assign(&wanted(&["a", "b", "c", "d"])).unwrap();
        assert_eq!(
            s.get("b"),
            Some(LockEntry {
                id: 2,
                retired: false
            })
        );
    }

    #[test]
    fn removed_max_id_is_never_reused() {
        let mut s = Section::default();
        s.assign(&wanted(&["a", "b"])).unwrap();
        s.assign(&wanted(&["a"])).unwrap();
        s.assign(&wanted(&["a", "z"])).unwrap();
        assert_eq!(s.get("z").unwrap().id, 3);
    }

    #[test]
    fn rename_moves_the_id() {
        let mut s = Section::default();
        s.assign(&wanted(&["old", "x"])).unwrap();
        s.assign(&[
            Wanted {
                name: "new",
                renamed_from: Some("old"),
            },
            Wanted {
                name: "x",
                renamed_from: None,
            },
        ])
        .unwrap();
        assert_eq!(ids(&s), [("new".into(), 1, false), ("x".into(), 2, false)]);
    }

    #[test]
    fn ids_never_wrap_past_u32_max() {
        let mut s = Section::default();
        s.entries.insert(
            "last".to_owned(),
            LockEntry {
                id: u32::MAX - 1,
                retired: false,
            },
        );
        s.assign(&wanted(&["last", "one"])).unwrap();
        assert_eq!(s.get("one").unwrap().id, u32::MAX);
        assert_eq!(s.assign(&wanted(&["last", "one", "two"])), Err(u32::MAX));
        // Renaming needs no new id, even at the top.
        let renamed = Wanted {
            name: "uno",
            renamed_from: Some("one"),
        };
        s.assign(&[wanted(&["last"])[0], renamed]).unwrap();
        assert_eq!(s.get("uno").unwrap().id, u32::MAX);
    }

    #[test]
    fn a_lock_that_is_not_utf8_is_invalid_not_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, b"version = 1\n[features]\nm\xffx = 1\n").unwrap();
        let err = Lock::read(&path).unwrap_err();
        assert_eq!(err.code, Code::InvalidLock, "{err:?}");
        let at = err.primary.as_ref().map(|label| (label.line, label.column));
        assert_eq!(at, Some((3, 2)), "points at the bad byte: {err:?}");
    }

    #[test]
    fn render_parse_round_trip() {
        let mut lock = Lock::default();
        lock.features
            .assign(&wanted(&["messaging", "text-in-voice"]))
            .unwrap();
        lock.features.assign(&wanted(&["text-in-voice"])).unwrap();
        lock.tiers.assign(&wanted(&["S", "A"])).unwrap();
        let text = lock.render();
        assert_eq!(Lock::parse(&text, Path::new("featgen.lock")).unwrap(), lock);
        assert!(
            text.contains("messaging = { id = 1, retired = true }"),
            "{text}"
        );
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let err =
            Lock::parse("version = 1\n[features]\na = 1\nb = 1\n", Path::new("l")).unwrap_err();
        assert!(err.message.contains("both `a` and `b`"), "{err:?}");
        let at = err.primary.as_ref().map(|label| (label.line, label.column));
        assert_eq!(at, Some((4, 1)), "points at the second name: {err:?}");
    }

    #[test]
    fn invalid_entries_point_at_their_value() {
        let err = Lock::parse("version = 1\n[teams]\nx = -3\n", Path::new("l")).unwrap_err();
        assert!(
            err.message.contains("`teams.x` must be a positive id"),
            "{err:?}"
        );
        let at = err.primary.as_ref().map(|label| (label.line, label.column));
        assert_eq!(at, Some((3, 5)), "{err:?}");
        let err = Lock::parse("version = 2\n", Path::new("l")).unwrap_err();
        assert!(
            err.message.contains("unsupported lock version 2"),
            "{err:?}"
        );
    }
}

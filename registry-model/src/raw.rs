//! The registry's entries as decoded from YAML, before the cross-entry checks: every string
//! keeps the file, line and column it came from, so that validation can point at it.

use std::path::PathBuf;

use crate::diagnostic::Label;

/// A position inside one of the loaded files (an index into the load's file list).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pos {
    pub(crate) file: usize,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) len: u32,
}

impl Pos {
    /// The diagnostic label of this position among `files`.
    pub(crate) fn label(self, files: &[PathBuf]) -> Label {
        Label::new(&files[self.file], self.line, self.column, self.len)
    }
}

/// A string scalar and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Str {
    pub(crate) text: String,
    pub(crate) at: Pos,
}

/// A feature's `deprecated` mapping.
#[derive(Debug)]
pub(crate) struct RawDeprecation {
    pub(crate) reason: Str,
    pub(crate) renamed_to: Option<Str>,
}

/// A feature with every required field present.
#[derive(Debug)]
pub(crate) struct RawFeature {
    pub(crate) name: Str,
    pub(crate) team: Str,
    pub(crate) tier: Str,
    pub(crate) group: Str,
    pub(crate) description: Option<Str>,
    pub(crate) deprecated: Option<RawDeprecation>,
    pub(crate) renamed_from: Option<Str>,
}

impl RawFeature {
    /// The feature's reference to a declaration of `kind`.
    pub(crate) fn reference(&self, kind: DeclKind) -> &Str {
        match kind {
            DeclKind::Team => &self.team,
            DeclKind::Group => &self.group,
            DeclKind::Tier => &self.tier,
        }
    }
}

/// A declared team, feature group or tier.
#[derive(Debug)]
pub(crate) struct RawDecl {
    pub(crate) name: Str,
    pub(crate) description: Option<Str>,
    pub(crate) slack: Option<Str>,
    pub(crate) oncall: Option<Str>,
}

/// The three kinds of declaration, with the YAML key and the fields each accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeclKind {
    Team,
    Group,
    Tier,
}

impl DeclKind {
    /// The top-level key that declares this kind.
    pub(crate) fn key(self) -> &'static str {
        match self {
            DeclKind::Team => "teams",
            DeclKind::Group => "feature_groups",
            DeclKind::Tier => "tiers",
        }
    }

    /// What messages call it.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            DeclKind::Team => "team",
            DeclKind::Group => "feature group",
            DeclKind::Tier => "tier",
        }
    }

    /// The feature field that references this kind.
    pub(crate) fn feature_field(self) -> &'static str {
        match self {
            DeclKind::Team => "team",
            DeclKind::Group => "feature_group",
            DeclKind::Tier => "tier",
        }
    }

    /// The keys a declaration of this kind may have.
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            DeclKind::Team => &["name", "description", "slack", "oncall"],
            DeclKind::Group | DeclKind::Tier => &["name", "description"],
        }
    }
}

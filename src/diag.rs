//! Diagnostics as plain data: what was found, where, and how to explain it.
//!
//! Produced by the engine and lints, consumed by renderers. No formatting here.

use crate::source::Span;

/// A lint level, as configured (allow, warn, deny).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }
}

/// How a diagnostic is shown (rustc's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// Context about the run itself (a function too large to follow), never a finding.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    Note,
    Help,
}

/// A `note:` or `help:` line, optionally pointing at code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub message: String,
    pub span: Option<Span>,
}

/// How safe a suggested edit is, in rustc's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applicability {
    /// Safe to apply mechanically: `--fix` applies these.
    MachineApplicable,
    /// Probably right, but a person should look.
    MaybeIncorrect,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::MachineApplicable => "MachineApplicable",
            Applicability::MaybeIncorrect => "MaybeIncorrect",
        }
    }
}

/// A replacement of one span's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub message: String,
    pub span: Span,
    pub replacement: String,
    pub applicability: Applicability,
    /// The source text the replacement was computed from. A suggestion is machine-applicable
    /// only while the span still holds exactly this text (up to whitespace).
    pub original: Option<String>,
}

/// The same tokens, whatever the whitespace between them. A comment is not whitespace: text
/// with a comment inside never matches the text a lint computed an edit from.
pub fn same_text(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Lint name (without the `wsa_lint::` prefix); `None` for problems with the input itself.
    pub lint: Option<&'static str>,
    pub severity: Severity,
    pub message: String,
    /// The primary label comes first.
    pub labels: Vec<Label>,
    pub notes: Vec<Note>,
    pub suggestions: Vec<Suggestion>,
}

impl Diagnostic {
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    /// A problem with an input file (unreadable, does not parse, ...), not a lint finding.
    pub fn input_error(span: Span, message: String, label: &str) -> Diagnostic {
        Diagnostic {
            lint: None,
            severity: Severity::Error,
            message,
            labels: vec![Label {
                span,
                message: label.to_string(),
                primary: true,
            }],
            notes: Vec::new(),
            suggestions: Vec::new(),
        }
    }
}

/// A diagnostic about a path that has no text to point into (missing file, unreadable directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathProblem {
    pub path: String,
    pub message: String,
}

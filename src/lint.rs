//! The vocabulary lints are written in: `Lint` (name, level, docs),
//! `LintDef` (a lint and its check), `LintCx` (facts in, diagnostics out) and
//! `declare_lint!`, which keeps each lint's documentation in its declaration.

use crate::diag::{Diagnostic, Label, Level, Note, NoteKind, Severity};
use crate::facts::CrateFacts;
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Code that is wrong: deny by default.
    Correctness,
    /// Code that is very likely wrong or fragile: warn by default.
    Suspicious,
    /// Stricter checks some projects want.
    Pedantic,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Correctness => "correctness",
            Group::Suspicious => "suspicious",
            Group::Pedantic => "pedantic",
        }
    }
}

#[derive(Debug)]
pub struct Lint {
    pub name: &'static str,
    pub group: Group,
    pub default_level: Level,
    /// One line, for `--list` and tables.
    pub summary: &'static str,
    /// Markdown: What it does / Why is this bad / Example, from the `///` lines of the declaration.
    pub docs: &'static str,
}

pub struct LintDef {
    pub lint: &'static Lint,
    pub check: fn(&mut LintCx<'_>),
}

/// Declares a lint: `///` documentation, then `pub NAME = "name", group, Level, "summary"`.
#[macro_export]
macro_rules! declare_lint {
    ($(#[doc = $doc:expr])* $vis:vis $NAME:ident = $name:literal, $group:ident, $level:ident, $summary:literal) => {
        $vis static $NAME: $crate::lint::Lint = $crate::lint::Lint {
            name: $name,
            group: $crate::lint::Group::$group,
            default_level: $crate::diag::Level::$level,
            summary: $summary,
            docs: concat!($($doc, "\n"),*),
        };
    };
}

/// What a lint's check reads and writes.
pub struct LintCx<'a> {
    pub facts: &'a CrateFacts,
    out: Vec<Diagnostic>,
}

impl<'a> LintCx<'a> {
    pub fn new(facts: &'a CrateFacts) -> LintCx<'a> {
        LintCx {
            facts,
            out: Vec::new(),
        }
    }

    /// Starts a finding of `lint` with its primary span and label.
    pub fn emit(
        &mut self,
        lint: &'static Lint,
        primary: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Emission<'_> {
        self.out.push(Diagnostic {
            lint: Some(lint.name),
            severity: match lint.default_level {
                Level::Deny => Severity::Error,
                _ => Severity::Warning,
            },
            message: message.into(),
            labels: vec![Label {
                span: primary,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
        });
        Emission {
            diag: self.out.last_mut().expect("pushed above"),
        }
    }

    pub fn finish(self) -> Vec<Diagnostic> {
        self.out
    }
}

/// Adds the rest of a finding's story.
pub struct Emission<'d> {
    diag: &'d mut Diagnostic,
}

impl Emission<'_> {
    /// A secondary label: part of the path, the chain, the origin.
    pub fn label(self, span: Span, message: impl Into<String>) -> Self {
        if span != self.diag.labels[0].span || !self.diag.labels.iter().any(|l| l.span == span) {
            self.diag.labels.push(Label {
                span,
                message: message.into(),
                primary: false,
            });
        }
        self
    }

    pub fn note(self, message: impl Into<String>) -> Self {
        self.diag.notes.push(Note {
            kind: NoteKind::Note,
            message: message.into(),
            span: None,
        });
        self
    }

    pub fn help(self, message: impl Into<String>) -> Self {
        self.diag.notes.push(Note {
            kind: NoteKind::Help,
            message: message.into(),
            span: None,
        });
        self
    }
}

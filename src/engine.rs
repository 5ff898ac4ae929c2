//! The engine: runs a list of lints over each crate's facts, applies levels,
//! keeps the findings in files the user asked about, and orders them.
//!
//! Knows no individual lint: it is handed `&[&LintDef]`.

use crate::diag::{same_text, Applicability, Diagnostic, Level, Note, NoteKind, Severity};
use crate::facts::CrateFacts;
use crate::lint::{LintCx, LintDef};
use crate::source::{SourceDb, Span};
use std::collections::{HashMap, HashSet};

/// Effective levels: command line over configuration over default.
#[derive(Debug, Default, Clone)]
pub struct Levels {
    overrides: HashMap<String, (Level, LevelSource)>,
    /// `-D warnings`: every warning becomes an error.
    pub warnings_are_errors: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelSource {
    Default,
    CommandLine,
    /// A configuration file, with the line: `wsa-lint.toml:3`.
    Config(String),
}

impl Levels {
    pub fn set(&mut self, lint: &str, level: Level, source: LevelSource) {
        self.overrides.insert(lint.to_string(), (level, source));
    }

    pub fn level_of(&self, def: &LintDef) -> (Level, LevelSource) {
        self.overrides
            .get(def.lint.name)
            .cloned()
            .unwrap_or((def.lint.default_level, LevelSource::Default))
    }

    /// The level a finding of `level` is reported at: `-D warnings` raises warnings to errors.
    pub fn effective(&self, level: Level) -> Level {
        if level == Level::Warn && self.warnings_are_errors {
            Level::Deny
        } else {
            level
        }
    }
}

/// A lint's finding and the site it follows from.
type Found = (Diagnostic, Option<Span>);

/// Runs every enabled lint over one crate's facts.
pub fn check(
    lints: &[&LintDef],
    facts: &CrateFacts,
    levels: &Levels,
    db: &SourceDb,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Each enabled lint's findings, with their causes, before any is kept.
    let mut found: Vec<(&LintDef, Level, LevelSource, Vec<Found>)> = Vec::new();
    for def in lints {
        let (level, source) = levels.level_of(def);
        if level == Level::Allow {
            continue;
        }
        let mut cx = LintCx::new(facts);
        (def.check)(&mut cx);
        found.push((def, level, source, cx.finish()));
    }
    // Where a finding is redundant given another lint's finding at its cause, the relation is
    // data (`LintDef::yields_to`): the engine applies it, no lint or fact knows the other.
    let reported: HashSet<(&str, Span)> = found
        .iter()
        .flat_map(|(def, _, _, ds)| {
            ds.iter()
                .filter_map(|(d, _)| d.primary_span().map(|s| (def.lint.name, s)))
        })
        .collect();
    for (def, level, source, ds) in found {
        for (mut d, cause) in ds {
            if cause.is_some_and(|c| def.yields_to.iter().any(|l| reported.contains(&(*l, c)))) {
                continue;
            }
            vet(db, &mut d);
            let effective = levels.effective(level);
            d.severity = match effective {
                Level::Deny => Severity::Error,
                _ => Severity::Warning,
            };
            let why = match (&source, level, effective) {
                (LevelSource::Default, Level::Warn, Level::Deny) => format!(
                    "`wsa_lint::{}` is warn by default, raised to an error by `-D warnings`",
                    def.lint.name
                ),
                (LevelSource::Default, _, _) => format!(
                    "`wsa_lint::{}` is {} by default",
                    def.lint.name,
                    level.as_str()
                ),
                (LevelSource::CommandLine, _, _) => format!(
                    "`wsa_lint::{}` is set to {} on the command line",
                    def.lint.name,
                    effective.as_str()
                ),
                (LevelSource::Config(origin), _, _) => format!(
                    "`wsa_lint::{}` is set to {} in {origin}",
                    def.lint.name,
                    effective.as_str()
                ),
            };
            d.notes.push(Note {
                kind: NoteKind::Note,
                message: format!("{why}; run `wsa-lint --explain {}` for more", def.lint.name),
                span: None,
            });
            out.push(d);
        }
    }
    out.extend(facts.truncated.iter().map(incomplete_note));
    out
}

/// Says where the analysis gave up, so that a run is never silently incomplete.
fn incomplete_note(f: &crate::facts::Incomplete) -> Diagnostic {
    Diagnostic {
        lint: None,
        severity: Severity::Note,
        message: format!("analysis of {} stopped: {}", f.function, f.reason),
        labels: vec![crate::diag::Label {
            span: f.name_span,
            message: "not fully analysed".into(),
            primary: true,
        }],
        notes: vec![Note {
            kind: NoteKind::Note,
            message: "findings that depend on the part not analysed are not reported".into(),
            span: None,
        }],
        suggestions: Vec::new(),
    }
}

/// Checks each suggestion of `d` against the text it would edit: it keeps its span only where
/// the span is the user's own text in the finding's file, and stays machine-applicable only
/// while that text is exactly what the lint read.
fn vet(db: &SourceDb, d: &mut Diagnostic) {
    let primary = d.primary_span().map(|s| s.file);
    let mut kept = Vec::new();
    for mut s in std::mem::take(&mut d.suggestions) {
        let file = db.get(s.span.file);
        let here = (!s.span.from_expansion && Some(s.span.file) == primary)
            .then(|| file.text.get(s.span.lo as usize..s.span.hi as usize))
            .flatten();
        match here {
            // Inside a macro body, joined with one, or elsewhere: describe the edit, but
            // point no editor at text the user did not write there.
            None => d.notes.push(Note {
                kind: NoteKind::Help,
                message: format!("{}: `{}`", s.message, s.replacement),
                span: None,
            }),
            Some(now) => {
                if s.applicability == Applicability::MachineApplicable
                    && !s.original.as_deref().is_some_and(|o| same_text(o, now))
                {
                    s.applicability = Applicability::MaybeIncorrect;
                }
                kept.push(s);
            }
        }
    }
    d.suggestions = kept;
}

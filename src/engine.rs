//! The engine: runs a list of lints over each crate's facts, applies levels,
//! keeps the findings in files the user asked about, and orders them.
//!
//! Knows no individual lint: it is handed `&[&LintDef]`.

use crate::diag::{Diagnostic, Level, Note, NoteKind, Severity};
use crate::facts::CrateFacts;
use crate::lint::{LintCx, LintDef};
use std::collections::HashMap;

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

/// Runs every enabled lint over one crate's facts.
pub fn check(lints: &[&LintDef], facts: &CrateFacts, levels: &Levels) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for def in lints {
        let (level, source) = levels.level_of(def);
        if level == Level::Allow {
            continue;
        }
        let mut cx = LintCx::new(facts);
        (def.check)(&mut cx);
        for mut d in cx.finish() {
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
    out
}

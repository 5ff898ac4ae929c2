//! Renderers: diagnostics -> text in the format the user asked for.
//!
//! Reads only `source` and `diag`. Each renderer writes whole diagnostics to
//! the given writer; the caller decides where output goes.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
pub mod snippet;

use crate::diag::{Diagnostic, PathProblem};
use crate::source::SourceDb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Short,
    Json,
    Sarif,
    Github,
}

/// What SARIF says about each lint (the renderer does not know the lint catalog).
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: &'static str,
    pub summary: &'static str,
    /// The "What it does" section.
    pub what_it_does: String,
    /// The whole documentation (Markdown).
    pub docs: String,
    pub help_uri: String,
    pub default_level: crate::diag::Level,
    pub group: &'static str,
}

/// Everything a run produced, ready to render.
pub struct Report<'a> {
    pub db: &'a SourceDb,
    pub diags: &'a [Diagnostic],
    pub problems: &'a [PathProblem],
    pub rules: &'a [Rule],
}

/// `error[wsa_lint::name]` / `warning` heading words.
pub fn code_of(d: &Diagnostic) -> Option<String> {
    d.lint.map(|l| format!("wsa_lint::{l}"))
}

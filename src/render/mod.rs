//! Renderers: diagnostics -> text in the format the user asked for.
//!
//! Reads only `source` and `diag`. Each renderer writes whole diagnostics to
//! the given writer; the caller decides where output goes.

pub mod human;
pub mod json;

use crate::diag::{Diagnostic, PathProblem};
use crate::source::SourceDb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Short,
    Json,
}

/// Everything a run produced, ready to render.
pub struct Report<'a> {
    pub db: &'a SourceDb,
    pub diags: &'a [Diagnostic],
    pub problems: &'a [PathProblem],
}

/// `error[wsa_lint::name]` / `warning` heading words.
pub fn code_of(d: &Diagnostic) -> Option<String> {
    d.lint.map(|l| format!("wsa_lint::{l}"))
}

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
use codespan_reporting::term::termcolor::ColorChoice;
use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Short,
    Json,
    Sarif,
    Github,
}

/// `--color WHEN` of `wsa-lint` and `wsa-lint verify`. Here, below both, so that neither
/// command imports the other's definitions. (No `///` on the variants: clap would print them
/// as help text for each value.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// The colour choice for human output on stderr: `auto` colours only a terminal, and only
    /// when `NO_COLOR` is unset or empty (<https://no-color.org>).
    pub fn choice_for_stderr(self) -> ColorChoice {
        match self {
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
            Color::Auto => {
                if std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                {
                    ColorChoice::Auto
                } else {
                    ColorChoice::Never
                }
            }
        }
    }
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

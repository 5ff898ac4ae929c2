//! `human` (rustc-style, via codespan-reporting) and `short` output.

use super::snippet::SnippetFiles;
use super::{code_of, Report};
use crate::diag::{Diagnostic, NoteKind, Severity};
use crate::source::SourceFile;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::Error as FilesError;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::WriteColor;
use std::io::Write;
use std::sync::Arc;

/// The diagnostic in codespan's terms, its labels pointing into `view`.
fn to_codespan(
    files: &[Arc<SourceFile>],
    view: &SnippetFiles,
    d: &Diagnostic,
) -> cs::Diagnostic<usize> {
    let sev = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
        Severity::Note => cs::Diagnostic::note(),
    };
    let mut out = sev.with_message(&d.message);
    if let Some(code) = code_of(d) {
        out = out.with_code(code);
    }
    let mut labels = Vec::new();
    for l in &d.labels {
        // A span whose file the store does not hold has nothing to show.
        let Some((file, range)) = view.range_of(l.span, files) else {
            continue;
        };
        let label = if l.primary {
            cs::Label::primary(file, range)
        } else {
            cs::Label::secondary(file, range)
        };
        labels.push(label.with_message(&l.message));
    }
    let mut notes: Vec<String> = d
        .suggestions
        .iter()
        .map(|s| format!("help: {}: `{}`", s.message, s.replacement))
        .collect();
    notes.extend(d.notes.iter().map(|n| match n.kind {
        NoteKind::Note => format!("note: {}", n.message),
        NoteKind::Help => format!("help: {}", n.message),
    }));
    out.with_labels(labels).with_notes(notes)
}

/// The view of the lines `d` shows, long lines cut (see `snippet`).
fn view_of(files: &[Arc<SourceFile>], config: &term::Config, d: &Diagnostic) -> SnippetFiles {
    SnippetFiles::new(files, d.labels.iter().map(|l| l.span), config)
}

/// Renders one diagnostic as rustc-style text (no colour); used for JSON `rendered`.
pub fn render_plain(files: &[Arc<SourceFile>], d: &Diagnostic) -> String {
    let mut buf = term::termcolor::NoColor::new(Vec::new());
    let config = config();
    let view = view_of(files, &config, d);
    let _ = term::emit(&mut buf, &config, &view, &to_codespan(files, &view, d));
    String::from_utf8_lossy(&buf.into_inner()).into_owned()
}

pub fn human(report: &Report<'_>, w: &mut dyn WriteColor) -> std::io::Result<()> {
    let files = report.db.all();
    let config = config();
    let no_snippets = SnippetFiles::default();
    for p in report.problems {
        let d = cs::Diagnostic::<usize>::error().with_message(format!("{}: {}", p.path, p.message));
        emit(w, &config, &no_snippets, &d)?;
    }
    for d in report.diags {
        let view = view_of(&files, &config, d);
        emit(w, &config, &view, &to_codespan(&files, &view, d))?;
    }
    summary(report, w)
}

fn emit(
    w: &mut dyn WriteColor,
    config: &term::Config,
    files: &SnippetFiles,
    d: &cs::Diagnostic<usize>,
) -> std::io::Result<()> {
    term::emit(w, config, files, d).map_err(|e| match e {
        FilesError::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    })
}

fn summary(report: &Report<'_>, w: &mut dyn WriteColor) -> std::io::Result<()> {
    let errors = report
        .diags
        .iter()
        .filter(|d| d.lint.is_some() && d.severity == Severity::Error)
        .count();
    let warnings = report
        .diags
        .iter()
        .filter(|d| d.lint.is_some() && d.severity == Severity::Warning)
        .count();
    // Functions the analysis could not follow to the end (their note says why).
    let partial = report
        .diags
        .iter()
        .filter(|d| d.lint.is_none() && d.severity == Severity::Note)
        .count();
    if errors + warnings + partial == 0 {
        return Ok(());
    }
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(plural(errors, "error"));
    }
    if warnings > 0 {
        parts.push(plural(warnings, "warning"));
    }
    let mut line = if parts.is_empty() {
        "wsa-lint: no findings".to_string()
    } else {
        format!("wsa-lint: {} emitted", parts.join(" and "))
    };
    if partial > 0 {
        line.push_str(&format!(
            "; {} not fully analysed",
            if partial == 1 {
                "1 function was".to_string()
            } else {
                format!("{partial} functions were")
            }
        ));
    }
    writeln!(w, "{line}")
}

/// `file:line:col: level[code]: message`, one line per diagnostic.
pub fn short(report: &Report<'_>, w: &mut dyn Write) -> std::io::Result<()> {
    for p in report.problems {
        writeln!(w, "{}: error: {}", p.path, p.message)?;
    }
    for d in report.diags {
        let level = d.severity.as_str();
        let code = code_of(d).map(|c| format!("[{c}]")).unwrap_or_default();
        match d.primary_span() {
            Some(s) => {
                let f = report.db.get(s.file);
                let lc = f.line_col(s.lo);
                writeln!(
                    w,
                    "{}:{}:{}: {level}{code}: {}",
                    f.display, lc.line, lc.col, d.message
                )?;
            }
            None => writeln!(w, "{level}{code}: {}", d.message)?,
        }
    }
    Ok(())
}

/// rustc's look: ASCII art (`-->`, `|`, `^^^`, `= note:`).
fn config() -> term::Config {
    term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    }
}

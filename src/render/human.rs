//! `human` (rustc-style, via codespan-reporting) and `short` output.

use super::{code_of, Report};
use crate::diag::{Diagnostic, NoteKind, Severity};
use crate::source::{SourceDb, SourceFile};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term;
use codespan_reporting::term::termcolor::WriteColor;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

/// codespan's view of our source store.
pub struct CsFiles {
    files: Vec<Arc<SourceFile>>,
}

impl CsFiles {
    pub fn new(db: &SourceDb) -> CsFiles {
        CsFiles { files: db.all() }
    }

    fn get(&self, id: usize) -> Result<&SourceFile, FilesError> {
        self.files
            .get(id)
            .map(|f| &**f)
            .ok_or(FilesError::FileMissing)
    }
}

impl<'a> Files<'a> for CsFiles {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.display)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.text)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.get(id)?.line_col(byte_index as u32).line - 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let f = self.get(id)?;
        if line_index >= f.line_count() {
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: f.line_count().saturating_sub(1),
            });
        }
        let start = f.offset_of(line_index + 1, 0);
        let end = if line_index + 1 < f.line_count() {
            f.offset_of(line_index + 2, 0)
        } else {
            f.text.len()
        };
        Ok(start..end)
    }
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
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
        let range = l.span.lo as usize..l.span.hi as usize;
        let label = if l.primary {
            cs::Label::primary(l.span.file.0 as usize, range)
        } else {
            cs::Label::secondary(l.span.file.0 as usize, range)
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

/// Renders one diagnostic as rustc-style text (no colour); used for JSON `rendered`.
pub fn render_plain(files: &CsFiles, d: &Diagnostic) -> String {
    let mut buf = term::termcolor::NoColor::new(Vec::new());
    let config = config();
    let _ = term::emit(&mut buf, &config, files, &to_codespan(d));
    String::from_utf8_lossy(&buf.into_inner()).into_owned()
}

pub fn human(report: &Report<'_>, w: &mut dyn WriteColor) -> std::io::Result<()> {
    let files = CsFiles::new(report.db);
    let config = config();
    for p in report.problems {
        let d = cs::Diagnostic::<usize>::error().with_message(format!("{}: {}", p.path, p.message));
        emit(w, &config, &files, &d)?;
    }
    for d in report.diags {
        emit(w, &config, &files, &to_codespan(d))?;
    }
    summary(report, w)
}

fn emit(
    w: &mut dyn WriteColor,
    config: &term::Config,
    files: &CsFiles,
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
    if errors + warnings == 0 {
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
    writeln!(w, "wsa-lint: {} emitted", parts.join(" and "))
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

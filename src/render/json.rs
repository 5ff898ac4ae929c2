//! `json`: one object per line in the shape of cargo's `compiler-message`, so
//! rust-analyzer's `check.overrideCommand` and cargo tooling can read it.

use super::human::render_plain;
use super::snippet::{line_bounds, split_terminator, TrimmedLine};
use super::{code_of, Report};
use crate::diag::{Diagnostic, Label, NoteKind, Severity};
use crate::source::{SourceDb, SourceFile, Span};
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;

#[derive(Serialize)]
struct Message<'a> {
    reason: &'static str,
    package_id: String,
    manifest_path: String,
    target: Target,
    message: RustcDiagnostic<'a>,
}

#[derive(Serialize)]
struct Target {
    kind: Vec<&'static str>,
    crate_types: Vec<&'static str>,
    name: String,
    src_path: String,
    edition: &'static str,
    doc: bool,
    doctest: bool,
    test: bool,
}

#[derive(Serialize)]
struct RustcDiagnostic<'a> {
    #[serde(rename = "$message_type")]
    message_type: &'static str,
    message: &'a str,
    code: Option<Code>,
    level: &'static str,
    spans: Vec<JsonSpan>,
    children: Vec<RustcDiagnostic<'a>>,
    rendered: Option<String>,
}

#[derive(Serialize)]
struct Code {
    code: String,
    explanation: Option<String>,
}

#[derive(Serialize)]
struct JsonSpan {
    file_name: String,
    byte_start: u32,
    byte_end: u32,
    line_start: usize,
    line_end: usize,
    column_start: usize,
    column_end: usize,
    is_primary: bool,
    text: Vec<SpanLine>,
    label: Option<String>,
    suggested_replacement: Option<String>,
    suggestion_applicability: Option<String>,
    expansion: Option<()>,
}

#[derive(Serialize)]
struct SpanLine {
    text: String,
    highlight_start: usize,
    highlight_end: usize,
}

fn json_span(db: &SourceDb, span: Span, label: Option<&str>, primary: bool) -> JsonSpan {
    let f = db.get(span.file);
    let start = f.line_col(span.lo);
    let end = f.line_col(span.hi);
    let (lo, hi) = (span.lo as usize, span.hi as usize);
    let mut text = Vec::new();
    for line in start.line..=end.line {
        let bounds = line_bounds(&f, line - 1);
        let (content, _) = split_terminator(&f.text[bounds.clone()]);
        // Byte offsets in the line of what it highlights: all of a line a span passes through.
        let a = if line == start.line {
            lo.saturating_sub(bounds.start)
        } else {
            0
        };
        let b = if line == end.line {
            hi.saturating_sub(bounds.start)
        } else {
            content.len()
        };
        // Like cargo, `text` is the line; a line of megabytes is cut around the highlight
        // (`...` where text was left out), and the highlight columns count in what is shown.
        let highlight = a.min(content.len())..b.min(content.len());
        let shown = TrimmedLine::new(content, std::slice::from_ref(&highlight));
        text.push(SpanLine {
            highlight_start: shown.shown_column(a) + 1,
            highlight_end: shown.shown_column(b) + 1,
            text: shown.text,
        });
    }
    JsonSpan {
        file_name: f.display.clone(),
        byte_start: span.lo,
        byte_end: span.hi,
        line_start: start.line,
        line_end: end.line,
        column_start: start.col,
        column_end: end.col,
        is_primary: primary,
        text,
        label: label.map(str::to_string),
        suggested_replacement: None,
        suggestion_applicability: None,
        expansion: None,
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn envelope<'a>(db: &SourceDb, primary: Option<Span>, message: RustcDiagnostic<'a>) -> Message<'a> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let (name, src_path) = match primary {
        Some(s) => {
            let f = db.get(s.file);
            (
                f.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                f.path.display().to_string(),
            )
        }
        None => ("wsa-lint".to_string(), cwd.display().to_string()),
    };
    Message {
        reason: "compiler-message",
        package_id: format!("path+file://{}#wsa-lint-input@0.0.0", cwd.display()),
        manifest_path: cwd.join("Cargo.toml").display().to_string(),
        target: Target {
            kind: vec!["lib"],
            crate_types: vec!["lib"],
            name,
            src_path,
            edition: "2021",
            doc: false,
            doctest: false,
            test: false,
        },
        message,
    }
}

pub fn json(report: &Report<'_>, w: &mut dyn Write) -> std::io::Result<()> {
    let files = report.db.all();
    for p in report.problems {
        let text = format!("{}: {}", p.path, p.message);
        let msg = RustcDiagnostic {
            message_type: "diagnostic",
            message: &text,
            code: None,
            level: "error",
            spans: Vec::new(),
            children: Vec::new(),
            rendered: Some(format!("error: {text}\n")),
        };
        write_line(w, &envelope(report.db, None, msg))?;
    }
    for d in report.diags {
        let msg = diagnostic(report.db, &files, d);
        write_line(w, &envelope(report.db, d.primary_span(), msg))?;
    }
    let success = !report
        .diags
        .iter()
        .any(|d| d.lint.is_some() && d.severity == Severity::Error);
    writeln!(w, "{{\"reason\":\"build-finished\",\"success\":{success}}}")
}

fn diagnostic<'a>(
    db: &SourceDb,
    files: &[Arc<SourceFile>],
    d: &'a Diagnostic,
) -> RustcDiagnostic<'a> {
    let spans = d
        .labels
        .iter()
        .map(
            |Label {
                 span,
                 message,
                 primary,
             }| json_span(db, *span, Some(message), *primary),
        )
        .collect();
    let suggestions = d.suggestions.iter().map(|s| {
        let mut span = json_span(db, s.span, None, true);
        span.suggested_replacement = Some(s.replacement.clone());
        span.suggestion_applicability = Some(s.applicability.as_str().to_string());
        RustcDiagnostic {
            message_type: "diagnostic",
            message: &s.message,
            code: None,
            level: "help",
            spans: vec![span],
            children: Vec::new(),
            rendered: None,
        }
    });
    let children = suggestions
        .chain(d.notes.iter().map(|n| {
            RustcDiagnostic {
                message_type: "diagnostic",
                message: &n.message,
                code: None,
                level: match n.kind {
                    NoteKind::Note => "note",
                    NoteKind::Help => "help",
                },
                spans: n
                    .span
                    .map(|s| vec![json_span(db, s, None, false)])
                    .unwrap_or_default(),
                children: Vec::new(),
                rendered: None,
            }
        }))
        .collect();
    RustcDiagnostic {
        message_type: "diagnostic",
        message: &d.message,
        code: code_of(d).map(|code| Code {
            code,
            explanation: None,
        }),
        level: level(d.severity),
        spans,
        children,
        rendered: Some(render_plain(files, d)),
    }
}

fn write_line<T: Serialize>(w: &mut dyn Write, v: &T) -> std::io::Result<()> {
    // `From` keeps a write error's kind (a closed pipe stays `BrokenPipe` for the caller).
    serde_json::to_writer(&mut *w, v).map_err(std::io::Error::from)?;
    writeln!(w)
}

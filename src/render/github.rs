//! `github`: GitHub Actions workflow commands, one per finding
//! (`::error file=..,line=..,col=..,endLine=..,endColumn=..,title=..::message`).

use super::Report;
use crate::diag::{NoteKind, Severity};
use std::io::Write;

/// Escapes a workflow-command message (`%`, CR, LF).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (also `:` and `,`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn github(report: &Report<'_>, w: &mut dyn Write) -> std::io::Result<()> {
    for p in report.problems {
        writeln!(
            w,
            "::error file={}::{}",
            property(&p.path),
            data(&p.message)
        )?;
    }
    for d in report.diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut message = d.message.clone();
        for n in &d.notes {
            let k = if n.kind == NoteKind::Help {
                "help"
            } else {
                "note"
            };
            message.push_str(&format!("\n{k}: {}", n.message));
        }
        let title = d
            .lint
            .map(|l| format!(",title={}", property(&format!("wsa_lint::{l}"))))
            .unwrap_or_default();
        match d.primary_span() {
            Some(s) => {
                let f = report.db.get(s.file);
                let a = f.line_col(s.lo);
                let b = f.line_col(s.hi);
                writeln!(
                    w,
                    "::{kind} file={},line={},col={},endLine={},endColumn={}{title}::{}",
                    property(&f.display),
                    a.line,
                    a.col,
                    b.line,
                    b.col,
                    data(&message)
                )?;
            }
            None => writeln!(
                w,
                "::{kind}{}::{}",
                title.replacen(',', " ", 1),
                data(&message)
            )?,
        }
    }
    Ok(())
}

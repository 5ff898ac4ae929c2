//! `sarif`: SARIF 2.1.0, one run, one rule per lint, locations relative to the repository root.

use super::{Report, Rule};
use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceDb, Span};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository root: the nearest ancestor of the working directory with `.git`, else the
/// working directory itself.
fn repo_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    cwd.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&cwd)
        .to_path_buf()
}

fn uri_of(root: &Path, path: &Path) -> (String, bool) {
    match path.strip_prefix(root) {
        Ok(rel) => (
            rel.components()
                .map(|c| percent(c.as_os_str().as_encoded_bytes(), false))
                .collect::<Vec<_>>()
                .join("/"),
            true,
        ),
        Err(_) => (
            format!(
                "file://{}",
                percent(path.as_os_str().as_encoded_bytes(), true)
            ),
            false,
        ),
    }
}

/// Percent-encodes what a URI path may not hold (RFC 3986 `pchar`, plus `/` between segments):
/// spaces, `%`, `#`, `?`, controls and every non-ASCII byte. A name's own bytes are encoded
/// (UTF-8, or whatever bytes a Unix file name holds), so a name that is not UTF-8 still round-trips.
///
/// `:` is kept only in an absolute `file://` path (a Windows drive, `C:`). In a relative
/// reference it is encoded in every segment: in the first one a `:` would make the name read
/// as a URI scheme (`colon:x.rs`), and encoding it elsewhere too keeps one rule for all names.
fn percent(s: &[u8], keep_colon: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&b)
            || (keep_colon && b == b':')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn location(db: &SourceDb, root: &Path, span: Span, message: Option<&str>) -> Value {
    let f = db.get(span.file);
    let abs = f.path.canonicalize().unwrap_or_else(|_| f.path.clone());
    let (uri, relative) = uri_of(root, &abs);
    let start = f.line_col(span.lo);
    let end = f.line_col(span.hi);
    let mut artifact = json!({ "uri": uri });
    if relative {
        artifact["uriBaseId"] = json!("%SRCROOT%");
    }
    let mut loc = json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {
                "startLine": start.line,
                "startColumn": start.col,
                "endLine": end.line,
                "endColumn": end.col.max(if end.line == start.line { start.col } else { 1 }),
            }
        }
    });
    if let Some(m) = message {
        loc["message"] = json!({ "text": m });
    }
    loc
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn result(db: &SourceDb, root: &Path, rules: &[Rule], d: &Diagnostic) -> Option<Value> {
    let lint = d.lint?;
    let index = rules.iter().position(|r| r.name == lint)?;
    let primary = d.primary_span()?;
    let mut text = d.message.clone();
    for n in &d.notes {
        text.push_str(&format!(
            "\n{}: {}",
            match n.kind {
                crate::diag::NoteKind::Note => "note",
                crate::diag::NoteKind::Help => "help",
            },
            n.message
        ));
    }
    let related: Vec<Value> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .enumerate()
        .map(|(i, l)| {
            let mut v = location(db, root, l.span, Some(&l.message));
            v["id"] = json!(i + 1);
            v
        })
        .collect();
    let primary_label = d
        .labels
        .iter()
        .find(|l| l.primary)
        .map(|l| l.message.as_str());
    let mut r = json!({
        "ruleId": format!("wsa_lint::{lint}"),
        "ruleIndex": index,
        "level": level(d.severity),
        "message": { "text": text },
        "locations": [location(db, root, primary, primary_label)],
    });
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    if !d.suggestions.is_empty() {
        r["fixes"] = json!(d
            .suggestions
            .iter()
            .map(|s| {
                let loc = location(db, root, s.span, None);
                json!({
                    "description": { "text": s.message },
                    "artifactChanges": [{
                        "artifactLocation": loc["physicalLocation"]["artifactLocation"],
                        "replacements": [{
                            "deletedRegion": loc["physicalLocation"]["region"],
                            "insertedContent": { "text": s.replacement }
                        }]
                    }]
                })
            })
            .collect::<Vec<_>>());
    }
    Some(r)
}

pub fn sarif(report: &Report<'_>, w: &mut dyn Write) -> std::io::Result<()> {
    let root = repo_root();
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            json!({
                "id": format!("wsa_lint::{}", r.name),
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.what_it_does },
                "help": { "text": r.docs, "markdown": r.docs },
                "helpUri": r.help_uri,
                "defaultConfiguration": { "level": match r.default_level {
                    crate::diag::Level::Deny => "error",
                    crate::diag::Level::Warn => "warning",
                    crate::diag::Level::Allow => "none",
                } },
                "properties": { "tags": [r.group] },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diags
        .iter()
        .filter_map(|d| result(report.db, &root, report.rules, d))
        .collect();
    let mut notifications: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({ "level": "error", "message": { "text": format!("{}: {}", p.path, p.message) } }))
        .collect();
    for d in report.diags.iter().filter(|d| d.lint.is_none()) {
        let mut n = json!({ "level": level(d.severity), "message": { "text": d.message } });
        if let Some(s) = d.primary_span() {
            n["locations"] = json!([location(report.db, &root, s, None)]);
        }
        notifications.push(n);
    }
    let root_uri = format!(
        "file://{}/",
        percent(root.as_os_str().as_encoded_bytes(), true).trim_end_matches('/')
    );
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "wsa-lint",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                "rules": rules,
            } },
            "originalUriBaseIds": { "%SRCROOT%": { "uri": root_uri } },
            // `source::LineCol` counts columns in characters, i.e. Unicode code points.
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": report.problems.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }]
    });
    // `From` keeps a write error's kind (a closed pipe stays `BrokenPipe` for the caller).
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(std::io::Error::from)?;
    writeln!(w)
}

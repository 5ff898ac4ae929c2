//! Parsing: one file's text -> its lowered `FileIr`, or a diagnostic.
//!
//! Must run on the thread that will lower the tree (proc-macro2 span positions
//! are thread-local) and on a large stack (deeply nested input recurses).

use crate::diag::Diagnostic;
use crate::ir::FileIr;
use crate::lower::Lowerer;
use crate::source::{FileId, Span};

/// Bracket nesting beyond which a file is reported instead of parsed.
pub const MAX_NESTING: usize = 100_000;

pub fn parse(file: FileId, text: &str) -> Result<FileIr, Diagnostic> {
    let (base, body) = strip_prelude(text);
    if let Some(at) = too_deep(body) {
        return Err(Diagnostic::input_error(
            Span::new(file, base + at, base + at + 1),
            format!(
                "expressions are nested more than {MAX_NESTING} levels deep; this file is skipped"
            ),
            "nesting exceeds the limit here",
        ));
    }
    let result = match syn::parse_str::<syn::File>(body) {
        Ok(f) => Ok(Lowerer::new(file, base).file(&f)),
        Err(e) => {
            let r = e.span().byte_range();
            let (lo, hi) = if r.start == 0 && r.end == 0 {
                (0, 0)
            } else {
                (base + r.start, base + r.end)
            };
            let what = e.to_string();
            let what = if what == "cannot parse string into token stream" {
                "unbalanced delimiters or an unterminated literal".to_string()
            } else {
                what
            };
            Err(Diagnostic::input_error(
                Span::new(file, lo, hi),
                format!("this file does not parse as Rust: {what}"),
                "syntax error here",
            ))
        }
    };
    // The tree and everything derived from it are dropped: free this thread's span table.
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

/// Does `text` parse as a Rust file? (For checking an edit before it is written; run it on a
/// large stack, as `parse`.)
pub fn parses(text: &str) -> bool {
    let (_, body) = strip_prelude(text);
    let ok = too_deep(body).is_none() && syn::parse_str::<syn::File>(body).is_ok();
    proc_macro2::extra::invalidate_current_thread_spans();
    ok
}

/// Skips what `syn::parse_file` would: a byte-order mark and a `#!` line that is not an attribute.
fn strip_prelude(text: &str) -> (usize, &str) {
    let mut base = 0;
    let mut body = text;
    if let Some(rest) = body.strip_prefix('\u{feff}') {
        base += 3;
        body = rest;
    }
    if body.starts_with("#!") && !body[2..].trim_start().starts_with('[') {
        let cut = body.find('\n').unwrap_or(body.len());
        base += cut;
        body = &body[cut..];
    }
    (base, body)
}

/// Where bracket nesting first exceeds the limit (a cheap upper bound: brackets in strings count too).
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

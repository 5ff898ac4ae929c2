//! In-source suppression: `// wsa-lint: allow(LINT, ..)` comments and the
//! code each one covers.
//!
//! - At the end of a line: that line.
//! - On its own line above code: the next line of code; when that line starts
//!   a function, the whole function.
//! - As the first line inside a function body: the whole function.
//! - `//! wsa-lint: allow(..)`, or a comment before the first item of the
//!   file followed by a blank line: the whole file.

use crate::source::{SourceFile, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// A lint name, a group name or `all`.
    pub lint: String,
    /// The comment, for "unused" and "unknown lint" reports.
    pub comment: Span,
    /// Byte range covered.
    pub scope: (u32, u32),
}

/// A function item's extent in a file: (start of the item, end of the body, the body's `{`).
pub type FnExtent = (u32, u32, u32);

struct Line<'a> {
    lo: usize,
    hi: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut lo = 0;
    for l in text.split_inclusive('\n') {
        let hi = lo + l.len();
        out.push(Line {
            lo,
            hi,
            text: l.trim_end_matches(['\n', '\r']),
        });
        lo = hi;
    }
    out
}

/// Where `//` starts a comment on the line (outside string literals, roughly).
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes[i + 1] == b'/' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_code(line: &str) -> bool {
    let t = line.trim();
    !(t.is_empty() || t.starts_with("//") || t.starts_with("#[") || t.starts_with("#!["))
}

/// Reads the allow comments of a file and the ranges they cover.
pub fn allows(file: &SourceFile, fns: &[FnExtent]) -> Vec<Allow> {
    let text = &file.text;
    let ls = lines(text);
    let mut out = Vec::new();
    for (i, line) in ls.iter().enumerate() {
        let Some(c) = comment_start(line.text) else {
            continue;
        };
        let body = &line.text[c + 2..];
        let inner_doc = body.starts_with('!');
        let body = body.trim_start_matches(['/', '!']).trim_start();
        let Some(rest) = body.strip_prefix("wsa-lint:") else {
            continue;
        };
        let Some(list) = rest.trim_start().strip_prefix("allow(") else {
            continue;
        };
        let Some(end) = list.find(')') else { continue };
        let comment = Span::new(file.id, line.lo + c, line.lo + line.text.len());
        let trailing = !line.text[..c].trim().is_empty();
        let scope = if trailing {
            (line.lo as u32, line.hi as u32)
        } else if inner_doc
            || (ls[..i].iter().all(|l| !is_code(l.text))
                && ls.get(i + 1).is_some_and(|l| l.text.trim().is_empty()))
        {
            (0, text.len() as u32)
        } else if let Some(f) = fns.iter().find(|f| {
            // First line inside a function body.
            (f.2 as usize) < line.lo
                && line.lo < f.1 as usize
                && !text[f.2 as usize + 1..line.lo].lines().any(is_code)
        }) {
            (f.0, f.1)
        } else {
            match ls[i + 1..].iter().find(|l| is_code(l.text)) {
                None => continue,
                Some(next) => match fns
                    .iter()
                    .find(|f| (f.0 as usize) >= line.hi && (f.0 as usize) < next.hi)
                {
                    Some(f) => (f.0, f.1),
                    None => (next.lo as u32, next.hi as u32),
                },
            }
        };
        for name in list[..end].split(',') {
            let name = name
                .trim()
                .trim_start_matches("wsa_lint::")
                .replace('-', "_");
            if !name.is_empty() {
                out.push(Allow {
                    lint: name,
                    comment,
                    scope,
                });
            }
        }
    }
    out
}

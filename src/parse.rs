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
    if let Some(ir) = parse_in_parts(file, base, body) {
        proc_macro2::extra::invalidate_current_thread_spans();
        return Ok(ir);
    }
    let result = match syn::parse_str::<syn::File>(body) {
        Ok(f) => Ok(Lowerer::new(file, base, body).file(&f)),
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

/// Files larger than this are parsed item group by item group (`parse_in_parts`).
const PART_BYTES: usize = 256 * 1024;

/// A large file, parsed and lowered a part at a time: a part is whole top-level items of about
/// `PART_BYTES`, and its syntax tree is dropped once lowered. A syn tree takes about 150 bytes
/// per byte of source, so a 25 MB generated file parsed whole needed about 4 GB; in parts, the
/// tree of one part at a time. `None` (the caller parses the file whole, as for a small file)
/// when the file is small, defines `macro_rules!` (an expansion's tokens carry the spans of the
/// part that defined the macro), or a part does not parse (the whole file then reports the
/// error where syn finds it).
fn parse_in_parts(file: FileId, base: usize, body: &str) -> Option<FileIr> {
    if body.len() <= PART_BYTES || body.contains("macro_rules") {
        return None;
    }
    let cuts = item_boundaries(body.as_bytes(), PART_BYTES);
    if cuts.is_empty() {
        return None;
    }
    let mut lowerer = Lowerer::new(file, base, body);
    let mut items = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(body.len())) {
        let part = &body[start..end];
        lowerer.rebase(base + start, part);
        // Inner attributes (`#![..]`) can only open the file: a later part must not have any.
        let tree = syn::parse_str::<syn::File>(part).ok()?;
        if start > 0 && !tree.attrs.is_empty() {
            return None;
        }
        items.extend(lowerer.file(&tree).items);
        start = end;
    }
    Some(FileIr { file, items })
}

/// Byte offsets at which the file can be cut into parts of at least `size` bytes that each hold
/// whole top-level items: just after a `}` or `;` outside any bracket, when the next token
/// starts an item (`fn`, `pub`, `impl`, `#[..]`, ...). Strings, characters and comments are
/// skipped. A mistake (an odd literal) only makes a part fail to parse, and the file is then
/// parsed whole.
fn item_boundaries(text: &[u8], size: usize) -> Vec<usize> {
    const STARTS: &[&[u8]] = &[
        b"fn", b"pub", b"struct", b"enum", b"impl", b"mod", b"use", b"const", b"static", b"trait",
        b"type", b"extern", b"unsafe", b"async", b"union",
    ];
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    let mut cuts = Vec::new();
    let mut last = 0;
    let mut depth = 0usize;
    let mut i = 0;
    let n = text.len();
    while i < n {
        let b = text[i];
        match b {
            b'/' if text.get(i + 1) == Some(&b'/') => {
                while i < n && text[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if text.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(text, i);
                continue;
            }
            b'"' => {
                i = skip_string(text, i + 1);
                continue;
            }
            b'\'' => {
                i = skip_char(text, i);
                continue;
            }
            b'r' | b'b' | b'c' if i == 0 || !ident(text[i - 1]) => {
                if let Some(end) = skip_prefixed_literal(text, i) {
                    i = end;
                    continue;
                }
                while i < n && ident(text[i]) {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b'}' | b';' => {
                if b == b'}' {
                    depth = depth.saturating_sub(1);
                }
                if depth == 0 && i + 1 - last >= size {
                    let next = next_token(text, i + 1);
                    let rest = &text[next..];
                    let word_end = rest.iter().position(|&c| !ident(c)).unwrap_or(rest.len());
                    let starts_item = STARTS.contains(&&rest[..word_end])
                        || (rest.first() == Some(&b'#') && rest.get(1) != Some(&b'!'));
                    if starts_item {
                        cuts.push(i + 1);
                        last = i + 1;
                    }
                }
            }
            _ if ident(b) => {
                while i < n && ident(text[i]) {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    cuts
}

/// After a `/*` at `i`: the end of the (nested) block comment.
fn skip_block_comment(text: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < text.len() {
        if text[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if text[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// From just inside a `"`: the byte after the closing quote.
fn skip_string(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// At a `'`: past a character literal, or past the quote of a lifetime or label.
fn skip_char(text: &[u8], i: usize) -> usize {
    match text.get(i + 1) {
        Some(b'\\') => {
            // Past the escaped character, which may be a quote itself.
            let mut j = i + 3;
            while j < text.len() && text[j] != b'\'' && text[j] != b'\n' {
                j += 1;
            }
            j + 1
        }
        Some(&c) => {
            // One character (1 to 4 bytes of UTF-8), then the closing quote.
            let len = match c {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            if text.get(i + 1 + len) == Some(&b'\'') {
                i + 2 + len
            } else {
                i + 1
            }
        }
        None => i + 1,
    }
}

/// At `r`, `b` or `c` starting a word: past a raw, byte or C string (or byte character) when
/// one starts here.
fn skip_prefixed_literal(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(text[j], b'b' | b'c') {
        j += 1;
        match text.get(j) {
            Some(b'"') => return Some(skip_string(text, j + 1)),
            Some(b'\'') if text[i] == b'b' => return Some(skip_char(text, j)),
            Some(b'r') => {}
            _ => return None,
        }
    }
    if text.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = text[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if text.get(j) != Some(&b'"') {
        return None;
    }
    j += 1;
    while j < text.len() {
        if text[j] == b'"'
            && text
                .get(j + 1..j + 1 + hashes)
                .is_some_and(|h| h.iter().all(|&c| c == b'#'))
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// The first byte at or after `i` that is not white space or inside a comment.
fn next_token(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        if text[i].is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with(b"//") {
            while i < text.len() && text[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with(b"/*") {
            i = skip_block_comment(text, i);
        } else {
            break;
        }
    }
    i
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of every shape the cutter must step over or between, with strings, characters,
    /// lifetimes and comments holding brackets and item words.
    fn varied(i: usize) -> String {
        format!(
            r####"/// docs with {{ and fn {i}
#[inline]
pub fn f{i}<'a>(x: &'a str) -> usize {{ let c = '{{'; let q = '\''; let s = "}} fn ;"; x.len() + {i} }}
use std::collections::{{HashMap, HashSet}};
const C{i}: S = S {{ a: 1 }};
struct T{i}(u32);
static R{i}: &str = r#"}} " fn"#;
/* block {{ /* nested }} */ fn */
impl T{i} {{ fn get(&self) -> u32 {{ if self.0 > 1 {{ b'}}' as u32 }} else {{ 0 }} }} }}
extern "system" {{ fn ext{i}(); }}
enum E{i} {{ A = {{ 1 }}, B }}
type F{i} = fn() -> [u8; 4];
"####
        )
    }

    #[test]
    fn a_large_file_parsed_in_parts_lowers_as_parsed_whole() {
        let text: String = (0..1200).map(varied).collect();
        assert!(text.len() > 2 * PART_BYTES, "{}", text.len());
        let cuts = item_boundaries(text.as_bytes(), PART_BYTES);
        assert!(cuts.len() >= 2, "{cuts:?}");
        let file = FileId(0);
        let parts = parse_in_parts(file, 0, &text).expect("every part parses");
        let whole = Lowerer::new(file, 0, &text).file(&syn::parse_str::<syn::File>(&text).unwrap());
        proc_macro2::extra::invalidate_current_thread_spans();
        assert_eq!(format!("{parts:?}"), format!("{whole:?}"));
    }

    /// Offsets from lines and columns equal those from byte ranges, on this crate's sources and
    /// fixtures, and on every `.rs` file below `WSA_LINT_LOWER_TREE` when it is set (the
    /// benchmark corpora, say).
    #[test]
    fn line_columns_give_the_offsets_byte_ranges_give() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut roots = vec![here.join("src"), here.join("fixtures")];
        roots.extend(std::env::var_os("WSA_LINT_LOWER_TREE").map(std::path::PathBuf::from));
        let (mut compared, mut unstable) = (0, 0);
        for root in roots {
            for e in walkdir::WalkDir::new(root).into_iter().flatten() {
                if e.path().extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                let (base, body) = strip_prelude(&text);
                if !body.is_ascii() || too_deep(body).is_some() || body.len() > PART_BYTES {
                    continue;
                }
                let Ok(tree) = syn::parse_str::<syn::File>(body) else {
                    proc_macro2::extra::invalidate_current_thread_spans();
                    continue;
                };
                // Twice by byte ranges: a file whose two lowerings differ (the expression
                // memo is keyed by node address, and a macro's temporary trees free and reuse
                // addresses) says nothing about the offsets, and is skipped.
                let slow = Lowerer::new(FileId(0), base, body)
                    .by_byte_ranges()
                    .file(&tree);
                let again = Lowerer::new(FileId(0), base, body)
                    .by_byte_ranges()
                    .file(&tree);
                let fast = Lowerer::new(FileId(0), base, body).file(&tree);
                drop(tree);
                proc_macro2::extra::invalidate_current_thread_spans();
                let (fast, slow, again) = (
                    format!("{fast:?}"),
                    format!("{slow:?}"),
                    format!("{again:?}"),
                );
                if slow != again {
                    unstable += 1;
                    continue;
                }
                assert_eq!(fast, slow, "{}", e.path().display());
                compared += 1;
            }
        }
        eprintln!("{compared} files compared, {unstable} skipped");
        assert!(compared > 100, "{compared}");
    }

    #[test]
    fn a_part_that_does_not_parse_sends_the_file_to_a_whole_parse() {
        let mut text: String = (0..800).map(varied).collect();
        text.push_str("fn broken( {\n");
        assert!(parse_in_parts(FileId(0), 0, &text).is_none());
        let err = parse(FileId(0), &text).unwrap_err();
        assert!(err.message.contains("does not parse"), "{}", err.message);
    }
}

//! Parsing: one file's text -> its lowered `FileIr`, or a diagnostic.
//!
//! Must run on the thread that will lower the tree (proc-macro2 span positions
//! are thread-local) and on a large stack (deeply nested input recurses).

use crate::diag::Diagnostic;
use crate::ir::{ElidedFn, FileIr, Item};
use crate::lower::{Lowerer, MacroEnv};
use crate::source::{FileId, Span};

/// Bracket nesting beyond which a file is reported instead of parsed.
pub const MAX_NESTING: usize = 100_000;

/// The Rust edition a crate is written in (`package.edition` of its manifest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edition {
    E2015,
    E2018,
    #[default]
    E2021,
    E2024,
}

impl Edition {
    /// The edition a manifest names (`"2015"`..); `None` for one this tool does not know.
    pub fn from_manifest(s: &str) -> Option<Edition> {
        Some(match s {
            "2015" => Edition::E2015,
            "2018" => Edition::E2018,
            "2021" => Edition::E2021,
            "2024" => Edition::E2024,
            _ => return None,
        })
    }
}

/// Parses and lowers a file. In a large file, functions that cannot matter are left out
/// (`parse_in_parts`); `parse_whole` is the same without that.
pub fn parse(file: FileId, text: &str) -> Result<FileIr, Diagnostic> {
    parse_with(file, text, true, Edition::default(), &Default::default())
}

/// `parse`, every function of the file lowered.
pub fn parse_whole(file: FileId, text: &str) -> Result<FileIr, Diagnostic> {
    parse_with(file, text, false, Edition::default(), &Default::default())
}

/// `parse` (or with `whole`, `parse_whole`) of a file of a crate of `edition`.
pub fn parse_as(
    file: FileId,
    text: &str,
    whole: bool,
    edition: Edition,
) -> Result<FileIr, Diagnostic> {
    parse_with(file, text, !whole, edition, &Default::default())
}

/// `parse_as` of a file that calls `macro_rules!` of other files of its crate, which `env`
/// holds.
pub fn parse_with_macros(
    file: FileId,
    text: &str,
    whole: bool,
    edition: Edition,
    env: &std::sync::Arc<MacroEnv>,
) -> Result<FileIr, Diagnostic> {
    parse_with(file, text, !whole, edition, env)
}

fn parse_with(
    file: FileId,
    text: &str,
    elide: bool,
    edition: Edition,
    env: &std::sync::Arc<MacroEnv>,
) -> Result<FileIr, Diagnostic> {
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
    if let Some(ir) = parse_in_parts(file, base, body, elide, env) {
        proc_macro2::extra::invalidate_current_thread_spans();
        return Ok(ir);
    }
    let result = match syn::parse_str::<syn::File>(body) {
        Ok(mut f) => {
            crate::cfg::expand_file(&mut f);
            Ok(Lowerer::new(file, base, body)
                .with_macros(env.clone())
                .file(&f))
        }
        Err(e) => {
            let (r, what) = syntax_error(&e);
            let (lo, hi) = if r.start == 0 && r.end == 0 {
                (0, 0)
            } else {
                (base + r.start, base + r.end)
            };
            drop(e);
            proc_macro2::extra::invalidate_current_thread_spans();
            // syn reads the 2018+ grammar: an older crate's text is read through a copy with
            // what only its edition allows rewritten in place (`older_edition_text`).
            let older = older_edition_text(body, edition);
            let text = older.as_deref().unwrap_or(body);
            if older.is_some() {
                if let Ok(mut f) = syn::parse_str::<syn::File>(text) {
                    crate::cfg::expand_file(&mut f);
                    let ir = Lowerer::new(file, base, text)
                        .with_macros(env.clone())
                        .file(&f);
                    drop(f);
                    proc_macro2::extra::invalidate_current_thread_spans();
                    return Ok(ir);
                }
                proc_macro2::extra::invalidate_current_thread_spans();
            }
            match parse_recovering(file, base, text, env) {
                Some(ir) => Ok(ir),
                None => Err(Diagnostic::input_error(
                    Span::new(file, lo, hi),
                    format!("this file does not parse as Rust: {what}"),
                    "syntax error here",
                )),
            }
        }
    };
    // The tree and everything derived from it are dropped: free this thread's span table.
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

/// Files larger than this are parsed item group by item group (`parse_in_parts`).
const PART_BYTES: usize = 256 * 1024;

/// A top-level item longer than this is not parsed (`FileIr::too_large`): its syntax tree
/// alone would take about 600 MB, and a longer one more than this machine's share.
pub const MAX_ITEM_BYTES: usize = 4 << 20;

/// A large file, parsed and lowered a part at a time: a part is whole top-level items of about
/// `PART_BYTES`, and its syntax tree is dropped once lowered. A syn tree takes about 150 bytes
/// per byte of source, so a 25 MB generated file parsed whole needed about 4 GB; in parts, the
/// tree of one part at a time. `None` (the caller parses the file whole, as for a small file)
/// when the file is small (up to `MAX_ITEM_BYTES` when it defines `macro_rules!`, so that a
/// macro expands wherever the file uses it: in parts, each part expands only its own macros,
/// since an expansion's tokens carry the spans of the part that defined the macro), or a part
/// does not parse (the whole file then reports the error where syn finds it).
///
/// With `elide`, top-level functions that cannot matter are not parsed at all (`elidable`):
/// they are listed in `FileIr::elided`, and the driver has the file parsed again without
/// eliding when another file's code could reach one of them.
fn parse_in_parts(
    file: FileId,
    base: usize,
    body: &str,
    elide: bool,
    env: &std::sync::Arc<MacroEnv>,
) -> Option<FileIr> {
    // A file that defines `macro_rules!` is parsed whole, so that a macro expands wherever the
    // file uses it, unless it is too large for that: then each part expands its own macros.
    let whole_limit = if body.contains("macro_rules") {
        MAX_ITEM_BYTES
    } else {
        PART_BYTES
    };
    if body.len() <= whole_limit {
        return None;
    }
    let bytes = body.as_bytes();
    let cuts = item_boundaries(bytes, if elide { 0 } else { PART_BYTES });
    // One item (or a file that cannot be cut) is parsed whole, unless it is too large to be.
    if cuts.is_empty() && body.len() <= MAX_ITEM_BYTES {
        return None;
    }
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend(cuts);
    bounds.push(body.len());
    let items: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let mut kept = if elide {
        let macros: Vec<&[u8]> = env.macros.iter().map(|m| m.name.as_bytes()).collect();
        elidable(bytes, &items, &macros)
    } else {
        vec![true; items.len()]
    };
    // An item's size from its first token: comments before it cost no tree.
    let big: Vec<bool> = items
        .iter()
        .map(|&(lo, hi)| hi - (lo + next_token(&bytes[lo..hi], 0)) > MAX_ITEM_BYTES)
        .collect();
    let left_out = |(lo, hi): (usize, usize)| {
        let (n_lo, n_hi) = fn_name(&bytes[lo..hi]).map_or((lo, lo), |(a, b)| (lo + a, lo + b));
        ElidedFn {
            span: Span::new(file, base + lo, base + hi),
            name_span: Span::new(file, base + n_lo, base + n_hi),
        }
    };
    // Too-large functions whose big statements name nothing Winsock: parsed with those
    // statements blanked out, by item index. Any other too-large item is not parsed.
    let mut blanked: std::collections::HashMap<usize, (Vec<u8>, usize)> = Default::default();
    let mut too_large = Vec::new();
    for (i, &(lo, hi)) in items.iter().enumerate() {
        if !big[i] {
            continue;
        }
        let text = &bytes[lo..hi];
        let blank = (kept[i] && fn_name(text).is_some())
            .then(|| blank_big_statements(text))
            .flatten();
        match blank {
            Some(b) => {
                blanked.insert(i, b);
            }
            None => {
                too_large.push(left_out((lo, hi)));
                kept[i] = false;
            }
        }
    }
    let mut lowerer = Lowerer::new(file, base, body).with_macros(env.clone());
    let mut out = Vec::new();
    let mut elided = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if let Some((text, omitted)) = blanked.remove(&i) {
            let text = std::str::from_utf8(&text).ok()?;
            for mut item in lower_part(&mut lowerer, base, items[i].0, text)? {
                if let crate::ir::Item::Fn(f) = &mut item {
                    std::sync::Arc::make_mut(f).incomplete.get_or_insert(format!(
                        "{:.1} MB of its statements, which name nothing Winsock, were not parsed (items over {} MB are not parsed whole)",
                        omitted as f64 / (1 << 20) as f64,
                        MAX_ITEM_BYTES >> 20
                    ));
                }
                out.push(item);
            }
            i += 1;
            continue;
        }
        if !kept[i] {
            if !big[i] {
                elided.push(left_out(items[i]));
            }
            i += 1;
            continue;
        }
        // A part: kept items that follow each other, up to `PART_BYTES`.
        let start = items[i].0;
        let mut end = items[i].1;
        i += 1;
        while i < items.len() && kept[i] && !blanked.contains_key(&i) && end - start < PART_BYTES {
            end = items[i].1;
            i += 1;
        }
        out.extend(lower_part(&mut lowerer, base, start, &body[start..end])?);
    }
    Some(FileIr {
        file,
        items: out,
        elided: elided.into(),
        too_large: too_large.into(),
        syntax_errors: Default::default(),
    })
}

/// Parses and lowers `text`, the part of the body that starts at `start` (the body starts at
/// `base` in the file), then frees the thread's span table: nothing of the part's tokens is
/// kept. `None` when it does not parse, or has inner attributes (`#![..]`) without opening
/// the file.
fn lower_part(lowerer: &mut Lowerer, base: usize, start: usize, text: &str) -> Option<Vec<Item>> {
    lower_part_or_error(lowerer, base, start, text).ok()
}

/// `lower_part`, with why a part that does not parse does not: the error's range in `text`
/// and its words.
fn lower_part_or_error(
    lowerer: &mut Lowerer,
    base: usize,
    start: usize,
    text: &str,
) -> Result<Vec<Item>, (std::ops::Range<usize>, String)> {
    lowerer.rebase(base + start, text);
    let mut tree = syn::parse_str::<syn::File>(text);
    if let Ok(t) = &mut tree {
        crate::cfg::expand_file(t);
    }
    let items = match &tree {
        Ok(t) if start == 0 || t.attrs.is_empty() => Ok(lowerer.file(t).items),
        Ok(_) => Err((
            0..0,
            "an inner attribute is not at the start of the file".into(),
        )),
        Err(e) => Err(syntax_error(e)),
    };
    drop(tree);
    proc_macro2::extra::invalidate_current_thread_spans();
    items
}

/// Where syn says a text does not parse, and why, in words for a user.
fn syntax_error(e: &syn::Error) -> (std::ops::Range<usize>, String) {
    let what = e.to_string();
    let what = if what == "cannot parse string into token stream" {
        "unbalanced delimiters or an unterminated literal".to_string()
    } else {
        what
    };
    (e.span().byte_range(), what)
}

/// A file that does not parse whole, item by item: one item syn cannot read (plain broken
/// code, or a construct of an older edition) costs that item, which becomes one diagnostic,
/// and the rest of the file is analysed. Items are cut where `item_boundaries` cuts them when
/// the file's brackets balance; when they do not, the depth says nothing after the bad
/// bracket, and items are cut before a line that starts (in its first column, as formatted
/// code has them) with an item's first word, after a `}` or `;`. A part that does not parse
/// is tried together with the next one (an item the cut split), then reported alone. `None`
/// when nothing can be cut or nothing parses: the whole file's error says more then.
fn parse_recovering(
    file: FileId,
    base: usize,
    body: &str,
    env: &std::sync::Arc<MacroEnv>,
) -> Option<FileIr> {
    let bytes = body.as_bytes();
    let cuts = if balanced(bytes) {
        item_boundaries(bytes, 0)
    } else {
        line_item_starts(bytes)
    };
    if cuts.is_empty() {
        return None;
    }
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend(cuts);
    bounds.push(body.len());
    let mut lowerer = Lowerer::new(file, base, body).with_macros(env.clone());
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut parsed_any = false;
    let mut i = 0;
    while i + 1 < bounds.len() {
        let (lo, hi) = (bounds[i], bounds[i + 1]);
        match lower_part_or_error(&mut lowerer, base, lo, &body[lo..hi]) {
            Ok(items) => {
                parsed_any = true;
                out.extend(items);
                i += 1;
            }
            Err((r, what)) => {
                if i + 2 < bounds.len() {
                    let hi2 = bounds[i + 2];
                    if let Ok(items) = lower_part_or_error(&mut lowerer, base, lo, &body[lo..hi2]) {
                        parsed_any = true;
                        out.extend(items);
                        i += 2;
                        continue;
                    }
                }
                // Where brackets do not balance syn's position is where lexing gave up, often
                // the end of the item: the item's first word says which item it is.
                let first = lo + next_token(&bytes[lo..hi], 0);
                let word = bytes[first..hi]
                    .iter()
                    .take_while(|&&c| is_ident(c))
                    .count();
                let at_item = (r.start == 0 && r.end == 0) || !balanced(&bytes[lo..hi]);
                let (elo, ehi) = if at_item {
                    (first, (first + word.max(1)).min(hi))
                } else {
                    ((lo + r.start).min(hi), (lo + r.end).min(hi))
                };
                errors.push(Diagnostic::input_error(
                    Span::new(file, base + elo, base + ehi),
                    format!(
                        "this item does not parse as Rust: {what}; the rest of the file was analysed"
                    ),
                    if at_item {
                        "in this item"
                    } else {
                        "syntax error here"
                    },
                ));
                i += 1;
            }
        }
    }
    if !parsed_any {
        return None;
    }
    Some(FileIr {
        file,
        items: out,
        elided: Default::default(),
        too_large: Default::default(),
        syntax_errors: errors.into(),
    })
}

/// A copy of `body` that syn's 2018+ grammar reads, for a crate of an older edition, when
/// something needed rewriting; every byte stays where it was (same length, same lines), so
/// spans taken from the copy are spans of the file:
/// - up to 2018, a bare `Fn(..) -> R` trait object (`&mut FnMut(u32)`, `Box<Fn() + Send>`),
///   which only `dyn` makes readable to syn, becomes a unit type of the same length: the
///   analysis reads nothing of a parameter's type;
/// - in 2015, `async`, `await` and `try` used as names get another first letter (`_sync`),
///   the same in every file, and a trait method's parameters without names (`fn f(u8);`) are
///   blanked out.
fn older_edition_text(body: &str, edition: Edition) -> Option<String> {
    if edition >= Edition::E2021 {
        return None;
    }
    let t = body.as_bytes();
    let mut toks: Vec<(usize, Tok)> = Vec::new();
    tokens(t, |i, tok| toks.push((i, tok)));
    let word = |k: usize| match toks.get(k) {
        Some(&(i, Tok::Word(e))) => Some(&t[i..e]),
        _ => None,
    };
    let byte = |k: usize| match toks.get(k) {
        Some(&(_, Tok::Byte(b))) => Some(b),
        _ => None,
    };
    let mut out = t.to_vec();
    let mut changed = false;
    let blank = |out: &mut [u8], lo: usize, hi: usize| {
        for c in &mut out[lo..hi] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    for k in 0..toks.len() {
        let (at, _) = toks[k];
        let w = word(k);
        if matches!(w, Some(b"Fn" | b"FnMut" | b"FnOnce")) && byte(k + 1) == Some(b'(') {
            if !bare_trait_position(t, at) {
                continue;
            }
            let end = sugar_end(t, toks[k + 1].0);
            blank(&mut out, at, end);
            out[at] = b'(';
            out[end - 1] = b')';
            changed = true;
            continue;
        }
        if edition != Edition::E2015 {
            continue;
        }
        if let Some(kw @ (b"async" | b"await" | b"try")) = w {
            let raw = at >= 2 && &t[at - 2..at] == b"r#";
            let mac = kw == b"try" && byte(k + 1) == Some(b'!');
            if !(raw || mac) {
                out[at] = b'_';
                changed = true;
            }
            continue;
        }
        // `fn name(..)` / `fn name<..>(..)`: entries without a name of their own.
        if w == Some(b"fn") && word(k + 1).is_some() {
            let mut j = k + 2;
            if byte(j) == Some(b'<') {
                let mut depth = 0i32;
                while let Some(&(_, tok)) = toks.get(j) {
                    match tok {
                        Tok::Byte(b'<') => depth += 1,
                        Tok::Byte(b'>') => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            if byte(j) != Some(b'(') {
                continue;
            }
            let open = toks[j].0;
            let close = past_group(t, open) - 1;
            // Brackets that never close: nothing to read as parameters.
            if close <= open || t[close] != b')' {
                continue;
            }
            for (lo, hi) in param_entries(t, open + 1, close) {
                if !named_param(&t[lo..hi]) {
                    // With its comma: `(&self, , x: u8)` would not parse either.
                    blank(&mut out, lo, (hi + 1).min(close));
                    changed = true;
                }
            }
        }
    }
    if !changed {
        return None;
    }
    String::from_utf8(out).ok()
}

/// A `Fn(..)` at `at` is a type where only a trait object can be: after `&`, `&mut`, `&'a`
/// or `<`.
fn bare_trait_position(t: &[u8], at: usize) -> bool {
    let back = |mut i: usize| {
        while i > 0 && t[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        i
    };
    let mut i = back(at);
    let word_before = |i: usize| {
        let mut j = i;
        while j > 0 && is_ident(t[j - 1]) {
            j -= 1;
        }
        j
    };
    let w = word_before(i);
    if w < i && &t[w..i] == b"mut" {
        i = back(w);
    }
    let w = word_before(i);
    if w < i && w > 0 && t[w - 1] == b'\'' {
        i = back(w - 1);
    }
    i > 0 && matches!(t[i - 1], b'&' | b'<')
}

/// From the `(` of `Fn(..)`: past its `-> R` and `+ Bound`s, where the type ends.
fn sugar_end(t: &[u8], open: usize) -> usize {
    let mut i = past_group(t, open);
    let skip_ws = |mut i: usize| {
        while i < t.len() && t[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let j = skip_ws(i);
    if t[j..].starts_with(b"->") {
        i = type_end(t, j + 2);
    }
    loop {
        let j = skip_ws(i);
        if t.get(j) != Some(&b'+') {
            return i;
        }
        i = type_end(t, j + 1);
    }
}

/// Where a type (or bound) starting at `i` ends: at a `,`, `+`, `;`, `=`, `{` or a closing
/// bracket outside its own brackets; white space before that is not part of it.
fn type_end(t: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    let mut last = i;
    while i < t.len() {
        let c = t[i];
        match c {
            b'-' if t.get(i + 1) == Some(&b'>') => {
                i += 2;
                last = i;
                continue;
            }
            b'(' | b'[' | b'<' => depth += 1,
            b')' | b']' | b'>' | b'}' if depth == 0 => return last,
            b')' | b']' | b'>' => depth -= 1,
            b',' | b'+' | b';' | b'=' | b'{' if depth == 0 => return last,
            _ => {}
        }
        i += 1;
        if !c.is_ascii_whitespace() {
            last = i;
        }
    }
    last
}

/// The comma-separated entries of a parameter list between `lo` and `hi`, at its own depth.
fn param_entries(t: &[u8], lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = lo;
    tokens(&t[lo..hi], |a, tok| match tok {
        Tok::Byte(b'(' | b'[' | b'{' | b'<') => depth += 1,
        Tok::Byte(b')' | b']' | b'}' | b'>') => depth = depth.saturating_sub(1),
        Tok::Byte(b',') if depth == 0 => {
            out.push((start, lo + a));
            start = lo + a + 1;
        }
        _ => {}
    });
    out.push((start, hi));
    out
}

/// A parameter with a pattern (`x: u8`, `(a, b): (u8, u8)`) or a `self` receiver; an empty
/// entry counts as named (nothing to blank).
fn named_param(p: &[u8]) -> bool {
    let p = std::str::from_utf8(p).unwrap_or("x:").trim();
    if p.is_empty() {
        return true;
    }
    let receiver = p.trim_start_matches('&').trim_start();
    let receiver = match receiver.strip_prefix('\'') {
        Some(r) => r
            .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
            .trim_start(),
        None => receiver,
    };
    let receiver = receiver
        .strip_prefix("mut")
        .map_or(receiver, str::trim_start);
    if receiver == "self" || receiver.starts_with("self:") || receiver.starts_with("self ") {
        return true;
    }
    // A `:` of its own, not one of a path's `::`.
    let b = p.as_bytes();
    (0..b.len())
        .any(|i| b[i] == b':' && b.get(i + 1) != Some(&b':') && (i == 0 || b[i - 1] != b':'))
}

/// Brackets (outside strings and comments) close in order and all close.
fn balanced(text: &[u8]) -> bool {
    let mut stack: Vec<u8> = Vec::new();
    let mut ok = true;
    tokens(text, |_, tok| {
        let Tok::Byte(b) = tok else { return };
        match b {
            b'(' => stack.push(b')'),
            b'[' => stack.push(b']'),
            b'{' => stack.push(b'}'),
            b')' | b']' | b'}' => ok &= stack.pop() == Some(b),
            _ => {}
        }
    });
    ok && stack.is_empty()
}

/// Cuts for a file whose brackets do not balance: before each line whose first column starts
/// an item (`ITEM_STARTS`, `macro_rules`, or an outer attribute), when the token before it ends an item (`}`
/// or `;`). The cut is at the start of the line after that token, so comments and doc
/// comments in between go with the item they precede.
fn line_item_starts(text: &[u8]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut prev: Option<(usize, u8)> = None;
    tokens(text, |i, tok| {
        let at_line_start = i > 0 && text[i - 1] == b'\n';
        if at_line_start {
            let starts_item = match tok {
                Tok::Word(e) => ITEM_STARTS.contains(&&text[i..e]) || &text[i..e] == b"macro_rules",
                Tok::Byte(b'#') => text.get(i + 1) == Some(&b'['),
                Tok::Byte(_) => false,
            };
            if let (true, Some((end, b'}' | b';'))) = (starts_item, prev) {
                let line = memchr::memchr(b'\n', &text[end..i]).map_or(i, |p| end + p + 1);
                cuts.push(line);
            }
        }
        prev = Some(match tok {
            Tok::Word(e) => (e, b'a'),
            Tok::Byte(b) => (i + 1, b),
        });
    });
    cuts
}

/// Which top-level items of a large file are parsed: all but the functions that can matter to
/// nothing. Words are compared as written (a whole-word over-approximation of what resolution
/// finds):
/// - every item that is not a lone `fn` is kept, and so is a function that mentions a Winsock
///   function's name, a `WSA` name, `DllMain`, `SOCKET`, a binding module's segment, a word of
///   the file's `use` and `extern` items (a rename), or holds a `wsa-lint:` comment;
/// - then every function that mentions a kept-because-Winsock function's name (its callers
///   reach Winsock too);
/// - then every function a kept item mentions, again and again (their summaries are read).
///
/// What another file could reach of the rest is checked after the analysis (`FileIr::elided`).
/// `macros`: names of other files' macros the file can call, which may expand to Winsock calls.
fn elidable<'a>(text: &'a [u8], items: &[(usize, usize)], macros: &[&'a [u8]]) -> Vec<bool> {
    use std::collections::HashMap;
    let n = items.len();
    let names: Vec<Option<(usize, usize)>> = items
        .iter()
        .map(|&(lo, hi)| fn_name(&text[lo..hi]).map(|(a, b)| (lo + a, lo + b)))
        .collect();
    let mut by_name: HashMap<&[u8], Vec<u32>> = HashMap::new();
    for (i, nm) in names.iter().enumerate() {
        if let Some((a, b)) = nm {
            by_name.entry(&text[*a..*b]).or_default().push(i as u32);
        }
    }
    let mut root_words: std::collections::HashSet<&[u8]> = crate::winsock::APIS
        .iter()
        .map(|a| a.name.as_bytes())
        .chain(
            crate::winsock::BINDING_MODULES
                .iter()
                .flat_map(|(_, segs)| segs.iter().map(|s| s.as_bytes())),
        )
        .chain([
            &b"DllMain"[..],
            b"SOCKET",
            b"INVALID_SOCKET",
            b"SOCKET_ERROR",
        ])
        .chain(macros.iter().copied())
        .collect();
    for (i, &(lo, hi)) in items.iter().enumerate() {
        if names[i].is_none() && starts_with_word(&text[lo..hi], &[b"use", b"extern"]) {
            tokens(&text[lo..hi], |a, t| {
                if let Tok::Word(b) = t {
                    root_words.insert(&text[lo + a..lo + b]);
                }
            });
        }
    }
    let mut root = vec![false; n];
    // Forward edges (item -> functions it mentions), as one list with per-item starts.
    let mut starts = Vec::with_capacity(n + 1);
    let mut edges: Vec<u32> = Vec::new();
    for (i, &(lo, hi)) in items.iter().enumerate() {
        starts.push(edges.len());
        let t = &text[lo..hi];
        let mut r = names[i].is_none() || memchr::memmem::find(t, b"wsa-lint:").is_some();
        tokens(t, |a, tok| {
            let Tok::Word(b) = tok else { return };
            let w = &t[a..b];
            r = r || root_words.contains(w) || w.starts_with(b"WSA");
            if let Some(ids) = by_name.get(w) {
                edges.extend(ids.iter().filter(|&&j| j as usize != i));
            }
        });
        root[i] = r;
    }
    starts.push(edges.len());
    // Callers of functions that reach Winsock reach it too (reverse edges, from the roots that
    // are functions: a kept item that is not one reaches nothing by being kept).
    let mut reaches: Vec<bool> = (0..n).map(|i| root[i] && names[i].is_some()).collect();
    let mut callers: Vec<Vec<u32>> = vec![Vec::new(); n];
    for i in 0..n {
        for &j in &edges[starts[i]..starts[i + 1]] {
            if names[i].is_some() {
                callers[j as usize].push(i as u32);
            }
        }
    }
    let mut work: Vec<usize> = (0..n).filter(|&i| reaches[i]).collect();
    while let Some(j) = work.pop() {
        for &i in &callers[j] {
            if !reaches[i as usize] {
                reaches[i as usize] = true;
                work.push(i as usize);
            }
        }
    }
    drop(callers);
    // Everything the kept items mention is kept.
    let mut kept: Vec<bool> = (0..n).map(|i| root[i] || reaches[i]).collect();
    let mut work: Vec<usize> = (0..n).filter(|&i| kept[i]).collect();
    while let Some(i) = work.pop() {
        for &j in &edges[starts[i]..starts[i + 1]] {
            if !kept[j as usize] {
                kept[j as usize] = true;
                work.push(j as usize);
            }
        }
    }
    kept
}

/// Which of `files` (each a parsed file's text and its `FileIr::elided`) must be parsed whole,
/// because the analysis could reach a function left out of it: one mentions a word of
/// `reaching` (a crate function or type that reaches Winsock, a rename), or its name is a word
/// of the kept text of any file (a caller in another file; within its own file the kept items
/// mention no elided name, `elidable`). `all`: every file with elided functions (a crate with
/// guard types runs every unit).
pub fn elided_needed(
    files: &[(&str, &[ElidedFn])],
    reaching: &std::collections::HashSet<&str>,
    all: bool,
) -> Vec<usize> {
    let mut mentioned: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    let has_elided = |(_, (_, e)): &(usize, &(&str, &[ElidedFn]))| !e.is_empty();
    if !all {
        for (text, elided) in files {
            let t = text.as_bytes();
            let mut at = 0;
            for e in elided.iter().chain(std::iter::once(&ElidedFn {
                span: Span::new(FileId(0), t.len(), t.len()),
                name_span: Span::new(FileId(0), 0, 0),
            })) {
                let lo = (e.span.lo as usize).clamp(at, t.len());
                let part = &t[at..lo];
                tokens(part, |a, tok| {
                    if let Tok::Word(b) = tok {
                        mentioned.insert(&part[a..b]);
                    }
                });
                at = (e.span.hi as usize).clamp(lo, t.len());
            }
        }
    }
    let needed = |text: &str, e: &ElidedFn| {
        let t = text.as_bytes();
        let slice = |lo: u32, hi: u32| t.get(lo as usize..hi as usize).unwrap_or_default();
        if mentioned.contains(slice(e.name_span.lo, e.name_span.hi)) {
            return true;
        }
        let body = slice(e.span.lo, e.span.hi);
        let mut hit = false;
        tokens(body, |a, tok| {
            if let Tok::Word(b) = tok {
                hit = hit || std::str::from_utf8(&body[a..b]).is_ok_and(|w| reaching.contains(w));
            }
        });
        hit
    };
    files
        .iter()
        .enumerate()
        .filter(has_elided)
        .filter(|(_, (text, elided))| all || elided.iter().any(|e| needed(text, e)))
        .map(|(i, _)| i)
        .collect()
}

/// The item's first word after its attributes and visibility is one of `words`.
fn starts_with_word(t: &[u8], words: &[&[u8]]) -> bool {
    let i = skip_attrs_and_vis(t);
    let end = t[i..]
        .iter()
        .position(|&c| !is_ident(c))
        .map_or(t.len(), |p| i + p);
    words.contains(&&t[i..end])
}

/// Past leading attributes (`#[..]`) and a visibility (`pub`, `pub(..)`), and white space and
/// comments between.
fn skip_attrs_and_vis(t: &[u8]) -> usize {
    let mut i = next_token(t, 0);
    loop {
        if t[i..].starts_with(b"#[") {
            i = past_group(t, i + 1);
        } else if t[i..].starts_with(b"pub") && t.get(i + 3).is_none_or(|&c| !is_ident(c)) {
            i = next_token(t, i + 3);
            if t.get(i) == Some(&b'(') {
                i = past_group(t, i);
            }
        } else {
            return i;
        }
        i = next_token(t, i);
    }
}

/// At an opening bracket: the byte after its closing one (strings and comments skipped).
fn past_group(t: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut end = t.len();
    let mut done = false;
    tokens(&t[open..], |a, tok| {
        if done {
            return;
        }
        match tok {
            Tok::Byte(b'(' | b'[' | b'{') => depth += 1,
            Tok::Byte(b')' | b']' | b'}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = open + a + 1;
                    done = true;
                }
            }
            _ => {}
        }
    });
    end
}

/// When the item is one function with a body (`[attrs] [pub] [const|async|unsafe|extern ".."]
/// fn name .. { .. }` and nothing after): its name's range in `t`.
fn fn_name(t: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_attrs_and_vis(t);
    let word = |i: usize| {
        let e = t[i..]
            .iter()
            .position(|&c| !is_ident(c))
            .map_or(t.len(), |p| i + p);
        (e, &t[i..e])
    };
    loop {
        let (e, w) = word(i);
        match w {
            b"const" | b"async" | b"unsafe" | b"extern" => {
                i = next_token(t, e);
                if t.get(i) == Some(&b'"') {
                    i = next_token(t, skip_string(t, i + 1));
                }
            }
            b"fn" => {
                let a = next_token(t, e);
                let (b, name) = word(a);
                if name.is_empty() {
                    return None;
                }
                // One terminator at bracket depth 0, the body's closing brace, and nothing after.
                let mut depth = 0usize;
                let mut terminators = 0;
                let mut last = None;
                tokens(&t[b..], |_, tok| {
                    last = Some(tok);
                    match tok {
                        Tok::Byte(b'(' | b'[' | b'{') => depth += 1,
                        Tok::Byte(c @ (b')' | b']' | b'}' | b';')) => {
                            if c != b';' {
                                depth = depth.saturating_sub(1);
                            }
                            if depth == 0 && matches!(c, b'}' | b';') {
                                terminators += 1;
                            }
                        }
                        _ => {}
                    }
                });
                return (terminators == 1 && matches!(last, Some(Tok::Byte(b'}'))))
                    .then_some((a, b));
            }
            _ => return None,
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A token of the lexer below: an identifier or keyword (to this end), or one other byte.
#[derive(Clone, Copy)]
enum Tok {
    Word(usize),
    Byte(u8),
}

/// Calls `f` with the position of every token outside comments, strings and character literals.
fn tokens(text: &[u8], mut f: impl FnMut(usize, Tok)) {
    let n = text.len();
    let mut i = 0;
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
            b'r' | b'b' | b'c' if i == 0 || !is_ident(text[i - 1]) => {
                if let Some(end) = skip_prefixed_literal(text, i) {
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        if is_ident(b) {
            let start = i;
            while i < n && is_ident(text[i]) {
                i += 1;
            }
            f(start, Tok::Word(i));
            continue;
        }
        if !b.is_ascii_whitespace() {
            f(i, Tok::Byte(b));
        }
        i += 1;
    }
}

/// Statements of a function body longer than this are left out of a too-large function when
/// they name nothing Winsock (`blank_big_statements`).
const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// A too-large function (`t`, attributes to closing brace) with its long statements blanked
/// out, when that brings it under `MAX_ITEM_BYTES`: each statement of the body (up to a `;` at
/// the body's own depth) longer than `MAX_STATEMENT_BYTES` that names nothing the prefilter
/// looks for and cannot leave the function early (`leaves_early`) is overwritten with spaces,
/// newlines kept, so every span stays where it was.
/// The text, and how many bytes were left out. `None` when the function stays too large (a
/// long statement that names Winsock, or one long statement-less expression).
fn blank_big_statements(t: &[u8]) -> Option<(Vec<u8>, usize)> {
    // The body opens at the first `{` outside brackets after `fn`.
    let mut depth = 0usize;
    let mut body_depth = None;
    let mut stmt_start = 0;
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut seen_fn = false;
    tokens(t, |i, tok| match tok {
        Tok::Word(e) if &t[i..e] == b"fn" => seen_fn = true,
        Tok::Word(_) => {}
        Tok::Byte(b) => match b {
            b'{' if seen_fn && depth == 0 && body_depth.is_none() => {
                depth += 1;
                body_depth = Some(depth);
                stmt_start = i + 1;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b';' if Some(depth) == body_depth => {
                cuts.push((stmt_start, i + 1));
                stmt_start = i + 1;
            }
            _ => {}
        },
    });
    let mut out = t.to_vec();
    let mut left_out = 0;
    for (lo, hi) in cuts {
        let stmt = &t[lo..hi];
        if stmt.len() > MAX_STATEMENT_BYTES
            && !crate::scan::needs_parse(stmt)
            && !leaves_early(stmt)
        {
            for c in &mut out[lo..hi] {
                if *c != b'\n' {
                    *c = b' ';
                }
            }
            left_out += hi - lo;
        }
    }
    (left_out > 0 && t.len() - left_out <= MAX_ITEM_BYTES).then_some((out, left_out))
}

/// The statement may leave its function or never finish (`return`, `?`, `break`, `exit`, a
/// panic, `loop`): left out, it would change the paths after it.
fn leaves_early(stmt: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"return",
        b"break",
        b"continue",
        b"loop",
        b"exit",
        b"abort",
        b"panic",
        b"unreachable",
        b"todo",
        b"unimplemented",
        b"bail",
    ];
    let mut found = false;
    tokens(stmt, |i, tok| match tok {
        Tok::Word(e) => found |= WORDS.contains(&&stmt[i..e]),
        Tok::Byte(b) => found |= b == b'?',
    });
    found
}

/// Byte offsets at which the file can be cut into parts of at least `size` bytes that each hold
/// whole top-level items: just after a `}` or `;` outside any bracket, when the next token
/// starts an item (`fn`, `pub`, `impl`, `#[..]`, ...). Strings, characters and comments are
/// skipped. A mistake (an odd literal) only makes a part fail to parse, and the file is then
/// parsed whole.
/// The words a top-level item can start with (after its attributes).
const ITEM_STARTS: &[&[u8]] = &[
    b"fn", b"pub", b"struct", b"enum", b"impl", b"mod", b"use", b"const", b"static", b"trait",
    b"type", b"extern", b"unsafe", b"async", b"union",
];

fn item_boundaries(text: &[u8], size: usize) -> Vec<usize> {
    const STARTS: &[&[u8]] = ITEM_STARTS;
    let mut cuts = Vec::new();
    let mut last = 0;
    let mut depth = 0usize;
    // A terminator at depth 0 far enough from the last cut: a cut if the next token starts an item.
    let mut pending: Option<usize> = None;
    tokens(text, |i, tok| {
        if let Some(at) = pending.take() {
            let starts_item = match tok {
                Tok::Word(e) => STARTS.contains(&&text[i..e]),
                Tok::Byte(b'#') => text.get(i + 1) != Some(&b'!'),
                Tok::Byte(_) => false,
            };
            if starts_item {
                cuts.push(at);
                last = at;
            }
        }
        let Tok::Byte(b) = tok else { return };
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b'}' | b';' => {
                if b == b'}' {
                    depth = depth.saturating_sub(1);
                }
                if depth == 0 && i + 1 - last >= size {
                    pending = Some(i + 1);
                }
            }
            _ => {}
        }
    });
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
    #[test]
    fn a_long_statement_is_left_out_only_when_it_cannot_matter() {
        let arms: String = (0..5000)
            .map(|i| format!(" else if k == {i} {{ {i} }}"))
            .collect();
        let f = |tail: &str| {
            format!("fn main() {{\n    start();\n    let r = if k == 0 {{ 0 }}{arms}{tail};\n    done(r);\n}}\n")
        };
        let plain = f(" else { 1 }");
        let (text, left_out) = super::blank_big_statements(plain.as_bytes()).expect("left out");
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.len(), plain.len());
        assert_eq!(text.lines().count(), plain.lines().count());
        assert!(
            text.contains("start();") && text.contains("done(r);"),
            "{text}"
        );
        assert!(!text.contains("else if") && left_out > 5000 * 10);
        // A statement that can return early, or that names Winsock, stays.
        for tail in [
            " else { return }",
            " else { x? }",
            " else { WSAGetLastError() }",
        ] {
            assert!(
                super::blank_big_statements(f(tail).as_bytes()).is_none(),
                "{tail}"
            );
        }
    }

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
        let parts =
            parse_in_parts(file, 0, &text, false, &Default::default()).expect("every part parses");
        let whole = Lowerer::new(file, 0, &text).file(&syn::parse_str::<syn::File>(&text).unwrap());
        proc_macro2::extra::invalidate_current_thread_spans();
        assert_eq!(format!("{parts:?}"), format!("{whole:?}"));
    }

    /// The names of the functions a large file keeps, and of those it leaves out.
    fn kept_and_elided(text: &str) -> (Vec<String>, Vec<String>) {
        let ir = parse(FileId(0), text).unwrap();
        let kept = ir
            .items
            .iter()
            .filter_map(|i| match i {
                crate::ir::Item::Fn(f) => Some(f.name.clone()),
                _ => None,
            })
            .collect();
        let elided = ir
            .elided
            .iter()
            .map(|e| text[e.name_span.lo as usize..e.name_span.hi as usize].to_string())
            .collect();
        (kept, elided)
    }

    #[test]
    fn a_large_file_keeps_what_reaches_winsock_its_callers_and_their_callees() {
        let start = crate::winsock::WSA_STARTUP;
        let mut text = String::from("use std::net::TcpStream as Conn;\n");
        for i in 0..3000 {
            text.push_str(&format!(
                "pub fn filler_{i}(x: u32) -> u32 {{ if x > 1 {{ filler_{i}_b(x) }} else {{ x }} }}\nfn filler_{i}_b(x: u32) -> u32 {{ x ^ {i} }}\n"
            ));
            if i == 100 {
                text.push_str(&format!(
                    "fn opens() -> i32 {{ let s = \"{{\"; ok(unsafe {{ {start}(0x202, std::ptr::null_mut()) }}) }}\n\
                     fn ok(r: i32) -> i32 {{ r }}\n\
                     #[inline]\npub(crate) fn outer() {{ opens(); }}\n\
                     fn renamed() -> Option<Conn> {{ None }}\n\
                     // wsa-lint: allow(missing_wsa_cleanup)\nfn allowed() {{}}\n"
                ));
            }
        }
        assert!(text.len() > PART_BYTES);
        let (kept, elided) = kept_and_elided(&text);
        for f in ["opens", "ok", "outer", "renamed", "allowed"] {
            assert!(kept.iter().any(|k| k == f), "{f} not kept: {kept:?}");
        }
        assert_eq!(kept.len(), 5, "{kept:?}");
        assert_eq!(elided.len(), 6000);
        assert!(elided.iter().all(|e| e.starts_with("filler_")));
        // Parsed whole, nothing is left out.
        assert!(parse_whole(FileId(0), &text).unwrap().elided.is_empty());
        // A kept function naming a filler keeps it and what it calls.
        let more = text.replace(
            "fn ok(r: i32) -> i32 { r }",
            "fn ok(r: i32) -> i32 { filler_7(r as u32) as i32 }",
        );
        let (kept, _) = kept_and_elided(&more);
        assert!(
            kept.iter().any(|k| k == "filler_7") && kept.iter().any(|k| k == "filler_7_b"),
            "{kept:?}"
        );
        assert_eq!(kept.len(), 7, "{kept:?}");
    }

    #[test]
    fn elided_functions_are_needed_when_another_file_names_them_or_they_reach_winsock() {
        let mut text = String::new();
        for i in 0..8000 {
            text.push_str(&format!(
                "fn filler_{i}(x: u32) -> u32 {{ x.rotate_left({i}) }}\n"
            ));
        }
        text.push_str("fn calls_out() { crate::net::start(); }\n");
        let ir = parse(FileId(0), &text).unwrap();
        assert!(text.len() > PART_BYTES);
        assert_eq!(ir.elided.len(), 8001);
        let none = std::collections::HashSet::new();
        let other = "fn main() { let y = 1; }";
        let files = [(text.as_str(), &ir.elided[..]), (other, &[][..])];
        assert!(elided_needed(&files, &none, false).is_empty());
        assert_eq!(elided_needed(&files, &none, true), vec![0]);
        let start: std::collections::HashSet<&str> = ["start"].into();
        assert_eq!(elided_needed(&files, &start, false), vec![0]);
        let other = "fn main() { big::filler_7999(1); }";
        let files = [(text.as_str(), &ir.elided[..]), (other, &[][..])];
        assert_eq!(elided_needed(&files, &none, false), vec![0]);
    }

    /// Offsets from lines and columns equal those from byte ranges, on this crate's sources and
    /// fixtures, and on every `.rs` file below `WSA_LINT_LOWER_TREE` when it is set (the
    /// benchmark corpora, say).
    #[test]
    fn line_columns_give_the_offsets_byte_ranges_give() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut roots = vec![here.join("src"), here.join("fixtures")];
        roots.extend(std::env::var_os("WSA_LINT_LOWER_TREE").map(std::path::PathBuf::from));
        let mut compared = 0;
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
                // Twice by byte ranges: two lowerings of one tree agree (the expression memo
                // is keyed by node address, and a macro's temporary trees free and reuse
                // addresses: a memo kept past them gave a later node a dropped one's span).
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
                assert_eq!(slow, again, "{}", e.path().display());
                assert_eq!(fast, slow, "{}", e.path().display());
                compared += 1;
            }
        }
        eprintln!("{compared} files compared");
        assert!(compared > 100, "{compared}");
    }

    #[test]
    fn a_part_that_does_not_parse_sends_the_file_to_a_whole_parse() {
        let mut text: String = (0..800).map(varied).collect();
        text.push_str("fn broken( {\n");
        assert!(parse_in_parts(FileId(0), 0, &text, true, &Default::default()).is_none());
        // The whole parse fails too; item by item, only the broken one is lost.
        let ir = parse(FileId(0), &text).expect("the other items parse");
        assert_eq!(ir.syntax_errors.len(), 1);
        assert!(ir.syntax_errors[0]
            .message
            .contains("this item does not parse"));
        let whole = parse(FileId(0), &(0..800).map(varied).collect::<String>()).unwrap();
        assert_eq!(ir.items.len(), whole.items.len());
    }

    #[test]
    fn older_editions_are_read_through_a_copy_of_the_same_shape() {
        let text = "fn each(f: &mut FnMut(SocketAddr) -> bool, g: Box<Fn() + Send + 'static>, h: &'a Fn(u8)) where F: Fn(u8) {}\ntrait T { fn f(&self, u8, x: std::net::SocketAddr); fn g(::std::net::SocketAddr); }\nfn try() { async(); r#try(); try!(x); y.try; }\n";
        let older = older_edition_text(text, Edition::E2015).expect("rewritten");
        assert_eq!(older.len(), text.len());
        assert_eq!(older.lines().count(), text.lines().count());
        let want = "fn each(f: &mut (                       ), g: Box<(                   )>, h: &'a (    )) where F: Fn(u8) {}\ntrait T { fn f(&self,     x: std::net::SocketAddr); fn g(                      ); }\nfn _ry() { _sync(); r#try(); try!(x); y._ry; }\n";
        assert_eq!(older, want);
        assert!(syn::parse_str::<syn::File>(&older).is_ok());
        // 2018 keeps its keywords; 2021 rewrites nothing.
        // Any cut of it (brackets that never close) is read without a panic, in the same shape.
        for end in 0..text.len() {
            if let Some(t) = older_edition_text(&text[..end], Edition::E2015) {
                assert_eq!(t.len(), end);
            }
            let _ = parse_as(FileId(0), &text[..end], false, Edition::E2015);
        }
        let e2018 = older_edition_text(text, Edition::E2018).expect("rewritten");
        assert!(
            e2018.contains("fn try()") && e2018.contains("fn f(&self, u8"),
            "{e2018}"
        );
        assert!(older_edition_text(text, Edition::E2021).is_none());
        // A 2015 file that needs it parses whole, with nothing reported.
        let file = "fn each(f: &mut FnMut(u32)) { f(1) }\nfn main() {}\n";
        assert!(parse(FileId(0), file).unwrap().syntax_errors.len() == 1);
        let ir = parse_as(FileId(0), file, false, Edition::E2015).unwrap();
        assert!(ir.syntax_errors.is_empty());
        assert_eq!(ir.items.len(), 2);
    }

    #[test]
    fn an_item_that_does_not_parse_costs_that_item() {
        let fns = |ir: &FileIr| -> Vec<String> {
            ir.items
                .iter()
                .filter_map(|i| match i {
                    Item::Fn(f) => Some(f.name.clone()),
                    _ => None,
                })
                .collect()
        };
        // Unbalanced: cut before lines that start items.
        let text =
            "/// doc\nfn broken( { let x = ; }\n\n/// main\n#[allow(unused)]\nfn main() {}\n";
        let ir = parse(FileId(0), text).expect("main parses");
        assert_eq!(fns(&ir), ["main"]);
        assert_eq!(ir.syntax_errors.len(), 1);
        let at = ir.syntax_errors[0].primary_span().expect("a span");
        assert!(text[at.lo as usize..].starts_with("fn broken"), "{at:?}");
        // Balanced, with an attribute split from its item by a cut on neither side.
        let text = "fn a() { let = 1; }\n#[cfg(all(\n    windows,\n))]\nfn b() {}\nfn c() {}\n";
        let ir = parse(FileId(0), text).expect("b and c parse");
        assert_eq!(fns(&ir), ["b", "c"]);
        assert_eq!(ir.syntax_errors.len(), 1);
        // Nothing to cut: the file's own diagnostic.
        let err = parse(FileId(0), "fn main( { }\n").unwrap_err();
        assert!(
            err.message.contains("this file does not parse"),
            "{}",
            err.message
        );
    }
}

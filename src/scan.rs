//! Byte-level scanning that decides what is worth parsing.
//!
//! Parsing is the expensive step, and almost no file in a large tree calls
//! Winsock. `needs_parse` looks for call-shaped uses of Winsock names (and
//! `DllMain`); a file without any is only lexed for its `mod` declarations so
//! the module tree stays whole. Files that call crate functions with Winsock
//! effects are pulled in later by name (`Names`). Nothing on a line that starts
//! with `//` counts: doc comments name Winsock functions in files that do not
//! call them.

use crate::ir::{Item, ModIr};
use crate::source::{FileId, Span};
use crate::winsock::{self, Trigger};

/// Names whose call (`name(`) marks a file as possibly calling Winsock, from the table
/// (`winsock::APIS`, by `Trigger`): its `WithMarker` names first, which are also ordinary words
/// (`TcpStream::connect(..)`) and count only in a file that also names a Winsock binding
/// (`MARKERS`); then its `Always` names and `DllMain`. Built once, with the searchers.
struct CallNames {
    names: Vec<&'static [u8]>,
    /// How many of `names` are the `WithMarker` ones.
    generic: usize,
}

/// Not Winsock, but a file defining it is parsed: the `DllMain` lints look into it.
const DLLMAIN: &[u8] = b"DllMain";

fn call_names() -> &'static CallNames {
    static N: std::sync::OnceLock<CallNames> = std::sync::OnceLock::new();
    N.get_or_init(|| {
        let with = |t: Trigger| {
            winsock::APIS
                .iter()
                .filter(move |a| a.trigger == t)
                .map(|a| a.name.as_bytes())
        };
        let mut names: Vec<&[u8]> = with(Trigger::WithMarker).collect();
        let generic = names.len();
        names.extend(with(Trigger::Always));
        names.push(DLLMAIN);
        CallNames { names, generic }
    })
}

/// Words that only a file using Winsock bindings contains. `SOCKET` counts only as one of
/// `SOCKET_IDENTS` (see `socket_ident`).
const MARKERS: &[&[u8]] = &[
    b"WinSock",
    b"winsock",
    b"ws2_32",
    b"wsock32",
    b"ws2tcpip",
    b"ws2def",
    b"SOCKET",
];

/// The whole identifiers with `SOCKET` in them that mark Winsock code: the `SOCKET` type and the
/// values a Winsock call is checked against. Others are not Winsock: `SOL_SOCKET` is the BSD
/// socket API's (libc names it for every Unix), `_SC_RAW_SOCKETS` is POSIX's, `SOCKET_STREAM`
/// is WASI's.
const SOCKET_IDENTS: &[&[u8]] = &[b"SOCKET", b"INVALID_SOCKET", b"SOCKET_ERROR"];

/// Is the `SOCKET` at `start..end` of `text` part of one of `SOCKET_IDENTS`?
fn socket_ident(text: &[u8], start: usize, end: usize) -> bool {
    let mut lo = start;
    while lo > 0 && is_ident_byte(text[lo - 1]) {
        lo -= 1;
    }
    let mut hi = end;
    while hi < text.len() && is_ident_byte(text[hi]) {
        hi += 1;
    }
    SOCKET_IDENTS.contains(&&text[lo..hi])
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A leftmost-longest searcher over `pats`.
fn searcher(pats: &[&[u8]]) -> aho_corasick::AhoCorasick {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(pats)
        .expect("static patterns build")
}

/// The searchers of the prefilter, built once.
struct Searchers {
    /// The call names after the generic ones (the names that count in any file), then
    /// `MARKERS`, then `ALLOW_TAG`: one pass over the text for all three.
    main: aho_corasick::AhoCorasick,
    /// How many patterns of `main` are call names.
    names: usize,
    /// The `WSA` prefix, on its own: a pattern this short in `main` would shrink every pattern's
    /// fingerprint in its vectorised search (and slow the pass by half).
    wsa: memchr::memmem::Finder<'static>,
    /// The generic call names: the names that count only next to a marker.
    generic: aho_corasick::AhoCorasick,
}

/// What an allow comment starts with; a file with one is parsed so the comment can be checked.
const ALLOW_TAG: &[u8] = b"wsa-lint:";

fn searchers() -> &'static Searchers {
    static S: std::sync::OnceLock<Searchers> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let CallNames { names, generic } = call_names();
        let mut main = names[*generic..].to_vec();
        main.extend(MARKERS);
        main.push(ALLOW_TAG);
        Searchers {
            main: searcher(&main),
            names: names.len() - generic,
            wsa: memchr::memmem::Finder::new(b"WSA"),
            generic: searcher(&names[..*generic]),
        }
    })
}

/// Does this text call something that may be Winsock, or define `DllMain`?
///
/// Most files name no Winsock binding; for them only the distinctive names count, since a
/// generic `connect(` there is not Winsock.
pub fn needs_parse(text: &[u8]) -> bool {
    examine(text, false).parse
}

/// The text has a word that names Winsock bindings outside comment lines (`MARKERS`), beside
/// which a generic name (`send`, `socket`) counts as Winsock's. Also true when it has a
/// call-shaped distinctive name, where the pass stops.
pub fn has_marker(text: &[u8]) -> bool {
    let m = main_pass(text, false);
    m.marker || m.call
}

/// `needs_parse`, or the text has a `wsa-lint:` allow comment (whose scope and use are checked).
pub fn worth_parsing(text: &[u8]) -> bool {
    verdict(text).parse
}

/// The prefilter's verdict on a file, with what the crate macros ask of one it does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `worth_parsing`.
    pub parse: bool,
    /// The text names a Winsock function as a whole word, anywhere (a macro the file calls may
    /// paste the rest of a call together). A name that is also an ordinary word (`send`,
    /// `socket`) counts only beside a marker. True of a file to parse, which is not searched on.
    pub names_winsock: bool,
}

/// `worth_parsing`, and for a file not worth it whether it names Winsock: the same passes.
pub fn verdict(text: &[u8]) -> Verdict {
    examine(text, true)
}

/// The prefilter: `allow_counts`, a file with an allow comment is parsed too.
fn examine(text: &[u8], allow_counts: bool) -> Verdict {
    const PARSE: Verdict = Verdict {
        parse: true,
        names_winsock: true,
    };
    let s = searchers();
    let m = main_pass(text, allow_counts);
    if m.call || m.allow && allow_counts {
        return PARSE;
    }
    let mut named = m.word;
    for at in s.wsa.find_iter(text) {
        if call_shaped(text, at, at + 3, true) {
            return PARSE;
        }
        if !named && (at == 0 || !is_ident_byte(text[at - 1])) {
            let end = at + text[at..].iter().take_while(|&&b| is_ident_byte(b)).count();
            named = std::str::from_utf8(&text[at..end])
                .ok()
                .and_then(winsock::api)
                .is_some_and(|a| matches!(a.trigger, Trigger::Always | Trigger::WsaPrefix));
        }
    }
    // Every name is made of identifier bytes and a hit counts only at the start of an
    // identifier, so splitting the names over several searchers finds the same hits as one
    // searcher over all: a name hidden inside another's match is preceded by an identifier
    // byte, and no name of one searcher is a prefix of a name of another.
    if m.marker {
        for hit in s.generic.find_iter(text) {
            if call_shaped(text, hit.start(), hit.end(), false) {
                return PARSE;
            }
            named = named || whole_word(text, hit.start(), hit.end());
        }
    }
    Verdict {
        parse: false,
        names_winsock: named,
    }
}

/// `Verdict::names_winsock` of any text (a macro's body), conservative where it would parse.
pub fn names_winsock(text: &[u8]) -> bool {
    verdict(text).names_winsock
}

fn whole_word(text: &[u8], start: usize, end: usize) -> bool {
    !(start > 0 && is_ident_byte(text[start - 1])
        || text.get(end).is_some_and(|&b| is_ident_byte(b)))
}

/// What the main pass found.
struct Main {
    /// A call-shaped distinctive name.
    call: bool,
    /// A marker outside comment lines.
    marker: bool,
    /// The allow tag.
    allow: bool,
    /// A distinctive name as a whole word, call-shaped or not.
    word: bool,
}

/// Finds the distinctive calls, the markers and the allow tag in one pass; stops at the first
/// call (or tag, when `allow_counts`): the answer is known.
///
/// No pattern can start inside another one's match (no suffix of one is a prefix of another),
/// so the leftmost-longest matches see every occurrence, but for `WinSock` after the names that
/// end in `W`, which is looked for at each name's hit.
fn main_pass(text: &[u8], allow_counts: bool) -> Main {
    let s = searchers();
    let names = s.names;
    let socket = names + MARKERS.len() - 1;
    let tag = names + MARKERS.len();
    let mut found = Main {
        call: false,
        marker: false,
        allow: false,
        word: false,
    };
    for hit in s.main.find_iter(text) {
        let (start, end) = (hit.start(), hit.end());
        match hit.pattern().as_usize() {
            p if p < names => {
                if call_shaped(text, start, end, false) {
                    found.call = true;
                    break;
                }
                found.word =
                    found.word || whole_word(text, start, end) && &text[start..end] != DLLMAIN;
                // The one marker that can start inside a name: `GetAddrInfoW` + `inSock`.
                if !found.marker
                    && text[end - 1..].starts_with(b"WinSock")
                    && !on_comment_line(text, start)
                {
                    found.marker = true;
                }
            }
            p if p == tag => {
                found.allow = true;
                if allow_counts {
                    break;
                }
            }
            _ if found.marker || on_comment_line(text, start) => {}
            p if p == socket => found.marker = socket_ident(text, start, end),
            _ => found.marker = true,
        }
    }
    found
}

/// Is the name found at `start..end` a call (or `DllMain`, or a rename with `as`)?
/// `wsa_prefix`: the hit is the `WSA` prefix pattern, which may continue as any identifier.
fn call_shaped(text: &[u8], start: usize, end: usize, wsa_prefix: bool) -> bool {
    if start > 0 && is_ident_byte(text[start - 1]) || on_comment_line(text, start) {
        return false;
    }
    if &text[start..end] == DLLMAIN {
        return true;
    }
    // The whole identifier (`WSA` is a prefix pattern).
    let mut e = end;
    while e < text.len() && is_ident_byte(text[e]) {
        e += 1;
    }
    if e != end && !wsa_prefix {
        return false;
    }
    let mut k = e;
    while k < text.len() && (text[k] == b' ' || text[k] == b'\t') {
        k += 1;
    }
    // `use ..::{WSAStartup as startup}`: the calls then use the new name.
    if text[k..].starts_with(b"as ") && k > e {
        return true;
    }
    if k >= text.len() || text[k] != b'(' {
        return false;
    }
    // A method call (`.send(`) is not a Winsock call; a declaration (`fn WSAStartup(`) is not a call.
    if start > 0 && text[start - 1] == b'.' {
        return false;
    }
    let mut p = start;
    while p > 0 && text[p - 1].is_ascii_whitespace() {
        p -= 1;
    }
    !(p >= 2 && &text[p - 2..p] == b"fn" && (p == 2 || !is_ident_byte(text[p - 3])))
}

/// Is `at` on a line that starts (after blanks) with `//`? Such a line is a comment, or the inside
/// of a string literal or block comment: no code either way. Doc comments name Winsock functions
/// and bindings (`WSAEMSGSIZE(10040)`, `` `SOCKET` ``, doc examples calling `bind(addr)`) in files
/// that do not use them.
fn on_comment_line(text: &[u8], at: usize) -> bool {
    let mut k = start_of_line(text, at);
    while k < at && text[k].is_ascii_whitespace() {
        k += 1;
    }
    text[k..].starts_with(b"//")
}

/// Where the line holding `at` starts.
fn start_of_line(b: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &b[..at]).map_or(0, |p| p + 1)
}

/// Crate function and type names that matter: a file mentioning one (as a whole word) is parsed.
/// A qualified name (an associated function without `self`, `Conn::open`) counts only in a
/// file that also names one of its qualifiers (its type, or an alias of it): such a function
/// is called by a path through its type, never by its bare name.
pub struct Names {
    matcher: Option<aho_corasick::AhoCorasick>,
    /// Per pattern of `matcher`: what a hit of it means.
    roles: Vec<Vec<Role>>,
    /// Qualified names: how many there are.
    groups: usize,
}

#[derive(Clone, Copy)]
enum Role {
    /// A name that counts alone.
    Plain,
    /// The name of qualified name `g`.
    Name(usize),
    /// A qualifier of qualified name `g`.
    Qualifier(usize),
}

impl Names {
    pub fn new(names: &[String]) -> Names {
        Names::qualified(names, &[])
    }

    /// `plain` names, and qualified names: (name, its qualifiers).
    pub fn qualified<'a>(plain: &'a [String], qualified: &'a [(String, Vec<String>)]) -> Names {
        let mut words: Vec<&str> = Vec::new();
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = Default::default();
        // One pattern per distinct word, with every role it has.
        let mut add = |w: &'a str, role: Role| {
            let i = *index.entry(w).or_insert_with(|| {
                words.push(w);
                roles.push(Vec::new());
                words.len() - 1
            });
            roles[i].push(role);
        };
        for n in plain {
            add(n, Role::Plain);
        }
        for (g, (name, quals)) in qualified.iter().enumerate() {
            add(name, Role::Name(g));
            for q in quals {
                add(q, Role::Qualifier(g));
            }
        }
        let matcher = if words.is_empty() {
            None
        } else {
            aho_corasick::AhoCorasick::new(&words).ok()
        };
        Names {
            matcher,
            roles,
            groups: qualified.len(),
        }
    }

    pub fn found_in(&self, text: &[u8]) -> bool {
        let Some(m) = &self.matcher else {
            return false;
        };
        // Which qualified names have had their name, and which a qualifier, so far.
        let mut named = vec![false; self.groups];
        let mut qualified = vec![false; self.groups];
        m.find_overlapping_iter(text).any(|hit| {
            let before = hit.start() == 0 || !is_ident_byte(text[hit.start() - 1]);
            let after = hit.end() >= text.len() || !is_ident_byte(text[hit.end()]);
            if !(before && after && !on_comment_line(text, hit.start())) {
                return false;
            }
            self.roles[hit.pattern().as_usize()]
                .iter()
                .any(|role| match *role {
                    Role::Plain => true,
                    Role::Name(g) => {
                        named[g] = true;
                        qualified[g]
                    }
                    Role::Qualifier(g) => {
                        qualified[g] = true;
                        named[g]
                    }
                })
        })
    }
}

/// Could the text declare a module (`mod name;` or `mod name {`)? A cheap test before lexing.
pub fn may_declare_modules(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"mod").any(|at| {
        if at > 0 && is_ident_byte(text[at - 1]) {
            return false;
        }
        let mut k = at + 3;
        let ws = k;
        while k < text.len() && text[k].is_ascii_whitespace() {
            k += 1;
        }
        if k == ws {
            return false;
        }
        let name = k;
        while k < text.len() && is_ident_byte(text[k]) {
            k += 1;
        }
        if k == name {
            return false;
        }
        while k < text.len() && text[k].is_ascii_whitespace() {
            k += 1;
        }
        k < text.len() && (text[k] == b';' || text[k] == b'{')
    })
}

/// An inline module being read: its items so far, the brace depth it opened at, its name.
struct OpenMod {
    items: Vec<Item>,
    depth: usize,
    name: String,
    span: Span,
    path_attr: Option<String>,
    /// Under a `cfg` false on Windows: dropped with what it holds.
    excluded: bool,
}

impl OpenMod {
    fn close(self) -> Item {
        Item::Mod(ModIr {
            name: self.name,
            span: self.span,
            inline: Some(self.items),
            path_attr: self.path_attr,
        })
    }
}

/// The module structure of a file without parsing it: `mod x;` and `mod x { .. }` (with
/// `#[path]`), as `Item::Mod`s.
pub fn mod_items(text: &str, file: FileId) -> Vec<Item> {
    line_mod_items(text, file).unwrap_or_else(|| lexed_mod_items(text, file))
}

/// The fast path for the common shape (generated bindings, `mod.rs` files): every module
/// declaration is `[pub[(..)]] mod name;` alone on its line, with `#[path]` (if any) on the
/// lines just above, and no inline `mod name {`. `None` when the file needs the lexer.
/// Does `b` contain `mod` as a word (in code, a comment or a string alike)?
fn has_mod_word(b: &[u8]) -> bool {
    memchr::memmem::find_iter(b, b"mod").any(|at| {
        !(at > 0 && is_ident_byte(b[at - 1]) || b.get(at + 3).is_some_and(|&c| is_ident_byte(c)))
    })
}

fn line_mod_items(text: &str, file: FileId) -> Option<Vec<Item>> {
    let b = text.as_bytes();
    let comments = block_comments(b)?;
    let mut items = Vec::new();
    for at in memchr::memmem::find_iter(b, b"mod") {
        if at > 0 && is_ident_byte(b[at - 1]) || b.get(at + 3).is_some_and(|&c| is_ident_byte(c)) {
            continue;
        }
        let line_start = start_of_line(b, at);
        let line_end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |p| at + p);
        let before = text[line_start..at].trim();
        let after = text[at + 3..line_end].trim_end_matches('\r');
        if in_line_comment_or_string(&b[line_start..at]) || in_ranges(&comments, at) {
            continue;
        }
        let name_len = after
            .trim_start()
            .bytes()
            .take_while(|&c| is_ident_byte(c))
            .count();
        let lead = after.len() - after.trim_start().len();
        let rest = after.trim_start()[name_len..].trim();
        // Attributes on the line itself, before the visibility.
        let (same_line, vis) = match before.rfind(']') {
            Some(k) if before.starts_with("#[") => (&before[..=k], before[k + 1..].trim()),
            _ => ("", before),
        };
        let item_prefix =
            vis.is_empty() || vis == "pub" || (vis.starts_with("pub(") && vis.ends_with(')'));
        if name_len == 0 || !item_prefix {
            // `mod` in other code (a parameter, a string on another line): let the lexer decide.
            return None;
        }
        let inline = rest.starts_with('{');
        // An inline module (`mod tests {` near the end of a file) only needs the lexer when
        // module declarations may follow inside it: it is the last `mod` word of the file.
        if inline && has_mod_word(&b[at + 3..]) {
            return None;
        }
        if !inline && !rest.starts_with(';') {
            return None;
        }
        // A `cfg` false on Windows: the module does not exist there. Attributes the line path
        // cannot read whole (one over several lines) are the lexer's.
        let (excluded, path_attr) = attrs_above(text, line_start, same_line)?;
        if excluded {
            continue;
        }
        let name_lo = at + 3 + lead;
        let name_hi = name_lo + name_len;
        items.push(Item::Mod(ModIr {
            name: text[name_lo..name_hi].to_string(),
            span: Span::new(file, name_lo, name_hi),
            inline: inline.then(Vec::new),
            path_attr,
        }));
    }
    Some(items)
}

/// Is the end of `prefix` (a line up to a position) inside a `//` comment or a string, as far as
/// this line tells?
fn in_line_comment_or_string(prefix: &[u8]) -> bool {
    let in_string = prefix.iter().filter(|&&c| c == b'"').count() % 2 == 1;
    in_string || memchr::memmem::find(prefix, b"//").is_some()
}

/// The block comments (`/* .. */`, nested) of a text, in order, judging each opener like a `mod`
/// word: one after `//` or inside a string on its line is not one. `None` when one is not
/// closed (perhaps an opener inside a string of several lines): the lexer decides then.
fn block_comments(b: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = memchr::memmem::find(&b[i..], b"/*") {
        let at = i + k;
        let line_start = start_of_line(b, at);
        if in_line_comment_or_string(&b[line_start..at]) {
            i = at + 2;
            continue;
        }
        let mut depth = 1usize;
        let mut j = at + 2;
        while depth > 0 {
            let next = memchr::memchr(b'*', &b[j..]).map(|p| j + p)?;
            if next > j && b[next - 1] == b'/' {
                depth += 1;
                j = next + 1;
            } else if b.get(next + 1) == Some(&b'/') {
                depth -= 1;
                j = next + 2;
            } else {
                j = next + 1;
            }
        }
        out.push((at, j));
        i = j;
    }
    Some(out)
}

/// Is `at` inside one of the sorted, disjoint `ranges`?
fn in_ranges(ranges: &[(usize, usize)], at: usize) -> bool {
    let k = ranges.partition_point(|&(lo, _)| lo <= at);
    k > 0 && at < ranges[k - 1].1
}

/// What the attributes of a module declaration say on Windows: those on the lines right
/// above `line_start` and `same_line` (the ones before `mod` on its own line). Whether a
/// `cfg` excludes it, and its `path` (also through a `cfg_attr` that holds). `None` when an
/// attribute line cannot be read alone (an attribute over several lines).
fn attrs_above(text: &str, line_start: usize, same_line: &str) -> Option<(bool, Option<String>)> {
    let mut excluded = false;
    let mut path = None;
    let mut read = |inner: &str| {
        // Most attributes are neither: no parse for them.
        if !(inner.contains("cfg") || inner.contains("path")) {
            return;
        }
        for effect in crate::cfg::attr_effects(inner) {
            match effect {
                crate::cfg::AttrEffect::Excludes => excluded = true,
                crate::cfg::AttrEffect::Path(p) => {
                    path.get_or_insert(p);
                }
                crate::cfg::AttrEffect::Nothing => {}
            }
        }
    };
    for inner in line_attrs(same_line)? {
        read(inner);
    }
    for line in text[..line_start].lines().rev() {
        let t = line.trim();
        if !t.starts_with("#[") {
            if t.ends_with(']') {
                return None;
            }
            break;
        }
        // An attribute and an item on one line: the item above is another one.
        let Some(attrs) = line_attrs(t) else { break };
        for inner in attrs {
            read(inner);
        }
    }
    Some((excluded, path))
}

/// The insides of the attributes `#[..] #[..]` a line holds and nothing else; `None` when it
/// holds something else, or brackets that do not close on it.
fn line_attrs(t: &str) -> Option<Vec<&str>> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if !t[i..].starts_with("#[") {
            return None;
        }
        let start = i + 2;
        let mut depth = 1usize;
        let mut j = start;
        let mut in_str = false;
        while j < b.len() && depth > 0 {
            match b[j] {
                b'\\' if in_str => j += 1,
                b'"' => in_str = !in_str,
                b'[' if !in_str => depth += 1,
                b']' if !in_str => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        if depth > 0 {
            return None;
        }
        out.push(&t[start..j - 1]);
        i = j;
    }
    Some(out)
}

fn lexed_mod_items(text: &str, file: FileId) -> Vec<Item> {
    let b = text.as_bytes();
    let mut lx = Lexer { b, i: 0 };
    let mut stack = vec![OpenMod {
        items: Vec::new(),
        depth: 0,
        name: String::new(),
        span: Span::default(),
        path_attr: None,
        excluded: false,
    }];
    let mut depth = 0usize;
    let mut pending_path: Option<String> = None;
    // A `cfg` false on Windows above the next item: a module it declares does not exist there.
    let mut pending_excluded = false;
    // Small state machines instead of a token window: `mod NAME ;|{`, and `# [ .. ]` whose
    // text is read as an attribute (`cfg::attr_effects`) once its brackets close.
    let mut mod_state: Option<Option<(usize, usize)>> = None;
    // 1 after `#`; 2 inside `[..]`, with where the text starts and the bracket depth.
    let mut attr_state = 0u8;
    let mut attr_start = 0usize;
    let mut attr_depth = 0usize;
    while let Some(t) = lx.next() {
        if attr_state == 2 {
            match t {
                Tok::Punct(b'[') => attr_depth += 1,
                Tok::Punct(b']') => {
                    attr_depth -= 1;
                    if attr_depth == 0 {
                        attr_state = 0;
                        let inner = &text[attr_start..lx.i - 1];
                        for effect in crate::cfg::attr_effects(inner) {
                            match effect {
                                crate::cfg::AttrEffect::Excludes => pending_excluded = true,
                                crate::cfg::AttrEffect::Path(p) => pending_path = Some(p),
                                crate::cfg::AttrEffect::Nothing => {}
                            }
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        attr_state = match (attr_state, t) {
            (_, Tok::Punct(b'#')) => 1,
            (1, Tok::Punct(b'[')) => {
                attr_start = lx.i;
                attr_depth = 1;
                2
            }
            _ => 0,
        };
        let decl = match (mod_state, t) {
            (_, Tok::Ident(lo, hi)) if &text[lo..hi] == "mod" => {
                mod_state = Some(None);
                None
            }
            (Some(None), Tok::Ident(lo, hi)) => {
                mod_state = Some(Some((lo, hi)));
                None
            }
            (Some(Some(name)), Tok::Punct(b';' | b'{')) => {
                mod_state = None;
                Some(name)
            }
            _ => {
                mod_state = None;
                None
            }
        };
        match t {
            Tok::Punct(b'{') => {
                depth += 1;
                if let Some((lo, hi)) = decl {
                    stack.push(OpenMod {
                        items: Vec::new(),
                        depth,
                        name: text[lo..hi].to_string(),
                        span: Span::new(file, lo, hi),
                        path_attr: pending_path.take(),
                        excluded: std::mem::take(&mut pending_excluded),
                    });
                    continue;
                }
                pending_path = None;
                pending_excluded = false;
            }
            Tok::Punct(b'}') => {
                if stack.len() > 1 && stack.last().is_some_and(|s| s.depth == depth) {
                    let m = stack.pop().expect("checked above");
                    if let Some(parent) = stack.last_mut() {
                        if !m.excluded {
                            parent.items.push(m.close());
                        }
                    }
                }
                depth = depth.saturating_sub(1);
                pending_path = None;
                pending_excluded = false;
            }
            Tok::Punct(b';') => {
                if let Some((lo, hi)) = decl {
                    if let (Some(top), false) = (stack.last_mut(), pending_excluded) {
                        top.items.push(Item::Mod(ModIr {
                            name: text[lo..hi].to_string(),
                            span: Span::new(file, lo, hi),
                            inline: None,
                            path_attr: pending_path.take(),
                        }));
                    }
                }
                pending_path = None;
                pending_excluded = false;
            }
            _ => {}
        }
    }
    // Close whatever is still open (unbalanced input): keep what was found.
    while stack.len() > 1 {
        let m = stack.pop().expect("len > 1");
        if let (Some(parent), false) = (stack.last_mut(), m.excluded) {
            parent.items.push(m.close());
        }
    }
    stack.pop().map(|s| s.items).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Ident(usize, usize),
    /// A string literal's contents (between the quotes).
    Str(usize, usize),
    Punct(u8),
    Other,
}

struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<Tok> {
        let b = self.b;
        loop {
            while self.i < b.len() && b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if self.i >= b.len() {
                return None;
            }
            if b[self.i..].starts_with(b"//") {
                self.i = memchr::memchr(b'\n', &b[self.i..]).map_or(b.len(), |k| self.i + k);
                continue;
            }
            if b[self.i..].starts_with(b"/*") {
                let mut nest = 0usize;
                while self.i < b.len() {
                    if b[self.i..].starts_with(b"/*") {
                        nest += 1;
                        self.i += 2;
                    } else if b[self.i..].starts_with(b"*/") {
                        nest -= 1;
                        self.i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        self.i += 1;
                    }
                }
                continue;
            }
            break;
        }
        let c = b[self.i];
        // Raw strings: r"..", r#".."#, br#".."#.
        let raw_start = if c == b'r' {
            Some(self.i + 1)
        } else if c == b'b' && b.get(self.i + 1) == Some(&b'r') {
            Some(self.i + 2)
        } else {
            None
        };
        if let Some(mut k) = raw_start {
            let mut hashes = 0;
            while k < b.len() && b[k] == b'#' {
                hashes += 1;
                k += 1;
            }
            if k < b.len() && b[k] == b'"' {
                let start = k + 1;
                let mut j = start;
                while j < b.len() {
                    if b[j] == b'"'
                        && b[j + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&h| h == b'#')
                            .count()
                            == hashes
                    {
                        self.i = j + 1 + hashes;
                        return Some(Tok::Str(start, j));
                    }
                    j += 1;
                }
                self.i = b.len();
                return Some(Tok::Other);
            }
        }
        if c == b'"'
            || (c == b'b' && b.get(self.i + 1) == Some(&b'"'))
            || (c == b'c' && b.get(self.i + 1) == Some(&b'"'))
        {
            let start = if c == b'"' { self.i + 1 } else { self.i + 2 };
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            self.i = (j + 1).min(b.len());
            return Some(Tok::Str(start, j.min(b.len())));
        }
        if c == b'\'' {
            // Char literal or lifetime.
            if b.get(self.i + 1) == Some(&b'\\') {
                let mut j = self.i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                self.i = (j + 1).min(b.len());
                return Some(Tok::Other);
            }
            let ch_len = std::str::from_utf8(&b[self.i + 1..(self.i + 5).min(b.len())])
                .ok()
                .or_else(|| {
                    (1..4).rev().find_map(|l| {
                        std::str::from_utf8(&b[self.i + 1..(self.i + 1 + l).min(b.len())]).ok()
                    })
                })
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
            if b.get(self.i + 1 + ch_len) == Some(&b'\'') {
                self.i += 2 + ch_len;
                return Some(Tok::Other);
            }
            self.i += 1;
            while self.i < b.len() && is_ident_byte(b[self.i]) {
                self.i += 1;
            }
            return Some(Tok::Other);
        }
        if is_ident_byte(c) && !c.is_ascii_digit() {
            let start = self.i;
            while self.i < b.len() && is_ident_byte(b[self.i]) {
                self.i += 1;
            }
            return Some(Tok::Ident(start, self.i));
        }
        if c.is_ascii_digit() {
            while self.i < b.len()
                && (is_ident_byte(b[self.i])
                    || b[self.i] == b'.' && b.get(self.i + 1).is_some_and(u8::is_ascii_digit))
            {
                self.i += 1;
            }
            return Some(Tok::Other);
        }
        self.i += 1;
        Some(Tok::Punct(c))
    }
}

/// The file-level `macro_rules!` of a file (also those in `#[macro_use]` inline modules) and
/// its `#[macro_use] mod` declarations, read with the byte lexer: the crate macro table asks
/// this of every file that defines a macro another file calls, and a token tree of the file
/// (`proc_macro2`) cost many times more.
pub fn file_macros(text: &str) -> crate::ir::FileMacros {
    let mut out = crate::ir::FileMacros::default();
    let mut lx = Lexer {
        b: text.as_bytes(),
        i: 0,
    };
    macro_items(&mut lx, text, false, &mut out);
    out
}

/// The items up to the end of the text, or (`nested`) to the `}` that closes the module.
fn macro_items(lx: &mut Lexer<'_>, text: &str, nested: bool, out: &mut crate::ir::FileMacros) {
    let (mut export, mut macro_use) = (false, false);
    let mut pending = lx.next();
    while let Some(t) = pending.take() {
        match t {
            Tok::Punct(b'#') => {
                let mut next = lx.next();
                if next == Some(Tok::Punct(b'!')) {
                    next = lx.next();
                }
                if next == Some(Tok::Punct(b'[')) {
                    if let Some(Tok::Ident(s, e)) = lx.next() {
                        export |= &text[s..e] == "macro_export";
                        macro_use |= &text[s..e] == "macro_use";
                    }
                    close_group(lx, 1);
                } else {
                    pending = next;
                    continue;
                }
            }
            Tok::Ident(s, e) if &text[s..e] == "macro_rules" => {
                let bang = lx.next();
                let name = lx.next();
                let open = lx.next();
                match (bang, name, open) {
                    (
                        Some(Tok::Punct(b'!')),
                        Some(Tok::Ident(ns, ne)),
                        Some(Tok::Punct(b'{' | b'(' | b'[')),
                    ) => {
                        let body = lx.i;
                        let end = close_group(lx, 1);
                        out.defs.push(crate::ir::FileMacroDef {
                            name: text[ns..ne].to_string(),
                            at: s as u32,
                            exported: export,
                            text: text.get(body..end).unwrap_or_default().into(),
                        });
                        (export, macro_use) = (false, false);
                    }
                    (_, _, other) => {
                        // Not a definition (`macro_rules` in an expression, a path): read on.
                        pending = other;
                        continue;
                    }
                }
            }
            Tok::Ident(s, e) if &text[s..e] == "mod" => {
                let name = lx.next();
                if let Some(Tok::Ident(ns, _)) = name {
                    let after = lx.next();
                    if macro_use {
                        out.macro_use_mods.push(ns as u32);
                    }
                    if after == Some(Tok::Punct(b'{')) {
                        // An inline `#[macro_use] mod` lends its macros to the rest of the file.
                        if macro_use {
                            macro_items(lx, text, true, out);
                        } else {
                            close_group(lx, 1);
                        }
                    }
                    (export, macro_use) = (false, false);
                } else {
                    pending = name;
                    continue;
                }
            }
            Tok::Punct(b';') => (export, macro_use) = (false, false),
            Tok::Punct(b'{') => {
                close_group(lx, 1);
                (export, macro_use) = (false, false);
            }
            Tok::Punct(b'(' | b'[') => {
                close_group(lx, 1);
            }
            Tok::Punct(b'}') if nested => return,
            _ => {}
        }
        pending = lx.next();
    }
}

/// Reads to the bracket that closes `depth` open ones; where it starts (the text's end when
/// it never closes).
fn close_group(lx: &mut Lexer<'_>, mut depth: usize) -> usize {
    while let Some(t) = lx.next() {
        match t {
            Tok::Punct(b'{' | b'(' | b'[') => depth += 1,
            Tok::Punct(b'}' | b')' | b']') => {
                depth -= 1;
                if depth == 0 {
                    return lx.i - 1;
                }
            }
            _ => {}
        }
    }
    lx.b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_for_macro_definitions_and_macro_use() {
        let text = "#![allow(unused)]\n#[macro_use]\nmod macros;\nmod net;\n/// Calls `$f`.\n#[macro_export]\nmacro_rules! ws { ($f:ident) => { $f(\"}\") }; }\nmacro_rules! local [ () => {} ];\nfn f() { macro_rules! inner { () => {} } }\n#[macro_use]\nmod inline { macro_rules! lent { () => {} } }\nmod closed { macro_rules! kept_in { () => {} } }\n// macro_rules! commented { }\n";
        let f = file_macros(text);
        assert_eq!(
            f.macro_use_mods,
            vec![
                text.find("macros").unwrap() as u32,
                text.find("inline").unwrap() as u32
            ]
        );
        let names: Vec<(&str, bool)> = f
            .defs
            .iter()
            .map(|d| (d.name.as_str(), d.exported))
            .collect();
        assert_eq!(names, [("ws", true), ("local", false), ("lent", false)]);
        assert_eq!(f.defs[0].text.trim(), "($f:ident) => { $f(\"}\") };");
        assert_eq!(f.defs[0].at as usize, text.find("macro_rules! ws").unwrap());
        assert_eq!(f.defs[1].text.trim(), "() => {}");
    }

    fn mods(text: &str) -> Vec<String> {
        fn walk(items: &[Item], prefix: &str, out: &mut Vec<String>) {
            for i in items {
                if let Item::Mod(m) = i {
                    let name = format!(
                        "{prefix}{}{}",
                        m.name,
                        m.path_attr
                            .as_ref()
                            .map(|p| format!("@{p}"))
                            .unwrap_or_default()
                    );
                    match &m.inline {
                        Some(children) => {
                            out.push(format!("{name}{{}}"));
                            walk(children, &format!("{name}::"), out);
                        }
                        None => out.push(name),
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&lexed_mod_items(text, FileId(0)), "", &mut out);
        // Both paths agree where the fast one applies.
        if let Some(fast) = line_mod_items(text, FileId(0)) {
            let mut via_fast = Vec::new();
            walk(&fast, "", &mut via_fast);
            assert_eq!(via_fast, out);
        }
        out
    }

    #[test]
    fn modules_are_read_for_windows() {
        let text = "#[cfg_attr(windows, path = \"win.rs\")]\n#[cfg_attr(unix, path = \"unix.rs\")]\nmod sys;\nfn main() { sys::run(); }\n";
        assert_eq!(mods(text), ["sys@win.rs"]);
        let text = "#[cfg(unix)]\nmod unix;\n#[cfg(windows)]\nmod windows;\n#[cfg(test)] mod tests;\n#[cfg(target_os = \"linux\")] mod linux { mod inner; }\npub mod after;\n";
        assert_eq!(mods(text), ["windows", "tests", "after"]);
        let text = "#[cfg_attr(all(windows, not(unix)), path = \"w/mod.rs\")]\n#[path = \"x.rs\"] mod a;\n#[cfg(any(unix, target_os = \"wasi\"))]\n#[path = \"u.rs\"]\nmod b;\n";
        assert_eq!(mods(text), ["a@x.rs"]);
        // An attribute over several lines is the lexer's to read.
        let text = "#[cfg_attr(\n    windows,\n    path = \"w.rs\"\n)]\nmod x;\n#[cfg(all(\n    unix,\n))]\nmod y;\n";
        assert!(line_mod_items(text, FileId(0)).is_none());
        assert_eq!(mods(text), ["x@w.rs"]);
        // An excluded inline module takes what it declares with it.
        let text = "#[cfg(unix)]\nmod posix {\n    mod a;\n    mod b { mod c; }\n}\nmod d;\n";
        assert_eq!(mods(text), ["d"]);
    }

    #[test]
    fn simple_files_take_the_line_path() {
        let text = "// generated\n#[cfg(feature = \"A\")]\npub mod A;\n#[cfg(feature = \"Z\")] pub mod Z;\n#[path = \"b_impl.rs\"]\npub(crate) mod b;\nmod c;\nconst X: u8 = 1;\n";
        assert_eq!(mods(text), vec!["A", "Z", "b@b_impl.rs", "c"]);
        assert!(line_mod_items(text, FileId(0)).is_some());
        assert!(line_mod_items("mod t { mod u; }", FileId(0)).is_none());
        assert!(line_mod_items("mod t {\n    mod u;\n}\n", FileId(0)).is_none());
        assert!(line_mod_items("mod t {\n    // see mod u\n}\n", FileId(0)).is_none());
        // A last inline module with nothing declared inside it stays on the line path.
        let tests =
            "pub mod a;\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n    fn modulo() {}\n}\n";
        assert_eq!(mods(tests), vec!["a", "tests{}"]);
        assert!(line_mod_items(tests, FileId(0)).is_some());
        let with_path = "#[path = \"t.rs\"]\nmod t { fn f() {} }\n";
        assert_eq!(mods(with_path), vec!["t@t.rs{}"]);
    }

    #[test]
    fn block_comments_are_skipped_on_the_line_path() {
        let text = "/*!\n * Docs: mod not_this;\n */\npub mod a;\n/* mod b; /* nested */ mod c; */\nmod d;\nlet g = \"src/**/*.rs\"; // glob /*\nmod e;\n";
        assert!(line_mod_items(text, FileId(0)).is_some());
        assert_eq!(mods(text), vec!["a", "d", "e"]);
        // `*/*` after a comment, `/*/` opening one.
        let tricky = "/* a */*x;\n/*/ mod no; */\nmod yes;\n";
        assert_eq!(mods(tricky), vec!["yes"]);
        // An opener that is never closed (inside a string of several lines?): the lexer decides.
        let open = "let s = \"\n/* not a comment\n\";\nmod real;\n";
        assert!(line_mod_items(open, FileId(0)).is_none());
        assert_eq!(mods(open), vec!["real"]);
    }

    /// The line path against the lexer on every `.rs` file below `WSA_LINT_MOD_TREE` (the benchmark
    /// corpus, say): where the line path applies, both must find the same modules.
    #[test]
    #[ignore = "needs a tree of third-party code: WSA_LINT_MOD_TREE=target/bench-corpus"]
    fn line_path_agrees_with_the_lexer_on_a_tree() {
        let root = std::env::var("WSA_LINT_MOD_TREE").expect("WSA_LINT_MOD_TREE");
        let (mut taken, mut total) = (0, 0);
        for e in walkdir::WalkDir::new(root).into_iter().flatten() {
            if e.path().extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            if !may_declare_modules(text.as_bytes()) {
                continue;
            }
            total += 1;
            if line_mod_items(&text, FileId(0)).is_some() {
                taken += 1;
                mods(&text);
            }
        }
        eprintln!("line path took {taken} of {total} files");
    }

    #[test]
    fn finds_module_declarations() {
        let text = r##"
            // mod commented;
            /* mod also_commented; /* nested */ */
            const S: &str = "mod in_string;";
            const R: &str = r#"mod in_raw; "quoted""#;
            const C: char = '{';
            fn f<'a>(x: &'a str) {}
            pub mod a;
            #[cfg(windows)]
            #[path = "sys/win.rs"]
            mod sys;
            pub(crate) mod outer {
                mod inner;
                fn g() { let x = { 1 }; }
            }
            mod after;
        "##;
        assert_eq!(
            mods(text),
            vec!["a", "sys@sys/win.rs", "outer{}", "outer::inner", "after"]
        );
    }

    #[test]
    fn call_shaped_winsock_names_need_a_parse() {
        assert!(needs_parse(b"unsafe { WSAStartup(0x202, &mut d) };"));
        assert!(needs_parse(b"syscall!(closesocket (s))"));
        assert!(needs_parse(b"#[export_name = \"DllMain\"]"));
        assert!(needs_parse(b"use ws::{WSAStartup as start};"));
        assert!(!needs_parse(b"pub fn WSAStartup(v: u16) -> i32;"));
        assert!(!needs_parse(
            b"stream.send(buf); conn.shutdown(Shutdown::Both)"
        ));
        assert!(!needs_parse(
            b"use windows_sys::Win32::Networking::WinSock::SOCKADDR;"
        ));
        assert!(!needs_parse(b"fn resend(x: u8) {}"));
        assert!(!needs_parse(b"let s = TcpStream::connect(addr)?;"));
        assert!(needs_parse(
            b"use windows_sys::Win32::Networking::WinSock::*; connect(s, a, n);"
        ));
    }

    #[test]
    fn comment_lines_are_not_code() {
        for text in [
            // tokio's `UdpSocket` docs name a Winsock error code.
            "/// `WSAEMSGSIZE(10040)`. The excess data is lost.\npub fn recv(&self) {}",
            // socket2's docs name the `SOCKET` type and `socket(2)`.
            "/// an instance of `SOCKET` on Windows.\n    /// corresponds to `socket(2)` on Unix",
            "//! [Winsock `getsockopt`]: https://x/winsock2/nf-winsock2-getsockopt\nlet n = getsockopt(fd);",
            "  // DllMain must not call WSACleanup()\nfn f() {}",
        ] {
            assert!(!needs_parse(text.as_bytes()), "{text}");
        }
        // Code after a comment line, or a comment after code on its line, still counts.
        for text in [
            "// Starts Winsock.\nWSAStartup(0x202, &mut data);",
            "let r = WSAStartup(v, &mut d); // see WSAStartup()",
            "use windows_sys::Win32::Networking::WinSock::*; // WinSock\nlet n = getsockopt(s);",
        ] {
            assert!(needs_parse(text.as_bytes()), "{text}");
        }
        let n = Names::new(&["bind".to_string()]);
        assert!(!n.found_in(b"/// let l = TcpListener::bind(addr)?;\nfn f() {}"));
        assert!(n.found_in(b"/// docs\nlet l = TcpListener::bind(addr)?;"));
    }

    #[test]
    fn a_qualified_name_counts_only_beside_a_qualifier() {
        let q = [("new".to_string(), vec!["Conn".to_string(), "C".to_string()])];
        let n = Names::qualified(&["open".to_string()], &q);
        assert!(!n.found_in(b"let v = Vec::new();"));
        assert!(n.found_in(b"let c = Conn::new();"));
        // The qualifier before or after the name, or an alias of the type.
        assert!(n.found_in(b"use x::Conn;\nfn f() { let v = Vec::new(); }"));
        assert!(n.found_in(b"let v = new(); use y::C;"));
        assert!(n.found_in(b"open(1)"));
        // Whole words outside comment lines only.
        assert!(!n.found_in(b"let c = Connection::renew();"));
        assert!(!n.found_in(b"// Conn\nlet v = Vec::new();"));
    }

    #[test]
    fn a_marker_inside_a_name_match_counts() {
        // `GetAddrInfoW` matches first; the `WinSock` that starts at its `W` is still a marker.
        let text = b"use x::GetAddrInfoWinSock; let r = connect(s, a, n);";
        assert!(needs_parse(text));
        assert_eq!(needs_parse(text), reference::needs_parse(text));
    }

    #[test]
    fn sol_socket_alone_is_not_a_winsock_marker() {
        // libc's Unix bindings and Unix socket code: `SOL_SOCKET` and `_SC_RAW_SOCKETS` are not
        // Winsock, so their generic names (declarations and calls) do not count.
        for text in [
            "pub const SOL_SOCKET: c_int = 0xffff;\npub fn getnameinfo(sa: *const sockaddr) -> c_int;\nlet n = getnameinfo(sa);",
            "pub const _SC_RAW_SOCKETS: c_int = 119;\nlet r = getnameinfo(sa, len);",
            "let r = libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, p, n);",
            "const UDP_SOCKET: Token = Token(0); let s = socket(AF_INET, SOCK_DGRAM, 0);",
            "let x = SOCKET_STREAM; connect(fd, addr, len);",
        ] {
            assert!(!needs_parse(text.as_bytes()), "{text}");
            assert!(!worth_parsing(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn winsock_code_keeps_a_marker_in_every_binding_style() {
        for text in [
            // windows-sys / windows paths.
            "use windows_sys::Win32::Networking::WinSock as ws; ws::connect(s, a, n);",
            "use windows::Win32::Networking::WinSock::*; connect(s, a, n);",
            // winapi.
            "use winapi::um::winsock2::*; send(s, b, n, 0);",
            "use winapi::um::ws2tcpip::*; getaddrinfo(h, p, hints, &mut res);",
            "use winapi::shared::ws2def::SOCKADDR; bind(s, a, n);",
            // ws2_32-sys, `#[link]` and `link!` declarations.
            "extern crate ws2_32; ws2_32::recv(s, b, n, 0);",
            "#[link(name = \"ws2_32\")] extern \"system\" { fn send(s: usize) -> i32; }\nsend(s);",
            "windows_targets::link!(\"ws2_32.dll\" \"system\" fn listen(s: usize, n: i32) -> i32);\nlisten(s, 1);",
            // A re-exporting module (`c::`): the `SOCKET` type, or the values calls are checked against.
            "fn f(s: c::SOCKET) { unsafe { c::connect(s, a, n) }; }",
            "if unsafe { c::listen(s, 128) } == c::SOCKET_ERROR { return Err(e); }",
            "let s = unsafe { c::socket(af, ty, 0) }; if s == c::INVALID_SOCKET { return; }",
            "let s: SOCKET=socket(af, ty, 0);",
        ] {
            assert!(needs_parse(text.as_bytes()), "{text}");
        }
    }

    /// The prefilter as it was with one searcher over all names and a pass per marker (and
    /// `SOCKET` counted only as one of the whole identifiers `SOCKET_IDENTS`, and markers only
    /// outside comment lines): the split searchers must give the same answers. Each hit is
    /// judged by the same `call_shaped`.
    mod reference {
        use super::super::{call_names, is_ident_byte, MARKERS, SOCKET_IDENTS};

        fn searcher(from: usize) -> aho_corasick::AhoCorasick {
            let mut pats: Vec<&[u8]> = call_names().names[from..].to_vec();
            pats.push(b"WSA");
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(pats)
                .unwrap()
        }

        pub fn worth_parsing(text: &[u8]) -> bool {
            needs_parse(text) || memchr::memmem::find(text, b"wsa-lint:").is_some()
        }

        pub fn needs_parse(text: &[u8]) -> bool {
            let marker = text
                .split(|&b| b == b'\n')
                .filter(|line| !line.trim_ascii_start().starts_with(b"//"))
                .any(|line| {
                    MARKERS
                        .iter()
                        .filter(|m| **m != b"SOCKET")
                        .any(|m| memchr::memmem::find(line, m).is_some())
                        || line
                            .split(|&b| !is_ident_byte(b))
                            .any(|word| SOCKET_IDENTS.contains(&word))
                });
            static ALL: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
            static DISTINCT: std::sync::OnceLock<aho_corasick::AhoCorasick> =
                std::sync::OnceLock::new();
            let (ac, offset) = if marker {
                (ALL.get_or_init(|| searcher(0)), 0)
            } else {
                (
                    DISTINCT.get_or_init(|| searcher(call_names().generic)),
                    call_names().generic,
                )
            };
            let wsa = call_names().names.len() - offset;
            ac.find_iter(text).any(|hit| {
                let wsa_prefix = hit.pattern().as_usize() == wsa;
                super::super::call_shaped(text, hit.start(), hit.end(), wsa_prefix)
            })
        }
    }

    #[test]
    fn split_searchers_see_every_hit() {
        // What `calls` relies on: names are identifier bytes, and no name of one searcher is a
        // prefix of a name of the other (at a start both match, one searcher alone would
        // report the shorter).
        let mut distinct: Vec<&[u8]> = call_names().names[call_names().generic..].to_vec();
        distinct.push(b"WSA");
        for n in call_names().names.iter().chain(&distinct) {
            assert!(n.iter().all(|&b| is_ident_byte(b)));
        }
        for g in &call_names().names[..call_names().generic] {
            for d in &distinct {
                assert!(!g.starts_with(d) && !d.starts_with(g), "{g:?} {d:?}");
            }
        }
        // What `main_pass` relies on: no pattern of the main pass can start inside another
        // one's match, but `WinSock` at the last byte of a name (which it checks itself).
        let mut all: Vec<&[u8]> = call_names().names[call_names().generic..].to_vec();
        all.extend(MARKERS);
        all.push(ALLOW_TAG);
        for x in &all {
            for y in &all {
                for off in 0..x.len() {
                    let rest = &x[off..];
                    let hides = if off == 0 {
                        x != y && x.starts_with(y)
                    } else {
                        y.starts_with(rest) || rest.starts_with(y)
                    };
                    let checked = *y == b"WinSock" && rest == b"W";
                    assert!(!hides || checked, "{x:?} hides {y:?}");
                }
            }
        }
    }

    #[test]
    fn prefilter_agrees_with_the_single_searcher() {
        const PIECES: &[&str] = &[
            "WSA",
            "Startup",
            "Cleanup",
            "WSAStartup",
            "closesocket",
            "socket",
            "send",
            "sendto",
            "to",
            "recv",
            "from",
            "connect",
            "getaddrinfo",
            "gethostbyname",
            "InetNtopW",
            "GetAddrInfoW",
            "inSock",
            "WinSock",
            "winsock",
            "ws2_32",
            "ws2",
            "SOCKET",
            "SOCK",
            "ET",
            "SOL_",
            "INVALID_",
            "_ERROR",
            "SOCKET_ERROR",
            "SOL_SOCKET",
            "_SC_RAW_SOCKETS",
            "wsa-lint:",
            "wsa-lint",
            "DllMain",
            "__WSAFDIsSet",
            "(",
            ")",
            " ",
            "\t",
            "\n",
            ".",
            "fn",
            "fn ",
            "as ",
            "as",
            "::",
            "x",
            "_",
            "1",
            "\u{e9}",
            "{",
            ";",
            "mod ",
            "//",
            "/// ",
            "//! ",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut agreed = [0usize; 2];
        for _ in 0..50_000 {
            let n = 1 + (next() % 10) as usize;
            let text: String = (0..n)
                .map(|_| {
                    let i = (next() % (PIECES.len() + call_names().names.len()) as u64) as usize;
                    PIECES.get(i).copied().unwrap_or_else(|| {
                        std::str::from_utf8(call_names().names[i - PIECES.len()]).unwrap()
                    })
                })
                .collect();
            let t = text.as_bytes();
            assert_eq!(needs_parse(t), reference::needs_parse(t), "{text:?}");
            assert_eq!(worth_parsing(t), reference::worth_parsing(t), "{text:?}");
            agreed[usize::from(worth_parsing(t))] += 1;
        }
        // Both answers were exercised.
        assert!(agreed[0] > 1000 && agreed[1] > 1000, "{agreed:?}");
    }

    /// The prefilter against the table: a file calling a function of `winsock::APIS` is parsed as
    /// its `Trigger` says, in every binding style.
    #[test]
    fn every_api_call_is_flagged_as_its_trigger_says() {
        use crate::winsock::{Trigger, APIS};
        let markers = [
            "use windows_sys::Win32::Networking::WinSock::*;",
            "use windows::Win32::Networking::WinSock::*;",
            "use winapi::um::winsock2::*;",
            "extern crate ws2_32;",
            "#[link(name = \"ws2_32\")] extern \"system\" { fn f(); }",
            "windows_targets::link!(\"ws2_32.dll\" \"system\" fn f());",
        ];
        for api in APIS {
            let call = format!("fn f() {{ let r = unsafe {{ {}(a, b) }}; }}\n", api.name);
            let alone = needs_parse(call.as_bytes());
            let by_marker = |m: &str| needs_parse(format!("{m}\n{call}").as_bytes());
            match api.trigger {
                Trigger::Always | Trigger::WsaPrefix => assert!(alone, "{}", api.name),
                Trigger::WithMarker => {
                    assert!(!alone, "{}", api.name);
                    for m in markers {
                        assert!(by_marker(m), "{} with {m}", api.name);
                    }
                }
                Trigger::Never => {
                    assert!(!alone && !by_marker(markers[0]), "{}", api.name);
                    assert!(api.effect == crate::winsock::Effect::None && !api.needs_init);
                }
            }
            // `WsaPrefix` is only for the names it finds.
            assert_eq!(
                api.trigger == Trigger::WsaPrefix,
                api.name.starts_with("WSA"),
                "{}",
                api.name
            );
        }
    }

    #[test]
    fn names_match_whole_words() {
        let n = Names::new(&["init".to_string()]);
        assert!(n.found_in(b"net::init()?;"));
        assert!(!n.found_in(b"initialize(); reinit();"));
    }
}

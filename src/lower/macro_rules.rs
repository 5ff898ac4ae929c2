//! `macro_rules!` by example, as rustc reads them: arms with fragments and repetitions,
//! matched against a call's tokens and transcribed into the tokens lowering then reads.
//!
//! A fragment is matched the way rustc decides it: `expr`, `ty`, `path`, `pat`, `stmt`,
//! `item` and `meta` by parsing the longest prefix syn accepts; `ident`, `tt`, `lifetime`,
//! `literal`, `block` and `vis` by their tokens. Repetitions (`$( .. ) sep op`) may nest, in
//! the matcher and the transcriber. Only the number of a repetition's rounds is backtracked
//! over, as rustc commits to a fragment once it parsed one.
//!
//! Macros of other files arrive as text (`CrateMacro`): their tokens are lexed on this thread
//! and carry the call's span, since positions of another file mean nothing in this one.

use super::*;
use std::collections::HashMap;
use std::rc::Rc;

/// One `(matcher) => { transcriber }` arm.
pub(super) struct MacroArm {
    matcher: Vec<Matcher>,
    body: Vec<Trans>,
    /// The transcriber names a Winsock function (for the large-file note).
    pub(super) names_winsock: bool,
}

/// A macro of this file: where it is defined, so a call sees the definitions before it.
pub(super) struct LocalMacro {
    pub(super) at: usize,
    pub(super) exported: bool,
    pub(super) arms: Rc<Vec<MacroArm>>,
}

/// A `macro_rules!` of another file of the crate, visible to the file being lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateMacro {
    pub name: String,
    /// `#[macro_export]`: usable by path (`crate::name!`) and by name wherever.
    pub exported: bool,
    /// Where it is defined in the crate's textual order (`MacroEnv::key`), when its textual
    /// scope covers the file: it is usable by name after that. Neither this nor `exported`:
    /// usable by path only (a re-export, `pub(crate) use name;`).
    pub textual: Option<Vec<u32>>,
    /// The crate `$crate` names: `None` for the crate being lowered, else the library's name.
    pub krate: Option<String>,
    /// The tokens between the braces of `macro_rules! name { .. }`, shared by every file
    /// that sees the definition.
    pub text: std::sync::Arc<str>,
}

/// The macros of other files a file can call, and where the file is in the crate's textual
/// order: the byte offsets of the `mod` declarations from the crate root down to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MacroEnv {
    pub key: Vec<u32>,
    pub macros: Vec<CrateMacro>,
}

/// Names of the macros `text` calls (`name!` followed by a delimiter), `macro_rules` aside:
/// a cheap over-approximation by bytes, comments and strings included.
pub(crate) fn called_names(text: &[u8]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for_each_called(text, |name| {
        if let Ok(name) = std::str::from_utf8(name) {
            out.insert(name.to_string());
        }
    });
    out
}

/// `called_names`, each name as its bytes, repeated names too.
pub(crate) fn for_each_called(text: &[u8], mut f: impl FnMut(&[u8])) {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    for at in memchr::memchr_iter(b'!', text) {
        let mut j = at;
        while j > 0 && ident(text[j - 1]) {
            j -= 1;
        }
        if j == at || text[j].is_ascii_digit() || text.get(at + 1) == Some(&b'=') {
            continue;
        }
        let mut k = at + 1;
        while text.get(k).is_some_and(|c| c.is_ascii_whitespace()) {
            k += 1;
        }
        if !matches!(text.get(k), Some(b'(' | b'[' | b'{')) {
            continue;
        }
        if &text[j..at] != b"macro_rules" {
            f(&text[j..at]);
        }
    }
}

/// How a call names a macro.
pub(super) enum MacroPath<'a> {
    /// `name!`: textual scope first, then exported macros.
    Bare(&'a str),
    /// `crate::name!` (and `$crate::name!`, which transcription writes as `crate`): an
    /// exported macro, else one a module re-exports (`pub(crate) use name;`, then
    /// `crate::util::name!`), which is not followed: any definition of the name.
    Crate(&'a str),
    /// `lib::name!`: an exported macro of the package's library. Nothing else: `tracing::debug!`
    /// inside the crate's own `debug!` is no call of itself.
    Lib(&'a str, &'a str),
}

impl<'a> MacroPath<'a> {
    pub(super) fn of(segs: &'a [String]) -> Option<MacroPath<'a>> {
        let keyword = |s: &str| matches!(s, "crate" | "$crate" | "self" | "super");
        match segs {
            [n] => Some(MacroPath::Bare(n)),
            [first, .., n] if keyword(first) => Some(MacroPath::Crate(n)),
            [l, n] => Some(MacroPath::Lib(l, n)),
            _ => None,
        }
    }
}

/// Which definition a call uses.
#[derive(Clone, Copy)]
pub(super) enum Found {
    Local(usize),
    Crate(usize),
}

impl Lowerer {
    /// The definition a call at byte `at` of this file names: a local one defined before it,
    /// then one of another file whose textual scope reaches it, the latest first; then an
    /// exported one.
    pub(super) fn find_macro(&self, path: &MacroPath<'_>, at: usize) -> Option<Found> {
        let env = &self.crate_macros;
        let latest_local = |name: &str, exported_only: bool| {
            let defs = self.macros.get(name)?;
            let before = defs
                .iter()
                .enumerate()
                .filter(|(_, d)| if exported_only { d.exported } else { d.at < at })
                .max_by_key(|(_, d)| d.at);
            before.map(|(i, _)| Found::Local(i))
        };
        let exported = |name: &str, krate: Option<&str>| {
            env.macros
                .iter()
                .rposition(|m| m.exported && m.name == name && m.krate.as_deref() == krate)
                .map(Found::Crate)
        };
        // A definition of the crate by name wherever it is: a path to a re-export.
        let by_path = |name: &str| {
            let local = self.macros.get(name).and_then(|defs| {
                let last = defs.iter().enumerate().max_by_key(|(_, d)| d.at)?;
                Some(Found::Local(last.0))
            });
            local.or_else(|| {
                env.macros
                    .iter()
                    .rposition(|m| m.name == name && m.krate.is_none())
                    .map(Found::Crate)
            })
        };
        match *path {
            MacroPath::Bare(name) => latest_local(name, false)
                .or_else(|| {
                    let here = (&env.key[..], at as u32);
                    env.macros
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.name == name)
                        .filter_map(|(i, m)| Some((i, m.textual.as_ref()?)))
                        .filter(|(_, k)| key_before(k, here))
                        .max_by(|a, b| a.1.cmp(b.1))
                        .map(|(i, _)| Found::Crate(i))
                })
                .or_else(|| latest_local(name, true))
                .or_else(|| exported(name, None))
                .or_else(|| {
                    env.macros
                        .iter()
                        .rposition(|m| m.exported && m.name == name)
                        .map(Found::Crate)
                })
                // Out of textual scope and not exported, a call by name compiles only through
                // a `use` of a re-export.
                .or_else(|| by_path(name)),
            MacroPath::Crate(name) => latest_local(name, true)
                .or_else(|| exported(name, None))
                .or_else(|| by_path(name)),
            MacroPath::Lib(lib, name) => exported(name, Some(lib)),
        }
    }

    /// The arms of a definition, lexed once per lowerer for a crate macro.
    fn arms_of(&mut self, found: Found, name: &str) -> Option<Rc<Vec<MacroArm>>> {
        match found {
            Found::Local(i) => Some(self.macros.get(name)?.get(i)?.arms.clone()),
            Found::Crate(i) => {
                if let Some(a) = self.foreign_arms.get(&i) {
                    return Some(a.clone());
                }
                let m = self.crate_macros.macros.get(i)?;
                let arms = Rc::new(parse_arms(m.text.parse::<TokenStream>().ok()?)?);
                self.foreign_arms.insert(i, arms.clone());
                Some(arms)
            }
        }
    }

    /// Expands a macro call by the first arm that matches; the expansion as an expression
    /// (or a block of its statements).
    pub(super) fn expand(
        &mut self,
        found: Found,
        name: &str,
        tokens: &TokenStream,
        call: proc_macro2::Span,
    ) -> Option<syn::Expr> {
        let body = self.expand_tokens(found, name, tokens, call)?;
        if let Ok(e) = syn::parse2::<syn::Expr>(body.clone()) {
            return Some(e);
        }
        let block = syn::parse::Parser::parse2(syn::Block::parse_within, body).ok()?;
        Some(syn::Expr::Block(syn::ExprBlock {
            attrs: Vec::new(),
            label: None,
            block: syn::Block {
                brace_token: syn::token::Brace(call_delims(call)),
                stmts: block,
            },
        }))
    }

    /// The transcribed tokens of a call, counted against the file's budget.
    pub(super) fn expand_tokens(
        &mut self,
        found: Found,
        name: &str,
        tokens: &TokenStream,
        call: proc_macro2::Span,
    ) -> Option<TokenStream> {
        let arms = self.arms_of(found, name)?;
        let ctx = match found {
            Found::Local(_) => Transcribe {
                respan: None,
                krate: "crate",
            },
            Found::Crate(i) => Transcribe {
                respan: Some(call),
                krate: self.crate_macros.macros[i]
                    .krate
                    .as_deref()
                    .unwrap_or("crate"),
            },
        };
        let input: Vec<TokenTree> = tokens.clone().into_iter().collect();
        for arm in arms.iter() {
            let mut work = Work::new(self.match_work);
            let binds = match_arm(&arm.matcher, &input, &mut work);
            self.match_work = work.left;
            if self.match_work == 0 {
                self.stopped.get_or_insert_with(|| {
                    format!(
                        "matching macro calls in this file took more than {MAX_MATCH_WORK} steps, \
                         so a macro call here was read as an unknown macro"
                    )
                });
                return None;
            }
            let Some(binds) = binds else {
                continue;
            };
            let body = transcribe(&arm.body, &binds, &ctx)?;
            self.expanded_tokens += count_tokens(&body);
            if self.expanded_tokens > MAX_EXPANSION_TOKENS {
                self.budget_hit = true;
                return None;
            }
            return Some(body);
        }
        None
    }
}

/// Collects `macro_rules! name { (matcher) => { body }; .. }` from items, inline modules and
/// function bodies, each with where it is defined.
pub(super) fn collect_macro_rules(
    lowerer: &Lowerer,
    items: &[syn::Item],
    out: &mut HashMap<String, Vec<LocalMacro>>,
) {
    for item in items {
        match item {
            syn::Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                if let Some(name) = &m.ident {
                    if let Some(arms) = parse_arms(m.mac.tokens.clone()) {
                        let exported = m.attrs.iter().any(|a| a.path().is_ident("macro_export"));
                        out.entry(name.to_string()).or_default().push(LocalMacro {
                            at: lowerer.lo(m.mac.path.span()),
                            exported,
                            arms: Rc::new(arms),
                        });
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_macro_rules(lowerer, items, out);
                }
            }
            syn::Item::Fn(f) => {
                let inner: Vec<syn::Item> = f
                    .block
                    .stmts
                    .iter()
                    .filter_map(|s| match s {
                        syn::Stmt::Item(i) => Some(i.clone()),
                        _ => None,
                    })
                    .collect();
                collect_macro_rules(lowerer, &inner, out);
            }
            _ => {}
        }
    }
}

fn parse_arms(tokens: TokenStream) -> Option<Vec<MacroArm>> {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut arms = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        let TokenTree::Group(m) = &tts[i] else {
            return None;
        };
        let arrow = matches!((tts.get(i + 1), tts.get(i + 2)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == '=' && b.as_char() == '>');
        if !arrow {
            return None;
        }
        let TokenTree::Group(b) = tts.get(i + 3)? else {
            return None;
        };
        let m: Vec<TokenTree> = m.stream().into_iter().collect();
        let b: Vec<TokenTree> = b.stream().into_iter().collect();
        arms.push(MacroArm {
            matcher: parse_matcher(&m)?,
            names_winsock: names_winsock(&b.iter().cloned().collect()),
            body: parse_trans(&b),
        });
        i += 4;
        if matches!(tts.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            i += 1;
        }
    }
    Some(arms)
}

/// Tokens in a stream, counting into groups.
fn count_tokens(ts: &TokenStream) -> usize {
    ts.clone()
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => 1 + count_tokens(&g.stream()),
            _ => 1,
        })
        .sum()
}

/// Delimiter spans for a block the expansion synthesizes: the macro call's own.
fn call_delims(call: proc_macro2::Span) -> proc_macro2::extra::DelimSpan {
    let mut g = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, TokenStream::new());
    g.set_span(call);
    g.delim_span()
}

// ---- Matchers ----

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Frag {
    Ident,
    Lifetime,
    Literal,
    Tt,
    Block,
    Vis,
    Expr,
    Ty,
    Path,
    Pat,
    PatParam,
    Stmt,
    Item,
    Meta,
}

impl Frag {
    fn of(s: &str) -> Option<Frag> {
        Some(match s {
            "ident" => Frag::Ident,
            "lifetime" => Frag::Lifetime,
            "literal" => Frag::Literal,
            "tt" => Frag::Tt,
            "block" => Frag::Block,
            "vis" => Frag::Vis,
            "expr" | "expr_2021" => Frag::Expr,
            "ty" => Frag::Ty,
            "path" => Frag::Path,
            "pat" => Frag::Pat,
            "pat_param" => Frag::PatParam,
            "stmt" => Frag::Stmt,
            "item" => Frag::Item,
            "meta" => Frag::Meta,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Star,
    Plus,
    Opt,
}

fn op_of(t: Option<&TokenTree>) -> Option<Op> {
    match t {
        Some(TokenTree::Punct(p)) => match p.as_char() {
            '*' => Some(Op::Star),
            '+' => Some(Op::Plus),
            '?' => Some(Op::Opt),
            _ => None,
        },
        _ => None,
    }
}

enum Matcher {
    Token(TokenTree),
    Group(proc_macro2::Delimiter, Vec<Matcher>),
    Frag(String, Frag),
    Rep {
        inner: Vec<Matcher>,
        sep: Option<TokenTree>,
        op: Op,
        vars: Vec<String>,
    },
}

/// `$( .. ) sep? op` after the `$` at `tts[i]`: the group, the separator and the operator,
/// and how many tokens they take.
fn repetition(
    tts: &[TokenTree],
    i: usize,
) -> Option<(&proc_macro2::Group, Option<TokenTree>, Op, usize)> {
    let TokenTree::Group(g) = tts.get(i + 1)? else {
        return None;
    };
    if g.delimiter() != proc_macro2::Delimiter::Parenthesis {
        return None;
    }
    if let Some(op) = op_of(tts.get(i + 2)) {
        // `$(a)?*`-like forms are not; `?` as a separator is not allowed, so `*`/`+`/`?` here is the op.
        return Some((g, None, op, 3));
    }
    let sep = tts.get(i + 2)?.clone();
    let op = op_of(tts.get(i + 3))?;
    Some((g, Some(sep), op, 4))
}

fn parse_matcher(tts: &[TokenTree]) -> Option<Vec<Matcher>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                if let Some((g, sep, op, n)) = repetition(tts, i) {
                    let inner_tts: Vec<TokenTree> = g.stream().into_iter().collect();
                    let inner = parse_matcher(&inner_tts)?;
                    let mut vars = Vec::new();
                    matcher_vars(&inner, &mut vars);
                    out.push(Matcher::Rep {
                        inner,
                        sep,
                        op,
                        vars,
                    });
                    i += n;
                    continue;
                }
                let (
                    Some(TokenTree::Ident(name)),
                    Some(TokenTree::Punct(colon)),
                    Some(TokenTree::Ident(frag)),
                ) = (tts.get(i + 1), tts.get(i + 2), tts.get(i + 3))
                else {
                    return None;
                };
                if colon.as_char() != ':' {
                    return None;
                }
                out.push(Matcher::Frag(
                    name.to_string(),
                    Frag::of(&frag.to_string())?,
                ));
                i += 4;
            }
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                out.push(Matcher::Group(g.delimiter(), parse_matcher(&inner)?));
                i += 1;
            }
            t => {
                out.push(Matcher::Token(t.clone()));
                i += 1;
            }
        }
    }
    Some(out)
}

fn matcher_vars(ms: &[Matcher], out: &mut Vec<String>) {
    for m in ms {
        match m {
            Matcher::Frag(n, _) => out.push(n.clone()),
            Matcher::Group(_, inner) => matcher_vars(inner, out),
            Matcher::Rep { vars, .. } => out.extend(vars.iter().cloned()),
            Matcher::Token(_) => {}
        }
    }
}

/// What a matcher variable bound: a fragment, or one entry per round of a repetition.
#[derive(Clone, Debug)]
enum Bound {
    One(Frag, Vec<TokenTree>),
    Seq(Vec<Bound>),
}

type Binds = HashMap<String, Bound>;

/// Steps matching may take in one file. Failures are remembered, so a matcher of several
/// repetitions costs about its elements times the input's tokens, and a fragment parse costs
/// the tokens it is handed; input crafted against a matcher could still take long. Past this
/// no arm matches and the function gets a note.
pub(super) const MAX_MATCH_WORK: usize = 5_000_000;

/// What matching one arm has left of `MAX_MATCH_WORK`, and what it learnt on the way.
pub(super) struct Work {
    pub(super) left: usize,
    /// (matcher elements, their count, input, position, anchored) that do not match. Inputs
    /// are kept alive in `inputs`, so their addresses are not reused while this lives.
    failed: std::collections::HashSet<(usize, usize, usize, usize, bool)>,
    /// Fragment lengths found, by (input, position, kind).
    frags: HashMap<(usize, usize, Frag), Option<usize>>,
    inputs: Vec<Rc<Vec<TokenTree>>>,
}

impl Work {
    pub(super) fn new(left: usize) -> Work {
        Work {
            left,
            failed: Default::default(),
            frags: Default::default(),
            inputs: Vec::new(),
        }
    }

    fn take(&mut self, n: usize) -> Option<()> {
        self.left = self.left.checked_sub(n)?;
        Some(())
    }
}

fn match_arm(matcher: &[Matcher], input: &[TokenTree], work: &mut Work) -> Option<Binds> {
    let mut binds = Binds::new();
    match_seq(matcher, input, 0, true, &mut binds, work)?;
    Some(binds)
}

fn same_token(a: &TokenTree, b: &TokenTree) -> bool {
    match (a, b) {
        (TokenTree::Ident(x), TokenTree::Ident(y)) => x == y,
        (TokenTree::Punct(x), TokenTree::Punct(y)) => x.as_char() == y.as_char(),
        (TokenTree::Literal(x), TokenTree::Literal(y)) => x.to_string() == y.to_string(),
        _ => false,
    }
}

/// Matches `ms` at `input[i..]`; `anchored`: the input must end with them. The end position.
/// Whether it matches does not depend on what is bound, so a failure is remembered.
fn match_seq(
    ms: &[Matcher],
    input: &[TokenTree],
    i: usize,
    anchored: bool,
    binds: &mut Binds,
    work: &mut Work,
) -> Option<usize> {
    work.take(1)?;
    let key = (
        ms.as_ptr() as usize,
        ms.len(),
        input.as_ptr() as usize,
        i,
        anchored,
    );
    if work.failed.contains(&key) {
        return None;
    }
    let r = match_first(ms, input, i, anchored, binds, work);
    if r.is_none() {
        work.failed.insert(key);
    }
    r
}

fn match_first(
    ms: &[Matcher],
    input: &[TokenTree],
    i: usize,
    anchored: bool,
    binds: &mut Binds,
    work: &mut Work,
) -> Option<usize> {
    let Some(first) = ms.first() else {
        return (!anchored || i == input.len()).then_some(i);
    };
    let rest = &ms[1..];
    match first {
        Matcher::Token(t) => {
            if !input.get(i).is_some_and(|x| same_token(t, x)) {
                return None;
            }
            match_seq(rest, input, i + 1, anchored, binds, work)
        }
        Matcher::Group(d, inner) => {
            let Some(TokenTree::Group(h)) = input.get(i) else {
                return None;
            };
            if h.delimiter() != *d {
                return None;
            }
            let inside: Rc<Vec<TokenTree>> = Rc::new(h.stream().into_iter().collect());
            work.inputs.push(inside.clone());
            match_seq(inner, &inside, 0, true, binds, work)?;
            match_seq(rest, input, i + 1, anchored, binds, work)
        }
        Matcher::Frag(name, frag) => {
            let at = i.min(input.len());
            let fkey = (input.as_ptr() as usize, at, *frag);
            let n = match work.frags.get(&fkey) {
                Some(n) => *n,
                None => {
                    let n = frag_len(*frag, &input[at..], work);
                    work.frags.insert(fkey, n);
                    n
                }
            }?;
            binds.insert(name.clone(), Bound::One(*frag, input[i..i + n].to_vec()));
            match_seq(rest, input, i + n, anchored, binds, work)
        }
        Matcher::Rep {
            inner,
            sep,
            op,
            vars,
        } => {
            // Every round the input allows, then the rest after as many rounds as still lets
            // it match; the rest is tried on its own bindings, so a failure copies nothing.
            let mut rounds: Vec<(usize, Binds)> = Vec::new();
            let mut at = i;
            loop {
                if *op == Op::Opt && rounds.len() == 1 {
                    break;
                }
                let mut start = at;
                if let (Some(s), false) = (sep, rounds.is_empty()) {
                    if !input.get(at).is_some_and(|x| same_token(s, x)) {
                        break;
                    }
                    start += 1;
                }
                let mut b = Binds::new();
                match match_seq(inner, input, start, false, &mut b, work) {
                    Some(end) if end > at => {
                        rounds.push((end, b));
                        at = end;
                    }
                    _ => break,
                }
            }
            let min = usize::from(*op == Op::Plus);
            for n in (min..=rounds.len()).rev() {
                let from = if n == 0 { i } else { rounds[n - 1].0 };
                let mut after = Binds::new();
                if let Some(end) = match_seq(rest, input, from, anchored, &mut after, work) {
                    for v in vars {
                        let seq = rounds[..n]
                            .iter()
                            .filter_map(|(_, b)| b.get(v).cloned())
                            .collect();
                        binds.insert(v.clone(), Bound::Seq(seq));
                    }
                    binds.extend(after);
                    return Some(end);
                }
            }
            None
        }
    }
}

/// How many tokens at the start of `input` a fragment takes.
fn frag_len(frag: Frag, input: &[TokenTree], work: &mut Work) -> Option<usize> {
    let first = input.first();
    let is_ident =
        |t: Option<&TokenTree>, s: &str| matches!(t, Some(TokenTree::Ident(i)) if i == s);
    match frag {
        Frag::Ident => match first? {
            TokenTree::Ident(i) if i != "_" => Some(1),
            _ => None,
        },
        Frag::Tt => first.map(|_| 1),
        Frag::Block => match first? {
            TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Brace => Some(1),
            _ => None,
        },
        Frag::Lifetime => match (first?, input.get(1)) {
            (TokenTree::Punct(p), Some(TokenTree::Ident(_))) if p.as_char() == '\'' => Some(2),
            _ => None,
        },
        Frag::Literal => match (first?, input.get(1)) {
            (TokenTree::Literal(_), _) => Some(1),
            (TokenTree::Ident(i), _) if i == "true" || i == "false" => Some(1),
            (TokenTree::Punct(p), Some(TokenTree::Literal(_))) if p.as_char() == '-' => Some(2),
            _ => None,
        },
        Frag::Vis => {
            if !is_ident(first, "pub") {
                return Some(0);
            }
            match input.get(1) {
                Some(TokenTree::Group(g))
                    if g.delimiter() == proc_macro2::Delimiter::Parenthesis =>
                {
                    Some(2)
                }
                _ => Some(1),
            }
        }
        Frag::Stmt if is_ident(first, "let") => {
            // A `let` statement without its `;`, which syn's `Stmt` insists on.
            let end = input
                .iter()
                .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
                .unwrap_or(input.len());
            Some(end)
        }
        Frag::Stmt => prefix_len(input, work, |s| s.parse::<syn::Item>().map(drop)).or_else(|| {
            prefix_len(before_semi(input), work, |s| {
                s.parse::<syn::Expr>().map(drop)
            })
        }),
        Frag::Expr => prefix_len(before_semi(input), work, |s| {
            s.parse::<syn::Expr>().map(drop)
        }),
        Frag::Ty => prefix_len(before_semi(input), work, |s| {
            s.parse::<syn::Type>().map(drop)
        }),
        Frag::Path => prefix_len(before_semi(input), work, |s| {
            s.parse::<syn::Path>().map(drop)
        }),
        Frag::Pat => prefix_len(before_semi(input), work, |s| {
            syn::Pat::parse_multi_with_leading_vert(s).map(drop)
        }),
        Frag::PatParam => prefix_len(before_semi(input), work, |s| {
            syn::Pat::parse_single(s).map(drop)
        }),
        Frag::Item => prefix_len(input, work, |s| s.parse::<syn::Item>().map(drop)),
        Frag::Meta => prefix_len(before_semi(input), work, |s| {
            s.parse::<syn::Meta>().map(drop)
        }),
    }
}

/// `input` up to its first top-level `;`, which no expression, type, path, pattern or meta
/// holds outside a group: a long list costs a parse of one entry, not of the rest of it.
fn before_semi(input: &[TokenTree]) -> &[TokenTree] {
    let end = input
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
        .unwrap_or(input.len());
    &input[..end]
}

/// The number of top-level tokens the longest prefix `parse` accepts takes; `None` when it
/// accepts none.
fn prefix_len(
    input: &[TokenTree],
    work: &mut Work,
    parse: impl Fn(ParseStream) -> syn::Result<()>,
) -> Option<usize> {
    work.take(input.len())?;
    let ts: TokenStream = input.iter().cloned().collect();
    let parser = |s: ParseStream| -> syn::Result<usize> {
        parse(s)?;
        let rest: TokenStream = s.parse()?;
        Ok(rest.into_iter().count())
    };
    let left = parser.parse2(ts).ok()?;
    let n = input.len().checked_sub(left)?;
    (n > 0).then_some(n)
}

// ---- Transcribers ----

enum Trans {
    Token(TokenTree),
    Group(proc_macro2::Group, Vec<Trans>),
    Var(String, proc_macro2::Span),
    /// `$crate`.
    Crate(proc_macro2::Span),
    Rep {
        inner: Vec<Trans>,
        sep: Option<TokenTree>,
        vars: Vec<String>,
    },
}

fn parse_trans(tts: &[TokenTree]) -> Vec<Trans> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tts.get(i + 1) {
                Some(TokenTree::Ident(id)) if id == "crate" => {
                    out.push(Trans::Crate(id.span()));
                    i += 2;
                }
                Some(TokenTree::Ident(id)) => {
                    out.push(Trans::Var(id.to_string(), id.span()));
                    i += 2;
                }
                _ => match repetition(tts, i) {
                    Some((g, sep, _, n)) => {
                        let inner_tts: Vec<TokenTree> = g.stream().into_iter().collect();
                        let inner = parse_trans(&inner_tts);
                        let mut vars = Vec::new();
                        trans_vars(&inner, &mut vars);
                        out.push(Trans::Rep { inner, sep, vars });
                        i += n;
                    }
                    None => {
                        out.push(Trans::Token(tts[i].clone()));
                        i += 1;
                    }
                },
            },
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                out.push(Trans::Group(g.clone(), parse_trans(&inner)));
                i += 1;
            }
            t => {
                out.push(Trans::Token(t.clone()));
                i += 1;
            }
        }
    }
    out
}

fn trans_vars(ts: &[Trans], out: &mut Vec<String>) {
    for t in ts {
        match t {
            Trans::Var(n, _) => out.push(n.clone()),
            Trans::Group(_, inner) => trans_vars(inner, out),
            Trans::Rep { vars, .. } => out.extend(vars.iter().cloned()),
            Trans::Token(_) | Trans::Crate(_) => {}
        }
    }
}

/// How a transcription writes the macro's own tokens.
struct Transcribe<'a> {
    /// Tokens of a macro of another file: they take the call's span.
    respan: Option<proc_macro2::Span>,
    /// What `$crate` becomes.
    krate: &'a str,
}

impl Transcribe<'_> {
    fn own(&self, mut t: TokenTree) -> TokenTree {
        if let Some(s) = self.respan {
            t.set_span(s);
        }
        t
    }
}

/// Writes a transcriber with the bindings of a match. `None` when a repetition has nothing
/// that says how often it repeats, or its variables disagree (rustc refuses such a macro).
fn transcribe(ts: &[Trans], binds: &Binds, cx: &Transcribe<'_>) -> Option<TokenStream> {
    let mut out = TokenStream::new();
    for t in ts {
        match t {
            Trans::Token(tt) => out.extend([cx.own(tt.clone())]),
            Trans::Crate(span) => {
                let mut id = proc_macro2::Ident::new(cx.krate, *span);
                if let Some(s) = cx.respan {
                    id.set_span(s);
                }
                out.extend([TokenTree::Ident(id)]);
            }
            Trans::Group(g, inner) => {
                let mut ng = proc_macro2::Group::new(g.delimiter(), transcribe(inner, binds, cx)?);
                ng.set_span(cx.respan.unwrap_or(g.span()));
                out.extend([TokenTree::Group(ng)]);
            }
            Trans::Var(name, span) => match binds.get(name) {
                Some(Bound::One(frag, toks)) => out.extend(paste(*frag, toks)),
                // Still repeating at this depth: rustc refuses the macro.
                Some(Bound::Seq(_)) => return None,
                // `$x` that is no variable is written as it stands.
                None => {
                    let mut dollar = proc_macro2::Punct::new('$', proc_macro2::Spacing::Alone);
                    dollar.set_span(*span);
                    out.extend([
                        cx.own(TokenTree::Punct(dollar)),
                        cx.own(TokenTree::Ident(proc_macro2::Ident::new(name, *span))),
                    ]);
                }
            },
            Trans::Rep { inner, sep, vars } => {
                let rounds = vars
                    .iter()
                    .filter_map(|v| match binds.get(v) {
                        Some(Bound::Seq(s)) => Some(s.len()),
                        _ => None,
                    })
                    .try_fold(None, |n: Option<usize>, len| match n {
                        Some(m) if m != len => Err(()),
                        _ => Ok(Some(len)),
                    })
                    .ok()??;
                for r in 0..rounds {
                    if r > 0 {
                        if let Some(s) = sep {
                            out.extend([cx.own(s.clone())]);
                        }
                    }
                    let mut round = binds.clone();
                    for v in vars {
                        if let Some(Bound::Seq(s)) = binds.get(v) {
                            round.insert(v.clone(), s[r].clone());
                        }
                    }
                    out.extend(transcribe(inner, &round, cx)?);
                }
            }
        }
    }
    Some(out)
}

/// A fragment as the transcription writes it. An expression or a type stays one operand, as
/// rustc keeps it, in an invisible group spanning the argument tokens it came from; every
/// other fragment is its tokens, so an `ident` pastes into a path (`ws::$f(..)`).
fn paste(frag: Frag, toks: &[TokenTree]) -> Vec<TokenTree> {
    if !matches!(frag, Frag::Expr | Frag::Ty) {
        return toks.to_vec();
    }
    let stream: TokenStream = toks.iter().cloned().collect();
    let mut g = proc_macro2::Group::new(proc_macro2::Delimiter::None, stream);
    if let (Some(first), Some(last)) = (toks.first(), toks.last()) {
        g.set_span(first.span().join(last.span()).unwrap_or(first.span()));
    }
    vec![TokenTree::Group(g)]
}

/// `key` comes before the point at byte `at` of the file whose key is `file`, in the crate's
/// textual order (the crate read as one text, each `mod x;` replaced by its file).
fn key_before(key: &[u32], (file, at): (&[u32], u32)) -> bool {
    key.iter().cmp(file.iter().chain(std::iter::once(&at))) == std::cmp::Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Vec<TokenTree> {
        s.parse::<TokenStream>().unwrap().into_iter().collect()
    }

    /// Expands `call` by the first matching arm of `rules` (the text inside `macro_rules! m { .. }`).
    fn expand(rules: &str, call: &str) -> Option<String> {
        let arms = parse_arms(rules.parse().unwrap()).expect("arms parse");
        let input = ts(call);
        let cx = Transcribe {
            respan: None,
            krate: "crate",
        };
        arms.iter().find_map(|a| {
            let b = match_arm(&a.matcher, &input, &mut Work::new(MAX_MATCH_WORK))?;
            Some(norm(&transcribe(&a.body, &b, &cx)?.to_string()))
        })
    }

    /// Token text without spacing, which invisible groups print their own way.
    fn norm(s: &str) -> String {
        s.split_whitespace().collect()
    }

    #[test]
    fn an_ident_pastes_into_a_path() {
        let out = expand(
            "($f:ident ( $($a:expr),* )) => { ws::$f($($a),*) };",
            "WSAStartup(0x202, &mut d)",
        )
        .unwrap();
        assert_eq!(out, norm("ws :: WSAStartup (0x202 , & mut d)"));
        let e: syn::Expr = syn::parse_str(&out).unwrap();
        assert!(matches!(e, syn::Expr::Call(_)));
    }

    #[test]
    fn an_expression_stays_one_operand() {
        let arms = parse_arms("($e:expr) => { $e * 2 };".parse().unwrap()).unwrap();
        let b = match_arm(
            &arms[0].matcher,
            &ts("1 + 1"),
            &mut Work::new(MAX_MATCH_WORK),
        )
        .unwrap();
        let cx = Transcribe {
            respan: None,
            krate: "crate",
        };
        let out = transcribe(&arms[0].body, &b, &cx).unwrap();
        let e: syn::Expr = syn::parse2(out).unwrap();
        // The product is the outer operator: `(1 + 1) * 2`.
        assert!(matches!(e, syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::Mul(_))));
    }

    #[test]
    fn expressions_are_matched_by_parsing_not_up_to_a_token() {
        // The first `,` is inside the call's parentheses: the expression runs past it.
        let out = expand("($a:expr, $b:expr) => { ($b, $a) };", "f(x, y), z").unwrap();
        assert_eq!(out, norm("(z , f (x , y))"));
        // A struct literal, a closure and a block-like expression are whole expressions.
        let out = expand("($a:expr; $b:expr) => { $b };", "|x| x + 1; S { a: 1 }").unwrap();
        assert_eq!(out, norm("S { a : 1 }"));
    }

    #[test]
    fn repetitions_with_separators_and_operators() {
        let rules = "($($n:ident = $v:expr),* $(,)?) => { $(let $n = $v;)* };";
        assert_eq!(
            expand(rules, "a = 1, b = f(2),").unwrap(),
            norm("let a = 1 ; let b = f (2) ;")
        );
        assert_eq!(expand(rules, "").unwrap(), norm(""));
        assert_eq!(
            expand("($($s:stmt);+) => { $($s;)+ };", "let x = 1; f(x)").unwrap(),
            norm("let x = 1 ; f (x) ;")
        );
        assert!(
            expand("($($a:tt)+) => { x };", "").is_none(),
            "`+` needs one round"
        );
        assert_eq!(
            expand("($($a:tt)?) => { [$($a)?] };", "q").unwrap(),
            norm("[q]")
        );
    }

    #[test]
    fn nested_repetitions() {
        let rules = "($($f:ident($($a:expr),*));*) => { $($f($($a),*);)* };";
        assert_eq!(
            expand(rules, "WSAStartup(1, &mut d); WSACleanup()").unwrap(),
            norm("WSAStartup (1 , & mut d) ; WSACleanup () ;")
        );
    }

    #[test]
    fn a_repetition_gives_back_rounds_the_rest_needs() {
        // Greedy `tt`s would eat the last token the matcher needs after them.
        assert_eq!(
            expand("($($t:tt)* ; $last:ident) => { $last };", "a b ; z").unwrap(),
            norm("z")
        );
        assert_eq!(
            expand("($($t:tt)*) => { [$($t)*] };", "a b c").unwrap(),
            norm("[a b c]")
        );
    }

    #[test]
    fn every_fragment_kind_matches() {
        let cases = [
            ("$x:ty", "Vec<u8>", "Vec < u8 >"),
            ("$x:path", "ws::WSAStartup", "ws :: WSAStartup"),
            ("$x:pat", "Some(0) | None", "Some (0) | None"),
            ("$x:pat_param", "Some(x)", "Some (x)"),
            ("$x:block", "{ f() }", "{ f () }"),
            ("$x:literal", "-1", "- 1"),
            ("$x:literal", "\"ws2_32\"", "\"ws2_32\""),
            ("$x:lifetime", "'a", "'a"),
            ("$x:vis", "pub(crate)", "pub (crate)"),
            ("$x:item", "fn f() {}", "fn f () { }"),
            (
                "$x:meta",
                "link(name = \"ws2_32\")",
                "link (name = \"ws2_32\")",
            ),
            ("$x:stmt", "let s = 1", "let s = 1"),
            ("$x:tt", "(a b)", "(a b)"),
        ];
        for (m, input, want) in cases {
            let rules = format!("({m}) => {{ $x }};");
            let got = expand(&rules, input).unwrap_or_else(|| panic!("{m} on {input}"));
            assert_eq!(got, norm(want), "{m}");
        }
        // An empty visibility.
        assert_eq!(
            expand("($v:vis fn $n:ident) => { $v fn $n() {} };", "fn f").unwrap(),
            norm("fn f () { }")
        );
        assert!(expand("($x:ident) => {};", "_").is_none());
        assert!(expand("($x:block) => {};", "(a)").is_none());
    }

    #[test]
    fn dollar_crate_becomes_the_defining_crate() {
        let arms = parse_arms("() => { $crate::sys::init() };".parse().unwrap()).unwrap();
        let b = match_arm(&arms[0].matcher, &[], &mut Work::new(MAX_MATCH_WORK)).unwrap();
        let cx = Transcribe {
            respan: None,
            krate: "netlib",
        };
        assert_eq!(
            transcribe(&arms[0].body, &b, &cx).unwrap().to_string(),
            "netlib :: sys :: init ()"
        );
    }

    #[test]
    fn literal_tokens_and_groups_must_agree() {
        let rules = "(start $v:expr) => { a($v) }; (stop) => { b() };";
        assert_eq!(expand(rules, "start 0x202").unwrap(), norm("a (0x202)"));
        assert_eq!(expand(rules, "stop").unwrap(), norm("b ()"));
        assert!(expand(rules, "go").is_none());
        assert!(expand("([$x:ident]) => { $x };", "(y)").is_none());
    }

    #[test]
    fn called_names_are_found_by_bytes() {
        let names = called_names(b"wsa_start!(); a != b; !x; ws! [x]; macro_rules! m {} vec!{}");
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(names, ["vec", "ws", "wsa_start"]);
    }

    #[test]
    fn backtracking_is_bounded_by_the_work_budget() {
        let arms = parse_arms(
            "($($a:tt)* $($b:tt)* $($c:tt)* $($d:expr),* x) => {};"
                .parse()
                .unwrap(),
        )
        .unwrap();
        let input = ts(&vec!["y"; 400].join(" "));
        let started = std::time::Instant::now();
        let mut work = Work::new(MAX_MATCH_WORK);
        assert!(match_arm(&arms[0].matcher, &input, &mut work).is_none());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    /// The `let` patterns of `main`'s body, as lowered.
    fn lets_of_main(text: &str) -> Vec<String> {
        let tree = syn::parse_str::<syn::File>(text).unwrap();
        let ir = Lowerer::new(crate::source::FileId(0), 0, text).file(&tree);
        proc_macro2::extra::invalidate_current_thread_spans();
        let Some(crate::ir::Item::Fn(f)) = ir
            .items
            .iter()
            .find(|i| matches!(i, crate::ir::Item::Fn(f) if f.name == "main"))
        else {
            panic!("no main");
        };
        f.body
            .stmts
            .iter()
            .filter_map(|s| match s {
                crate::ir::Stmt::Let {
                    pat: crate::ir::Pat::Ident(n, _),
                    ..
                } => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn statements_take_the_calls_place_and_the_bodys_names_are_its_own() {
        let text = "macro_rules! sock { ($s:ident) => { let $s = socket(); let rc = $s; }; }\n\
                    fn main() { let rc = 0; sock!(listener); }\n";
        let lets = lets_of_main(text);
        assert_eq!(lets.len(), 3, "{lets:?}");
        assert_eq!(&lets[..2], ["rc", "listener"]);
        assert!(lets[2].starts_with("rc#"), "{lets:?}");
    }

    #[test]
    fn textual_order_compares_mount_keys() {
        // Defined in a file mounted at byte 10 of the root, before the root's byte 40.
        assert!(key_before(&[0, 10, 5], (&[0], 40)));
        assert!(!key_before(&[0, 10, 5], (&[0], 8)));
        // In a sibling module declared later.
        assert!(!key_before(&[0, 50, 5], (&[0, 20], 100)));
        assert!(key_before(&[0, 20, 5], (&[0, 20], 6)));
    }
}

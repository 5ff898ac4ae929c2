//! Lowering: `syn` syntax tree -> `ir` values with byte spans.
//!
//! Runs on the thread that parsed the file (proc-macro2 span positions are
//! thread-local). Macro invocations are looked into where their tokens form
//! expressions; anything else becomes `Expr::Other`, never an error.

use crate::ir::*;
use crate::source::{FileId, Span};
use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;

mod known_macros;
mod macro_rules;
pub use crate::ir::{FileMacroDef, FileMacros};
pub(crate) use macro_rules::{called_names, for_each_called};
use macro_rules::{collect_macro_rules, LocalMacro, MacroArm, MacroPath};
pub use macro_rules::{CrateMacro, MacroEnv};

pub(crate) struct Lowerer {
    file: FileId,
    /// Bytes stripped before the text reached syn (BOM, shebang line).
    base: usize,
    /// Closures of the function being lowered.
    closures: Vec<ClosureIr>,
    nested: Vec<Item>,
    /// `macro_rules!` defined in this file, by name, each where it is defined: expanded at
    /// their call sites.
    macros: std::collections::HashMap<String, Vec<LocalMacro>>,
    /// `macro_rules!` of other files of the crate this file can call.
    crate_macros: std::sync::Arc<MacroEnv>,
    /// Arms of `crate_macros` lexed so far, by index.
    foreign_arms: std::collections::HashMap<usize, std::rc::Rc<Vec<MacroArm>>>,
    /// Bare names the file imports well-known macros of other crates under (`known_macros`).
    known_imports: std::collections::HashMap<String, known_macros::Known>,
    expanding: usize,
    /// The outermost macro call being expanded: spans outside its arguments are not the user's.
    expansion: Option<Expansion>,
    /// Names the macro's own tokens bound in the outermost expansion (`bound_name`).
    hygienic: std::collections::HashSet<String>,
    /// Tokens all expansions in this file have produced so far (see `MAX_EXPANSION_TOKENS`).
    expanded_tokens: usize,
    /// A macro call in the function being lowered was left unexpanded for the budget.
    budget_hit: bool,
    /// Why a macro call in the function being lowered was left unexpanded, when another
    /// bound than the token budget stopped it (depth, matching work).
    stopped: Option<String>,
    /// Matching steps this file has left (`macro_rules::MAX_MATCH_WORK`).
    match_work: usize,
    /// `macro_rules!` of earlier parts of a large file (`rebase`), not expanded in this one.
    other_parts_macros: std::collections::HashSet<String>,
    /// A macro of another part was called in the function being lowered: its name.
    other_part_macro_called: Option<String>,
    /// Byte bounds of expressions already measured (by node address): `Spanned::span`
    /// re-tokenizes the whole subtree, which is quadratic on deep nesting.
    lo_memo: std::collections::HashMap<usize, usize>,
    hi_memo: std::collections::HashMap<usize, usize>,
    /// Byte offset of each line of the text being lowered, when it is ASCII (see `offset`).
    line_starts: Option<Vec<usize>>,
    /// The last `Span::site` given to a piece of an expansion.
    next_site: std::cell::Cell<u32>,
}

/// Where an expansion's tokens may come from: the call's arguments are text the user wrote
/// there; anything else was produced by the macro.
#[derive(Clone, Copy)]
struct Expansion {
    call: Span,
    args: (usize, usize),
}

/// Tokens that `macro_rules!` expansions may produce in one file. A self-recursive macro
/// grows with the power of its fan-out, so a depth limit alone does not bound the work;
/// past this, calls stay unexpanded and the function gets a note.
pub(crate) const MAX_EXPANSION_TOKENS: usize = 200_000;

/// Macro calls expanded inside one another at most; a deeper call stays unexpanded.
const MAX_EXPANSION_DEPTH: usize = 8;

/// The tokens name a Winsock function (at any depth).
fn names_winsock(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => crate::winsock::is_known_function(&i.to_string()),
        TokenTree::Group(g) => names_winsock(&g.stream()),
        _ => false,
    })
}

/// The attributes of an item (those `#[cfg]` can be among).
fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item as I;
    match item {
        I::Fn(i) => &i.attrs,
        I::Mod(i) => &i.attrs,
        I::Use(i) => &i.attrs,
        I::ExternCrate(i) => &i.attrs,
        I::ForeignMod(i) => &i.attrs,
        I::Impl(i) => &i.attrs,
        I::Static(i) => &i.attrs,
        I::Const(i) => &i.attrs,
        I::Macro(i) => &i.attrs,
        I::Struct(i) => &i.attrs,
        I::Enum(i) => &i.attrs,
        I::Trait(i) => &i.attrs,
        I::Type(i) => &i.attrs,
        I::Union(i) => &i.attrs,
        _ => &[],
    }
}

/// The outer attributes of an expression statement's expression, for the forms a `#[cfg]`
/// statement takes.
fn expr_attrs(e: &syn::Expr) -> &[syn::Attribute] {
    use syn::Expr as E;
    match e {
        E::Block(x) => &x.attrs,
        E::Unsafe(x) => &x.attrs,
        E::Call(x) => &x.attrs,
        E::MethodCall(x) => &x.attrs,
        E::Macro(x) => &x.attrs,
        E::If(x) => &x.attrs,
        E::Assign(x) => &x.attrs,
        E::Match(x) => &x.attrs,
        E::Return(x) => &x.attrs,
        E::Break(x) => &x.attrs,
        E::Continue(x) => &x.attrs,
        E::While(x) => &x.attrs,
        E::Loop(x) => &x.attrs,
        E::ForLoop(x) => &x.attrs,
        E::Path(x) => &x.attrs,
        E::Try(x) => &x.attrs,
        _ => &[],
    }
}

/// Where each line of `text` starts (after each `\n`, as proc-macro2 counts lines), when the
/// text is ASCII.
fn ascii_line_starts(text: &str) -> Option<Vec<usize>> {
    text.is_ascii().then(|| {
        std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect()
    })
}

impl Lowerer {
    /// Lowers the tree of `text`, which starts at byte `base` of file `file`.
    pub(crate) fn new(file: FileId, base: usize, text: &str) -> Lowerer {
        Lowerer {
            line_starts: ascii_line_starts(text),
            next_site: Default::default(),
            file,
            base,
            closures: Vec::new(),
            nested: Vec::new(),
            macros: std::collections::HashMap::new(),
            crate_macros: Default::default(),
            foreign_arms: Default::default(),
            known_imports: Default::default(),
            expanding: 0,
            expansion: None,
            hygienic: Default::default(),
            expanded_tokens: 0,
            budget_hit: false,
            stopped: None,
            match_work: macro_rules::MAX_MATCH_WORK,
            other_parts_macros: Default::default(),
            other_part_macro_called: None,
            lo_memo: std::collections::HashMap::new(),
            hi_memo: std::collections::HashMap::new(),
        }
    }

    /// This lowerer, able to expand the macros of other files in `env`.
    pub(crate) fn with_macros(mut self, env: std::sync::Arc<MacroEnv>) -> Lowerer {
        self.crate_macros = env;
        self
    }

    fn span(&self, s: proc_macro2::Span) -> Span {
        self.mk(self.lo(s), self.hi(s))
    }

    /// The byte offset in the text of a position proc-macro2 gives as line and column. Asking
    /// a span for its byte range instead makes proc-macro2 count characters from the nearest
    /// position it has already mapped, in an ordered map that gains an entry for every new
    /// one (7% of parsing); a line and column is a binary search over line starts. In ASCII
    /// text a column (counted in characters) is a byte count; other text takes the byte range.
    /// A call-site span is at line 1, column 0: offset 0, as its byte range says.
    fn offset(&self, at: proc_macro2::LineColumn) -> Option<usize> {
        let start = self.line_starts.as_ref()?.get(at.line.checked_sub(1)?)?;
        Some(self.base + start + at.column)
    }

    /// A span of the file, marked when it was produced by a macro expansion. Text that is
    /// not the call's arguments (the macro body's, or a range joining it with them) is no
    /// text anyone wrote at the call: it becomes the macro call itself, told apart from the
    /// expansion's other pieces by `Span::site`.
    fn mk(&self, lo: usize, hi: usize) -> Span {
        let Some(x) = self.expansion else {
            return Span::new(self.file, lo, hi);
        };
        let (a_lo, a_hi) = x.args;
        if a_lo <= lo && lo <= hi && hi <= a_hi && !(lo == 0 && hi == 0) {
            return Span::new(self.file, lo, hi);
        }
        let site = self.next_site.get().wrapping_add(1).max(1);
        self.next_site.set(site);
        Span {
            site,
            ..x.call.in_expansion()
        }
    }

    fn span_of<T: Spanned>(&self, t: &T) -> Span {
        self.span(t.span())
    }

    fn lo(&self, s: proc_macro2::Span) -> usize {
        if self.line_starts.is_some() {
            if let Some(at) = self.offset(s.start()) {
                return at;
            }
        }
        self.base + s.byte_range().start
    }

    fn hi(&self, s: proc_macro2::Span) -> usize {
        if self.line_starts.is_some() {
            if let Some(at) = self.offset(s.end()) {
                return at;
            }
        }
        self.base + s.byte_range().end
    }

    /// This lowerer without the line index: every offset from byte ranges (for tests).
    #[cfg(test)]
    pub(crate) fn by_byte_ranges(mut self) -> Lowerer {
        self.line_starts = None;
        self
    }

    /// The next part of the file, `text`, parsed on its own, starts at `base`. The trees of the
    /// parts before are dropped: their node addresses may be reused.
    pub(crate) fn rebase(&mut self, base: usize, text: &str) {
        self.base = base;
        self.line_starts = ascii_line_starts(text);
        self.forget_temporaries();
        // A macro's tokens carry the spans of the part that defined it, which mean nothing in
        // this one: a part expands only the `macro_rules!` it defines itself.
        // Only one that can call Winsock makes a difference to what is found.
        for (name, defs) in self.macros.drain() {
            if defs.iter().any(|d| d.arms.iter().any(|a| a.names_winsock)) {
                self.other_parts_macros.insert(name);
            }
        }
        // Lexed on this thread, whose span table each part frees.
        self.foreign_arms.clear();
    }

    /// Trees parsed out of macro tokens are dropped after lowering; their addresses may be reused.
    fn forget_temporaries(&mut self) {
        self.lo_memo.clear();
        self.hi_memo.clear();
    }

    /// An expression's span from its first and last tokens, each found once per node.
    fn expr_span(&mut self, e: &syn::Expr) -> Span {
        let lo = self.first_lo(e);
        let hi = self.last_hi(e);
        self.mk(lo, hi)
    }

    fn first_lo(&mut self, e: &syn::Expr) -> usize {
        stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, || self.first_lo_inner(e))
    }

    fn first_lo_inner(&mut self, e: &syn::Expr) -> usize {
        let key = e as *const syn::Expr as usize;
        if let Some(v) = self.lo_memo.get(&key) {
            return *v;
        }
        use syn::Expr as E;
        let v = match e {
            E::Call(c) => self.first_lo(&c.func),
            E::MethodCall(m) => self.first_lo(&m.receiver),
            E::Binary(b) => self.first_lo(&b.left),
            E::Assign(a) => self.first_lo(&a.left),
            E::Field(f) => self.first_lo(&f.base),
            E::Cast(c) => self.first_lo(&c.expr),
            E::Index(i) => self.first_lo(&i.expr),
            E::Try(t) => self.first_lo(&t.expr),
            E::Await(a) => self.first_lo(&a.base),
            E::Range(syn::ExprRange { start: Some(s), .. }) => self.first_lo(s),
            E::Paren(p) => self.lo(p.paren_token.span.open()),
            E::Tuple(t) => self.lo(t.paren_token.span.open()),
            E::Array(a) => self.lo(a.bracket_token.span.open()),
            E::Repeat(r) => self.lo(r.bracket_token.span.open()),
            E::Unary(u) => self.lo(u.op.span()),
            E::Reference(r) => self.lo(r.and_token.span),
            E::If(i) => self.lo(i.if_token.span),
            E::Match(m) => self.lo(m.match_token.span),
            E::Block(b) => match &b.label {
                Some(l) => self.lo(l.name.apostrophe),
                None => self.lo(b.block.brace_token.span.open()),
            },
            E::Unsafe(u) => self.lo(u.unsafe_token.span),
            E::Loop(l) => self.lo(l.loop_token.span),
            E::While(w) => self.lo(w.while_token.span),
            E::ForLoop(f) => self.lo(f.for_token.span),
            E::Break(b) => self.lo(b.break_token.span),
            E::Continue(c) => self.lo(c.continue_token.span),
            E::Return(r) => self.lo(r.return_token.span),
            E::Closure(c) => self.lo(c.or1_token.span),
            E::Let(l) => self.lo(l.let_token.span),
            E::Async(a) => self.lo(a.async_token.span),
            E::Lit(l) => self.lo(l.lit.span()),
            E::Path(p) => self.lo(p.path.span()),
            E::Struct(s) => self.lo(s.path.span()),
            E::Macro(m) => self.lo(m.mac.path.span()),
            other => self.lo(other.span()),
        };
        self.lo_memo.insert(key, v);
        v
    }

    fn last_hi(&mut self, e: &syn::Expr) -> usize {
        stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, || self.last_hi_inner(e))
    }

    fn last_hi_inner(&mut self, e: &syn::Expr) -> usize {
        let key = e as *const syn::Expr as usize;
        if let Some(v) = self.hi_memo.get(&key) {
            return *v;
        }
        use syn::Expr as E;
        let v = match e {
            E::Call(c) => self.hi(c.paren_token.span.close()),
            E::MethodCall(m) => self.hi(m.paren_token.span.close()),
            E::Binary(b) => self.last_hi(&b.right),
            E::Assign(a) => self.last_hi(&a.right),
            E::Field(f) => self.hi(f.member.span()),
            E::Cast(c) => self.hi(c.ty.span()),
            E::Index(i) => self.hi(i.bracket_token.span.close()),
            E::Try(t) => self.hi(t.question_token.span),
            E::Await(a) => self.hi(a.await_token.span),
            E::Range(syn::ExprRange { end: Some(e), .. }) => self.last_hi(e),
            E::Paren(p) => self.hi(p.paren_token.span.close()),
            E::Tuple(t) => self.hi(t.paren_token.span.close()),
            E::Array(a) => self.hi(a.bracket_token.span.close()),
            E::Repeat(r) => self.hi(r.bracket_token.span.close()),
            E::Unary(u) => self.last_hi(&u.expr),
            E::Reference(r) => self.last_hi(&r.expr),
            E::If(i) => match &i.else_branch {
                Some((_, e)) => self.last_hi(e),
                None => self.hi(i.then_branch.brace_token.span.close()),
            },
            E::Match(m) => self.hi(m.brace_token.span.close()),
            E::Block(b) => self.hi(b.block.brace_token.span.close()),
            E::Unsafe(u) => self.hi(u.block.brace_token.span.close()),
            E::Loop(l) => self.hi(l.body.brace_token.span.close()),
            E::While(w) => self.hi(w.body.brace_token.span.close()),
            E::ForLoop(f) => self.hi(f.body.brace_token.span.close()),
            E::Async(a) => self.hi(a.block.brace_token.span.close()),
            E::Break(b) => match (&b.expr, &b.label) {
                (Some(e), _) => self.last_hi(e),
                (None, Some(l)) => self.hi(l.ident.span()),
                _ => self.hi(b.break_token.span),
            },
            E::Continue(c) => match &c.label {
                Some(l) => self.hi(l.ident.span()),
                None => self.hi(c.continue_token.span),
            },
            E::Return(r) => match &r.expr {
                Some(e) => self.last_hi(e),
                None => self.hi(r.return_token.span),
            },
            E::Closure(c) => self.last_hi(&c.body),
            E::Let(l) => self.last_hi(&l.expr),
            E::Lit(l) => self.hi(l.lit.span()),
            E::Path(p) => self.hi(p.path.span()),
            E::Struct(s) => self.hi(s.brace_token.span.close()),
            E::Macro(m) => self.hi(m.mac.delimiter.span().close()),
            other => self.hi(other.span()),
        };
        self.hi_memo.insert(key, v);
        v
    }

    pub(crate) fn file(&mut self, f: &syn::File) -> FileIr {
        let mut macros = std::mem::take(&mut self.macros);
        collect_macro_rules(self, &f.items, &mut macros);
        self.macros = macros;
        known_macros::collect_imports(&f.items, &mut self.known_imports);
        FileIr {
            file: self.file,
            items: self.items(&f.items),
            elided: Default::default(),
            too_large: Default::default(),
            syntax_errors: Default::default(),
        }
    }

    fn items(&mut self, items: &[syn::Item]) -> Vec<Item> {
        let mut out = Vec::new();
        for item in items {
            self.item(item, &mut out);
        }
        out
    }

    fn item(&mut self, item: &syn::Item, out: &mut Vec<Item>) {
        // Not compiled for Windows (`#[cfg(unix)]` and the like): not there for the analysis.
        if crate::cfg::excluded(item_attrs(item)) {
            return;
        }
        match item {
            syn::Item::Fn(f) => {
                let is_pub = matches!(f.vis, syn::Visibility::Public(_));
                out.push(Item::Fn(std::sync::Arc::new(self.func(
                    &f.attrs,
                    Some(&f.vis),
                    is_pub,
                    &f.sig,
                    &f.block,
                ))));
            }
            syn::Item::Mod(m) => out.push(Item::Mod(ModIr {
                name: m.ident.to_string(),
                span: self.span_of(&m.ident),
                inline: m.content.as_ref().map(|(_, items)| self.items(items)),
                path_attr: path_attr(&m.attrs),
            })),
            syn::Item::Use(u) => {
                let mut entries = Vec::new();
                flatten_use(&u.tree, &mut Vec::new(), &mut entries);
                out.push(Item::Use(entries));
            }
            syn::Item::ExternCrate(c) => {
                let name = c.ident.to_string();
                let alias = c
                    .rename
                    .as_ref()
                    .map(|(_, i)| i.to_string())
                    .unwrap_or_else(|| name.clone());
                out.push(Item::Use(vec![UseEntry {
                    alias,
                    path: vec![name],
                }]));
            }
            syn::Item::ForeignMod(fm) => {
                let names = fm
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        syn::ForeignItem::Fn(f) => Some(f.sig.ident.to_string()),
                        _ => None,
                    })
                    .collect();
                out.push(Item::Extern {
                    link: link_kind(&fm.attrs),
                    names,
                });
            }
            syn::Item::Impl(imp) => {
                let self_ty = type_last_name(&imp.self_ty).unwrap_or_default();
                let trait_name = imp
                    .trait_
                    .as_ref()
                    .and_then(|(_, p, _)| p.segments.last())
                    .map(|s| s.ident.to_string());
                let mut fns = Vec::new();
                for ii in &imp.items {
                    if let syn::ImplItem::Fn(f) = ii {
                        if crate::cfg::excluded(&f.attrs) {
                            continue;
                        }
                        let is_pub =
                            matches!(f.vis, syn::Visibility::Public(_)) || trait_name.is_some();
                        fns.push(std::sync::Arc::new(self.func(
                            &f.attrs,
                            Some(&f.vis),
                            is_pub,
                            &f.sig,
                            &f.block,
                        )));
                    }
                }
                out.push(Item::Impl(ImplIr {
                    self_ty,
                    trait_name,
                    fns,
                }));
            }
            syn::Item::Trait(t) => {
                let mut fns = Vec::new();
                for ti in &t.items {
                    if let syn::TraitItem::Fn(f) = ti {
                        if let Some(block) = &f.default {
                            fns.push(std::sync::Arc::new(
                                self.func(&f.attrs, None, true, &f.sig, block),
                            ));
                        }
                    }
                }
                out.push(Item::Impl(ImplIr {
                    self_ty: t.ident.to_string(),
                    trait_name: None,
                    fns,
                }));
            }
            syn::Item::Struct(s) => out.push(Item::Type {
                name: s.ident.to_string(),
            }),
            syn::Item::Enum(e) => out.push(Item::Type {
                name: e.ident.to_string(),
            }),
            syn::Item::Union(u) => out.push(Item::Type {
                name: u.ident.to_string(),
            }),
            syn::Item::Type(t) => out.push(Item::Type {
                name: t.ident.to_string(),
            }),
            syn::Item::Static(s) => {
                let body = self.static_body(&s.ident, &s.expr);
                out.push(Item::Static {
                    name: s.ident.to_string(),
                    body: Box::new(body),
                });
            }
            syn::Item::Const(c) => {
                let body = self.static_body(&c.ident, &c.expr);
                out.push(Item::Static {
                    name: c.ident.to_string(),
                    body: Box::new(body),
                });
            }
            syn::Item::Macro(m) => self.item_macro(m, out),
            _ => {}
        }
    }

    /// `lazy_static! { static ref X: T = expr; }` and `thread_local!`: each initialiser is a once-only body.
    /// A `link!` declaration is an `extern` block of one function.
    fn item_macro(&mut self, m: &syn::ItemMacro, out: &mut Vec<Item>) {
        if let Some(decl) = link_macro_decl(&m.mac) {
            out.push(decl);
            return;
        }
        if m.ident.is_none() && self.item_expansion(m, out) {
            return;
        }
        let name = m
            .mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if name != "lazy_static" && name != "thread_local" {
            return;
        }
        let parser = |input: ParseStream| -> syn::Result<Vec<(syn::Ident, syn::Expr)>> {
            let mut v = Vec::new();
            while !input.is_empty() {
                input.call(syn::Attribute::parse_outer)?;
                input.parse::<syn::Visibility>()?;
                input.parse::<syn::Token![static]>()?;
                if input.peek(syn::Token![ref]) {
                    input.parse::<syn::Token![ref]>()?;
                }
                let ident: syn::Ident = input.parse()?;
                input.parse::<syn::Token![:]>()?;
                input.parse::<syn::Type>()?;
                input.parse::<syn::Token![=]>()?;
                let expr: syn::Expr = input.parse()?;
                v.push((ident, expr));
                if input.peek(syn::Token![;]) {
                    input.parse::<syn::Token![;]>()?;
                }
            }
            Ok(v)
        };
        if let Ok(entries) = parser.parse2(m.mac.tokens.clone()) {
            for (ident, expr) in entries {
                let body = self.static_body(&ident, &expr);
                out.push(Item::Static {
                    name: ident.to_string(),
                    body: Box::new(body),
                });
                // `expr` is dropped here: a later tree may take its addresses, and with them
                // its memoised spans.
                self.forget_temporaries();
            }
        }
    }

    fn static_body(&mut self, ident: &syn::Ident, expr: &syn::Expr) -> FnIr {
        let saved_c = std::mem::take(&mut self.closures);
        let saved_n = std::mem::take(&mut self.nested);
        let e = self.expr(expr);
        let end = e.span();
        let close = Span { lo: end.hi, ..end };
        let body = Block {
            stmts: vec![Stmt::Expr {
                expr: e,
                semi: false,
            }],
            close,
        };
        FnIr {
            name: ident.to_string(),
            name_span: self.span_of(ident),
            body,
            closures: std::mem::replace(&mut self.closures, saved_c),
            nested: std::mem::replace(&mut self.nested, saved_n),
            ..FnIr::default()
        }
    }

    fn func(
        &mut self,
        attrs: &[syn::Attribute],
        vis: Option<&syn::Visibility>,
        is_pub: bool,
        sig: &syn::Signature,
        block: &syn::Block,
    ) -> FnIr {
        let vis_lo = match vis {
            Some(v @ (syn::Visibility::Public(_) | syn::Visibility::Restricted(_))) => {
                Some(self.lo(v.span()))
            }
            _ => None,
        };
        let saved_c = std::mem::take(&mut self.closures);
        let saved_n = std::mem::take(&mut self.nested);
        let mut params = Vec::new();
        let mut has_self = false;
        for input in &sig.inputs {
            match input {
                syn::FnArg::Receiver(_) => has_self = true,
                syn::FnArg::Typed(pt) => pat_names(&pt.pat, &mut params),
            }
        }
        let (ret_names, returns_unit) = match &sig.output {
            syn::ReturnType::Default => (Vec::new(), true),
            syn::ReturnType::Type(_, ty) => {
                let mut names = Vec::new();
                type_idents(ty.to_token_stream_ref(), &mut names);
                let unit = matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty());
                (names, unit)
            }
        };
        let outer_hit = std::mem::take(&mut self.budget_hit);
        let outer_stopped = self.stopped.take();
        let outer_called = self.other_part_macro_called.take();
        let body = self.block(block);
        let stopped = std::mem::replace(&mut self.stopped, outer_stopped);
        let incomplete = std::mem::replace(&mut self.budget_hit, outer_hit).then(|| {
            format!(
                "macro expansion in this file reached its budget of {MAX_EXPANSION_TOKENS} tokens, \
                 so a macro call here was read as an unknown macro"
            )
        });
        let incomplete = incomplete.or(stopped);
        let called = std::mem::replace(&mut self.other_part_macro_called, outer_called);
        let incomplete = incomplete.or_else(|| {
            called.map(|name| {
                format!(
                    "`{name}!` is defined in another part of this large file (a file over 4 MB is \
                     parsed a part at a time), so its call here was read as an unknown macro"
                )
            })
        });
        let lo = match vis_lo {
            Some(lo) => lo,
            None => self.lo(sig.span()),
        };
        FnIr {
            name: sig.ident.to_string(),
            name_span: self.span_of(&sig.ident),
            span: self.mk(lo, self.hi(block.brace_token.span.close())),
            body_open: self.span(block.brace_token.span.open()),
            is_pub,
            exported_as: exported_name(attrs, &sig.ident.to_string()),
            is_test: attrs
                .iter()
                .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test")),
            has_self,
            params,
            ret_names,
            returns_unit,
            body,
            closures: std::mem::replace(&mut self.closures, saved_c),
            nested: std::mem::replace(&mut self.nested, saved_n),
            incomplete,
        }
    }

    fn block(&mut self, b: &syn::Block) -> Block {
        // Sized for the statements up front: a growing `Vec` holds 4 for one (most blocks have
        // one or two), and the IR is kept for the whole run.
        let mut stmts = Vec::with_capacity(b.stmts.len());
        for s in &b.stmts {
            self.stmt(s, &mut stmts);
        }
        Block {
            stmts,
            close: self.span(b.brace_token.span.close()),
        }
    }

    fn stmt(&mut self, s: &syn::Stmt, stmts: &mut Vec<Stmt>) {
        let desugared = self.desugar_stmt(s);
        let s = desugared.as_ref().unwrap_or(s);
        {
            let attrs: &[syn::Attribute] = match s {
                syn::Stmt::Local(l) => &l.attrs,
                syn::Stmt::Macro(m) => &m.attrs,
                syn::Stmt::Expr(e, _) => expr_attrs(e),
                syn::Stmt::Item(_) => &[],
            };
            if crate::cfg::excluded(attrs) {
                return;
            }
            match s {
                syn::Stmt::Local(l) => {
                    let (init, els) = match &l.init {
                        Some(init) => (
                            Some(self.expr(&init.expr)),
                            init.diverge.as_ref().map(|(_, e)| match &**e {
                                syn::Expr::Block(b) => self.block(&b.block),
                                other => Block {
                                    stmts: vec![Stmt::Expr {
                                        expr: self.expr(other),
                                        semi: true,
                                    }],
                                    close: self.span_of(other),
                                },
                            }),
                        ),
                        None => (None, None),
                    };
                    stmts.push(Stmt::Let {
                        pat: self.pat(&l.pat),
                        init,
                        els,
                    });
                }
                syn::Stmt::Item(item) => {
                    let mut out = Vec::new();
                    let saved_c = std::mem::take(&mut self.closures);
                    self.item(item, &mut out);
                    self.closures = saved_c;
                    self.nested.extend(out);
                }
                syn::Stmt::Expr(e, semi) => stmts.push(Stmt::Expr {
                    expr: self.expr(e),
                    semi: semi.is_some(),
                }),
                // A `link!` declaration in a body declares its function like an `extern` block
                // there would; it is no statement of the body.
                syn::Stmt::Macro(m) if link_macro_decl(&m.mac).is_some() => {
                    self.nested.extend(link_macro_decl(&m.mac));
                }
                syn::Stmt::Macro(m) => {
                    let span = self.mk(
                        self.lo(m.mac.path.span()),
                        self.hi(m.mac.delimiter.span().close()),
                    );
                    if self.stmt_expansion(&m.mac, span, stmts) {
                        return;
                    }
                    stmts.push(Stmt::Expr {
                        expr: self.mac(&m.mac, span),
                        semi: m.semi_token.is_some(),
                    })
                }
            }
            // The desugared tree is dropped here: its node addresses may be reused.
            if desugared.is_some() {
                self.forget_temporaries();
            }
        }
    }

    /// A macro call in statement position whose expansion is statements, not one
    /// expression: they take the call's place in the block, as rustc puts them, so a `let`
    /// whose name the call passes in binds for the rest of the block. `false` when it is
    /// no such call (the caller reads it as an expression).
    fn stmt_expansion(&mut self, m: &syn::Macro, span: Span, stmts: &mut Vec<Stmt>) -> bool {
        let path = path_segs(&m.path);
        let Some(found) = self.macro_named(&path, m) else {
            return false;
        };
        if self.expanding >= MAX_EXPANSION_DEPTH || self.expanded_tokens >= MAX_EXPANSION_TOKENS {
            return false;
        }
        let call = m.delimiter.span().join();
        let Some(tokens) = self.expand_tokens(found, &path[path.len() - 1], &m.tokens, call) else {
            return false;
        };
        // One expression (a `{{ .. }}` body, a call) stays one: `mac` expands it again, its
        // tokens counted twice.
        if syn::parse2::<syn::Expr>(tokens.clone()).is_ok() {
            return false;
        }
        let Ok(parsed) = syn::Block::parse_within.parse2(tokens) else {
            return false;
        };
        let outer = self.enter_expansion(m, span);
        for s in &parsed {
            self.stmt(s, stmts);
        }
        self.leave_expansion(outer);
        true
    }

    /// The name a pattern binds: inside an expansion, a lowercase name the macro's own tokens
    /// bind is the macro's (rustc's hygiene), not the caller's variable of the same name.
    fn bound_name(&mut self, id: &syn::Ident) -> String {
        let name = id.to_string();
        let Some(x) = self.expansion else {
            return name;
        };
        let lowercase = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
        if !lowercase || self.in_args(id.span()) {
            return name;
        }
        self.hygienic.insert(name.clone());
        format!("{name}#{}", x.call.lo)
    }

    /// A path's segments, a one-segment use of a name the macro's own tokens bound renamed
    /// as `bound_name` renamed it.
    fn used_path(&self, p: &syn::Path) -> Vec<String> {
        let mut segs = path_segs(p);
        if let (Some(x), [one]) = (self.expansion, segs.as_mut_slice()) {
            if self.hygienic.contains(one.as_str()) && !self.in_args(p.span()) {
                *one = format!("{one}#{}", x.call.lo);
            }
        }
        segs
    }

    /// The tokens at `s` are the call's arguments, text the caller wrote.
    fn in_args(&self, s: proc_macro2::Span) -> bool {
        let Some(x) = self.expansion else {
            return false;
        };
        let (lo, hi) = (self.lo(s), self.hi(s));
        x.args.0 <= lo && lo <= hi && hi <= x.args.1 && !(lo == 0 && hi == 0)
    }

    fn exprs<'a>(&mut self, es: impl IntoIterator<Item = &'a syn::Expr>) -> Vec<Expr> {
        es.into_iter().map(|e| self.expr(e)).collect()
    }

    fn boxed(&mut self, e: &syn::Expr) -> Box<Expr> {
        Box::new(self.expr(e))
    }

    fn label(l: &Option<syn::Label>) -> Option<String> {
        l.as_ref().map(|l| l.name.ident.to_string())
    }

    fn expr(&mut self, e: &syn::Expr) -> Expr {
        stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, || self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &syn::Expr) -> Expr {
        use syn::Expr as E;
        let span = self.expr_span(e);
        match e {
            E::Call(c) => Expr::Call {
                func: self.boxed(&c.func),
                args: self.exprs(&c.args),
                span,
            },
            E::MethodCall(m) => Expr::Method {
                recv: self.boxed(&m.receiver),
                name: m.method.to_string(),
                args: self.exprs(&m.args),
                span,
            },
            E::Path(p) => Expr::Path {
                segs: self.used_path(&p.path),
                span,
            },
            E::Lit(l) => Expr::Lit {
                lit: lit(&l.lit),
                span,
            },
            E::Unary(u) => {
                let op = match u.op {
                    syn::UnOp::Not(_) => UnOp::Not,
                    syn::UnOp::Neg(_) => UnOp::Neg,
                    _ => UnOp::Deref,
                };
                // Fold `-1` into a literal so it classifies as a non-zero constant.
                if let (UnOp::Neg, E::Lit(syn::ExprLit { lit: l, .. })) = (op, &*u.expr) {
                    if let Lit::Int(v) = lit(l) {
                        return Expr::Lit {
                            lit: Lit::Int(-v),
                            span,
                        };
                    }
                }
                Expr::Unary {
                    op,
                    expr: self.boxed(&u.expr),
                    span,
                }
            }
            E::Binary(b) => {
                let op = match b.op {
                    syn::BinOp::Eq(_) => BinOp::Eq,
                    syn::BinOp::Ne(_) => BinOp::Ne,
                    syn::BinOp::Lt(_) => BinOp::Lt,
                    syn::BinOp::Le(_) => BinOp::Le,
                    syn::BinOp::Gt(_) => BinOp::Gt,
                    syn::BinOp::Ge(_) => BinOp::Ge,
                    syn::BinOp::And(_) => BinOp::And,
                    syn::BinOp::Or(_) => BinOp::Or,
                    syn::BinOp::BitOr(_) => BinOp::BitOr,
                    syn::BinOp::AddAssign(_)
                    | syn::BinOp::SubAssign(_)
                    | syn::BinOp::MulAssign(_)
                    | syn::BinOp::DivAssign(_)
                    | syn::BinOp::RemAssign(_)
                    | syn::BinOp::BitXorAssign(_)
                    | syn::BinOp::BitAndAssign(_)
                    | syn::BinOp::BitOrAssign(_)
                    | syn::BinOp::ShlAssign(_)
                    | syn::BinOp::ShrAssign(_) => {
                        // `x += y`: x now holds a value we do not track.
                        let rhs = Expr::Seq {
                            exprs: vec![self.expr(&b.left), self.expr(&b.right)],
                            span,
                        };
                        return Expr::Assign {
                            lhs: self.boxed(&b.left),
                            rhs: Box::new(rhs),
                            span,
                        };
                    }
                    _ => BinOp::Other,
                };
                Expr::Binary {
                    op,
                    lhs: self.boxed(&b.left),
                    rhs: self.boxed(&b.right),
                    span,
                }
            }
            E::Assign(a) => Expr::Assign {
                lhs: self.boxed(&a.left),
                rhs: self.boxed(&a.right),
                span,
            },
            E::If(i) => Expr::If {
                cond: self.boxed(&i.cond),
                then: self.block(&i.then_branch),
                els: i.else_branch.as_ref().map(|(_, e)| self.boxed(e)),
                span,
            },
            E::Let(l) => Expr::Let {
                pat: self.pat(&l.pat),
                expr: self.boxed(&l.expr),
                span,
            },
            E::Match(m) => Expr::Match {
                expr: self.boxed(&m.expr),
                arms: m
                    .arms
                    .iter()
                    .map(|a| Arm {
                        pat: self.pat(&a.pat),
                        guard: a.guard.as_ref().map(|(_, g)| self.expr(g)),
                        body: self.expr(&a.body),
                    })
                    .collect(),
                span,
            },
            E::Block(b) => Expr::Block {
                block: self.block(&b.block),
                label: Self::label(&b.label),
                span,
            },
            E::Unsafe(u) => Expr::Block {
                block: self.block(&u.block),
                label: None,
                span,
            },
            E::Const(c) => Expr::Block {
                block: self.block(&c.block),
                label: None,
                span,
            },
            E::Loop(l) => Expr::Loop {
                label: Self::label(&l.label),
                body: self.block(&l.body),
                span,
            },
            E::While(w) => Expr::While {
                label: Self::label(&w.label),
                cond: self.boxed(&w.cond),
                body: self.block(&w.body),
                span,
            },
            E::ForLoop(f) => Expr::For {
                label: Self::label(&f.label),
                pat: self.pat(&f.pat),
                iter: self.boxed(&f.expr),
                body: self.block(&f.body),
                span,
            },
            E::Break(b) => Expr::Break {
                label: b.label.as_ref().map(|l| l.ident.to_string()),
                expr: b.expr.as_ref().map(|e| self.boxed(e)),
                span,
            },
            E::Continue(c) => Expr::Continue {
                label: c.label.as_ref().map(|l| l.ident.to_string()),
                span,
            },
            E::Return(r) => Expr::Return {
                expr: r.expr.as_ref().map(|e| self.boxed(e)),
                span,
            },
            E::Try(t) => Expr::Try {
                expr: self.boxed(&t.expr),
                span: self.span(t.question_token.span),
            },
            E::Closure(c) => {
                let mut params = Vec::new();
                for p in &c.inputs {
                    pat_names(p, &mut params);
                }
                let body = self.expr(&c.body);
                self.closures.push(ClosureIr { span, params, body });
                Expr::Closure {
                    index: self.closures.len() - 1,
                    span,
                }
            }
            E::Async(a) => {
                // An async block runs when polled, like a closure called later.
                let block = self.block(&a.block);
                self.closures.push(ClosureIr {
                    span,
                    params: Vec::new(),
                    body: Expr::Block {
                        block,
                        label: None,
                        span,
                    },
                });
                Expr::Closure {
                    index: self.closures.len() - 1,
                    span,
                }
            }
            E::Macro(m) => self.mac(&m.mac, span),
            E::Struct(s) => {
                let mut fields: Vec<Expr> = s.fields.iter().map(|f| self.expr(&f.expr)).collect();
                if let Some(r) = &s.rest {
                    fields.push(self.expr(r));
                }
                Expr::Struct {
                    path: path_segs(&s.path),
                    fields,
                    span,
                }
            }
            E::Field(f) => Expr::Field {
                base: self.boxed(&f.base),
                name: match &f.member {
                    syn::Member::Named(i) => i.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                },
                span,
            },
            E::Cast(c) => Expr::Cast {
                expr: self.boxed(&c.expr),
                ty: type_string(&c.ty),
                span,
            },
            E::Paren(p) => self.expr(&p.expr),
            E::Group(g) => self.expr(&g.expr),
            E::Reference(r) => self.expr(&r.expr),
            E::RawAddr(r) => self.expr(&r.expr),
            E::Await(a) => Expr::Seq {
                exprs: vec![self.expr(&a.base)],
                span,
            },
            // A tuple is a struct with positional fields and no name.
            E::Tuple(t) if t.elems.len() >= 2 => Expr::Struct {
                path: Vec::new(),
                fields: self.exprs(&t.elems),
                span,
            },
            E::Tuple(t) => Expr::Seq {
                exprs: self.exprs(&t.elems),
                span,
            },
            E::Array(a) => Expr::Seq {
                exprs: self.exprs(&a.elems),
                span,
            },
            E::Repeat(r) => Expr::Seq {
                exprs: vec![self.expr(&r.expr), self.expr(&r.len)],
                span,
            },
            E::Index(i) => Expr::Seq {
                exprs: vec![self.expr(&i.expr), self.expr(&i.index)],
                span,
            },
            E::Range(r) => Expr::Seq {
                exprs: r
                    .start
                    .iter()
                    .chain(r.end.iter())
                    .map(|e| self.expr(e))
                    .collect(),
                span,
            },
            E::Yield(y) => Expr::Seq {
                exprs: y.expr.iter().map(|e| self.expr(e)).collect(),
                span,
            },
            E::TryBlock(t) => Expr::Block {
                block: self.block(&t.block),
                label: None,
                span,
            },
            _ => Expr::Other { span },
        }
    }

    /// A macro call: its tokens as comma-separated expressions where they parse.
    fn mac(&mut self, m: &syn::Macro, span: Span) -> Expr {
        let path = path_segs(&m.path);
        // `cfg!(..)` is a constant on Windows when its predicate is known there.
        if path.len() == 1 && path[0] == "cfg" {
            if let Ok(pred) = syn::parse2::<syn::Meta>(m.tokens.clone()) {
                let known = match crate::cfg::eval(&pred) {
                    crate::cfg::Truth::Yes => Some(true),
                    crate::cfg::Truth::No => Some(false),
                    crate::cfg::Truth::Unknown => None,
                };
                if let Some(b) = known {
                    return Expr::Lit {
                        lit: Lit::Bool(b),
                        span,
                    };
                }
            }
        }
        if let [name] = path.as_slice() {
            if !self.macros.contains_key(name) && self.other_parts_macros.contains(name) {
                self.other_part_macro_called
                    .get_or_insert_with(|| name.clone());
            }
        }
        if let Some(found) = self.macro_named(&path, m) {
            if self.expanding >= MAX_EXPANSION_DEPTH {
                self.stopped.get_or_insert_with(|| {
                    format!(
                        "macro calls here nest more than {MAX_EXPANSION_DEPTH} expansions deep, so \
                         the innermost was read as an unknown macro"
                    )
                });
            } else if self.expanded_tokens >= MAX_EXPANSION_TOKENS {
                self.budget_hit = true;
            } else if let Some(expanded) = self.expand(
                found,
                &path[path.len() - 1],
                &m.tokens,
                m.delimiter.span().join(),
            ) {
                let outer = self.enter_expansion(m, span);
                let e = self.expr(&expanded);
                self.leave_expansion(outer);
                return e;
            }
        }
        if let Some(e) = self.known_macro_expr(m, span) {
            self.forget_temporaries();
            return e;
        }
        let args: Vec<syn::Expr> = parse_macro_args(m.tokens.clone());
        let args = self.exprs(&args);
        self.forget_temporaries();
        Expr::Macro { path, args, span }
    }

    /// The `macro_rules!` definition a call names, seen from where the call is (the outermost
    /// call's place inside an expansion: the expansion's text stands there).
    fn macro_named(&self, path: &[String], m: &syn::Macro) -> Option<macro_rules::Found> {
        let at = match self.expansion {
            Some(x) => x.call.lo as usize,
            None => self.lo(m.path.span()),
        };
        self.find_macro(&MacroPath::of(path)?, at)
    }

    /// Marks what follows as the expansion of call `m` (unless inside one already); the
    /// previous state, for `leave_expansion`.
    fn enter_expansion(&mut self, m: &syn::Macro, span: Span) -> Option<Expansion> {
        let outer = self.expansion;
        if outer.is_none() {
            self.hygienic.clear();
            let d = m.delimiter.span();
            self.expansion = Some(Expansion {
                call: span,
                args: (self.hi(d.open()), self.lo(d.close())),
            });
        }
        self.expanding += 1;
        outer
    }

    fn leave_expansion(&mut self, outer: Option<Expansion>) {
        self.expanding -= 1;
        self.expansion = outer;
        self.forget_temporaries();
    }

    /// A macro call in item position that expands to items (wrapper functions a macro writes
    /// for each Winsock call, say): the items, lowered where the call stands. `false` when it
    /// names no macro that expands here.
    fn item_expansion(&mut self, m: &syn::ItemMacro, out: &mut Vec<Item>) -> bool {
        let path = path_segs(&m.mac.path);
        let Some(found) = self.macro_named(&path, &m.mac) else {
            return false;
        };
        if self.expanding >= MAX_EXPANSION_DEPTH || self.expanded_tokens >= MAX_EXPANSION_TOKENS {
            return false;
        }
        let call = m.mac.delimiter.span().join();
        let Some(tokens) = self.expand_tokens(found, &path[path.len() - 1], &m.mac.tokens, call)
        else {
            return false;
        };
        let Ok(file) = syn::parse2::<syn::File>(tokens) else {
            return false;
        };
        let span = self.mk(
            self.lo(m.mac.path.span()),
            self.hi(m.mac.delimiter.span().close()),
        );
        let outer = self.enter_expansion(&m.mac, span);
        let mut macros = std::mem::take(&mut self.macros);
        collect_macro_rules(self, &file.items, &mut macros);
        self.macros = macros;
        for item in &file.items {
            self.item(item, out);
        }
        self.leave_expansion(outer);
        true
    }

    fn pat(&mut self, p: &syn::Pat) -> Pat {
        use syn::Pat as P;
        match p {
            P::Wild(_) => Pat::Wild,
            // Rust names bindings in snake case: a capitalised identifier in a pattern names
            // a constant or a unit variant (`INVALID_SOCKET`, `None`), which tests the value
            // instead of binding it.
            P::Ident(i)
                if i.by_ref.is_none()
                    && i.mutability.is_none()
                    && i.subpat.is_none()
                    && i.ident
                        .to_string()
                        .starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                Pat::Path(vec![i.ident.to_string()])
            }
            P::Ident(i) => Pat::Ident(
                self.bound_name(&i.ident),
                i.subpat.as_ref().map(|(_, p)| Box::new(self.pat(p))),
            ),
            P::Lit(l) => Pat::Lit(lit(&l.lit)),
            P::Path(p) => Pat::Path(path_segs(&p.path)),
            P::TupleStruct(t) => Pat::TupleStruct(
                path_segs(&t.path),
                t.elems.iter().map(|p| self.pat(p)).collect(),
            ),
            P::Tuple(t) => Pat::Tuple(t.elems.iter().map(|p| self.pat(p)).collect()),
            P::Or(o) => Pat::Or(o.cases.iter().map(|p| self.pat(p)).collect()),
            P::Paren(p) => self.pat(&p.pat),
            P::Reference(r) => self.pat(&r.pat),
            P::Type(t) => self.pat(&t.pat),
            P::Struct(s) if s.fields.is_empty() => Pat::Path(path_segs(&s.path)),
            // Read as a tuple struct pattern: what it tests and which names it binds are
            // kept; which field each name comes from is not.
            P::Struct(s) => Pat::TupleStruct(
                path_segs(&s.path),
                s.fields.iter().map(|f| self.pat(&f.pat)).collect(),
            ),
            _ => Pat::Other,
        }
    }
}

/// Comma-separated expressions inside a macro call; a macro whose tokens are not
/// expressions (`lazy_static`, a DSL) yields whatever prefix parses, or nothing.
fn parse_macro_args(tokens: TokenStream) -> Vec<syn::Expr> {
    let parser = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
    if let Ok(p) = parser.parse2(tokens.clone()) {
        return p.into_iter().collect();
    }
    // `vec![x; n]` and `name = value` format arguments: split on top-level `,`/`;` and parse each piece.
    let mut out = Vec::new();
    let mut piece = TokenStream::new();
    let flush = |piece: &mut TokenStream, out: &mut Vec<syn::Expr>| {
        let ts = std::mem::take(piece);
        if ts.is_empty() {
            return;
        }
        if let Ok(e) = syn::parse2::<syn::Expr>(ts.clone()) {
            out.push(e);
        } else if let Ok(a) = syn::parse2::<syn::ExprAssign>(ts) {
            out.push(*a.right);
        }
    };
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == ';' => {
                flush(&mut piece, &mut out)
            }
            _ => piece.extend(std::iter::once(tt)),
        }
    }
    flush(&mut piece, &mut out);
    out
}

fn lit(l: &syn::Lit) -> Lit {
    match l {
        syn::Lit::Int(i) => i.base10_parse::<i128>().map(Lit::Int).unwrap_or(Lit::Other),
        syn::Lit::Float(f) => Lit::Float(f.to_string()),
        syn::Lit::Bool(b) => Lit::Bool(b.value),
        syn::Lit::Str(_) | syn::Lit::ByteStr(_) | syn::Lit::CStr(_) => Lit::Str,
        _ => Lit::Other,
    }
}

pub(crate) fn path_segs(p: &syn::Path) -> Vec<String> {
    let mut v: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
    if p.leading_colon.is_some() {
        v.insert(0, "::".to_string());
    }
    v
}

fn flatten_use(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseEntry>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push(UseEntry {
                        alias: last.clone(),
                        path: prefix.clone(),
                    });
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push(UseEntry { alias: name, path });
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push(UseEntry {
                alias: r.rename.to_string(),
                path,
            });
        }
        syn::UseTree::Glob(_) => out.push(UseEntry {
            alias: "*".to_string(),
            path: prefix.clone(),
        }),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

fn attr_is(a: &syn::Attribute, name: &str) -> bool {
    a.path().is_ident(name)
}

/// The exported symbol name: `#[no_mangle]`, `#[unsafe(no_mangle)]`, `#[export_name = ".."]`, `#[unsafe(export_name = "..")]`.
fn exported_name(attrs: &[syn::Attribute], fn_name: &str) -> Option<String> {
    for a in attrs {
        if attr_is(a, "no_mangle") {
            return Some(fn_name.to_string());
        }
        if attr_is(a, "export_name") {
            if let syn::Meta::NameValue(nv) = &a.meta {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    return Some(s.value());
                }
            }
        }
        if attr_is(a, "unsafe") {
            if let syn::Meta::List(l) = &a.meta {
                if let Ok(inner) = l.parse_args::<syn::Meta>() {
                    match &inner {
                        syn::Meta::Path(p) if p.is_ident("no_mangle") => {
                            return Some(fn_name.to_string())
                        }
                        syn::Meta::NameValue(nv) if nv.path.is_ident("export_name") => {
                            if let syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(s),
                                ..
                            }) = &nv.value
                            {
                                return Some(s.value());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    None
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !attr_is(a, "path") {
            return None;
        }
        match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        }
    })
}

/// Which library an `extern` block links: looks at `#[link(name = ..)]`, also inside `#[cfg_attr(.., link(..))]`.
fn link_kind(attrs: &[syn::Attribute]) -> LinkKind {
    let mut kind = LinkKind::Unspecified;
    for a in attrs {
        if !(attr_is(a, "link") || attr_is(a, "cfg_attr")) {
            continue;
        }
        let text = a.meta.to_token_stream_ref().to_string();
        if let Some(name) = link_name_in(&text) {
            if crate::winsock::is_winsock_library(&name) {
                return LinkKind::Winsock;
            }
            kind = LinkKind::Other;
        }
    }
    kind
}

/// A `link!` declaration (`winsock::LINK_MACROS`) as the `extern` block it expands to:
/// `windows_targets::link!("ws2_32.dll" "system" fn WSAStartup(..) -> i32);`. The macro takes
/// the library, the ABI, an optional link name and doc attributes before `fn NAME`.
fn link_macro_decl(mac: &syn::Macro) -> Option<Item> {
    if !crate::winsock::is_link_macro(&path_segs(&mac.path)) {
        return None;
    }
    let mut tokens = mac.tokens.clone().into_iter();
    let library = match tokens.next()? {
        TokenTree::Literal(l) => match syn::Lit::new(l) {
            syn::Lit::Str(s) => s.value(),
            _ => return None,
        },
        _ => return None,
    };
    let name = loop {
        match tokens.next()? {
            TokenTree::Ident(i) if i == "fn" => match tokens.next()? {
                TokenTree::Ident(name) => break name.to_string(),
                _ => return None,
            },
            // The ABI, the link name, `#` and `[doc = ..]` of an attribute.
            TokenTree::Literal(_) | TokenTree::Punct(_) | TokenTree::Group(_) => {}
            TokenTree::Ident(_) => return None,
        }
    };
    let link = if crate::winsock::is_winsock_library(&library) {
        LinkKind::Winsock
    } else {
        LinkKind::Other
    };
    Some(Item::Extern {
        link,
        names: vec![name],
    })
}

fn link_name_in(text: &str) -> Option<String> {
    let i = text.find("link")?;
    let rest = &text[i..];
    let n = rest.find("name")?;
    let rest = &rest[n..];
    let q1 = rest.find('"')?;
    let rest = &rest[q1 + 1..];
    let q2 = rest.find('"')?;
    Some(rest[..q2].to_string())
}

fn type_last_name(t: &syn::Type) -> Option<String> {
    match t {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => type_last_name(&r.elem),
        syn::Type::Paren(p) => type_last_name(&p.elem),
        syn::Type::Group(g) => type_last_name(&g.elem),
        _ => None,
    }
}

fn type_string(t: &syn::Type) -> String {
    t.to_token_stream_ref().to_string().replace(' ', "")
}

fn type_idents(ts: TokenStream, out: &mut Vec<String>) {
    for tt in ts {
        match tt {
            TokenTree::Ident(i) => out.push(i.to_string()),
            TokenTree::Group(g) => type_idents(g.stream(), out),
            _ => {}
        }
    }
}

fn pat_names(p: &syn::Pat, out: &mut Vec<String>) {
    match p {
        syn::Pat::Ident(i) => out.push(i.ident.to_string()),
        syn::Pat::Type(t) => pat_names(&t.pat, out),
        syn::Pat::Reference(r) => pat_names(&r.pat, out),
        syn::Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        syn::Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        _ => out.push("_".to_string()),
    }
}

trait ToTokenStreamRef {
    fn to_token_stream_ref(&self) -> TokenStream;
}

impl<T: quote::ToTokens> ToTokenStreamRef for T {
    fn to_token_stream_ref(&self) -> TokenStream {
        self.to_token_stream()
    }
}

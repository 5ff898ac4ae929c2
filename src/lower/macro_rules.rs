//! `macro_rules!` by example: the arms of a file's macros and their expansion at call sites.
//!
//! Matching is by tokens: `$name:frag` binds a fragment, literal tokens must be equal.

use super::*;

pub(super) struct MacroArm {
    matcher: TokenStream,
    pub(super) body: TokenStream,
}

impl Lowerer {
    /// Expands a call of a `macro_rules!` macro of this file when an arm without repetitions matches.
    pub(super) fn expand(
        &mut self,
        name: &str,
        tokens: &TokenStream,
        call: proc_macro2::Span,
    ) -> Option<syn::Expr> {
        let arms = self.macros.get(name)?;
        for arm in arms {
            let mut binds = std::collections::HashMap::new();
            let input: Vec<TokenTree> = tokens.clone().into_iter().collect();
            if match_tokens(&arm.matcher, &input, &mut binds) {
                let body = substitute(arm.body.clone(), &binds);
                self.expanded_tokens += count_tokens(&body);
                if self.expanded_tokens > MAX_EXPANSION_TOKENS {
                    self.budget_hit = true;
                    return None;
                }
                if let Ok(e) = syn::parse2::<syn::Expr>(body.clone()) {
                    return Some(e);
                }
                let block = syn::parse::Parser::parse2(syn::Block::parse_within, body).ok()?;
                return Some(syn::Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: syn::Block {
                        brace_token: syn::token::Brace(call_delims(call)),
                        stmts: block,
                    },
                }));
            }
        }
        None
    }
}

/// Collects `macro_rules! name { (matcher) => { body }; .. }` from items, inline modules and function bodies.
pub(super) fn collect_macro_rules(
    items: &[syn::Item],
    out: &mut std::collections::HashMap<String, Vec<MacroArm>>,
) {
    for item in items {
        match item {
            syn::Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                if let Some(name) = &m.ident {
                    if let Some(arms) = parse_arms(m.mac.tokens.clone()) {
                        out.insert(name.to_string(), arms);
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_macro_rules(items, out);
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
                collect_macro_rules(&inner, out);
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
        arms.push(MacroArm {
            matcher: m.stream(),
            body: b.stream(),
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

fn same_token(a: &TokenTree, b: &TokenTree) -> bool {
    match (a, b) {
        (TokenTree::Ident(x), TokenTree::Ident(y)) => x == y,
        (TokenTree::Punct(x), TokenTree::Punct(y)) => x.as_char() == y.as_char(),
        (TokenTree::Literal(x), TokenTree::Literal(y)) => x.to_string() == y.to_string(),
        _ => false,
    }
}

/// Matches macro input against a matcher without repetitions, binding `$name:frag`.
fn match_tokens(
    matcher: &TokenStream,
    input: &[TokenTree],
    binds: &mut std::collections::HashMap<String, TokenStream>,
) -> bool {
    let m: Vec<TokenTree> = matcher.clone().into_iter().collect();
    let mut mi = 0;
    let mut ii = 0;
    while mi < m.len() {
        match &m[mi] {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                let (
                    Some(TokenTree::Ident(name)),
                    Some(TokenTree::Punct(colon)),
                    Some(TokenTree::Ident(frag)),
                ) = (m.get(mi + 1), m.get(mi + 2), m.get(mi + 3))
                else {
                    return false; // `$( .. )*` repetitions are not expanded
                };
                if colon.as_char() != ':' {
                    return false;
                }
                let single = matches!(
                    frag.to_string().as_str(),
                    "ident" | "lifetime" | "literal" | "tt" | "block"
                );
                let end = if single {
                    (ii < input.len()).then_some(ii + 1)
                } else {
                    // Up to the next literal token of the matcher (or the end).
                    match m.get(mi + 4) {
                        None => Some(input.len()),
                        Some(next) => (ii..input.len()).find(|&k| same_token(next, &input[k])),
                    }
                };
                let Some(end) = end else { return false };
                if end == ii {
                    return false;
                }
                binds.insert(name.to_string(), input[ii..end].iter().cloned().collect());
                ii = end;
                mi += 4;
            }
            TokenTree::Group(g) => {
                let Some(TokenTree::Group(h)) = input.get(ii) else {
                    return false;
                };
                if g.delimiter() != h.delimiter() {
                    return false;
                }
                let inner: Vec<TokenTree> = h.stream().into_iter().collect();
                if !match_tokens(&g.stream(), &inner, binds) {
                    return false;
                }
                ii += 1;
                mi += 1;
            }
            t => {
                if !input.get(ii).is_some_and(|x| same_token(t, x)) {
                    return false;
                }
                ii += 1;
                mi += 1;
            }
        }
    }
    ii == input.len()
}

fn substitute(
    body: TokenStream,
    binds: &std::collections::HashMap<String, TokenStream>,
) -> TokenStream {
    let tts: Vec<TokenTree> = body.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                if let Some(TokenTree::Ident(name)) = tts.get(i + 1) {
                    if let Some(b) = binds.get(&name.to_string()) {
                        // Keep the fragment one expression, as macro_rules does, spanning the
                        // argument tokens it came from.
                        let mut g =
                            proc_macro2::Group::new(proc_macro2::Delimiter::None, b.clone());
                        let mut toks = b.clone().into_iter();
                        if let Some(first) = toks.next() {
                            let last = toks.last().map_or(first.span(), |t| t.span());
                            g.set_span(first.span().join(last).unwrap_or(first.span()));
                        }
                        out.extend(std::iter::once(TokenTree::Group(g)));
                        i += 2;
                        continue;
                    }
                }
                out.extend(std::iter::once(tts[i].clone()));
                i += 1;
            }
            TokenTree::Group(g) => {
                let mut ng = proc_macro2::Group::new(g.delimiter(), substitute(g.stream(), binds));
                ng.set_span(g.span());
                out.extend(std::iter::once(TokenTree::Group(ng)));
                i += 1;
            }
            t => {
                out.extend(std::iter::once(t.clone()));
                i += 1;
            }
        }
    }
    out
}

//! Macros of other crates whose meaning is known, lowered to what they amount to, so the
//! interpreter follows them as it follows the code they stand for:
//!
//! - `anyhow::bail!(..)` / `eyre::bail!(..)` is `return Err(..)`;
//! - `anyhow::ensure!(c, ..)` is `if !c { return Err(..) }`;
//! - `scopeguard::defer! { body }` in a block is `let guard = scopeguard::guard((), |_| { body });`:
//!   the body runs when the block is left, however it is left.
//!
//! A macro is one of these when its path starts with the crate (`color_eyre::eyre::bail`
//! too), or when it is used bare and the file imports it (`use anyhow::{bail, ensure}`, a
//! rename, `use anyhow::*`, `#[macro_use] extern crate anyhow`). Imports are read for the
//! whole file, not per module: a file that imports `bail` from anyhow in one module and
//! defines another `bail` in another is rare enough. A bare name the file does not import
//! stays a macro the analysis does not model.

use super::*;
use proc_macro2::{Delimiter, Group};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Known {
    Bail,
    Ensure,
    Defer,
}

const ERROR_CRATES: &[&str] = &["anyhow", "eyre", "color_eyre"];

/// The last path segment of each known macro (`of_path`), as a glob or `#[macro_use]` brings it in.
const KNOWN_NAMES: [&str; 3] = ["bail", "ensure", "defer"];

/// The macro a full path names, if it is one of the known ones.
fn of_path(path: &[String]) -> Option<Known> {
    let path = match path.first().map(String::as_str) {
        Some("::") => &path[1..],
        _ => path,
    };
    if path.len() < 2 {
        return None;
    }
    let (first, last) = (path[0].as_str(), path[path.len() - 1].as_str());
    match last {
        "bail" if ERROR_CRATES.contains(&first) => Some(Known::Bail),
        "ensure" if ERROR_CRATES.contains(&first) => Some(Known::Ensure),
        "defer" if first == "scopeguard" => Some(Known::Defer),
        _ => None,
    }
}

/// Records the bare names the items bring the known macros in under, at any depth.
pub(super) fn collect_imports(
    items: &[syn::Item],
    out: &mut std::collections::HashMap<String, Known>,
) {
    for item in items {
        match item {
            syn::Item::Use(u) => {
                let mut entries = Vec::new();
                flatten_use(&u.tree, &mut Vec::new(), &mut entries);
                for e in entries {
                    if e.alias == "*" {
                        for name in KNOWN_NAMES {
                            let mut p = e.path.clone();
                            p.push(name.to_string());
                            if let Some(k) = of_path(&p) {
                                out.entry(name.to_string()).or_insert(k);
                            }
                        }
                    } else if e.alias != "_" {
                        if let Some(k) = of_path(&e.path) {
                            out.insert(e.alias, k);
                        }
                    }
                }
            }
            syn::Item::ExternCrate(c) if c.attrs.iter().any(|a| a.path().is_ident("macro_use")) => {
                for name in KNOWN_NAMES {
                    if let Some(k) = of_path(&[c.ident.to_string(), name.to_string()]) {
                        out.entry(name.to_string()).or_insert(k);
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_imports(items, out);
                }
            }
            syn::Item::Fn(f) => {
                let items: Vec<syn::Item> = f
                    .block
                    .stmts
                    .iter()
                    .filter_map(|s| match s {
                        syn::Stmt::Item(i @ syn::Item::Use(_)) => Some(i.clone()),
                        _ => None,
                    })
                    .collect();
                collect_imports(&items, out);
            }
            _ => {}
        }
    }
}

/// `tokens` with every span set to `span`: the tokens a desugaring adds are the macro call's.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut n = Group::new(g.delimiter(), respan(g.stream(), span));
                n.set_span(span);
                TokenTree::Group(n)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

fn tokens(text: &str, span: proc_macro2::Span) -> TokenStream {
    respan(text.parse().unwrap_or_default(), span)
}

impl Lowerer {
    fn known_macro(&self, m: &syn::Macro) -> Option<Known> {
        let path = path_segs(&m.path);
        if let [name] = path.as_slice() {
            // A `macro_rules!` of the crate that this call can see is what a bare call means.
            if self.macro_named(&path, m).is_some() {
                return None;
            }
            return self.known_imports.get(name).copied();
        }
        of_path(&path)
    }

    /// `bail!` and `ensure!`, wherever they are written, as the code they expand to.
    pub(super) fn known_macro_expr(&mut self, m: &syn::Macro, span: Span) -> Option<Expr> {
        let known = self.known_macro(m)?;
        if known == Known::Defer {
            return None;
        }
        let args = parse_macro_args(m.tokens.clone());
        let mut args = self.exprs(&args);
        // `return Err(..)`: the error value's parts are evaluated, its class is `Err`.
        let return_err = |args: Vec<Expr>| Expr::Return {
            expr: Some(Box::new(Expr::Call {
                func: Box::new(Expr::Path {
                    segs: vec!["Err".to_string()],
                    span,
                }),
                args: vec![Expr::Seq { exprs: args, span }],
                span,
            })),
            span,
        };
        match known {
            Known::Bail => Some(return_err(args)),
            Known::Ensure if !args.is_empty() => {
                let cond = args.remove(0);
                Some(Expr::If {
                    cond: Box::new(Expr::Unary {
                        op: UnOp::Not,
                        expr: Box::new(cond),
                        span,
                    }),
                    then: Block {
                        stmts: vec![Stmt::Expr {
                            expr: return_err(args),
                            semi: true,
                        }],
                        close: span,
                    },
                    els: None,
                    span,
                })
            }
            _ => None,
        }
    }

    /// `defer! { body }` as a statement: the `let` of a scope guard that runs `body`, so it
    /// runs when the block is left, as a guard's closure does.
    pub(super) fn desugar_stmt(&self, s: &syn::Stmt) -> Option<syn::Stmt> {
        let syn::Stmt::Macro(sm) = s else {
            return None;
        };
        // A `defer!` not compiled for Windows is left to the statement's own `cfg` check.
        if self.known_macro(&sm.mac)? != Known::Defer || crate::cfg::excluded(&sm.attrs) {
            return None;
        }
        let at = sm.mac.bang_token.span;
        let mut body = Group::new(Delimiter::Brace, sm.mac.tokens.clone());
        body.set_span(sm.mac.delimiter.span().join());
        let mut inner = tokens("(), |_|", at);
        inner.extend([TokenTree::Group(body)]);
        let mut args = Group::new(Delimiter::Parenthesis, inner);
        args.set_span(sm.mac.delimiter.span().close());
        let mut ts = tokens("let __deferred = scopeguard::guard", at);
        ts.extend([TokenTree::Group(args)]);
        ts.extend(tokens(";", at));
        syn::parse2::<syn::Stmt>(ts).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of the body of `main` in `text`, lowered.
    fn main_body(text: &str) -> Vec<Stmt> {
        let tree = syn::parse_str::<syn::File>(text).expect("test source parses");
        let ir = Lowerer::new(FileId(0), 0, text).file(&tree);
        ir.items
            .iter()
            .find_map(|i| match i {
                Item::Fn(f) if f.name == "main" => Some(f.body.stmts.clone()),
                _ => None,
            })
            .expect("a main function")
    }

    fn first_expr(text: &str) -> Expr {
        match main_body(text).into_iter().next() {
            Some(Stmt::Expr { expr, .. }) => expr,
            other => panic!("not an expression statement: {other:?}"),
        }
    }

    fn is_return_err(e: &Expr) -> bool {
        matches!(e, Expr::Return { expr: Some(call), .. }
            if matches!(&**call, Expr::Call { func, .. }
                if matches!(&**func, Expr::Path { segs, .. } if segs == &["Err"])))
    }

    #[test]
    fn bail_is_return_err_by_path_import_rename_glob_and_macro_use() {
        for text in [
            "fn main() { anyhow::bail!(\"x\"); }",
            "fn main() { color_eyre::eyre::bail!(\"x {}\", 1); }",
            "use anyhow::bail; fn main() { bail!(\"x\"); }",
            "use eyre::{bail as fail, Result}; fn main() { fail!(\"x\"); }",
            "use anyhow::*; fn main() { bail!(\"x\"); }",
            "#[macro_use] extern crate anyhow; fn main() { bail!(\"x\"); }",
            "mod m { pub use anyhow::bail; } use m::*; fn main() { ::anyhow::bail!(\"x\"); }",
        ] {
            assert!(is_return_err(&first_expr(text)), "{text}");
        }
    }

    #[test]
    fn a_bare_name_not_imported_or_defined_here_stays_a_macro() {
        for text in [
            "fn main() { bail!(\"x\"); }",
            "use my_errors::bail; fn main() { bail!(\"x\"); }",
            "fn main() { my_errors::bail!(\"x\"); }",
            "fn main() { my_scope::defer! { f(); } }",
        ] {
            assert!(matches!(first_expr(text), Expr::Macro { .. }), "{text}");
        }
    }

    #[test]
    fn the_files_own_macro_rules_wins_over_an_import() {
        let text = "use anyhow::bail;\n\
                    macro_rules! bail { ($($t:tt)*) => { println!($($t)*) } }\n\
                    fn main() { bail!(\"x\"); }";
        // Expanded or not (only macros that can reach Winsock are), it is not anyhow's.
        assert!(!is_return_err(&first_expr(text)));
    }

    #[test]
    fn ensure_returns_err_when_its_condition_is_false() {
        let e =
            first_expr("use anyhow::ensure; fn main() { ensure!(rc == 0, \"failed {}\", rc); }");
        let Expr::If {
            cond, then, els, ..
        } = e
        else {
            panic!("not an if: {e:?}");
        };
        assert!(els.is_none());
        assert!(matches!(*cond, Expr::Unary { op: UnOp::Not, .. }));
        assert!(matches!(&then.stmts[..], [Stmt::Expr { expr, .. }] if is_return_err(expr)));
    }

    #[test]
    fn defer_is_the_let_of_a_guard_whose_closure_runs_the_body() {
        for text in [
            "use scopeguard::defer; fn main() { defer! { cleanup(); } }",
            "fn main() { scopeguard::defer!(cleanup()); }",
        ] {
            match main_body(text).as_slice() {
                [Stmt::Let {
                    init: Some(Expr::Call { func, args, .. }),
                    ..
                }] => {
                    assert!(
                        matches!(&**func, Expr::Path { segs, .. } if segs == &["scopeguard", "guard"])
                    );
                    assert!(matches!(args.as_slice(), [_, Expr::Closure { .. }]));
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_defer_not_compiled_for_windows_is_dropped() {
        let text = "fn main() { #[cfg(unix)] scopeguard::defer! { cleanup(); } }";
        assert!(main_body(text).is_empty());
    }
}

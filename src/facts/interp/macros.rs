//! Macro calls left after lowering: the std and well-known macros the analysis models by
//! their meaning, and what any other macro may do.
//!
//! `anyhow`/`eyre` `bail!` and `ensure!` and `scopeguard::defer!` do not reach this file:
//! lowering writes them as the `return Err(..)`, `if !c { return Err(..) }` and scope guard
//! they stand for (`lower/known_macros.rs`).
//!
//! A macro of another crate that is not modelled here is read for the calls in its arguments
//! and neither invents an effect nor hides one: it takes and releases no reference. But it may
//! end the path (a hidden `return`, a panic) or test a value it is given, so the path is
//! marked (`State::pass_unmodelled_macro`), the values it was given no longer count as thrown
//! away, and what a marked path knows of its own startups and cleanups backs no finding
//! (`lint::known_paths`).
//!
//! `debug_assert!` and its kin are read as evaluating their arguments and testing nothing:
//! release builds drop them, so the paths where they would fail are still paths of the
//! program that ships.

use super::*;

/// Macros of std, core and alloc whose only effect on a path is evaluating their arguments.
const STD_PLAIN: &[&str] = &[
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "vec",
    "concat",
    "stringify",
    "line",
    "column",
    "file",
    "module_path",
    "env",
    "option_env",
    "include",
    "include_str",
    "include_bytes",
    "compile_error",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "addr_of",
    "addr_of_mut",
    "cfg",
    "matches",
    "thread_local",
    "pin",
];

/// std macros with a meaning of their own (see `Interp::mac`).
const STD_MEANING: &[&str] = &[
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "assert",
    "assert_eq",
    "assert_ne",
    "try",
    "ready",
    "dbg",
];

/// `log` and `tracing`: they format and record their arguments, nothing else.
const LOGGING: &[&str] = &[
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "log",
    "log_enabled",
    "enabled",
    "event",
    "span",
    "trace_span",
    "debug_span",
    "info_span",
    "warn_span",
    "error_span",
];

/// Error values of `anyhow` and `eyre` (`Err(anyhow!(..))`): built, not returned.
const ERROR_VALUES: &[&str] = &["anyhow", "eyre", "format_err"];

/// What a macro path names, as far as the analysis knows it: `None` for a macro it does not
/// model. A bare name is taken as the well-known macro of that name; a path decides by its
/// crate, so `my_ext::info!` is not `log::info!`.
fn known(path: &[String]) -> Option<&str> {
    let name = path.last()?.as_str();
    let krate = if path.len() > 1 {
        Some(path[0].as_str())
    } else {
        None
    };
    let std = matches!(krate, None | Some("std" | "core" | "alloc"));
    let from = |crates: &[&str]| krate.is_none_or(|k| crates.contains(&k));
    let is_known = (std && (STD_PLAIN.contains(&name) || STD_MEANING.contains(&name)))
        || (from(&["log", "tracing"]) && LOGGING.contains(&name))
        || (from(&["anyhow", "eyre", "color_eyre"]) && ERROR_VALUES.contains(&name))
        // `futures::ready!` is `std::task::ready!`.
        || (krate.is_some_and(|k| k == "futures") && name == "ready")
        // Pinning a future on the stack, or awaiting several: values, no exit of their own.
        || (from(&["futures", "pin_utils"]) && name == "pin_mut")
        || (krate.is_some_and(|k| k == "tokio") && matches!(name, "pin" | "join" | "try_join"));
    is_known.then_some(name)
}

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn mac(&mut self, path: &[String], args: &[Expr], span: Span, st: State) -> Outs {
        let Some(name) = known(path) else {
            return self.unmodelled_mac(args, span, st);
        };
        match name {
            "panic" | "unreachable" | "todo" | "unimplemented" => {
                self.eval_all(args, st);
                Vec::new()
            }
            "assert" if !args.is_empty() => {
                let (t, _) = self.cond(&args[0], st);
                t.into_iter().map(|s| (s, Val::Lit(UNIT, true))).collect()
            }
            "assert_eq" | "assert_ne" if args.len() >= 2 => {
                let mut out = Vec::new();
                for (st, a) in self.eval(&args[0], st) {
                    for (st, b) in self.eval(&args[1], st) {
                        let (t, f) = compare(st, BinOp::Eq, a, b);
                        let keep = if name == "assert_eq" { t } else { f };
                        out.extend(keep.map(|s| (s, Val::Lit(UNIT, true))));
                    }
                }
                out
            }
            "try" if !args.is_empty() => {
                let mut out = Vec::new();
                for (st, v) in self.eval(&args[0], st) {
                    self.question(st, v, span, &mut out);
                }
                out
            }
            // `ready!(poll)` returns `Poll::Pending` from the function, or goes on with the
            // ready value. Poll values have no class of their own, so both can happen.
            "ready" if !args.is_empty() => {
                let mut out = Vec::new();
                for (st, v) in self.eval(&args[0], st) {
                    self.exit(st.clone(), ExitKind::Return, span, Val::Lit(OTHER, false));
                    out.push((st, v));
                }
                out
            }
            "dbg" if args.len() == 1 => self.eval(&args[0], st),
            _ => self
                .eval_all(args, st)
                .into_iter()
                .map(|(s, _)| (s, Val::Sym(val_of_span(span))))
                .collect(),
        }
    }

    /// A macro the analysis does not model: its arguments are evaluated (the calls in them are
    /// the program's), and it may test them or end the path, so the path is marked. A macro
    /// wrapping one call (`syscall!(WSAStartup(..))`) yields that call's value.
    fn unmodelled_mac(&mut self, args: &[Expr], span: Span, st: State) -> Outs {
        self.eval_all(args, st)
            .into_iter()
            .map(|(mut s, vals)| {
                for v in &vals {
                    if let Val::Sym(id) = v {
                        // The macro saw the value: it may have tested it.
                        self.call_vals.remove(id);
                    }
                }
                s.pass_unmodelled_macro(span);
                let v = if vals.len() == 1 {
                    vals[0]
                } else {
                    Val::Sym(val_of_span(span))
                };
                (s, v)
            })
            .collect()
    }
}

//! Macro calls left after lowering: the std and well-known macros the analysis models by
//! their meaning, and what any other macro may do.

use super::*;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn mac(&mut self, path: &[String], args: &[Expr], span: Span, st: State) -> Outs {
        let name = path.last().map(String::as_str).unwrap_or("");
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
            "format" | "format_args" | "print" | "println" | "eprint" | "eprintln" | "write"
            | "writeln" | "vec" | "debug_assert" | "debug_assert_eq" | "debug_assert_ne"
            | "trace" | "debug" | "info" | "warn" | "error" | "log" => self
                .eval_all(args, st)
                .into_iter()
                .map(|(s, _)| (s, Val::Sym(val_of_span(span))))
                .collect(),
            // A user macro wrapping one call (`syscall!(WSAStartup(..))`) yields that call's value.
            _ => self
                .eval_all(args, st)
                .into_iter()
                .map(|(s, vals)| {
                    let v = if vals.len() == 1 {
                        vals[0]
                    } else {
                        Val::Sym(val_of_span(span))
                    };
                    (s, v)
                })
                .collect(),
        }
    }
}

//! Values and patterns: what a name, a constant or a comparison is worth on a path, and
//! what a pattern binds and rules out.

use super::*;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn bind(&mut self, st: &mut State, pat: &Pat, v: Val) {
        match pat {
            Pat::Ident(name, None) => {
                let id = match v {
                    Val::Sym(id) => id,
                    Val::Lit(c, _) => {
                        let id = self.named(&format!("{name}#lit"));
                        st.forget(id);
                        st.vals.insert(id, c);
                        id
                    }
                };
                st.set_var(name, id);
            }
            Pat::Wild | Pat::Path(_) | Pat::Lit(_) => {}
            // `c @ INVALID_SOCKET`: the name is the tested value itself.
            Pat::Ident(name, Some(sub)) => {
                self.bind(st, &Pat::Ident(name.clone(), None), v);
                self.bind(st, sub, v);
            }
            // A newtype of the value (`SOCKET(raw)`, `WSA_ERROR(code)`): the inner pattern
            // sees what is known of the whole.
            Pat::TupleStruct(p, sub) if sub.len() == 1 && is_value_newtype(p) => {
                self.bind(st, &sub[0], v)
            }
            // `(s, addr)` taking apart a tuple the path knows the elements of.
            Pat::Tuple(ps) if matches!(v, Val::Sym(id) if st.parts.get(&id).is_some_and(|e| e.len() == ps.len())) =>
            {
                let elems = match v {
                    Val::Sym(id) => st.parts.get(&id).cloned().unwrap_or_default(),
                    Val::Lit(..) => Vec::new(),
                };
                for (p, e) in ps.iter().zip(elems) {
                    self.bind(st, p, e);
                }
            }
            // `Ok(c)`, `Some(c)`: the payload the wrapper was made from, when it is known.
            Pat::TupleStruct(p, sub)
                if sub.len() == 1
                    && matches!(p.last().map(String::as_str), Some("Ok" | "Err" | "Some"))
                    && payload_of(st, v).is_some() =>
            {
                let inner = payload_of(st, v).unwrap_or(UNKNOWN);
                self.bind(st, &sub[0], inner)
            }
            other => {
                let mut names = Vec::new();
                pat_binds(other, &mut names);
                for n in names {
                    let id = self.named(&format!("{n}#part"));
                    st.forget(id);
                    st.set_var(&n, id);
                }
            }
        }
    }

    /// Binds `pat` in the scope that starts at `scope`, keeping what its names meant before
    /// (`close_bindings` gives it back).
    pub(super) fn scoped_bind(&mut self, st: &mut State, pat: &Pat, v: Val, scope: u32) {
        let mut names = Vec::new();
        pat_binds(pat, &mut names);
        for n in &names {
            let key = shadow_key(n, scope);
            // Only the first binding of a name in a scope saves what it shadows.
            if !st.vars.contains_key(&key) {
                let old = st.vars.get(n).copied().unwrap_or(UNBOUND);
                st.vars.insert(key, old);
            }
        }
        self.bind(st, pat, v);
    }

    /// The classes every value of which the pattern matches: a path on which it does not
    /// match has none of them. Of an or-pattern, those of its alternatives that match all
    /// of theirs (`0 | WSAEINPROGRESS` rules out 0 where it does not match).
    pub(super) fn pat_sure(&self, pat: &Pat) -> ClassSet {
        match pat {
            Pat::Or(ps) => ps.iter().fold(0, |c, p| c | self.pat_sure(p)),
            Pat::Ident(_, Some(p)) => self.pat_sure(p),
            Pat::TupleStruct(p, sub) if sub.len() == 1 && is_value_newtype(p) => {
                self.pat_sure(&sub[0])
            }
            other => match self.pat_classes(other) {
                (c, true) => c,
                (_, false) => 0,
            },
        }
    }

    /// The path on which `pat` does not match `v`, if there can be one.
    pub(super) fn pat_miss(&self, st: State, pat: &Pat, v: Val) -> Option<State> {
        match self.pat_sure(pat) {
            0 => Some(st),
            sure => st.restrict(v, ALL & !sure),
        }
    }

    /// The classes a pattern matches, and whether it matches every value of them.
    pub(super) fn pat_classes(&self, pat: &Pat) -> (ClassSet, bool) {
        match pat {
            Pat::Wild | Pat::Ident(_, None) => (ALL, true),
            Pat::Ident(_, Some(p)) => self.pat_classes(p),
            Pat::Lit(Lit::Int(0)) => (ZERO, true),
            Pat::Lit(Lit::Int(-1)) => (NONZERO, true),
            Pat::Lit(Lit::Int(_)) => (NONZERO, false),
            Pat::Lit(Lit::Bool(true)) => (TRUE, true),
            Pat::Lit(Lit::Bool(false)) => (FALSE, true),
            Pat::Lit(_) => (ALL, false),
            Pat::TupleStruct(p, sub) => {
                let all_irrefutable = sub.iter().all(|s| {
                    matches!(s, Pat::Wild | Pat::Ident(_, None))
                        || matches!(s, Pat::Tuple(v) if v.is_empty())
                });
                match p.last().map(String::as_str) {
                    Some("Ok") => (OK, all_irrefutable),
                    Some("Err") => (ERR, all_irrefutable),
                    Some("Some") => (SOME, all_irrefutable),
                    _ if sub.len() == 1 && is_value_newtype(p) => self.pat_classes(&sub[0]),
                    _ => (ALL, false),
                }
            }
            // A constant pattern splits values as `==` with the constant does.
            Pat::Path(p) => match p.last().and_then(|n| const_val(n)) {
                Some(Val::Lit(c, excl)) => (c, excl),
                _ => (ALL, false),
            },
            Pat::Or(ps) => {
                let mut c = 0;
                let mut excl = true;
                for p in ps {
                    let (pc, pe) = self.pat_classes(p);
                    c |= pc;
                    excl &= pe;
                }
                (c, excl)
            }
            Pat::Tuple(v) if v.is_empty() => (UNIT, true),
            _ => (ALL, false),
        }
    }

    // ---- expressions ----

    pub(super) fn path_val(&mut self, segs: &[String], span: Span, mut st: State) -> (State, Val) {
        let Some(last) = segs.last() else {
            return (st, UNKNOWN);
        };
        // A local of that name wins over any item.
        if segs.len() == 1 {
            if let Some(&id) = st.vars.get(last) {
                return (st, Val::Sym(id));
            }
        }
        if let Some(v) = const_val(last) {
            return (st, v);
        }
        // A unit struct (`Winsock`, `Self`) is a value of its type: a guard type's takes over
        // a held reference as `Winsock(())` or `Winsock {}` do.
        if self.is_guard_type(Some(last)) {
            let v = self.construct(&mut st, Some(last), span);
            return (st, v);
        }
        if segs.len() == 1 {
            let id = self.place(&mut st, last);
            return (st, Val::Sym(id));
        }
        (st, UNKNOWN)
    }

    /// The value living in a variable or field; a place seen for the first time gets a fresh value.
    pub(super) fn place(&mut self, st: &mut State, key: &str) -> ValId {
        if let Some(id) = st.vars.get(key) {
            return *id;
        }
        let id = self.named(key);
        st.vars.insert(key.to_string(), id);
        id
    }
}

/// Constants whose value class is known by name.
pub(super) fn const_val(name: &str) -> Option<Val> {
    match name {
        "None" => Some(Val::Lit(NONE, true)),
        "INVALID_SOCKET" => Some(Val::Lit(INVALID, true)),
        "SOCKET_ERROR" => Some(Val::Lit(NONZERO, true)),
        "NO_ERROR" | "ERROR_SUCCESS" | "S_OK" => Some(Val::Lit(ZERO, true)),
        n if (n.starts_with("WSA") || n.starts_with("ERROR_"))
            && n.len() > 3
            && n.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
        {
            Some(Val::Lit(NONZERO, false))
        }
        _ => None,
    }
}

/// What a name meant before a binding shadowed it: nothing.
const UNBOUND: ValId = u64::MAX;

/// Where a scope keeps what one of its names shadowed: no place name contains a NUL.
fn shadow_key(name: &str, scope: u32) -> String {
    format!("{name}\0{scope}")
}

/// The scope that starts at `scope` ends: each of `names` means what it meant before.
pub(super) fn close_bindings(st: &mut State, names: &[String], scope: u32) {
    for n in names {
        let key = shadow_key(n, scope);
        match st.vars.get(&key).copied() {
            Some(UNBOUND) => {
                st.vars.remove(&key);
                st.vars.remove(n);
            }
            Some(old) => {
                st.vars.remove(&key);
                st.set_var(n, old);
            }
            // Only a state that still binds it writes (and so copies) its names.
            None => {
                if st.vars.contains_key(n) {
                    st.vars.remove(n);
                }
            }
        }
    }
}

/// Tuple structs that only wrap a Winsock value (the `windows` crate's newtypes): a pattern
/// or test on one is a test on the value inside.
pub(super) fn is_value_newtype(path: &[String]) -> bool {
    matches!(
        path.last().map(String::as_str),
        Some("SOCKET" | "WSA_ERROR" | "WIN32_ERROR" | "HRESULT" | "BOOL" | "NTSTATUS")
    )
}

/// What a wrapper value (`Ok(x)`, `Some(x)`, a newtype) was made from, when the path knows.
pub(super) fn payload_of(st: &State, v: Val) -> Option<Val> {
    match v {
        Val::Sym(id) => match st.parts.get(&id)?.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        Val::Lit(..) => None,
    }
}

/// The constant an argument names: `SOCK_STREAM`, `SD_SEND.0`, `SOCK_STREAM as i32`, `i32::from(SD_BOTH)`, `1`.
pub(super) fn const_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path { segs, .. } => segs.last().cloned(),
        Expr::Lit {
            lit: Lit::Int(v), ..
        } => Some(v.to_string()),
        Expr::Cast { expr, .. } => const_name(expr),
        Expr::Field { base, .. } => const_name(base),
        Expr::Method { recv, .. } => const_name(recv),
        Expr::Call { args, .. } if args.len() == 1 => const_name(&args[0]),
        _ => None,
    }
}

/// Splits one path by `a OP b`.
pub(super) fn compare(st: State, op: BinOp, a: Val, b: Val) -> (Option<State>, Option<State>) {
    let (op, a, b) = match (a, b) {
        (Val::Lit(..), Val::Sym(_)) => {
            let flipped = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::Gt => BinOp::Lt,
                BinOp::Le => BinOp::Ge,
                BinOp::Ge => BinOp::Le,
                o => o,
            };
            (flipped, b, a)
        }
        _ => (op, a, b),
    };
    match (a, b) {
        (Val::Sym(_), Val::Lit(c, excl)) => match op {
            BinOp::Eq | BinOp::Ne => {
                let t = st.clone().restrict(a, c);
                let f = if excl {
                    st.restrict(a, ALL & !c)
                } else {
                    Some(st)
                };
                if op == BinOp::Eq {
                    (t, f)
                } else {
                    (f, t)
                }
            }
            // `x < 0`, `x > 0`: only an error code or a count can be on the true side.
            BinOp::Lt | BinOp::Gt if c == ZERO => (st.clone().restrict(a, NONZERO), Some(st)),
            _ => (Some(st.clone()), Some(st)),
        },
        (Val::Lit(c1, e1), Val::Lit(c2, e2)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
            let equal = if c1 & c2 == 0 {
                Some(false)
            } else if e1 && e2 && c1 == c2 {
                Some(true)
            } else {
                None
            };
            let (t, f) = match equal {
                Some(true) => (Some(st), None),
                Some(false) => (None, Some(st)),
                None => (Some(st.clone()), Some(st)),
            };
            if op == BinOp::Eq {
                (t, f)
            } else {
                (f, t)
            }
        }
        _ => (Some(st.clone()), Some(st)),
    }
}

pub(super) fn lit_val(l: &Lit) -> Val {
    match l {
        Lit::Int(0) => Val::Lit(ZERO, true),
        Lit::Int(-1) => Val::Lit(NONZERO, true),
        Lit::Int(_) => Val::Lit(NONZERO, false),
        Lit::Bool(true) => Val::Lit(TRUE, true),
        Lit::Bool(false) => Val::Lit(FALSE, true),
        _ => Val::Lit(OTHER, false),
    }
}

/// The names a pattern binds.
pub(super) fn pat_binds(p: &Pat, out: &mut Vec<String>) {
    match p {
        Pat::Ident(n, sub) => {
            out.push(n.clone());
            if let Some(s) = sub {
                pat_binds(s, out);
            }
        }
        Pat::TupleStruct(_, v) | Pat::Tuple(v) | Pat::Or(v) => {
            v.iter().for_each(|p| pat_binds(p, out))
        }
        _ => {}
    }
}

/// Reads a `matches!` pattern that was parsed as an expression.
pub(super) fn expr_as_pat(e: &Expr) -> Pat {
    match e {
        Expr::Lit { lit, .. } => Pat::Lit(lit.clone()),
        Expr::Path { segs, .. } if segs.len() == 1 && segs[0] == "_" => Pat::Wild,
        Expr::Path { segs, .. } => Pat::Path(segs.clone()),
        Expr::Call { func, args, .. } => match &**func {
            Expr::Path { segs, .. } => {
                Pat::TupleStruct(segs.clone(), args.iter().map(expr_as_pat).collect())
            }
            _ => Pat::Other,
        },
        // `0 | WSAEINPROGRESS`: an or-pattern.
        Expr::Binary {
            op: BinOp::BitOr,
            lhs,
            rhs,
            ..
        } => {
            let mut alts = Vec::new();
            for side in [lhs, rhs] {
                match expr_as_pat(side) {
                    Pat::Or(v) => alts.extend(v),
                    p => alts.push(p),
                }
            }
            Pat::Or(alts)
        }
        Expr::Binary {
            op: BinOp::Other, ..
        } => Pat::Other,
        _ => Pat::Other,
    }
}

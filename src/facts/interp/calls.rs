//! Calls that are not Winsock: crate functions through their summaries, methods, closures,
//! guards, and the std/core semantics the analysis models (`unwrap`, `mem::forget`,
//! `process::exit`, panics).

use super::*;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn is_guard_type(&self, name: Option<&str>) -> bool {
        let name = match name {
            Some("Self") => self.unit.ctx().impl_ty.as_deref(),
            n => n,
        };
        name.is_some_and(|n| self.cx.guard_types.contains(n))
    }

    /// A value of a crate type is built; a guard type takes over one held reference.
    pub(super) fn construct(&mut self, st: &mut State, name: Option<&str>, span: Span) -> Val {
        if self.is_guard_type(name) {
            return guard_value(st, span);
        }
        Val::Lit(OTHER, false)
    }

    /// A value thrown away: if it is a Winsock call's result, the call is recorded as unchecked.
    pub(super) fn discarded(&mut self, v: Val) {
        if let Val::Sym(id) = v {
            if let Some(&(span, api)) = self.call_vals.get(&id) {
                self.run.discarded.insert(Discarded {
                    span,
                    api: ApiRef(api),
                });
            }
        }
    }

    /// A closure that calls `WSACleanup` (a scope guard's, an `on_exit` callback) takes over one held
    /// reference, as a guard value does: whoever runs it later releases that reference.
    pub(super) fn closure(&mut self, st: &mut State, index: usize, span: Span) -> Val {
        let owner = self.unit.ctx().id;
        let releases = self
            .cx
            .graph
            .closure_units
            .get(&(owner, index))
            .and_then(|u| self.cx.summaries.get(u))
            .is_some_and(|s| s.outcomes.iter().any(|o| !o.releases.is_empty()));
        if releases {
            return guard_value(st, span);
        }
        Val::Lit(OTHER, false)
    }

    pub(super) fn call(&mut self, func: &Expr, args: &[Expr], span: Span, st: State) -> Outs {
        let target = self
            .target_at(span)
            .unwrap_or(Target::Unknown(String::new()));
        // A closure bound to a local that took over a reference (a scope guard's cleanup):
        // calling it releases that reference, so the guard is used up and its cleanup is the
        // one the guard already stood for.
        let guard_called = match (func, &target) {
            (Expr::Path { segs, .. }, Target::Unit(_)) if segs.len() == 1 => {
                st.vars.get(&segs[0]).copied()
            }
            _ => None,
        }
        .filter(|id| st.guards.contains_key(id));
        let segs: &[String] = match func {
            Expr::Path { segs, .. } => segs,
            _ => &[],
        };
        let mut out = Vec::new();
        for (mut st, vals) in self.eval_all(args, st) {
            match &target {
                Target::Winsock(name) => self.winsock(name, args, span, st, &mut out),
                Target::Unit(_) if guard_called.is_some() => {
                    if let Some(id) = guard_called {
                        st.guards.remove(&id);
                    }
                    out.push((st, Val::Sym(val_of_span(span))));
                }
                Target::Unit(u) => self.apply(*u, args, &vals, span, st, &mut out),
                Target::Ctor(n) => {
                    let v = match n.as_str() {
                        "Ok" | "Err" | "Some" => {
                            let c = match n.as_str() {
                                "Ok" => OK,
                                "Err" => ERR,
                                _ => SOME,
                            };
                            wrap(&mut st, c, vals.first().copied(), span)
                        }
                        other => self.construct(&mut st, Some(other), span),
                    };
                    out.push((st, v));
                }
                Target::Unknown(name) => {
                    let owner = segs.len().checked_sub(2).map(|i| segs[i].as_str());
                    let diverges = match name.as_str() {
                        "exit" | "abort" => segs.len() == 1 || owner == Some("process"),
                        "panic_any" | "resume_unwind" => true,
                        _ => false,
                    };
                    if diverges {
                        continue;
                    }
                    // `Winsock::default()` and other constructors the crate does not define
                    // (derived, or a trait's) build a value of the type they are called on.
                    if owner.is_some_and(|t| self.is_guard_type(Some(t))) {
                        let v = self.construct(&mut st, owner, span);
                        out.push((st, v));
                        continue;
                    }
                    if matches!(name.as_str(), "forget" | "leak")
                        || (name == "new" && owner == Some("ManuallyDrop"))
                    {
                        for v in &vals {
                            if let Val::Sym(id) = v {
                                if let Some(site) = st.guards.remove(id) {
                                    self.run.forgets.insert(ForgetEvent {
                                        guard_site: site,
                                        forgotten_at: span,
                                    });
                                }
                            }
                        }
                    }
                    out.push((st, Val::Sym(val_of_span(span))));
                }
            }
        }
        out
    }

    pub(super) fn method(
        &mut self,
        recv: &Expr,
        name: &str,
        args: &[Expr],
        span: Span,
        st: State,
    ) -> Outs {
        let mut out = Vec::new();
        let bool_then = matches!(name, "then" | "then_some")
            && args.len() == 1
            && !matches!(self.target_at(span), Some(Target::Unit(_)));
        for (st, rv) in self.eval(recv, st) {
            // Only on a `bool` (a future's `then` is something else).
            if bool_then && st.classes(rv) & !(TRUE | FALSE) == 0 {
                self.then(name, rv, &args[0], span, st, &mut out);
                continue;
            }
            for (st, vals) in self.eval_all(args, st) {
                match name {
                    "unwrap" | "expect" | "unwrap_unchecked" => {
                        if let Some(ok) = st.restrict(rv, ALL & !(ERR | NONE)) {
                            let inner = self.unwrapped(&ok, rv);
                            out.push((ok, inner));
                        }
                    }
                    "map_err" | "context" | "with_context" | "map" | "inspect" | "inspect_err"
                    | "as_ref" | "as_mut" | "into" | "clone" | "copied" | "cloned" | "to_owned" => {
                        out.push((st, rv))
                    }
                    "ok" | "err" | "ok_or" | "ok_or_else" => {
                        let c = st.classes(rv);
                        // What each class of the receiver becomes.
                        let (from, to) = match name {
                            "ok" => ([OK, ERR], [SOME, NONE]),
                            "err" => ([OK, ERR], [NONE, SOME]),
                            _ => ([SOME, NONE], [OK, ERR]),
                        };
                        let mut n = c & !(from[0] | from[1]);
                        for (f, t) in from.iter().zip(to) {
                            if c & f != 0 {
                                n |= t;
                            }
                        }
                        let id = val_of_span(span);
                        let mut st = st;
                        // The payload stays where it was: `cvt(x).ok()` is `Some(x)`.
                        let inner = match rv {
                            Val::Sym(r) if r != id => st.parts.get(&r).cloned(),
                            _ => None,
                        };
                        st.forget(id);
                        st.vals.insert(id, n);
                        if let Some(inner) = inner {
                            st.parts.insert(id, inner);
                        }
                        out.push((st, Val::Sym(id)));
                    }
                    _ => match self.target_at(span) {
                        Some(Target::Unit(u)) => self.apply(u, args, &vals, span, st, &mut out),
                        _ => out.push((st, Val::Sym(val_of_span(span)))),
                    },
                }
            }
        }
        out
    }

    /// The socket a callee returns is the caller's now, made (or accepted) at the call.
    fn returned_socket(&mut self, s: &mut State, id: ValId, r: ReturnedSocket, span: Span) {
        let mut fresh = |s: &mut State, what: &str| {
            let pid = self.named(&format!("{id}#{what}"));
            s.forget(pid);
            pid
        };
        let holder = if r.wrapped {
            let w = fresh(s, "returned");
            s.parts.insert(id, vec![Val::Sym(w)]);
            w
        } else {
            id
        };
        let sid = match r.index {
            Some((k, n)) => {
                let sid = fresh(s, "returned-socket");
                let mut elems = vec![UNKNOWN; usize::from(n.max(k + 1))];
                elems[usize::from(k)] = Val::Sym(sid);
                s.parts.insert(holder, elems);
                sid
            }
            None => holder,
        };
        if sid != id {
            s.vals.insert(sid, VALID);
        }
        s.socks.insert(
            sid,
            Sock {
                kind: r.kind,
                origin: if r.accepted {
                    Origin::Accepted(span)
                } else {
                    Origin::Created(span)
                },
                connected: r.connected.then_some(span),
                shut: false,
                closed: None,
                closed_hidden_by: None,
            },
        );
    }

    /// The value inside a wrapper that `?` or `unwrap` took apart: it was tested on the way
    /// (`cvt(WSAStartup(..))?;` checks the startup even though the `Ok` value is dropped).
    pub(super) fn unwrapped(&mut self, st: &State, v: Val) -> Val {
        match payload_of(st, v) {
            Some(inner @ Val::Sym(p)) => {
                self.call_vals.remove(&p);
                inner
            }
            _ => v,
        }
    }

    /// Where the call at `span` goes, as the unit it was written in resolved it.
    pub(super) fn target_at(&self, span: Span) -> Option<Target> {
        if let Some(t) = self.unit.resolved.get(&span) {
            return Some(t.clone());
        }
        self.inlined
            .iter()
            .rev()
            .find_map(|u| self.cx.graph.unit(*u).resolved.get(&span).cloned())
    }

    /// `cond.then(|| v)` / `cond.then_some(v)`: `Some(v)` where `cond` holds (the closure runs
    /// there, in place, so a guard it builds takes over the reference that path holds), `None`
    /// where it does not.
    fn then(&mut self, name: &str, rv: Val, arg: &Expr, span: Span, st: State, out: &mut Outs) {
        let holds = st.clone().restrict(rv, ALL & !FALSE);
        let fails = st.restrict(rv, ALL & !TRUE);
        if let Some(t) = holds {
            let made = match arg {
                Expr::Closure { index, .. } if name == "then" => self.run_closure(*index, t),
                other => self.eval(other, t),
            };
            for (mut s, v) in made {
                let w = wrap(&mut s, SOME, Some(v), span);
                out.push((s, w));
            }
        }
        if let Some(f) = fails {
            // `then_some`'s argument is built either way (and dropped here).
            let made = if name == "then_some" {
                self.eval(arg, f)
            } else {
                vec![(f, UNKNOWN)]
            };
            for (s, _) in made {
                out.push((s, Val::Lit(NONE, true)));
            }
        }
    }

    /// Runs the body of a closure without parameters where it is called, with the paths of
    /// the caller; a closure with parameters is an unknown value.
    fn run_closure(&mut self, index: usize, st: State) -> Outs {
        let owner = self.unit.ctx();
        let unit = self.cx.graph.closure_units.get(&(owner.id, index)).copied();
        let (Some(c), Some(u)) = (owner.ir.closures.get(index), unit) else {
            return vec![(st, UNKNOWN)];
        };
        if !c.params.is_empty() || self.inlined.contains(&u) {
            return vec![(st, UNKNOWN)];
        }
        self.inlined.push(u);
        let out = self.eval(&c.body, st);
        self.inlined.pop();
        out
    }

    /// Applies a crate function's summary at its call: one path per distinct outcome.
    pub(super) fn apply(
        &mut self,
        u: UnitId,
        args: &[Expr],
        vals: &[Val],
        span: Span,
        st: State,
        out: &mut Outs,
    ) {
        let id = val_of_span(span);
        let Some(sum) = self.cx.summaries.get(&u) else {
            out.push((st, Val::Sym(id)));
            return;
        };
        let callee = self.cx.graph.unit(u).display();
        let acquirer = sum.outcomes.iter().any(|o| !o.acquires.is_empty());
        let uses_winsock = self.cx.uses_winsock.contains(&u);
        if uses_winsock || acquirer {
            self.run.calls.insert(CallFact {
                span,
                callee: Callee::Crate {
                    display: callee.clone(),
                    uses_winsock,
                    starts_winsock: acquirer,
                },
                before: st.before(st.startup_failed, None),
                version: None,
            });
        }
        // Outcomes the arguments rule out are not taken; if the arguments rule out every one
        // (a parameter flattened from a tuple pattern shifts the indices), none is ruled out.
        let fits = |o: &Outcome| -> Option<State> {
            let mut s = st.clone();
            if o.params.len() == vals.len() {
                for (&v, &c) in vals.iter().zip(&o.params) {
                    if c != ALL {
                        s = s.restrict(v, c)?;
                    }
                }
            }
            Some(s)
        };
        let mut starts: Vec<(&Outcome, State)> = sum
            .outcomes
            .iter()
            .filter_map(|o| fits(o).map(|s| (o, s)))
            .collect();
        if starts.is_empty() {
            starts = sum.outcomes.iter().map(|o| (o, st.clone())).collect();
        }
        for (o, mut s) in starts {
            if acquirer && o.acquires.is_empty() {
                // The callee's startup failed on this outcome: a cleanup now would be unmatched.
                s.own = true;
                s.last_own = Some((span, OwnEvent::FailedStartup));
            }
            for acq in &o.acquires {
                s.held.push(Token {
                    site: span,
                    chain: acq.clone(),
                });
                s.own = true;
                s.final_cleanup = None;
            }
            for rel in &o.releases {
                let link = Link {
                    span,
                    unit: callee.clone(),
                    step: Step::Calls,
                    omitted: 0,
                };
                self.release(&mut s, span, rel.cleanup, Chain::cons(link, &rel.chain));
            }
            for &k in &sum.shuts_params {
                if let Some(sid) = self.sock_of(&mut s, args.get(k)) {
                    if let Some(sock) = s.socks.get_mut(&sid) {
                        sock.shut = true;
                    }
                }
            }
            for &k in &sum.closes_params {
                if let Some(sid) = self.sock_of(&mut s, args.get(k)) {
                    if let Some(sock) = s.socks.get_mut(&sid) {
                        sock.closed = Some(span);
                        sock.closed_hidden_by = None;
                    }
                }
            }
            if sum.returns_guard {
                let site = match s.held.pop() {
                    Some(tok) if sum.guard_from_callers && o.acquires.is_empty() => tok.site,
                    Some(tok) => {
                        s.held.push(tok);
                        span
                    }
                    None => span,
                };
                s.guards.insert(id, site);
            }
            if let Some(r) = o.socket {
                self.returned_socket(&mut s, id, r, span);
            }
            // An outcome that rests on a macro not modelled in the callee rests on it here too.
            if o.hidden_by.is_some() {
                s.pass_unmodelled_macro(span);
            }
            s.vals.insert(id, o.classes);
            out.push((s, Val::Sym(id)));
        }
    }
}

/// The value made at `span` takes over one held reference, as a guard: whoever drops (or
/// runs) it later releases that reference. Nothing held: a plain value.
fn guard_value(st: &mut State, span: Span) -> Val {
    match st.held.pop() {
        Some(tok) => {
            let id = val_of_span(span);
            st.guards.insert(id, tok.site);
            st.vals.insert(id, OTHER);
            Val::Sym(id)
        }
        None => Val::Lit(OTHER, false),
    }
}

/// `Ok(x)`, `Err(x)`, `Some(x)`: a value of class `c` that remembers `x` when `x` is tracked,
/// so `match .. { Ok(c) => c, .. }` gets `x` back.
fn wrap(st: &mut State, c: ClassSet, inner: Option<Val>, span: Span) -> Val {
    match inner {
        // A wrapper made where its payload was (one span for all of a macro's expansion)
        // cannot be told from it.
        Some(Val::Sym(x)) if x != val_of_span(span) => {
            let id = val_of_span(span);
            st.forget(id);
            st.vals.insert(id, c);
            st.parts.insert(id, vec![Val::Sym(x)]);
            Val::Sym(id)
        }
        _ => Val::Lit(c, false),
    }
}

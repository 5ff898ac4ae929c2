//! Path-sensitive abstract interpretation of one unit's body.
//!
//! Walks the lowered body with a set of `State`s (one per distinct path),
//! forking at calls whose result decides what the path holds (`WSAStartup`,
//! `connect`, `socket`, crate functions with several outcomes) and pruning
//! forks that a later test rules out. Produces the unit's exits and the
//! events lints read (closes, unmatched cleanups, leaked guards).

use super::callgraph::{CallGraph, Target, Unit, UnitBody, UnitId};
use super::state::*;
use crate::ir::{BinOp, Block, Expr, Lit, Pat, Stmt, UnOp};
use crate::source::Span;
use crate::winsock::{Effect, How, SocketType};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Paths kept per program point before precision is given up.
pub(crate) const MAX_STATES: usize = 48;

/// State entries copied per step of the work budget.
const COPY_STEP: usize = 64;
/// Loop bodies are re-run until nothing new appears, at most this often.
const MAX_LOOP_ROUNDS: usize = 4;
/// Stack left before a recursive step moves to a fresh segment, and that segment's size.
pub(crate) const RED_ZONE: usize = 256 * 1024;
pub(crate) const STACK_GROWTH: usize = 8 * 1024 * 1024;
/// Work budget per unit (expression visits), so hostile input cannot hang the run; a unit
/// gets one more step per byte of its body, so that a long body that is merely long (a
/// generated ladder of 100,000 arms) is followed to its end, at a cost linear in its size.
pub use super::events::{AfterCleanupEvent, ConnectedBy, ExitKind, UseAfterCloseEvent, VersionArg};

pub(crate) const MAX_STEPS: usize = 400_000;

#[derive(Debug, Clone)]
pub struct Exit {
    pub state: State,
    pub kind: ExitKind,
    pub span: Span,
    pub classes: ClassSet,
}

#[derive(Debug, Clone)]
pub struct CloseEvent {
    /// Where the socket became a connected stream, on a path reaching this close without `shutdown`.
    pub unshut_connected: Option<(Span, ConnectedBy)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnmatchedEvent {
    pub cleanup: Span,
    pub chain: Chain,
    pub previous: Option<(Span, OwnEvent)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForgetEvent {
    pub guard_site: Span,
    pub forgotten_at: Span,
}

#[derive(Debug, Default)]
pub struct UnitRun {
    pub exits: Vec<Exit>,
    pub closes: BTreeMap<Span, CloseEvent>,
    pub unmatched: BTreeSet<UnmatchedEvent>,
    pub forgets: BTreeSet<ForgetEvent>,
    /// The work budget ran out: the paths still open then were dropped, so what was recorded
    /// before is sound but the function's exits and summary are partial.
    pub truncated: bool,
    /// More paths met than are kept (`MAX_STATES`): some were dropped, so a finding that needs
    /// every path (a hand-off, a release) may be missing.
    pub paths_dropped: bool,
    /// The value ids of the parameters, in order.
    pub param_ids: Vec<ValId>,
    /// The work budget this unit had: `MAX_STEPS` plus the length of its body.
    pub budget: usize,
    /// `WSACleanup` while a socket created here is open: (cleanup, where the socket was made).
    pub cleanup_with_open: BTreeSet<(Span, Span)>,
    pub after_cleanup: BTreeSet<AfterCleanupEvent>,
    /// `WSAGetLastError` right after a failed `WSAStartup`: (the call, the startup).
    pub lasterror_after_startup: BTreeSet<(Span, Span)>,
    /// `WSAStartup` calls whose result is thrown away.
    pub unchecked_startups: BTreeSet<Span>,
    pub use_after_close: BTreeSet<UseAfterCloseEvent>,
    /// `WSAStartup` version arguments: (the argument's span, what it is).
    pub versions: BTreeSet<(Span, VersionArg)>,
}

pub struct Cx<'g, 'a> {
    /// Units that make Winsock calls needing an initialised Winsock, directly or through callees.
    pub uses_winsock: &'g HashSet<UnitId>,
    pub graph: &'g CallGraph<'a>,
    pub summaries: &'g HashMap<UnitId, Summary>,
    pub guard_types: &'g HashSet<String>,
}

/// What starts each round of a loop.
#[derive(Clone, Copy)]
enum LoopHead<'e> {
    None,
    While(&'e Expr),
    Each(&'e Pat),
}

struct LoopCtx {
    label: Option<String>,
    /// A labeled block (only `break 'label` leaves it) rather than a loop.
    is_block: bool,
    breaks: Vec<(State, Val)>,
    continues: Vec<State>,
}

pub struct Interp<'c, 'g, 'a> {
    /// The value of each `WSAStartup` call, to notice when it is thrown away.
    startup_vals: HashMap<ValId, Span>,
    cx: &'c Cx<'g, 'a>,
    unit: &'c Unit<'a>,
    returns_unit: bool,
    loops: Vec<LoopCtx>,
    run: UnitRun,
    names: HashMap<String, ValId>,
    steps: usize,
}

type Outs = Vec<(State, Val)>;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub fn run(cx: &'c Cx<'g, 'a>, unit: &'c Unit<'a>) -> UnitRun {
        let returns_unit = match unit.body {
            UnitBody::Fn(f) => f.ir.returns_unit,
            UnitBody::Closure { .. } => false,
        };
        let mut it = Interp {
            startup_vals: HashMap::new(),
            cx,
            unit,
            returns_unit,
            loops: Vec::new(),
            run: UnitRun::default(),
            names: HashMap::new(),
            steps: 0,
        };
        let body = match unit.body {
            UnitBody::Fn(f) => f.ir.body.close.hi.saturating_sub(f.ir.body_open.lo),
            UnitBody::Closure { closure, .. } => {
                let s = closure.body.span();
                s.hi.saturating_sub(s.lo)
            }
        };
        it.run.budget = MAX_STEPS + body as usize;
        let mut start = State::default();
        for p in unit.params() {
            let id = it.named(p);
            start.vars.insert(p.clone(), id);
            it.run.param_ids.push(id);
        }
        match unit.body {
            UnitBody::Fn(f) => {
                let outs = it.block(&f.ir.body, vec![start]);
                let close = f.ir.body.close;
                it.finish(outs, close);
            }
            UnitBody::Closure { closure, .. } => {
                let outs = it.eval(&closure.body, start);
                let end = closure.body.span();
                let end = Span::new(end.file, end.hi as usize, end.hi as usize);
                it.finish(outs, end);
            }
        }
        it.run
    }

    fn finish(&mut self, outs: Outs, end: Span) {
        for (st, v) in outs {
            let classes = if self.returns_unit {
                UNIT
            } else {
                st.classes(v)
            };
            self.run.exits.push(Exit {
                state: st,
                kind: ExitKind::End,
                span: end,
                classes,
            });
        }
    }

    fn named(&mut self, name: &str) -> ValId {
        let n = self.names.len() as u64;
        *self
            .names
            .entry(name.to_string())
            .or_insert((1u64 << 63) | n)
    }

    fn tick(&mut self) -> bool {
        self.charge(1)
    }

    /// Adds `steps` of work to the budget; false once it is spent.
    fn charge(&mut self, steps: usize) -> bool {
        self.steps += steps;
        if self.steps > self.run.budget {
            self.run.truncated = true;
            return false;
        }
        true
    }

    fn exit(&mut self, st: State, kind: ExitKind, span: Span, v: Val) {
        let classes = if self.returns_unit {
            UNIT
        } else {
            st.classes(v)
        };
        self.run.exits.push(Exit {
            state: st,
            kind,
            span,
            classes,
        });
    }

    // ---- statements and blocks ----

    fn block(&mut self, b: &Block, states: Vec<State>) -> Outs {
        let mut cur: Outs = states
            .into_iter()
            .map(|s| (s, Val::Lit(UNIT, true)))
            .collect();
        let mut declared: Vec<String> = Vec::new();
        let n = b.stmts.len();
        for (i, stmt) in b.stmts.iter().enumerate() {
            if cur.is_empty() {
                break;
            }
            let states: Vec<State> = cur.into_iter().map(|(s, _)| s).collect();
            let mut next: Outs = Vec::new();
            match stmt {
                Stmt::Let { pat, init, els } => {
                    pat_binds(pat, &mut declared);
                    for st in states {
                        match init {
                            None => {
                                let mut st = st;
                                self.bind(&mut st, pat, UNKNOWN);
                                next.push((st, Val::Lit(UNIT, true)));
                            }
                            Some(e) => {
                                for (st, v) in self.eval(e, st) {
                                    if let Some(els) = els {
                                        let (c, excl) = self.pat_classes(pat);
                                        if let Some(mut m) = st.clone().restrict(v, c) {
                                            self.bind(&mut m, pat, v);
                                            next.push((m, Val::Lit(UNIT, true)));
                                        }
                                        let miss = if excl {
                                            st.restrict(v, ALL & !c)
                                        } else {
                                            Some(st)
                                        };
                                        if let Some(miss) = miss {
                                            // The else block must diverge; whatever falls out is dropped.
                                            self.block(els, vec![miss]);
                                        }
                                    } else {
                                        if *pat == Pat::Wild {
                                            self.discarded(v);
                                        }
                                        let mut st = st;
                                        self.bind(&mut st, pat, v);
                                        next.push((st, Val::Lit(UNIT, true)));
                                    }
                                }
                            }
                        }
                    }
                }
                Stmt::Expr { expr, semi } => {
                    let last = i + 1 == n && !semi;
                    for st in states {
                        for (st, v) in self.eval(expr, st) {
                            if !last {
                                self.discarded(v);
                            }
                            next.push((st, if last { v } else { Val::Lit(UNIT, true) }));
                        }
                    }
                }
            }
            cur = self.normalize(next);
        }
        // Bindings made in this block go out of scope.
        if !declared.is_empty() {
            for (st, _) in cur.iter_mut() {
                for d in &declared {
                    // Only a state that still binds it writes (and so copies) its names.
                    if st.vars.contains_key(d) {
                        st.vars.remove(d);
                    }
                }
            }
        }
        cur
    }

    /// Bounds the paths one side of a condition leaves: a chain of `||` would otherwise
    /// leave one path per term, each a copy of the state. Equal paths are merged; past the
    /// bound the rest are dropped, and the run says so.
    fn bound(&mut self, states: Vec<State>) -> Vec<State> {
        // Each of these paths was a copy of a state: large states make forking costly, so
        // the copies count against the budget (one step per `COPY_STEP` entries).
        let copied: usize = states.iter().map(State::weight).sum();
        if !self.charge(copied / COPY_STEP) {
            return Vec::new();
        }
        if states.len() <= MAX_STATES {
            return states;
        }
        let mut out = states;
        dedup_keep_first(&mut out);
        if out.len() > MAX_STATES {
            out.truncate(MAX_STATES);
            self.run.paths_dropped = true;
        }
        out
    }

    /// Dedups paths, forgets dead value facts, and bounds the number of paths.
    fn normalize(&mut self, outs: Outs) -> Outs {
        let copied: usize = outs.iter().map(|(s, _)| s.weight()).sum();
        if !self.charge(copied / COPY_STEP) {
            return Vec::new();
        }
        let mut out = outs;
        for (st, v) in out.iter_mut() {
            if let Val::Sym(id) = *v {
                // Keep the facts of the value being passed on.
                let c = st.classes(*v);
                st.gc();
                if st.vals.get(&id) != Some(&c) {
                    st.vals.insert(id, c);
                }
            } else {
                st.gc();
            }
        }
        dedup_keep_first(&mut out);
        if out.len() > MAX_STATES {
            // Give up value precision first, then paths.
            for (st, _) in out.iter_mut() {
                // A new empty map: clearing a shared one would copy it first.
                st.vals = Shared::default();
            }
            dedup_keep_first(&mut out);
            if out.len() > MAX_STATES {
                out.truncate(MAX_STATES);
                self.run.paths_dropped = true;
            }
        }
        out
    }

    /// `if .. else if .. else ..`, one `else if` after another in a loop: as a recursion, a
    /// ladder of N arms is N nested evaluations, each holding a stack frame until the last
    /// returns (about 5 KB each: 500 MB for 100,000 arms). Each arm costs the step the nested
    /// evaluation would have.
    fn if_chain(&mut self, e: &Expr, st: State) -> Outs {
        let mut out = Vec::new();
        let mut states = vec![st];
        let mut cur = e;
        loop {
            let Expr::If {
                cond, then, els, ..
            } = cur
            else {
                for st in states {
                    out.extend(self.eval(cur, st));
                }
                break;
            };
            let mut rest = Vec::new();
            for st in states {
                let (t, f) = self.cond(cond, st);
                out.extend(self.block(then, t));
                rest.extend(f);
            }
            match els.as_deref() {
                Some(next @ Expr::If { .. }) => {
                    if !self.tick() {
                        break;
                    }
                    states = rest;
                    cur = next;
                }
                Some(other) => {
                    for st in rest {
                        out.extend(self.eval(other, st));
                    }
                    break;
                }
                None => {
                    out.extend(rest.into_iter().map(|s| (s, Val::Lit(UNIT, true))));
                    break;
                }
            }
        }
        self.join(out)
    }

    /// Where the branches of an `if` or `match` meet: equal paths become one (nothing is lost:
    /// they are the same path), and past `MAX_STATES` the paths are bounded as at a statement.
    /// Without it an else-if ladder of N arms hands N paths up through N levels of nesting
    /// before the statement ends: N^2 paths moved for one statement.
    fn join(&mut self, mut outs: Outs) -> Outs {
        if outs.len() < 2 {
            return outs;
        }
        dedup_keep_first(&mut outs);
        if outs.len() > MAX_STATES {
            self.normalize(outs)
        } else {
            outs
        }
    }

    fn bind(&mut self, st: &mut State, pat: &Pat, v: Val) {
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
            Pat::Wild => {}
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

    /// The classes a pattern matches, and whether it matches every value of them.
    fn pat_classes(&self, pat: &Pat) -> (ClassSet, bool) {
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
                    _ => (ALL, false),
                }
            }
            Pat::Path(p) => match p.last().map(String::as_str) {
                Some("None") => (NONE, true),
                Some("INVALID_SOCKET") => (INVALID, true),
                Some("SOCKET_ERROR") => (NONZERO, true),
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

    fn eval_all(&mut self, es: &[Expr], st: State) -> Vec<(State, Vec<Val>)> {
        let mut cur = vec![(st, Vec::new())];
        for e in es {
            let mut next = Vec::new();
            for (st, vals) in cur {
                for (st, v) in self.eval(e, st) {
                    let mut vals = vals.clone();
                    vals.push(v);
                    next.push((st, vals));
                }
            }
            cur = next;
            if cur.len() > MAX_STATES {
                cur.truncate(MAX_STATES);
                self.run.paths_dropped = true;
            }
        }
        cur
    }

    fn eval(&mut self, e: &Expr, st: State) -> Outs {
        // Deeply nested input: grow the stack instead of overflowing it.
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.eval_inner(e, st))
    }

    fn eval_inner(&mut self, e: &Expr, st: State) -> Outs {
        if !self.tick() {
            return Vec::new();
        }
        match e {
            Expr::Lit { lit, .. } => vec![(st, lit_val(lit))],
            Expr::Path { segs, .. } => vec![self.path_val(segs, st)],
            Expr::Field { .. } => {
                let key = e.place_key();
                match key {
                    Some(k) => {
                        let mut st = st;
                        let id = self.place(&mut st, &k);
                        vec![(st, Val::Sym(id))]
                    }
                    None => vec![(st, UNKNOWN)],
                }
            }
            Expr::Unary { op: UnOp::Not, .. }
            | Expr::Binary {
                op:
                    BinOp::Eq
                    | BinOp::Ne
                    | BinOp::Lt
                    | BinOp::Le
                    | BinOp::Gt
                    | BinOp::Ge
                    | BinOp::And
                    | BinOp::Or,
                ..
            }
            | Expr::Let { .. } => self.cond_value(e, st),
            Expr::Unary { expr, .. } => self.eval(expr, st),
            Expr::Cast { expr, .. } => self.eval(expr, st),
            Expr::Binary { lhs, rhs, .. } => self
                .eval_all(std::slice::from_ref(&**lhs), st)
                .into_iter()
                .flat_map(|(st, _)| self.eval(rhs, st))
                .map(|(st, _)| (st, UNKNOWN))
                .collect(),
            Expr::Assign { lhs, rhs, .. } => {
                let mut out = Vec::new();
                for (mut st, v) in self.eval(rhs, st) {
                    if let Some(key) = lhs.place_key() {
                        let id = match v {
                            Val::Sym(id) => id,
                            Val::Lit(c, _) => {
                                let id = self.named(&format!("{key}#assigned"));
                                st.forget(id);
                                st.vals.insert(id, c);
                                id
                            }
                        };
                        st.set_var(&key, id);
                    }
                    out.push((st, Val::Lit(UNIT, true)));
                }
                out
            }
            Expr::If { .. } => self.if_chain(e, st),
            Expr::Match { expr, arms, .. } => {
                let mut out = Vec::new();
                for (st, v) in self.eval(expr, st) {
                    let mut rest = Some(st);
                    for arm in arms {
                        // The path the later arms see is this one unless this arm rules
                        // values out: it is moved on, not copied once more.
                        let Some(cur) = rest.take() else { break };
                        let (c, excl) = self.pat_classes(&arm.pat);
                        if let Some(mut m) = cur.clone().restrict(v, c) {
                            self.bind(&mut m, &arm.pat, v);
                            let bodies = match &arm.guard {
                                Some(g) => self.cond(g, m).0,
                                None => vec![m],
                            };
                            for b in bodies {
                                out.extend(self.eval(&arm.body, b));
                            }
                        }
                        rest = if excl && arm.guard.is_none() {
                            cur.restrict(v, ALL & !c)
                        } else {
                            Some(cur)
                        };
                    }
                }
                self.join(out)
            }
            Expr::Block { block, label, .. } => {
                if let Some(l) = label {
                    self.loops.push(LoopCtx {
                        label: Some(l.clone()),
                        is_block: true,
                        breaks: Vec::new(),
                        continues: Vec::new(),
                    });
                    let mut out = self.block(block, vec![st]);
                    let ctx = self.loops.pop().expect("pushed above");
                    out.extend(ctx.breaks);
                    out
                } else {
                    self.block(block, vec![st])
                }
            }
            Expr::Loop { label, body, .. } => self.run_loop(label, LoopHead::None, body, vec![st]),
            Expr::While {
                label, cond, body, ..
            } => self.run_loop(label, LoopHead::While(cond), body, vec![st]),
            Expr::For {
                label,
                pat,
                iter,
                body,
                ..
            } => {
                let mut out = Vec::new();
                for (st, _) in self.eval(iter, st) {
                    out.extend(self.run_loop(label, LoopHead::Each(pat), body, vec![st.clone()]));
                    // Zero iterations.
                    out.push((st, Val::Lit(UNIT, true)));
                }
                out
            }
            Expr::Break { label, expr, .. } => {
                let outs = match expr {
                    Some(e) => self.eval(e, st),
                    None => vec![(st, Val::Lit(UNIT, true))],
                };
                if let Some(ctx) = self.loop_ctx(label.as_deref()) {
                    ctx.breaks.extend(outs);
                }
                Vec::new()
            }
            Expr::Continue { label, .. } => {
                if let Some(ctx) = self.loop_ctx(label.as_deref()) {
                    ctx.continues.push(st);
                }
                Vec::new()
            }
            Expr::Return { expr, span } => {
                let outs = match expr {
                    Some(e) => self.eval(e, st),
                    None => vec![(st, Val::Lit(UNIT, true))],
                };
                for (st, v) in outs {
                    self.exit(st, ExitKind::Return, *span, v);
                }
                Vec::new()
            }
            Expr::Try { expr, span } => {
                let mut out = Vec::new();
                for (st, v) in self.eval(expr, st) {
                    self.question(st, v, *span, &mut out);
                }
                out
            }
            Expr::Closure { index, span } => {
                let mut st = st;
                let v = self.closure(&mut st, *index, *span);
                vec![(st, v)]
            }
            // The same guard as `cond_inner`'s: a `matches!` it does not take (a pattern that did
            // not parse) comes back here as a value, and would go round until the step limit.
            Expr::Macro { path, args, .. }
                if path.last().map(String::as_str) == Some("matches") && args.len() >= 2 =>
            {
                self.cond_value(e, st)
            }
            Expr::Method { name, args, .. }
                if args.is_empty()
                    && matches!(name.as_str(), "is_ok" | "is_err" | "is_some" | "is_none") =>
            {
                self.cond_value(e, st)
            }
            Expr::Macro { path, args, span } => self.mac(path, args, *span, st),
            Expr::Struct { path, fields, span } => {
                let mut out = Vec::new();
                for (mut st, _) in self.eval_all(fields, st) {
                    let v = self.construct(&mut st, path.last().map(String::as_str), *span);
                    out.push((st, v));
                }
                out
            }
            Expr::Seq { exprs, .. } => self
                .eval_all(exprs, st)
                .into_iter()
                .map(|(st, _)| (st, UNKNOWN))
                .collect(),
            Expr::Call { func, args, span } => self.call(func, args, *span, st),
            Expr::Method {
                recv,
                name,
                args,
                span,
            } => self.method(recv, name, args, *span, st),
            Expr::Other { .. } => vec![(st, UNKNOWN)],
        }
    }

    fn question(&mut self, st: State, v: Val, span: Span, out: &mut Outs) {
        let fail = ERR | NONE;
        if let Some(e) = st.clone().restrict(v, fail) {
            let c = e.classes(v) & fail;
            let cls = if c == 0 { ERR } else { c };
            self.exit(e, ExitKind::Question, span, Val::Lit(cls, false));
        }
        if let Some(ok) = st.restrict(v, ALL & !fail) {
            out.push((ok, v));
        }
    }

    fn loop_ctx(&mut self, label: Option<&str>) -> Option<&mut LoopCtx> {
        match label {
            Some(l) => self
                .loops
                .iter_mut()
                .rev()
                .find(|c| c.label.as_deref() == Some(l)),
            None => self.loops.iter_mut().rev().find(|c| !c.is_block),
        }
    }

    fn run_loop(
        &mut self,
        label: &Option<String>,
        head: LoopHead<'_>,
        body: &Block,
        entry: Vec<State>,
    ) -> Outs {
        self.loops.push(LoopCtx {
            label: label.clone(),
            is_block: false,
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        let mut seen: BTreeSet<State> = BTreeSet::new();
        let mut frontier = entry;
        let mut exits: Outs = Vec::new();
        for _ in 0..MAX_LOOP_ROUNDS {
            frontier.retain(|s| seen.insert(s.clone()));
            if frontier.is_empty() {
                break;
            }
            let into_body = match head {
                LoopHead::While(c) => {
                    let mut t_all = Vec::new();
                    for st in frontier {
                        let (t, f) = self.cond(c, st);
                        t_all.extend(t);
                        exits.extend(f.into_iter().map(|s| (s, Val::Lit(UNIT, true))));
                    }
                    t_all
                }
                // Each iteration binds a new item: facts about the previous one do not carry over.
                LoopHead::Each(pat) => frontier
                    .into_iter()
                    .map(|mut st| {
                        self.bind(&mut st, pat, UNKNOWN);
                        st
                    })
                    .collect(),
                LoopHead::None => frontier,
            };
            let after = self.block(body, into_body);
            let ctx = self.loops.last_mut().expect("pushed above");
            let mut next: Vec<State> = std::mem::take(&mut ctx.continues);
            next.extend(after.into_iter().map(|(s, _)| s));
            frontier = self
                .normalize(
                    next.into_iter()
                        .map(|s| (s, Val::Lit(UNIT, true)))
                        .collect(),
                )
                .into_iter()
                .map(|(s, _)| s)
                .collect();
        }
        let ctx = self.loops.pop().expect("pushed above");
        exits.extend(ctx.breaks);
        self.normalize(exits)
    }

    /// A condition's outcome as a value: forks into a `true` and a `false` path.
    fn cond_value(&mut self, e: &Expr, st: State) -> Outs {
        let (t, f) = self.cond(e, st);
        t.into_iter()
            .map(|s| (s, Val::Lit(TRUE, true)))
            .chain(f.into_iter().map(|s| (s, Val::Lit(FALSE, true))))
            .collect()
    }

    /// Splits paths by a boolean condition, narrowing the values it tests.
    fn cond(&mut self, e: &Expr, st: State) -> (Vec<State>, Vec<State>) {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.cond_inner(e, st))
    }

    fn cond_inner(&mut self, e: &Expr, st: State) -> (Vec<State>, Vec<State>) {
        if !self.tick() {
            return (Vec::new(), Vec::new());
        }
        match e {
            Expr::Unary {
                op: UnOp::Not,
                expr,
                ..
            } => {
                let (t, f) = self.cond(expr, st);
                (f, t)
            }
            Expr::Binary {
                op: BinOp::And,
                lhs,
                rhs,
                ..
            } => {
                let (t1, mut f) = self.cond(lhs, st);
                let mut t = Vec::new();
                for s in t1 {
                    let (t2, f2) = self.cond(rhs, s);
                    t.extend(t2);
                    f.extend(f2);
                }
                (self.bound(t), self.bound(f))
            }
            Expr::Binary {
                op: BinOp::Or,
                lhs,
                rhs,
                ..
            } => {
                let (mut t, f1) = self.cond(lhs, st);
                let mut f = Vec::new();
                for s in f1 {
                    let (t2, f2) = self.cond(rhs, s);
                    t.extend(t2);
                    f.extend(f2);
                }
                (self.bound(t), self.bound(f))
            }
            Expr::Binary { op, lhs, rhs, .. } if *op != BinOp::Other => {
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, a) in self.eval(lhs, st) {
                    for (st, b) in self.eval(rhs, st) {
                        let (tt, ff) = compare(st, *op, a, b);
                        t.extend(tt);
                        f.extend(ff);
                    }
                }
                (t, f)
            }
            Expr::Let { pat, expr, .. } => {
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, v) in self.eval(expr, st) {
                    let (c, excl) = self.pat_classes(pat);
                    if let Some(mut m) = st.clone().restrict(v, c) {
                        self.bind(&mut m, pat, v);
                        t.push(m);
                    }
                    let miss = if excl {
                        st.restrict(v, ALL & !c)
                    } else {
                        Some(st)
                    };
                    f.extend(miss);
                }
                (t, f)
            }
            Expr::Lit {
                lit: Lit::Bool(b), ..
            } => {
                if *b {
                    (vec![st], Vec::new())
                } else {
                    (Vec::new(), vec![st])
                }
            }
            Expr::Method {
                recv, name, args, ..
            } if args.is_empty()
                && matches!(name.as_str(), "is_ok" | "is_err" | "is_some" | "is_none") =>
            {
                let want = match name.as_str() {
                    "is_ok" => OK,
                    "is_err" => ERR,
                    "is_some" => SOME,
                    _ => NONE,
                };
                let other = match name.as_str() {
                    "is_ok" | "is_err" => (OK | ERR) & !want,
                    _ => (SOME | NONE) & !want,
                };
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, v) in self.eval(recv, st) {
                    t.extend(st.clone().restrict(v, want));
                    f.extend(st.restrict(v, ALL & !want | other));
                }
                (t, f)
            }
            Expr::Macro { path, args, .. }
                if path.last().map(String::as_str) == Some("matches") && args.len() >= 2 =>
            {
                // `matches!(x, PAT)`: the pattern was parsed as an expression; read literals and paths.
                let pat = expr_as_pat(&args[1]);
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, v) in self.eval(&args[0], st) {
                    let (c, excl) = self.pat_classes(&pat);
                    t.extend(st.clone().restrict(v, c));
                    f.extend(if excl {
                        st.restrict(v, ALL & !c)
                    } else {
                        Some(st)
                    });
                }
                (t, f)
            }
            other => {
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, v) in self.eval(other, st) {
                    t.extend(st.clone().restrict(v, TRUE | ALL & !(FALSE)));
                    f.extend(st.restrict(v, FALSE | ALL & !(TRUE)));
                }
                (t, f)
            }
        }
    }
}

impl Interp<'_, '_, '_> {
    fn path_val(&mut self, segs: &[String], mut st: State) -> (State, Val) {
        let Some(last) = segs.last() else {
            return (st, UNKNOWN);
        };
        if let Some(v) = const_val(last) {
            return (st, v);
        }
        if segs.len() == 1 {
            let id = self.place(&mut st, last);
            return (st, Val::Sym(id));
        }
        (st, UNKNOWN)
    }

    /// The value living in a variable or field; a place seen for the first time gets a fresh value.
    fn place(&mut self, st: &mut State, key: &str) -> ValId {
        if let Some(id) = st.vars.get(key) {
            return *id;
        }
        let id = self.named(key);
        st.vars.insert(key.to_string(), id);
        id
    }

    /// The socket held in the place `arg` names, created as foreign on first sight.
    fn sock_of(&mut self, st: &mut State, arg: Option<&Expr>) -> Option<ValId> {
        let key = arg?.place_key()?;
        let id = self.place(st, &key);
        // On the path where creating it failed, the variable holds INVALID_SOCKET: no socket.
        if st.socks.contains_key(&id) {
            return Some(id);
        }
        if st.vals.get(&id) == Some(&INVALID) {
            return None;
        }
        st.socks.insert(
            id,
            Sock {
                kind: SockKind::Unknown,
                origin: Origin::Foreign(key),
                connected: None,
                shut: false,
                closed: None,
            },
        );
        Some(id)
    }

    fn is_guard_type(&self, name: Option<&str>) -> bool {
        let name = match name {
            Some("Self") => self.unit.ctx().impl_ty.as_deref(),
            n => n,
        };
        name.is_some_and(|n| self.cx.guard_types.contains(n))
    }

    /// A value of a crate type is built; a guard type takes over one held reference.
    fn construct(&mut self, st: &mut State, name: Option<&str>, span: Span) -> Val {
        if self.is_guard_type(name) {
            if let Some(tok) = st.held.pop() {
                let id = val_of_span(span);
                st.guards.insert(id, tok.site);
                st.vals.insert(id, OTHER);
                return Val::Sym(id);
            }
        }
        Val::Lit(OTHER, false)
    }

    /// A value thrown away: if it is a `WSAStartup` result, nobody can know whether a cleanup is owed.
    fn discarded(&mut self, v: Val) {
        if let Val::Sym(id) = v {
            if let Some(span) = self.startup_vals.get(&id) {
                self.run.unchecked_startups.insert(*span);
            }
        }
    }

    /// A closure that calls `WSACleanup` (a scope guard's, an `on_exit` callback) takes over one held
    /// reference, as a guard value does: whoever runs it later releases that reference.
    fn closure(&mut self, st: &mut State, index: usize, span: Span) -> Val {
        let owner = self.unit.ctx().id;
        let releases = self
            .cx
            .graph
            .closure_units
            .get(&(owner, index))
            .and_then(|u| self.cx.summaries.get(u))
            .is_some_and(|s| s.outcomes.iter().any(|o| !o.releases.is_empty()));
        if releases {
            if let Some(tok) = st.held.pop() {
                let id = val_of_span(span);
                st.guards.insert(id, tok.site);
                st.vals.insert(id, OTHER);
                return Val::Sym(id);
            }
        }
        Val::Lit(OTHER, false)
    }

    /// `WSACleanup` (directly, or inside a callee): releases a held reference, or the caller's.
    fn release(&mut self, st: &mut State, here: Span, cleanup: Span, chain: Chain) {
        if !st.held.is_empty() || !st.own {
            for sock in st.socks.values() {
                if let (Origin::Created(at) | Origin::Accepted(at), None) =
                    (&sock.origin, sock.closed)
                {
                    self.run.cleanup_with_open.insert((here, *at));
                }
            }
        }
        if st.held.pop().is_some() {
            st.own = true;
            st.last_own = Some((here, OwnEvent::Cleanup));
            if st.held.is_empty() && st.released.is_empty() {
                st.final_cleanup = Some(here);
            }
        } else if st.own {
            self.run.unmatched.insert(UnmatchedEvent {
                cleanup,
                chain,
                previous: st.last_own,
            });
            st.last_own = Some((here, OwnEvent::Cleanup));
        } else {
            st.released.push(Release { cleanup, chain });
        }
    }

    fn call(&mut self, func: &Expr, args: &[Expr], span: Span, st: State) -> Outs {
        let target = self
            .unit
            .resolved
            .get(&span)
            .cloned()
            .unwrap_or(Target::Unknown(String::new()));
        let segs: &[String] = match func {
            Expr::Path { segs, .. } => segs,
            _ => &[],
        };
        let mut out = Vec::new();
        for (mut st, vals) in self.eval_all(args, st) {
            match &target {
                Target::Winsock(name) => self.winsock(name, args, span, st, &mut out),
                Target::Unit(u) => self.apply(*u, args, span, st, &mut out),
                Target::Ctor(n) => {
                    let v = match n.as_str() {
                        "Ok" => Val::Lit(OK, false),
                        "Err" => Val::Lit(ERR, false),
                        "Some" => Val::Lit(SOME, false),
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

    fn method(&mut self, recv: &Expr, name: &str, args: &[Expr], span: Span, st: State) -> Outs {
        let mut out = Vec::new();
        for (st, rv) in self.eval(recv, st) {
            for (st, _) in self.eval_all(args, st) {
                match name {
                    "unwrap" | "expect" | "unwrap_unchecked" => {
                        if let Some(ok) = st.restrict(rv, ALL & !(ERR | NONE)) {
                            out.push((ok, rv));
                        }
                    }
                    "map_err" | "context" | "with_context" | "map" | "inspect" | "inspect_err"
                    | "as_ref" | "as_mut" | "into" | "clone" | "copied" | "cloned" | "to_owned" => {
                        out.push((st, rv))
                    }
                    "ok" | "err" => {
                        let c = st.classes(rv);
                        let (on_ok, on_err) = if name == "ok" {
                            (SOME, NONE)
                        } else {
                            (NONE, SOME)
                        };
                        let mut n = c & !(OK | ERR);
                        if c & OK != 0 {
                            n |= on_ok;
                        }
                        if c & ERR != 0 {
                            n |= on_err;
                        }
                        let id = val_of_span(span);
                        let mut st = st;
                        st.vals.insert(id, n);
                        out.push((st, Val::Sym(id)));
                    }
                    _ => match self.unit.resolved.get(&span).cloned() {
                        Some(Target::Unit(u)) => self.apply(u, args, span, st, &mut out),
                        _ => out.push((st, Val::Sym(val_of_span(span)))),
                    },
                }
            }
        }
        out
    }

    /// Applies a crate function's summary at its call: one path per distinct outcome.
    fn apply(&mut self, u: UnitId, args: &[Expr], span: Span, st: State, out: &mut Outs) {
        let id = val_of_span(span);
        let Some(sum) = self.cx.summaries.get(&u) else {
            out.push((st, Val::Sym(id)));
            return;
        };
        let callee = self.cx.graph.unit(u).display();
        let acquirer = sum.outcomes.iter().any(|o| !o.acquires.is_empty());
        if let Some(cleanup) = st.final_cleanup {
            if !acquirer && self.cx.uses_winsock.contains(&u) {
                self.run.after_cleanup.insert(AfterCleanupEvent {
                    call: span,
                    name: callee.clone(),
                    cleanup,
                });
            }
        }
        for o in &sum.outcomes {
            let mut s = st.clone();
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
                    }
                }
            }
            if sum.returns_guard {
                s.guards.insert(id, span);
            }
            s.vals.insert(id, o.classes);
            out.push((s, Val::Sym(id)));
        }
    }

    fn winsock(&mut self, name: &str, args: &[Expr], span: Span, st: State, out: &mut Outs) {
        let id = val_of_span(span);
        let mut st = st;
        let failed_startup = st.startup_failed.take();
        let effect = crate::winsock::effect(name);
        if effect == Effect::ReadsLastError {
            if let Some(startup) = failed_startup {
                self.run.lasterror_after_startup.insert((span, startup));
            }
        }
        if let Some(cleanup) = st.final_cleanup {
            if crate::winsock::needs_init(name) {
                self.run.after_cleanup.insert(AfterCleanupEvent {
                    call: span,
                    name: name.to_string(),
                    cleanup,
                });
            }
        }
        if let Some(k) = crate::winsock::socket_arg(name) {
            if let Some(sid) = self.sock_of(&mut st, args.get(k)) {
                if let Some(closed) = st.socks.get(&sid).and_then(|s| s.closed) {
                    self.run.use_after_close.insert(UseAfterCloseEvent {
                        call: span,
                        name: name.to_string(),
                        closed,
                    });
                }
            }
        }
        // The socket the effects below act on, by the table.
        let sock_arg = args.get(crate::winsock::socket_arg(name).unwrap_or(0));
        match effect {
            Effect::Startup => {
                self.startup_vals.insert(id, span);
                if let Some(v) = args.first().and_then(version_arg) {
                    self.run.versions.insert((args[0].span(), v));
                }
                let mut ok = st.clone();
                ok.final_cleanup = None;
                ok.held.push(Token {
                    site: span,
                    chain: Chain::default(),
                });
                ok.own = true;
                ok.vals.insert(id, ZERO);
                out.push((ok, Val::Sym(id)));
                let mut fail = st;
                fail.own = true;
                fail.last_own = Some((span, OwnEvent::FailedStartup));
                fail.startup_failed = Some(span);
                fail.vals.insert(id, NONZERO);
                out.push((fail, Val::Sym(id)));
            }
            Effect::Cleanup => {
                self.release(&mut st, span, span, Chain::default());
                out.push((st, Val::Sym(id)));
            }
            Effect::Creates { type_arg } => {
                let written = args.get(usize::from(type_arg)).and_then(const_name);
                let kind = match written.as_deref().and_then(crate::winsock::socket_type) {
                    Some(SocketType::Stream) => SockKind::Stream,
                    Some(SocketType::Datagram) => SockKind::Datagram,
                    None => SockKind::Unknown,
                };
                new_socket(st, id, kind, Origin::Created(span), None, out);
            }
            Effect::Accepts => {
                new_socket(
                    st,
                    id,
                    SockKind::Stream,
                    Origin::Accepted(span),
                    Some(span),
                    out,
                );
            }
            Effect::Connects => {
                let mut ok = st.clone();
                if let Some(sid) = self.sock_of(&mut ok, sock_arg) {
                    if let Some(sock) = ok.socks.get_mut(&sid) {
                        if !matches!(sock.kind, SockKind::Datagram | SockKind::Listening) {
                            sock.connected = Some(span);
                        }
                    }
                }
                ok.vals.insert(id, ZERO);
                out.push((ok, Val::Sym(id)));
                let mut fail = st;
                fail.vals.insert(id, NONZERO);
                out.push((fail, Val::Sym(id)));
            }
            Effect::Listens => {
                let mut st = st;
                if let Some(sid) = self.sock_of(&mut st, sock_arg) {
                    if let Some(sock) = st.socks.get_mut(&sid) {
                        sock.kind = SockKind::Listening;
                    }
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::ShutsDown { how_arg } => {
                let mut st = st;
                let how = args.get(usize::from(how_arg)).and_then(const_name);
                let counts =
                    how.as_deref().and_then(crate::winsock::shutdown_how) != Some(How::Receive);
                if counts {
                    if let Some(sid) = self.sock_of(&mut st, sock_arg) {
                        if let Some(sock) = st.socks.get_mut(&sid) {
                            sock.shut = true;
                        }
                    }
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::Closes => {
                let mut st = st;
                if let Some(sid) = self.sock_of(&mut st, sock_arg) {
                    let evidence = &self.unit.evidence;
                    if let Some(sock) = st.socks.get_mut(&sid) {
                        let stream = !matches!(sock.kind, SockKind::Datagram | SockKind::Listening);
                        let connected = match (&sock.connected, &sock.origin) {
                            (Some(at), Origin::Accepted(_)) => Some((*at, ConnectedBy::Accept)),
                            (Some(at), _) => Some((*at, ConnectedBy::Connect)),
                            (None, Origin::Foreign(key)) => {
                                evidence.get(key).map(|at| (*at, ConnectedBy::Usage))
                            }
                            (None, _) => None,
                        };
                        let ev = self.run.closes.entry(span).or_insert(CloseEvent {
                            unshut_connected: None,
                        });
                        if stream && !sock.shut && ev.unshut_connected.is_none() {
                            ev.unshut_connected = connected;
                        }
                        sock.closed = Some(span);
                    }
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::ReadsLastError | Effect::None => out.push((st, Val::Sym(id))),
        }
    }

    fn mac(&mut self, path: &[String], args: &[Expr], span: Span, st: State) -> Outs {
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

/// Drops the later copies of equal items and keeps the first ones in their order: the bounds
/// that follow keep the first paths, so the order is part of the result. Indices are sorted,
/// not the items, so no state is cloned to be compared (a set of seen states would hold a
/// copy of each); equal neighbours in the sorted order are the duplicates.
fn dedup_keep_first<T: Ord>(items: &mut Vec<T>) {
    if items.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Unstable is enough: the index breaks ties, so the first of equal items sorts first.
    order.sort_unstable_by(|&a, &b| items[a].cmp(&items[b]).then(a.cmp(&b)));
    let mut keep = vec![true; items.len()];
    for w in order.windows(2) {
        if items[w[0]] == items[w[1]] {
            keep[w[1]] = false;
        }
    }
    let mut i = 0;
    items.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// A call that returns a new socket forks: a valid handle with its socket, or `INVALID_SOCKET`.
fn new_socket(
    st: State,
    id: ValId,
    kind: SockKind,
    origin: Origin,
    connected: Option<Span>,
    out: &mut Outs,
) {
    let mut ok = st.clone();
    ok.socks.insert(
        id,
        Sock {
            kind,
            origin,
            connected,
            shut: false,
            closed: None,
        },
    );
    ok.vals.insert(id, VALID);
    out.push((ok, Val::Sym(id)));
    let mut bad = st;
    bad.vals.insert(id, INVALID);
    out.push((bad, Val::Sym(id)));
}

/// Reads a `WSAStartup` version argument: `0x0202`, `MAKEWORD(2, 2)`, `2.2 as u16`, `WINSOCK_VERSION`.
fn version_arg(e: &Expr) -> Option<VersionArg> {
    match e {
        Expr::Lit {
            lit: Lit::Int(v), ..
        } => u16::try_from(*v).ok().map(VersionArg::Word),
        Expr::Cast { expr, ty, .. } => match &**expr {
            Expr::Lit {
                lit: Lit::Float(text),
                ..
            } => {
                let digits: String = text.chars().filter(|&c| c != '_').collect();
                let digits = digits
                    .strip_suffix("f32")
                    .or_else(|| digits.strip_suffix("f64"))
                    .unwrap_or(&digits);
                let value = digits.parse::<f64>().ok()?;
                Some(VersionArg::Float {
                    text: text.clone(),
                    ty: ty.clone(),
                    value: value as u16,
                })
            }
            inner => version_arg(inner),
        },
        Expr::Call { func, args, .. } => match (&**func, args.as_slice()) {
            (Expr::Path { segs, .. }, [a, b]) if segs.last().is_some_and(|s| s == "MAKEWORD") => {
                match (a, b) {
                    (
                        Expr::Lit {
                            lit: Lit::Int(lo), ..
                        },
                        Expr::Lit {
                            lit: Lit::Int(hi), ..
                        },
                    ) => {
                        let lo = u8::try_from(*lo).ok()?;
                        let hi = u8::try_from(*hi).ok()?;
                        Some(VersionArg::Word(u16::from(lo) | (u16::from(hi) << 8)))
                    }
                    _ => None,
                }
            }
            _ => None,
        },
        Expr::Path { segs, .. } if segs.last().is_some_and(|s| s == "WINSOCK_VERSION") => {
            Some(VersionArg::Word(0x0202))
        }
        _ => None,
    }
}

/// Constants whose value class is known by name.
fn const_val(name: &str) -> Option<Val> {
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

/// The constant an argument names: `SOCK_STREAM`, `SD_SEND.0`, `SOCK_STREAM as i32`, `i32::from(SD_BOTH)`, `1`.
fn const_name(e: &Expr) -> Option<String> {
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
fn compare(st: State, op: BinOp, a: Val, b: Val) -> (Option<State>, Option<State>) {
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

fn lit_val(l: &Lit) -> Val {
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
fn pat_binds(p: &Pat, out: &mut Vec<String>) {
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
fn expr_as_pat(e: &Expr) -> Pat {
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
        Expr::Binary {
            op: BinOp::Other, ..
        } => Pat::Other,
        _ => Pat::Other,
    }
}

/// The interpreter against the table: every function of `winsock::APIS` does what its row says,
/// and nothing the table does not say (the interpreter has no Winsock names of its own).
#[cfg(test)]
mod table_tests {
    use crate::winsock::{Effect, APIS};

    fn facts(body: &str) -> super::super::CrateFacts {
        let text = format!("use windows_sys::Win32::Networking::WinSock::*;\nfn main() {{ unsafe {{ {body} }} }}\n");
        let db = crate::source::SourceDb::default();
        let id = db.add("t.rs".into(), "t.rs".into(), text);
        let ir = crate::parse::parse(id, &db.get(id).text).expect("parses");
        let model = crate::resolve::CrateModel::build("t".into(), ir.items, &mut |_| None);
        super::super::analyze(&model)
    }

    /// A connected stream socket `s` from `accept`.
    const ACCEPTED: &str = "let s = accept(l, a, n);";

    #[test]
    fn each_effect_is_what_the_table_says() {
        for api in APIS {
            let n = api.name;
            let closes_unshut = |body: &str| !facts(body).closes_without_shutdown.is_empty();
            match api.effect {
                Effect::Startup => {
                    let f = facts(&format!("if {n}(0x202, p) != 0 {{ return; }}"));
                    assert_eq!(f.leaks.len(), 1, "{n}");
                }
                Effect::Cleanup => {
                    assert_eq!(facts(&format!("{n}();")).unmatched.len(), 1, "{n}");
                }
                Effect::ReadsLastError => {
                    let body = format!(
                        "if WSAStartup(0x202, p) != 0 {{ let e = {n}(); return; }} WSACleanup();"
                    );
                    assert_eq!(facts(&body).lasterror_after_startup.len(), 1, "{n}");
                }
                Effect::Creates { type_arg } => {
                    let args = |ty: &str| {
                        let mut a = vec!["0"; usize::from(type_arg).max(2) + 1];
                        a[usize::from(type_arg)] = ty;
                        a.join(", ")
                    };
                    let body = |ty: &str| {
                        format!(
                            "let s = {n}({}); if connect(s, a, l) == 0 {{ closesocket(s); }}",
                            args(ty)
                        )
                    };
                    assert!(closes_unshut(&body("SOCK_STREAM")), "{n}");
                    assert!(!closes_unshut(&body("SOCK_DGRAM")), "{n}");
                }
                Effect::Accepts => {
                    assert!(
                        closes_unshut(&format!("let s = {n}(l, a, n); closesocket(s);")),
                        "{n}"
                    );
                }
                Effect::Connects => {
                    let body = format!(
                        "let s = socket(2, SOCK_STREAM, 0); if {n}(s, a, l) == 0 {{ closesocket(s); }}"
                    );
                    assert!(closes_unshut(&body), "{n}");
                }
                Effect::Listens => {
                    let body = format!("{ACCEPTED} {n}(s, 5); closesocket(s);");
                    assert!(!closes_unshut(&body), "{n}");
                }
                Effect::ShutsDown { how_arg } => {
                    let body = |how: &str| {
                        let mut a = vec!["s"; usize::from(how_arg) + 1];
                        a[usize::from(how_arg)] = how;
                        format!("{ACCEPTED} {n}({}); closesocket(s);", a.join(", "))
                    };
                    assert!(!closes_unshut(&body("SD_SEND")), "{n}");
                    assert!(!closes_unshut(&body("SD_BOTH")), "{n}");
                    assert!(closes_unshut(&body("SD_RECEIVE")), "{n}");
                }
                Effect::Closes => {
                    assert!(closes_unshut(&format!("{ACCEPTED} {n}(s);")), "{n}");
                }
                Effect::None => {}
            }
        }
    }

    #[test]
    fn socket_arguments_and_init_are_what_the_table_says() {
        for api in APIS {
            let n = api.name;
            // After a close, a call on the socket is a use after close when the table names the
            // argument.
            let body = format!("{ACCEPTED} shutdown(s, SD_BOTH); closesocket(s); {n}(s, s, s);");
            let used = !facts(&body).use_after_close.is_empty();
            assert_eq!(used, api.socket_arg == Some(0), "{n}");
            if api.effect == Effect::Startup {
                continue;
            }
            let body = format!("if WSAStartup(0x202, p) != 0 {{ return; }} WSACleanup(); {n}(x);");
            let late = !facts(&body).winsock_after_cleanup.is_empty();
            assert_eq!(late, api.needs_init, "{n}");
        }
    }
}

//! Control flow: blocks, branches and their joins, loops, `?`, and conditions that split a
//! path into the states where they hold and those where they do not.

use super::*;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn block(&mut self, b: &Block, states: Vec<State>) -> Outs {
        let mut cur: Outs = states
            .into_iter()
            .map(|s| (s, Val::Lit(UNIT, true)))
            .collect();
        let mut declared: Vec<String> = Vec::new();
        let scope = b.close.lo;
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
                                self.scoped_bind(&mut st, pat, UNKNOWN, scope);
                                next.push((st, Val::Lit(UNIT, true)));
                            }
                            Some(e) => {
                                for (st, v) in self.eval(e, st) {
                                    if let Some(els) = els {
                                        let (c, _) = self.pat_classes(pat);
                                        if let Some(mut m) = st.clone().restrict(v, c) {
                                            self.scoped_bind(&mut m, pat, v, scope);
                                            next.push((m, Val::Lit(UNIT, true)));
                                        }
                                        let miss = self.pat_miss(st, pat, v);
                                        if let Some(miss) = miss {
                                            // The else block must diverge; whatever falls out is dropped.
                                            self.block(els, vec![miss]);
                                        }
                                    } else {
                                        if *pat == Pat::Wild {
                                            self.discarded(v);
                                        }
                                        let mut st = st;
                                        self.scoped_bind(&mut st, pat, v, scope);
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
        // Bindings made in this block go out of scope; a name they shadowed means again what
        // it meant before.
        if !declared.is_empty() {
            for (st, _) in cur.iter_mut() {
                close_bindings(st, &declared, scope);
            }
        }
        cur
    }

    /// Bounds the paths one side of a condition leaves: a chain of `||` would otherwise
    /// leave one path per term, each a copy of the state. Equal paths are merged; past the
    /// bound the rest are dropped, and the run says so.
    pub(super) fn bound(&mut self, states: Vec<State>) -> Vec<State> {
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
    pub(super) fn normalize(&mut self, outs: Outs) -> Outs {
        let copied: usize = outs.iter().map(|(s, _)| s.weight()).sum();
        if !self.charge(copied / COPY_STEP) {
            return Vec::new();
        }
        let mut out = outs;
        for (st, v) in out.iter_mut() {
            if let Val::Sym(id) = *v {
                // Keep the facts of the value being passed on.
                let c = st.classes(*v);
                st.gc_keeping(Some(id));
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
    pub(super) fn if_chain(&mut self, e: &Expr, st: State) -> Outs {
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
            let mut lets = Vec::new();
            let_scopes(cond, &mut lets);
            for st in states {
                let (t, f) = self.cond(cond, st);
                let mut then_out = self.block(then, t);
                // `if let` bindings live in the `then` block only.
                for (st, _) in then_out.iter_mut() {
                    for (names, scope) in &lets {
                        close_bindings(st, names, *scope);
                    }
                }
                out.extend(then_out);
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
    pub(super) fn join(&mut self, mut outs: Outs) -> Outs {
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

    pub(super) fn eval_all(&mut self, es: &[Expr], st: State) -> Vec<(State, Vec<Val>)> {
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

    pub(super) fn eval(&mut self, e: &Expr, st: State) -> Outs {
        // Deeply nested input: grow the stack instead of overflowing it.
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.eval_inner(e, st))
    }

    pub(super) fn eval_inner(&mut self, e: &Expr, st: State) -> Outs {
        if !self.tick() {
            return Vec::new();
        }
        match e {
            Expr::Lit { lit, .. } => vec![(st, lit_val(lit))],
            Expr::Path { segs, span } => vec![self.path_val(segs, *span, st)],
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
                        let (c, _) = self.pat_classes(&arm.pat);
                        if let Some(mut m) = cur.clone().restrict(v, c) {
                            let scope = arm.body.span().lo;
                            self.scoped_bind(&mut m, &arm.pat, v, scope);
                            let bodies = match &arm.guard {
                                Some(g) => self.cond(g, m).0,
                                None => vec![m],
                            };
                            let mut names = Vec::new();
                            pat_binds(&arm.pat, &mut names);
                            for b in bodies {
                                for (mut st, v) in self.eval(&arm.body, b) {
                                    close_bindings(&mut st, &names, scope);
                                    out.push((st, v));
                                }
                            }
                        }
                        rest = if arm.guard.is_none() {
                            self.pat_miss(cur, &arm.pat, v)
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
            Expr::Continue { label, span } => {
                if let Some(ctx) = self.loop_ctx(label.as_deref()) {
                    ctx.continues.push((st, *span));
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
            Expr::Call { .. } | Expr::Method { .. } if self.eq_parts(e).is_some() => {
                self.cond_value(e, st)
            }
            Expr::Macro { path, args, span } => self.mac(path, args, *span, st),
            // A tuple: its elements are kept, for a pattern that takes it apart.
            Expr::Struct { path, fields, span } if path.is_empty() => {
                let id = val_of_span(*span);
                let mut out = Vec::new();
                for (mut st, vals) in self.eval_all(fields, st) {
                    st.forget(id);
                    st.parts.insert(id, vals);
                    out.push((st, Val::Sym(id)));
                }
                out
            }
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

    pub(super) fn question(&mut self, st: State, v: Val, span: Span, out: &mut Outs) {
        let fail = ERR | NONE;
        if let Some(e) = st.clone().restrict(v, fail) {
            let c = e.classes(v) & fail;
            let cls = if c == 0 { ERR } else { c };
            self.exit(e, ExitKind::Question, span, Val::Lit(cls, false));
        }
        if let Some(ok) = st.restrict(v, ALL & !fail) {
            // `x?` is the value inside the `Ok`/`Some`, when the path knows it.
            let inner = self.unwrapped(&ok, v);
            out.push((ok, inner));
        }
    }

    pub(super) fn loop_ctx(&mut self, label: Option<&str>) -> Option<&mut LoopCtx> {
        match label {
            Some(l) => self
                .loops
                .iter_mut()
                .rev()
                .find(|c| c.label.as_deref() == Some(l)),
            None => self.loops.iter_mut().rev().find(|c| !c.is_block),
        }
    }

    /// Runs a loop body round after round until no path is new. A path that starts another
    /// iteration still holding a reference taken by the iteration before (more than it held
    /// when that iteration began) leaks one reference per iteration: that is recorded, and the
    /// path goes on without it, so the rounds settle instead of growing by one each time. The
    /// check is made where the next iteration really starts (after a `while` condition), so a
    /// `while !started { .. }` that leaves once it holds one is not a leak.
    pub(super) fn run_loop(
        &mut self,
        label: &Option<String>,
        head: LoopHead<'_>,
        body: &Block,
        entry: Vec<State>,
    ) -> Outs {
        let mark = iteration_mark(self.loops.len());
        self.loops.push(LoopCtx {
            label: label.clone(),
            is_block: false,
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        // Names bound before the loop: any other is the body's own, gone when an iteration ends
        // (a `continue` leaves the blocks it is in without their ends unbinding what they bound).
        let outer: BTreeSet<String> = entry.iter().flat_map(|s| s.vars.keys().cloned()).collect();
        let mut seen: BTreeSet<State> = BTreeSet::new();
        // Each path with where the iteration that led to it ended (none on entry). Its mark
        // is the number of references it held before the iteration's head (a `while`
        // condition may take one that the body then gives back).
        let mut frontier: Vec<(State, Edge)> = entry
            .into_iter()
            .map(|mut s| {
                s.set_var(&mark, MARK_BIT | s.held.len() as ValId);
                (s, None)
            })
            .collect();
        let mut exits: Outs = Vec::new();
        // One more round than bodies run: the last only looks at what would start another.
        for round in 0..=MAX_LOOP_ROUNDS {
            let mut into_body: Vec<(State, Edge)> = Vec::new();
            for (st, end) in frontier {
                match head {
                    LoopHead::While(c) => {
                        let (t, f) = self.cond(c, st);
                        into_body.extend(t.into_iter().map(|s| (s, end)));
                        exits.extend(
                            f.into_iter()
                                .map(|s| (unmark(s, &mark), Val::Lit(UNIT, true))),
                        );
                    }
                    // Each iteration binds a new item: facts about the previous one do not carry
                    // over. After an iteration the items may also have run out.
                    LoopHead::Each(pat) => {
                        if end.is_some() {
                            exits.push((unmark(st.clone(), &mark), Val::Lit(UNIT, true)));
                        }
                        let mut st = st;
                        self.bind(&mut st, pat, UNKNOWN);
                        into_body.push((st, end));
                    }
                    LoopHead::None => into_body.push((st, end)),
                }
            }
            let mut starting = Vec::new();
            for (mut st, end) in into_body {
                if let Some((at, kind, held)) = end {
                    self.iteration_leaks(&mut st, &mark, held, at, kind);
                }
                if seen.insert(st.clone()) {
                    starting.push(st);
                }
            }
            if starting.is_empty() {
                break;
            }
            // Paths that would start another round after the last one are not followed: what
            // they would do is missing, so the run says so.
            if round == MAX_LOOP_ROUNDS {
                self.run.loop_unsettled = true;
                break;
            }
            let after = self.block(body, starting);
            let ctx = self.loops.last_mut().expect("pushed above");
            let continues = std::mem::take(&mut ctx.continues);
            let next: Vec<(State, Option<(Span, ExitKind)>)> = continues
                .into_iter()
                .map(|(s, at)| (s, Some((at, ExitKind::Continue))))
                .chain(
                    after
                        .into_iter()
                        .map(|(s, _)| (s, Some((body.close, ExitKind::NextIteration)))),
                )
                .collect();
            frontier = self.back_edge(next, &outer, &mark);
        }
        let ctx = self.loops.pop().expect("pushed above");
        exits.extend(ctx.breaks.into_iter().map(|(s, v)| (unmark(s, &mark), v)));
        self.normalize(exits)
    }

    /// References the iteration that ended at `at` took and still held there (`held` of them
    /// in all, the first `mark` from before it), as the next one starts: recorded, and taken
    /// off the path. A release pops the latest, so they are the last held then; what the
    /// next iteration's head took since is above them.
    fn iteration_leaks(
        &mut self,
        st: &mut State,
        mark: &str,
        held: usize,
        at: Span,
        kind: ExitKind,
    ) {
        let Some(&start) = st.vars.get(mark) else {
            return;
        };
        let start = (start & !MARK_BIT) as usize;
        let end = held.min(st.held.len());
        if end <= start {
            return;
        }
        for token in st.held.drain(start..end) {
            self.run
                .iteration_leaks
                .insert(IterationLeak { token, at, kind });
        }
    }

    /// `normalize` for the paths at a loop's back edge, each with where its iteration ended.
    /// Each path's mark becomes what it holds before the next head, unless the iteration
    /// took more than it began with: those are the next iteration's to report (`Edge`).
    fn back_edge(
        &mut self,
        paths: Vec<(State, Option<(Span, ExitKind)>)>,
        outer: &BTreeSet<String>,
        mark: &str,
    ) -> Vec<(State, Edge)> {
        let copied: usize = paths.iter().map(|(s, _)| s.weight()).sum();
        if !self.charge(copied / COPY_STEP) {
            return Vec::new();
        }
        let mut out = paths;
        for (st, _) in out.iter_mut() {
            let keep = |k: &String| outer.contains(k) || k == mark;
            // Only a state with a name of the body's writes (and so copies) its names.
            if !st.vars.keys().all(keep) {
                st.vars.retain(|k, _| keep(k));
            }
            st.gc();
        }
        let mut out: Vec<(State, Edge)> = out
            .into_iter()
            .map(|(mut st, end)| {
                let held = st.held.len();
                let start = st.vars.get(mark).map_or(held, |m| (m & !MARK_BIT) as usize);
                st.set_var(mark, MARK_BIT | start.min(held) as ValId);
                (st, end.map(|(at, kind)| (at, kind, held)))
            })
            .collect();
        dedup_keep_first(&mut out);
        if out.len() > MAX_STATES {
            for (st, _) in out.iter_mut() {
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

    /// A condition's outcome as a value: forks into a `true` and a `false` path.
    pub(super) fn cond_value(&mut self, e: &Expr, st: State) -> Outs {
        let (t, f) = self.cond(e, st);
        t.into_iter()
            .map(|s| (s, Val::Lit(TRUE, true)))
            .chain(f.into_iter().map(|s| (s, Val::Lit(FALSE, true))))
            .collect()
    }

    /// Splits paths by a boolean condition, narrowing the values it tests.
    pub(super) fn cond(&mut self, e: &Expr, st: State) -> (Vec<State>, Vec<State>) {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.cond_inner(e, st))
    }

    pub(super) fn cond_inner(&mut self, e: &Expr, st: State) -> (Vec<State>, Vec<State>) {
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
            Expr::Call { .. } | Expr::Method { .. } if self.eq_parts(e).is_some() => {
                let Some((op, lhs, rhs)) = self.eq_parts(e) else {
                    return (Vec::new(), Vec::new());
                };
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, a) in self.eval(lhs, st) {
                    for (st, b) in self.eval(rhs, st) {
                        let (tt, ff) = compare(st, op, a, b);
                        t.extend(tt);
                        f.extend(ff);
                    }
                }
                (t, f)
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
            Expr::Let { pat, expr, span } => {
                let mut t = Vec::new();
                let mut f = Vec::new();
                for (st, v) in self.eval(expr, st) {
                    let (c, _) = self.pat_classes(pat);
                    if let Some(mut m) = st.clone().restrict(v, c) {
                        self.scoped_bind(&mut m, pat, v, span.lo);
                        t.push(m);
                    }
                    f.extend(self.pat_miss(st, pat, v));
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
                    let (c, _) = self.pat_classes(&pat);
                    t.extend(st.clone().restrict(v, c));
                    f.extend(self.pat_miss(st, &pat, v));
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

/// Where the iteration before a path ended, and how many references the path held there.
type Edge = Option<(Span, ExitKind, usize)>;

/// Marks a loop's iteration mark value, so it is never taken for a value id that names facts.
const MARK_BIT: ValId = 1 << 62;

/// The name of the variable a path keeps, while inside the loop at `depth`, the number of
/// references it held when its current iteration began; no Rust name can spell it.
fn iteration_mark(depth: usize) -> String {
    format!("\u{0}iteration {depth}")
}

/// The path as it leaves the loop: its iteration mark goes, so it compares equal to the same
/// path that skipped the loop.
fn unmark(mut st: State, mark: &str) -> State {
    if st.vars.contains_key(mark) {
        st.vars.remove(mark);
    }
    st
}

/// The `let` patterns of a condition (`if let`, `&&` chains of them) and the scope each
/// opens, as `cond_inner` binds them.
fn let_scopes(e: &Expr, out: &mut Vec<(Vec<String>, u32)>) {
    match e {
        Expr::Let { pat, span, .. } => {
            let mut names = Vec::new();
            pat_binds(pat, &mut names);
            out.push((names, span.lo));
        }
        Expr::Binary {
            op: BinOp::And,
            lhs,
            rhs,
            ..
        } => {
            let_scopes(lhs, out);
            let_scopes(rhs, out);
        }
        _ => {}
    }
}

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    /// `a == b` spelled as a call: `a.eq(&b)`, `a.ne(&b)`, `PartialEq::eq(&a, &b)` (and
    /// `i32::eq`, `std::cmp::PartialEq::ne`), when no crate function of that name is meant.
    pub(super) fn eq_parts<'e>(&self, e: &'e Expr) -> Option<(BinOp, &'e Expr, &'e Expr)> {
        let op = |n: &str| match n {
            "eq" => Some(BinOp::Eq),
            "ne" => Some(BinOp::Ne),
            _ => None,
        };
        let not_ours = |span: Span| !matches!(self.target_at(span), Some(Target::Unit(_)));
        match e {
            Expr::Method {
                recv,
                name,
                args,
                span,
            } if args.len() == 1 && not_ours(*span) => Some((op(name)?, &**recv, &args[0])),
            Expr::Call { func, args, span } if args.len() == 2 && not_ours(*span) => {
                match &**func {
                    Expr::Path { segs, .. } if segs.len() >= 2 => {
                        Some((op(segs.last()?)?, &args[0], &args[1]))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Drops the later copies of equal items and keeps the first ones in their order: the bounds
/// that follow keep the first paths, so the order is part of the result. Indices are sorted,
/// not the items, so no state is cloned to be compared (a set of seen states would hold a
/// copy of each); equal neighbours in the sorted order are the duplicates.
pub(super) fn dedup_keep_first<T: Ord>(items: &mut Vec<T>) {
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

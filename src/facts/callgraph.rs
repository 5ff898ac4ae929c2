//! The crate's units (functions, methods, initialisers, closures), their call
//! sites resolved once, closure roles, socket evidence, and the bottom-up order.

use crate::ir::{Block, ClosureIr, Expr, Pat, Stmt};
use crate::resolve::{Callee, CrateModel, FnDef, FnId, FnKind, Local, Locals};
use crate::source::Span;
use crate::winsock::Trigger;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId(pub u32);

/// How a closure's body is run, judged by what it is passed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosureUse {
    /// `Once::call_once`, `OnceLock::get_or_init`, `LazyLock::new`, static initialisers: runs once for the process.
    ProcessLifetime,
    /// `thread::spawn`: the closure is the whole life of a thread.
    Thread,
    Other,
}

#[derive(Debug)]
pub enum UnitBody<'a> {
    Fn(&'a FnDef),
    Closure {
        owner: &'a FnDef,
        closure: &'a ClosureIr,
        index: usize,
    },
}

#[derive(Debug)]
pub struct Unit<'a> {
    pub id: UnitId,
    pub body: UnitBody<'a>,
    pub closure_use: ClosureUse,
    /// Calls this unit makes: (span of the call, what it reaches).
    pub sites: Vec<(Span, Target)>,
    /// Socket places used with send/recv/shutdown in this unit: evidence of a connected stream.
    pub evidence: HashMap<String, Span>,
    /// Resolution of every call and method call in the body, by the call's span.
    pub resolved: HashMap<Span, Target>,
    /// A call path whose resolution ran out of steps (read as an unknown call), if any.
    pub gave_up: Option<String>,
}

impl<'a> Unit<'a> {
    /// The function whose module and impl resolve names in this unit.
    pub fn ctx(&self) -> &'a FnDef {
        match self.body {
            UnitBody::Fn(f) => f,
            UnitBody::Closure { owner, .. } => owner,
        }
    }

    pub fn params(&self) -> &'a [String] {
        match self.body {
            UnitBody::Fn(f) => &f.ir.params,
            UnitBody::Closure { closure, .. } => &closure.params,
        }
    }

    pub fn closures(&self) -> &'a [ClosureIr] {
        &self.ctx().ir.closures
    }

    pub fn display(&self) -> String {
        match self.body {
            UnitBody::Fn(f) => format!("`{}`", f.display),
            UnitBody::Closure { owner, .. } => format!("a closure in `{}`", owner.display),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Winsock(String),
    Unit(UnitId),
    /// Constructor of `Ok`/`Err`/`Some` or of a crate type.
    Ctor(String),
    Unknown(String),
}

pub struct CallGraph<'a> {
    pub units: Vec<Unit<'a>>,
    pub fn_unit: HashMap<FnId, UnitId>,
    /// Units with at least one call site in the crate.
    pub called: HashSet<UnitId>,
    /// Functions named as values (`spawn(worker)`, callbacks): called from places we cannot see.
    pub referenced: HashSet<UnitId>,
    /// Method names called where the receiver's type was unknown and several crate methods match.
    pub ambiguous_methods: HashSet<String>,
    /// The unit of each closure, by (owning function, index in its body).
    pub closure_units: HashMap<(FnId, usize), UnitId>,
    /// Winsock's own function names (`WSAStartup`, `closesocket`) called through a path that
    /// resolves to nothing.
    pub unresolved_winsock: std::collections::BTreeSet<String>,
}

impl<'a> CallGraph<'a> {
    pub fn build(model: &'a CrateModel) -> CallGraph<'a> {
        let mut g = CallGraph {
            units: Vec::new(),
            fn_unit: HashMap::new(),
            called: HashSet::new(),
            referenced: HashSet::new(),
            ambiguous_methods: HashSet::new(),
            closure_units: HashMap::new(),
            unresolved_winsock: Default::default(),
        };
        for f in &model.fns {
            let id = UnitId(g.units.len() as u32);
            g.fn_unit.insert(f.id, id);
            g.units.push(Unit {
                id,
                body: UnitBody::Fn(f),
                closure_use: if f.kind == FnKind::StaticInit {
                    ClosureUse::ProcessLifetime
                } else {
                    ClosureUse::Other
                },
                sites: Vec::new(),
                evidence: HashMap::new(),
                resolved: HashMap::new(),
                gave_up: None,
            });
        }
        // Closures: one unit each, after the functions.
        let mut closure_unit: HashMap<(FnId, usize), UnitId> = HashMap::new();
        for f in &model.fns {
            for (i, c) in f.ir.closures.iter().enumerate() {
                let id = UnitId(g.units.len() as u32);
                closure_unit.insert((f.id, i), id);
                g.units.push(Unit {
                    id,
                    body: UnitBody::Closure {
                        owner: f,
                        closure: c,
                        index: i,
                    },
                    closure_use: if f.kind == FnKind::StaticInit {
                        ClosureUse::ProcessLifetime
                    } else {
                        ClosureUse::Other
                    },
                    sites: Vec::new(),
                    evidence: HashMap::new(),
                    resolved: HashMap::new(),
                    gave_up: None,
                });
            }
        }
        // What each closure sees of its owner's locals where it is written: a captured local
        // shadows items inside the closure too. Owners are walked before their closures.
        let mut captured: HashMap<UnitId, Locals> = HashMap::new();
        for ui in 0..g.units.len() {
            let mut w = Walker {
                model,
                ctx: g.units[ui].ctx(),
                fn_unit: &g.fn_unit,
                closure_unit: &closure_unit,
                sites: Vec::new(),
                evidence: HashMap::new(),
                resolved: HashMap::new(),
                closure_uses: Vec::new(),
                referenced: Vec::new(),
                ambiguous: Vec::new(),
                gave_up: None,
                locals: captured.remove(&UnitId(ui as u32)).unwrap_or_default(),
                captures: Vec::new(),
            };
            for p in g.units[ui].params() {
                w.locals.bind(p, None);
            }
            match g.units[ui].body {
                UnitBody::Fn(f) => w.block(&f.ir.body),
                UnitBody::Closure { closure, .. } => w.expr(&closure.body),
            }
            let Walker {
                sites,
                evidence,
                resolved,
                closure_uses,
                referenced,
                ambiguous,
                gave_up,
                captures,
                ..
            } = w;
            captured.extend(captures);
            for t in resolved.values() {
                // Only names that are Winsock's alone: an unresolved `send` is libc's as
                // often as not, and would have every file naming `send` read.
                if let Target::Unknown(name) = t {
                    let distinctive = crate::winsock::api(name)
                        .is_some_and(|a| matches!(a.trigger, Trigger::Always | Trigger::WsaPrefix));
                    if distinctive {
                        g.unresolved_winsock.insert(name.clone());
                    }
                }
            }
            for (_, t) in &sites {
                if let Target::Unit(u) = t {
                    g.called.insert(*u);
                }
            }
            g.referenced.extend(referenced);
            g.ambiguous_methods.extend(ambiguous);
            for (u, use_) in closure_uses {
                let cu = &mut g.units[u.0 as usize];
                if cu.closure_use == ClosureUse::Other {
                    cu.closure_use = use_;
                }
            }
            let unit = &mut g.units[ui];
            unit.sites = sites;
            unit.evidence = evidence;
            unit.resolved = resolved;
            unit.gave_up = gave_up;
        }
        g.closure_units = closure_unit;
        g
    }

    pub fn unit(&self, id: UnitId) -> &Unit<'a> {
        &self.units[id.0 as usize]
    }

    /// Strongly connected components, callees before callers (Tarjan, iterative).
    pub fn bottom_up(&self) -> Vec<Vec<UnitId>> {
        let n = self.units.len();
        let succ: Vec<Vec<usize>> = self
            .units
            .iter()
            .map(|u| {
                let mut v: Vec<usize> = u
                    .sites
                    .iter()
                    .filter_map(|(_, t)| match t {
                        Target::Unit(x) => Some(x.0 as usize),
                        _ => None,
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut out = Vec::new();
        let mut next = 0usize;
        for start in 0..n {
            if index[start] != usize::MAX {
                continue;
            }
            let mut work: Vec<(usize, usize)> = vec![(start, 0)];
            index[start] = next;
            low[start] = next;
            next += 1;
            stack.push(start);
            on_stack[start] = true;
            while let Some(&mut (v, ref mut i)) = work.last_mut() {
                if *i < succ[v].len() {
                    let w = succ[v][*i];
                    *i += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(p, _)) = work.last() {
                        low[p] = low[p].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(UnitId(w as u32));
                            if w == v {
                                break;
                            }
                        }
                        comp.sort();
                        out.push(comp);
                    }
                }
            }
        }
        out
    }

    /// For each call site in `from` and each Winsock function it reaches (directly or through
    /// callees), the shortest chain of calls down to it: the span of each call and the unit it
    /// is in. One walk over the callees per call site, whatever the number of functions reached.
    pub fn winsock_reached_from(
        &self,
        from: UnitId,
    ) -> Vec<(&'static crate::winsock::Api, Vec<(Span, UnitId)>)> {
        let mut out = Vec::new();
        for (span, t) in &self.unit(from).sites {
            match t {
                Target::Winsock(n) => {
                    if let Some(api) = crate::winsock::api(n) {
                        out.push((api, vec![(*span, from)]));
                    }
                }
                Target::Unit(u) => {
                    for (api, mut rest) in self.bfs(*u) {
                        rest.insert(0, (*span, from));
                        out.push((api, rest));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The first chain (in breadth-first order) from `start` to each Winsock function it reaches.
    fn bfs(&self, start: UnitId) -> Vec<(&'static crate::winsock::Api, Vec<(Span, UnitId)>)> {
        let mut prev: HashMap<UnitId, (UnitId, Span)> = HashMap::new();
        let mut seen = HashSet::from([start]);
        let mut found: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for (span, t) in &self.unit(u).sites {
                match t {
                    Target::Winsock(n) => {
                        let Some(api) = crate::winsock::api(n) else {
                            continue;
                        };
                        if !found.insert(api.name) {
                            continue;
                        }
                        let mut chain = vec![(*span, u)];
                        let mut cur = u;
                        while let Some(&(p, s)) = prev.get(&cur) {
                            chain.push((s, p));
                            cur = p;
                        }
                        chain.reverse();
                        out.push((api, chain));
                    }
                    Target::Unit(v) if seen.insert(*v) => {
                        prev.insert(*v, (u, *span));
                        queue.push_back(*v);
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

struct Walker<'m, 'a> {
    model: &'m CrateModel,
    ctx: &'a FnDef,
    fn_unit: &'m HashMap<FnId, UnitId>,
    closure_unit: &'m HashMap<(FnId, usize), UnitId>,
    sites: Vec<(Span, Target)>,
    evidence: HashMap<String, Span>,
    resolved: HashMap<Span, Target>,
    closure_uses: Vec<(UnitId, ClosureUse)>,
    referenced: Vec<UnitId>,
    ambiguous: Vec<String>,
    gave_up: Option<String>,
    /// Locals in scope where the walk is: they shadow items of their names.
    locals: Locals,
    /// The locals in scope at each closure written here.
    captures: Vec<(UnitId, Locals)>,
}

impl Walker<'_, '_> {
    fn target(&mut self, c: Callee) -> Target {
        match c {
            Callee::Winsock(n) => Target::Winsock(n),
            Callee::Crate(id) => self
                .fn_unit
                .get(&id)
                .map(|u| Target::Unit(*u))
                .unwrap_or(Target::Unknown(String::new())),
            Callee::Ctor(n) => Target::Ctor(n),
            Callee::Unknown(n) => Target::Unknown(n),
            Callee::GaveUp(path) => {
                let last = path.rsplit("::").next().unwrap_or("").to_string();
                self.gave_up.get_or_insert(path);
                Target::Unknown(last)
            }
        }
    }

    fn block(&mut self, b: &Block) {
        let mark = self.locals.mark();
        for s in &b.stmts {
            match s {
                Stmt::Let { pat, init, els } => {
                    if let Some(e) = init {
                        self.expr(e);
                    }
                    if let Some(b) = els {
                        self.block(b);
                    }
                    match (pat, init) {
                        (Pat::Ident(name, None), Some(Expr::Closure { index, .. })) => {
                            self.locals.bind(name, Some(*index))
                        }
                        _ => self.locals.bind_pat(pat),
                    }
                }
                Stmt::Expr { expr, .. } => self.expr(expr),
            }
        }
        self.locals.reset(mark);
    }

    /// A call of a local: the closure it was bound to, or a value we cannot follow.
    fn local_target(&self, segs: &[String]) -> Option<Target> {
        match self.locals.get(segs)? {
            Local::Closure(ix) => Some(self.closure_target(ix, &segs[0])),
            Local::Value => Some(Target::Unknown(segs[0].clone())),
        }
    }

    /// A call of closure `ix` of this body: its unit, or (with no unit) a call of `name`.
    fn closure_target(&self, ix: usize, name: &str) -> Target {
        self.closure_unit
            .get(&(self.ctx.id, ix))
            .map(|u| Target::Unit(*u))
            .unwrap_or_else(|| Target::Unknown(name.to_string()))
    }

    fn closure_args(&mut self, args: &[Expr], use_: ClosureUse) {
        for a in args {
            if let Expr::Closure { index, .. } = a {
                if let Some(u) = self.closure_unit.get(&(self.ctx.id, *index)) {
                    self.closure_uses.push((*u, use_));
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, || self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) {
        match e {
            Expr::Call { func, args, span } => {
                let t = match &**func {
                    // `(|res| res != 0)(rc)`, as a macro pasting a closure argument writes it.
                    Expr::Closure { index, .. } => {
                        self.expr(func);
                        self.closure_target(*index, "")
                    }
                    Expr::Path { segs, .. } if self.locals.get(segs).is_some() => self
                        .local_target(segs)
                        .unwrap_or(Target::Unknown(String::new())),
                    Expr::Path { segs, .. } => {
                        let callee = self.model.resolve_call(self.ctx, segs);
                        let t = self.target(callee);
                        let last = segs.last().map(String::as_str).unwrap_or("");
                        let owner = segs.len().checked_sub(2).map(|i| segs[i].as_str());
                        let use_ = match (owner, last) {
                            (Some("LazyLock" | "Lazy" | "LazyCell" | "OnceCell"), "new") => {
                                Some(ClosureUse::ProcessLifetime)
                            }
                            (_, "spawn" | "spawn_unchecked") => Some(ClosureUse::Thread),
                            _ => None,
                        };
                        if let Some(u) = use_ {
                            self.closure_args(args, u);
                        }
                        t
                    }
                    other => {
                        self.expr(other);
                        Target::Unknown(String::new())
                    }
                };
                if let Target::Winsock(name) = &t {
                    self.note_evidence(name, args);
                }
                self.resolved.insert(*span, t.clone());
                if matches!(t, Target::Unit(_) | Target::Winsock(_)) {
                    self.sites.push((*span, t));
                }
                for a in args {
                    self.expr(a);
                }
            }
            Expr::Method {
                recv,
                name,
                args,
                span,
            } => {
                let use_ = match name.as_str() {
                    "call_once" | "call_once_force" | "get_or_init" | "get_or_try_init"
                    | "get_or_insert_with" => Some(ClosureUse::ProcessLifetime),
                    "spawn" | "spawn_scoped" => Some(ClosureUse::Thread),
                    _ => None,
                };
                if let Some(u) = use_ {
                    self.closure_args(args, u);
                }
                let recv_is_self = matches!(&**recv, Expr::Path { segs, .. } if segs.len() == 1 && segs[0] == "self");
                let t = match self.model.resolve_method(self.ctx, recv_is_self, name) {
                    Some(id) => self.target(Callee::Crate(id)),
                    None => {
                        self.ambiguous.push(name.clone());
                        Target::Unknown(name.clone())
                    }
                };
                self.resolved.insert(*span, t.clone());
                if matches!(t, Target::Unit(_)) {
                    self.sites.push((*span, t));
                }
                self.expr(recv);
                for a in args {
                    self.expr(a);
                }
            }
            Expr::Path { segs, .. } if self.locals.get(segs).is_some() => {}
            Expr::Path { segs, .. } => {
                // A crate function named as a value: it may be called from anywhere.
                if let Callee::Crate(id) = self.model.resolve_call(self.ctx, segs) {
                    if let Some(u) = self.fn_unit.get(&id) {
                        self.referenced.push(*u);
                    }
                }
            }
            Expr::Closure { index, span } => {
                if let Some(u) = self.closure_unit.get(&(self.ctx.id, *index)) {
                    self.captures.push((*u, self.locals.clone()));
                    // The owner may run the closure: reachability (DllMain) follows it.
                    self.sites.push((*span, Target::Unit(*u)));
                }
            }
            Expr::Lit { .. } | Expr::Continue { .. } | Expr::Other { .. } => {}
            Expr::Unary { expr, .. } | Expr::Try { expr, .. } | Expr::Cast { expr, .. } => {
                self.expr(expr)
            }
            // Its names are bound in the branch it opens (`if let`, `while let`, `&&` chains):
            // the `if` and `while` below close that scope.
            Expr::Let { pat, expr, .. } => {
                self.expr(expr);
                self.locals.bind_pat(pat);
            }
            Expr::Field { base, .. } => self.expr(base),
            Expr::Binary { lhs, rhs, .. } | Expr::Assign { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::If {
                cond, then, els, ..
            } => {
                let mark = self.locals.mark();
                self.expr(cond);
                self.block(then);
                self.locals.reset(mark);
                if let Some(e) = els {
                    self.expr(e);
                }
            }
            Expr::Match { expr, arms, .. } => {
                self.expr(expr);
                for a in arms {
                    let mark = self.locals.mark();
                    self.locals.bind_pat(&a.pat);
                    if let Some(g) = &a.guard {
                        self.expr(g);
                    }
                    self.expr(&a.body);
                    self.locals.reset(mark);
                }
            }
            Expr::Block { block, .. } | Expr::Loop { body: block, .. } => self.block(block),
            Expr::While { cond, body, .. } => {
                let mark = self.locals.mark();
                self.expr(cond);
                self.block(body);
                self.locals.reset(mark);
            }
            Expr::For {
                pat, iter, body, ..
            } => {
                self.expr(iter);
                let mark = self.locals.mark();
                self.locals.bind_pat(pat);
                self.block(body);
                self.locals.reset(mark);
            }
            Expr::Break { expr, .. } | Expr::Return { expr, .. } => {
                if let Some(e) = expr {
                    self.expr(e);
                }
            }
            Expr::Macro { args, .. } | Expr::Seq { exprs: args, .. } => {
                for a in args {
                    self.expr(a);
                }
            }
            Expr::Struct { fields, .. } => {
                for f in fields {
                    self.expr(f);
                }
            }
        }
    }

    fn note_evidence(&mut self, name: &str, args: &[Expr]) {
        if crate::winsock::is_stream_io(name) {
            if let Some(key) = args.first().and_then(Expr::place_key) {
                let span = args[0].span();
                self.evidence.entry(key).or_insert(span);
            }
        }
    }
}

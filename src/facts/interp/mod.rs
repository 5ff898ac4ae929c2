//! Path-sensitive abstract interpretation of one unit's body.
//!
//! Walks the lowered body with a set of `State`s (one per distinct path),
//! forking at calls whose result decides what the path holds (`WSAStartup`,
//! `connect`, `socket`, crate functions with several outcomes) and pruning
//! forks that a later test rules out. Produces the unit's exits and, at each
//! Winsock call and release, what each distinct path knew there: facts in
//! Winsock's terms that lints query (`events`), deciding nothing a lint decides.
//!
//! Split by concern: `flow` (blocks, branches and joins, loops, `?`, conditions), `values`
//! (names, constants, comparisons, patterns), `calls` (crate functions through summaries,
//! methods, closures, guards, std/core semantics and macros) and `transfer` (what each
//! Winsock call does, from the table's `Effect`). This file holds the interpreter's state,
//! its budgets and the unit's entry and exits.

mod calls;
mod flow;
mod macros;
mod transfer;
mod values;

// The free helpers each concern keeps, where the others call them.
use values::{close_bindings, compare, const_name, expr_as_pat, lit_val, pat_binds, payload_of};

pub use super::events::{
    ApiRef, Before, CallFact, Callee, ConnectedBy, Discarded, ExitKind, Released, SocketFact,
    SocketKind, VersionArg,
};

use super::callgraph::{CallGraph, Target, Unit, UnitBody, UnitId};
use super::state::*;
use crate::ir::{BinOp, Block, Expr, Lit, Pat, Stmt, UnOp};
use crate::source::Span;
use crate::winsock::{Effect, How, SocketType};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Paths kept per program point before precision is given up.
pub(crate) const MAX_STATES: usize = 48;

/// State entries copied per step of the work budget.
const COPY_STEP: usize = 64;
/// Loop bodies are re-run until nothing new appears, at most this often.
pub(crate) const MAX_LOOP_ROUNDS: usize = 8;
/// Stack left before a recursive step moves to a fresh segment, and that segment's size.
pub(crate) const RED_ZONE: usize = 256 * 1024;
pub(crate) const STACK_GROWTH: usize = 8 * 1024 * 1024;

/// Work budget per unit (expression visits), so hostile input cannot hang the run; a unit
/// gets one more step per byte of its body, so that a long body that is merely long (a
/// generated ladder of 100,000 arms) is followed to its end, at a cost linear in its size.
pub(crate) const MAX_STEPS: usize = 400_000;

#[derive(Debug, Clone)]
pub struct Exit {
    pub state: State,
    pub kind: ExitKind,
    pub span: Span,
    pub classes: ClassSet,
    pub socket: Option<ReturnedSocket>,
}

/// A release as the interpreter sees it; `facts` turns the chain into the links lints show.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseSeen {
    pub at: Span,
    pub cleanup: Span,
    pub chain: Chain,
    pub released: Released,
    pub open_sockets: Vec<Span>,
    pub hidden_by: Option<Span>,
}

/// A reference taken in a loop iteration and still held when the next iteration starts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IterationLeak {
    pub token: Token,
    /// The `continue`, or the end of the body.
    pub at: Span,
    pub kind: ExitKind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForgetEvent {
    pub guard_site: Span,
    pub forgotten_at: Span,
}

/// What one run of a unit found: its exits (for its summary and the references that stop
/// with it) and what each path knew at each Winsock call and release. Names no lint.
#[derive(Debug, Default)]
pub struct UnitRun {
    pub exits: Vec<Exit>,
    /// Each Winsock call (and call of a crate function that uses Winsock) with what a path
    /// knew before it; one entry per distinct view.
    pub calls: BTreeSet<CallFact>,
    pub releases: BTreeSet<ReleaseSeen>,
    pub forgets: BTreeSet<ForgetEvent>,
    pub iteration_leaks: BTreeSet<IterationLeak>,
    /// Winsock calls whose value is thrown away.
    pub discarded: BTreeSet<Discarded>,
    /// The work budget ran out: the paths still open then were dropped, so what was recorded
    /// before is sound but the function's exits and summary are partial.
    pub truncated: bool,
    /// More paths met than are kept (`MAX_STATES`): some were dropped, so a finding that needs
    /// every path (a hand-off, a release) may be missing.
    pub paths_dropped: bool,
    /// A loop's paths still changed after `MAX_LOOP_ROUNDS` rounds: the rounds after were not
    /// followed.
    pub loop_unsettled: bool,
    /// The value ids of the parameters, in order.
    pub param_ids: Vec<ValId>,
    /// The work budget this unit had: `MAX_STEPS` plus the length of its body.
    pub budget: usize,
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
    /// Paths that start the next iteration at a `continue`, and where.
    continues: Vec<(State, Span)>,
}

pub struct Interp<'c, 'g, 'a> {
    /// The value of each Winsock call, to notice when it is thrown away.
    call_vals: HashMap<ValId, (Span, &'static crate::winsock::Api)>,
    cx: &'c Cx<'g, 'a>,
    unit: &'c Unit<'a>,
    returns_unit: bool,
    loops: Vec<LoopCtx>,
    run: UnitRun,
    names: HashMap<String, ValId>,
    steps: usize,
    /// Closure units whose bodies are being run in place (`cond.then(|| Guard)`): their calls
    /// were resolved in their own unit.
    inlined: Vec<UnitId>,
}

type Outs = Vec<(State, Val)>;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub fn run(cx: &'c Cx<'g, 'a>, unit: &'c Unit<'a>) -> UnitRun {
        let returns_unit = match unit.body {
            UnitBody::Fn(f) => f.ir.returns_unit,
            UnitBody::Closure { .. } => false,
        };
        let mut it = Interp {
            call_vals: HashMap::new(),
            cx,
            unit,
            returns_unit,
            loops: Vec::new(),
            run: UnitRun::default(),
            names: HashMap::new(),
            steps: 0,
            inlined: Vec::new(),
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
            self.exit(st, ExitKind::End, end, v);
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
        let socket = if self.returns_unit {
            None
        } else {
            ReturnedSocket::of(&st, v)
        };
        self.run.exits.push(Exit {
            socket,
            state: st,
            kind,
            span,
            classes,
        });
    }

    // ---- statements and blocks ----
}

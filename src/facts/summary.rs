//! From a unit's exits to (a) its summary for callers and (b) the leaks and
//! unmatched cleanups that stop with it.
//!
//! An obligation moves to the caller only when the caller can tell it owns one
//! (WINSOCK.md section 7): every exit whose return value looks the same holds
//! it too. Roots (main, DllMain, tests, thread bodies) hand nothing on.

use super::interp::{Callee, Exit, ExitKind, UnitRun};
use super::state::{Chain, ClassSet, Link, Outcome, Release, Step, Summary, Token, Val, ALL};
use crate::source::Span;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `fn main`: the process ends when it returns.
    Main,
    /// The exported `DllMain`.
    DllMain,
    /// A `#[test]` function.
    Test,
    /// The body of a spawned thread.
    Thread,
    /// Runs once for the process (`Once`, `OnceLock`, `LazyLock`, `lazy_static`, static initialisers):
    /// a reference it keeps is intentionally never released.
    ProcessLifetime,
    /// An ordinary function: hands obligations and releases to its callers.
    Transfer {
        /// Callable from outside the crate (or from places we cannot see: callbacks, trait objects).
        external: bool,
        /// Private and never called in the crate.
        uncalled_private: bool,
    },
}

impl Role {
    /// Holds what it gets: nothing is handed to a caller.
    pub fn is_root(self) -> bool {
        matches!(self, Role::Main | Role::Test | Role::Thread)
    }
}

#[derive(Clone, Debug)]
pub struct LeakExit {
    pub span: Span,
    pub kind: ExitKind,
}

/// A reference that stops with this unit on some exits.
#[derive(Clone, Debug)]
pub struct Leak {
    pub token: Token,
    pub exits: Vec<LeakExit>,
}

pub struct Finished {
    pub summary: Summary,
    pub leaks: Vec<Leak>,
    /// Releases of a caller's reference where no caller can hold one.
    pub orphan_releases: Vec<Release>,
    /// Handed to callers outside the crate: a leak unless the crate offers a way to release it.
    pub external_handoffs: Vec<Leak>,
    /// More distinct outcomes than `MAX_OUTCOMES`: the rest were merged into the last kept,
    /// so callers see fewer ways it can end than there are.
    pub outcomes_merged: bool,
}

pub(crate) const MAX_OUTCOMES: usize = 8;

pub fn finish(
    run: &UnitRun,
    role: Role,
    has_callers: bool,
    params: &[String],
    param_ids: &[u64],
    returns_guard: bool,
    display: &str,
) -> Finished {
    let mut leaks: BTreeMap<Token, Vec<LeakExit>> = BTreeMap::new();
    let mut handoffs: BTreeMap<Token, Vec<LeakExit>> = BTreeMap::new();
    let mut orphan_releases = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let param_classes = |e: &Exit| -> Vec<ClassSet> {
        let v: Vec<ClassSet> = param_ids
            .iter()
            .map(|id| e.state.classes(Val::Sym(*id)))
            .collect();
        if v.iter().all(|&c| c == ALL) {
            Vec::new()
        } else {
            v
        }
    };
    // Exits that tell the parameters apart the same way, and no more ways than the outcomes
    // kept: past that, what an outcome says of its parameters is dropped.
    let mut shapes: Vec<Vec<ClassSet>> = run.exits.iter().map(param_classes).collect();
    let mut distinct = shapes.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > MAX_OUTCOMES / 2 {
        shapes.iter_mut().for_each(Vec::clear);
    }
    for (e, params) in run.exits.iter().zip(shapes) {
        let mut acquires = Vec::new();
        for tok in &e.state.held {
            let leak = match role {
                // A DllMain that starts Winsock is reported by its own lint; what it keeps is not a leak too.
                Role::ProcessLifetime | Role::DllMain => continue,
                r if r.is_root() => true,
                _ => !consistent(&run.exits, e, tok),
            };
            let exit = LeakExit {
                span: e.span,
                kind: e.kind,
            };
            if leak {
                leaks.entry(tok.clone()).or_default().push(exit);
                continue;
            }
            if let Role::Transfer { external: true, .. } = role {
                if !has_callers {
                    handoffs.entry(tok.clone()).or_default().push(exit);
                }
            }
            // The callee's chain is shared, not copied: a chain through N wrappers stays N links.
            let link = Link {
                span: tok.site,
                unit: display.to_string(),
                step: if tok.chain.is_empty() {
                    Step::Takes
                } else {
                    Step::HandsOn
                },
                omitted: 0,
            };
            acquires.push(Chain::cons(link, &tok.chain));
        }
        let releases = match role {
            // An exported DllMain that cleans up releases its host's reference (badly: its own lint says so).
            Role::Transfer {
                uncalled_private: false,
                ..
            }
            | Role::DllMain => e.state.released.clone(),
            Role::ProcessLifetime => Vec::new(),
            _ => {
                orphan_releases.extend(e.state.released.iter().cloned());
                Vec::new()
            }
        };
        let hidden_by = e.state.hidden_by();
        match outcomes.iter_mut().find(|o| {
            o.acquires == acquires
                && o.releases == releases
                && o.params == params
                && o.socket == e.socket
        }) {
            Some(o) => {
                o.classes |= e.classes;
                o.hidden_by = o.hidden_by.and(hidden_by);
            }
            None => outcomes.push(Outcome {
                classes: e.classes,
                acquires,
                releases,
                hidden_by,
                params,
                socket: e.socket,
            }),
        }
    }
    let outcomes_merged = outcomes.len() > MAX_OUTCOMES;
    if outcomes_merged {
        // Keep the distinct effects that matter most: those with acquisitions or releases first.
        outcomes.sort_by_key(|o| std::cmp::Reverse(o.acquires.len() + o.releases.len()));
        let extra: ClassSet = outcomes[MAX_OUTCOMES..]
            .iter()
            .fold(0, |c, o| c | o.classes);
        outcomes.truncate(MAX_OUTCOMES);
        if let Some(last) = outcomes.last_mut() {
            last.classes |= extra;
            // What it says of its parameters no longer holds for every exit it stands for.
            last.params.clear();
            last.socket = None;
        }
    }
    let on_every_exit = |pred: &dyn Fn(&super::state::Sock) -> bool, id: u64| {
        !run.exits.is_empty()
            && run
                .exits
                .iter()
                .all(|e| e.state.socks.get(&id).is_some_and(pred))
    };
    let mut shuts_params = Vec::new();
    let mut closes_params = Vec::new();
    for (k, (_, id)) in params.iter().zip(param_ids).enumerate() {
        if on_every_exit(&|s| s.shut, *id) {
            shuts_params.push(k);
        }
        if on_every_exit(&|s| s.closed.is_some(), *id) {
            closes_params.push(k);
        }
    }
    orphan_releases.sort();
    orphan_releases.dedup();
    Finished {
        summary: Summary {
            outcomes,
            shuts_params,
            closes_params,
            returns_guard,
            guard_from_callers: returns_guard && !starts_winsock(run),
        },
        leaks: leaks
            .into_iter()
            .map(|(token, exits)| Leak { token, exits })
            .collect(),
        orphan_releases,
        external_handoffs: handoffs
            .into_iter()
            .map(|(token, exits)| Leak { token, exits })
            .collect(),
        outcomes_merged,
    }
}

/// The caller can tell it holds `tok` after exit `e`: every other exit that may
/// return a value of the same class holds it as well.
/// An exit past a macro the analysis does not model may not exist (the macro may have returned
/// before it), so it does not make the caller's knowledge ambiguous.
fn consistent(exits: &[Exit], e: &Exit, tok: &Token) -> bool {
    exits.iter().all(|o| {
        std::ptr::eq(o, e)
            || o.classes & e.classes == 0
            || o.state.held.contains(tok)
            || o.state.hidden_by().is_some()
    })
}

/// The unit starts Winsock somewhere: a `WSAStartup`, or a call of a crate function that
/// hands its caller a reference.
fn starts_winsock(run: &UnitRun) -> bool {
    run.calls.iter().any(|c| match &c.callee {
        Callee::Api(api) => api.0.effect == crate::winsock::Effect::Startup,
        Callee::Crate { starts_winsock, .. } => *starts_winsock,
    })
}

//! Facts about a crate, in Winsock's terms: each Winsock call with what the path knew before
//! it, each release of a reference, each reference that stops with its holder, what an exported
//! `DllMain` reaches, the functions not fully analysed. Lints are queries over these.
//!
//! Takes a resolved `CrateModel`; runs the path-sensitive interpreter over
//! every unit bottom-up over the call graph, applying callee summaries at
//! call sites. Knows no individual lint.

pub mod callgraph;
pub mod events;
pub mod interp;
pub mod state;
pub mod summary;

use crate::resolve::{CrateModel, FnKind};
use crate::source::Span;
use callgraph::{CallGraph, ClosureUse, Target, UnitBody, UnitId};
pub use events::{
    ApiRef, Before, CallFact, Callee, ConnectedBy, Discarded, EntryReach, ExitKind, HoldEnd,
    HoldFact, Link, OnPath, OwnEvent, ReleaseFact, Released, SocketFact, SocketKind, Step,
    VersionArg, WinsockCall,
};
use interp::{Cx, Interp};
use std::collections::{BTreeMap, HashMap, HashSet};
use summary::{Leak, Role};

/// A function not fully analysed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// The function's name.
    pub name_span: Span,
    pub function: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct CrateFacts {
    /// Every Winsock call (and call of a crate function that uses Winsock) with what a path
    /// knew before it: one entry per distinct view, sorted by call.
    pub calls: Vec<CallFact>,
    /// Every `WSACleanup`, direct or through a callee, with whose reference it released on a
    /// path: one entry per distinct view, sorted.
    pub releases: Vec<ReleaseFact>,
    /// References that stop with their holder, one per site and way of ending.
    pub holds: Vec<HoldFact>,
    /// Winsock calls whose value is thrown away.
    pub discarded: Vec<Discarded>,
    /// Winsock calls reachable from an exported `DllMain`.
    pub dll_entry: Vec<EntryReach>,
    /// Every Winsock call site, sorted.
    pub winsock_calls: Vec<WinsockCall>,
    /// Functions whose analysis hit a budget: what was found there is reported, what depends
    /// on the rest is not.
    pub truncated: Vec<Incomplete>,
    /// Functions and types whose callers matter (they reach Winsock): files naming them must be parsed.
    pub interesting_names: Vec<String>,
    /// Associated functions without `self` whose callers matter, with their type: (function,
    /// type). A call reaches one only by a path through the type (`Conn::open()`, `Self::open()`
    /// in an impl of it, or an alias of the type), so only a file naming both can call it.
    pub interesting_assoc: Vec<(String, String)>,
    /// The crate has guard types (a `Drop` that reaches `WSACleanup`): then every unit is run,
    /// and a value of such a type matters even where nothing names it.
    pub has_guard_types: bool,
    /// Winsock function names called through a path that does not resolve, as when bindings
    /// are declared in a module file that was not read (declarations are not calls, so the
    /// prefilter passes such a file over): files that mention them are read next round.
    pub unresolved_winsock: Vec<String>,
}

impl CrateFacts {
    /// Drops the facts that rest on a function having no caller in the crate (a reference
    /// handed out of it, a release no caller holds a reference for): for when callers may be
    /// in files that were not read. Returns the names of the functions they were about.
    pub fn forget_caller_absence(&mut self) -> Vec<String> {
        let handed_out = |h: &HoldFact| matches!(h.end, HoldEnd::HandedOut { .. });
        let no_holder = |r: &ReleaseFact| r.released == Released::NoHolder;
        // The function's own name, as `fn` items are named (`` `net::start` `` -> `start`).
        let name = |holder: &str| {
            let path = holder.trim_matches('`');
            path.rsplit("::").next().unwrap_or(path).to_string()
        };
        let mut about: Vec<String> = self
            .holds
            .iter()
            .filter(|h| handed_out(h))
            .map(|h| name(&h.holder))
            .collect();
        about.extend(
            self.releases
                .iter()
                .filter(|r| no_holder(r))
                .map(|r| name(&r.holder)),
        );
        self.holds.retain(|h| !handed_out(h));
        self.releases.retain(|r| !no_holder(r));
        about
    }

    /// Some function of the crate reaches Winsock, or it has guard types: its callers matter.
    pub fn has_interesting_names(&self) -> bool {
        !self.interesting_names.is_empty()
            || !self.interesting_assoc.is_empty()
            || !self.unresolved_winsock.is_empty()
    }
}

/// Rounds a recursive SCC is run: its summaries are read by its own units.
const RECURSION_ROUNDS: usize = 3;

/// Calls of a chain a fact shows (the first ones and the last); the labels of a longer chain
/// say how many calls between were left out.
pub const MAX_CHAIN_SHOWN: usize = 16;

pub fn analyze(model: &CrateModel) -> CrateFacts {
    let graph = CallGraph::build(model);
    let mut facts = CrateFacts::default();

    // One walk over the callers per question, not a search per unit: a crate of generated
    // code has tens of thousands of units.
    let cleans_up = units_reaching(&graph, |n| n == crate::winsock::WSA_CLEANUP);
    let guard_types: HashSet<String> = model
        .drop_impls
        .iter()
        .filter(|(_, f)| graph.fn_unit.get(f).is_some_and(|u| cleans_up.contains(u)))
        .map(|(t, _)| t.clone())
        .collect();

    let roles: Vec<Role> = graph.units.iter().map(|u| role_of(&graph, u.id)).collect();
    let uses_winsock = units_reaching(&graph, crate::winsock::needs_init);
    let reach = units_reaching(&graph, |_| true);
    let to_run = units_to_run(&graph, &reach, &guard_types);
    let mut summaries = HashMap::new();
    let mut handoffs: Vec<(Leak, String)> = Vec::new();

    for scc in graph.bottom_up() {
        // An SCC is run whole or not at all: its units call each other.
        if !scc.iter().any(|u| to_run[u.0 as usize]) {
            continue;
        }
        let recursive = scc.len() > 1
            || graph
                .unit(scc[0])
                .sites
                .iter()
                .any(|(_, t)| *t == Target::Unit(scc[0]));
        let rounds = if recursive { RECURSION_ROUNDS } else { 1 };
        // Whether a recursive SCC's summaries still changed in its last round.
        let mut unsettled = false;
        for round in 0..rounds {
            let last = round + 1 == rounds;
            for &u in &scc {
                let unit = graph.unit(u);
                let cx = Cx {
                    uses_winsock: &uses_winsock,
                    graph: &graph,
                    summaries: &summaries,
                    guard_types: &guard_types,
                };
                let run = Interp::run(&cx, unit);
                let returns_guard = match unit.body {
                    UnitBody::Fn(f) => f.ir.ret_names.iter().any(|n| {
                        guard_types.contains(n)
                            || (n == "Self"
                                && f.impl_ty.as_ref().is_some_and(|t| guard_types.contains(t)))
                    }),
                    UnitBody::Closure { .. } => false,
                };
                let role = roles[u.0 as usize];
                let display = unit.display();
                let fin = summary::finish(
                    &run,
                    role,
                    graph.called.contains(&u),
                    unit.params(),
                    &run.param_ids,
                    returns_guard,
                    &display,
                );
                // A partial run would tell callers the function never returns, or returns
                // less than it does: without a summary its calls are unknown calls.
                if !run.truncated {
                    let old = summaries.insert(u, fin.summary);
                    if recursive && last && old.as_ref() != summaries.get(&u) {
                        unsettled = true;
                    }
                }
                if !last {
                    continue;
                }
                let lowered_partly = match unit.body {
                    UnitBody::Fn(f) => f.ir.incomplete.clone(),
                    UnitBody::Closure { .. } => None,
                };
                let reason = if run.truncated {
                    Some(format!(
                        "following its paths took more than {} steps",
                        run.budget
                    ))
                } else if run.paths_dropped {
                    Some(format!(
                        "it has more paths than the {} followed at once",
                        interp::MAX_STATES
                    ))
                } else if run.loop_unsettled {
                    Some(format!(
                        "a loop's paths still changed after {} rounds",
                        interp::MAX_LOOP_ROUNDS
                    ))
                } else if fin.outcomes_merged {
                    Some(format!(
                        "it ends in more distinct ways than the {} its callers are told",
                        summary::MAX_OUTCOMES
                    ))
                } else if let Some(path) = &unit.gave_up {
                    Some(format!(
                        "resolving `{path}` took more than {} steps through `use` re-exports and globs, so it is read as an unknown call",
                        crate::resolve::RESOLVE_STEPS
                    ))
                } else {
                    lowered_partly
                };
                if let Some(reason) = reason {
                    facts.truncated.push(Incomplete {
                        name_span: unit.ctx().name_span(),
                        function: display.clone(),
                        reason,
                    });
                }
                let cap = |c: &state::Chain| c.to_vec_capped(MAX_CHAIN_SHOWN);
                for leak in fin.leaks {
                    facts.holds.push(HoldFact {
                        site: leak.token.site,
                        chain: cap(&leak.token.chain),
                        end: HoldEnd::Dropped {
                            exits: leak.exits.iter().map(|e| (e.span, e.kind)).collect(),
                        },
                        holder: display.clone(),
                    });
                }
                // A loop that takes one reference more per iteration leaks whoever holds it;
                // what runs once for the process or is DllMain's is not a leak (as at exits).
                if !matches!(role, Role::ProcessLifetime | Role::DllMain) {
                    for l in &run.iteration_leaks {
                        facts.holds.push(HoldFact {
                            site: l.token.site,
                            chain: cap(&l.token.chain),
                            end: HoldEnd::Dropped {
                                exits: vec![(l.at, l.kind)],
                            },
                            holder: display.clone(),
                        });
                    }
                }
                for f in &run.forgets {
                    facts.holds.push(HoldFact {
                        site: f.guard_site,
                        chain: Vec::new(),
                        end: HoldEnd::Forgotten { at: f.forgotten_at },
                        holder: display.clone(),
                    });
                }
                handoffs.extend(
                    fin.external_handoffs
                        .into_iter()
                        .map(|l| (l, display.clone())),
                );
                for r in &run.releases {
                    facts.releases.push(ReleaseFact {
                        at: r.at,
                        cleanup: r.cleanup,
                        chain: cap(&r.chain),
                        released: r.released,
                        open_sockets: r.open_sockets.clone(),
                        holder: display.clone(),
                        hidden_by: r.hidden_by,
                    });
                }
                for rel in fin.orphan_releases {
                    let chain = cap(&rel.chain);
                    facts.releases.push(ReleaseFact {
                        at: chain.first().map_or(rel.cleanup, |l| l.span),
                        cleanup: rel.cleanup,
                        chain,
                        released: Released::NoHolder,
                        open_sockets: Vec::new(),
                        holder: display.clone(),
                        hidden_by: None,
                    });
                }
                facts.calls.extend(run.calls.iter().cloned());
                facts.discarded.extend(run.discarded.iter().cloned());
            }
        }
        if unsettled {
            // The units of a recursion read each other's summaries: when they still changed in
            // the last round, what callers and the facts above see is one round short.
            let first = graph.unit(scc[0]);
            let others: Vec<String> = scc[1..].iter().map(|u| graph.unit(*u).display()).collect();
            let with = if others.is_empty() {
                String::new()
            } else {
                format!(" with {}", others.join(", "))
            };
            facts.truncated.push(Incomplete {
                name_span: first.ctx().name_span(),
                function: first.display(),
                reason: format!(
                    "what its recursion{with} does still changed after {RECURSION_ROUNDS} rounds"
                ),
            });
        }
    }

    // A function lowered only in part says so even when nothing of it was run: what was left
    // out (a macro not expanded) may be what reaches Winsock.
    for u in &graph.units {
        if let UnitBody::Fn(f) = u.body {
            if let (false, Some(reason)) = (to_run[u.id.0 as usize], &f.ir.incomplete) {
                facts.truncated.push(Incomplete {
                    name_span: u.ctx().name_span(),
                    function: u.display(),
                    reason: reason.clone(),
                });
            }
        }
    }

    // A reference handed out of the crate is fine only if the crate offers its release half.
    let offers_release = !guard_types.is_empty()
        || summaries.iter().any(|(u, s)| {
            !roles[u.0 as usize].is_root() && s.outcomes.iter().any(|o| !o.releases.is_empty())
        });
    for (leak, holder) in handoffs {
        facts.holds.push(HoldFact {
            site: leak.token.site,
            chain: leak.token.chain.to_vec_capped(MAX_CHAIN_SHOWN),
            end: HoldEnd::HandedOut {
                exits: leak.exits.iter().map(|e| (e.span, e.kind)).collect(),
                release_offered: offers_release,
            },
            holder,
        });
    }

    for u in &graph.units {
        if let UnitBody::Fn(f) = u.body {
            if f.kind == FnKind::Free && f.ir.exported_as.as_deref() == Some("DllMain") {
                for (api, chain) in graph.winsock_reached_from(u.id) {
                    let omitted = chain.len().saturating_sub(MAX_CHAIN_SHOWN);
                    let mut shown: Vec<(Span, String)> = Vec::new();
                    for (i, (s, in_unit)) in chain.iter().enumerate() {
                        // The first calls and the last (the Winsock call itself).
                        if i + 1 < MAX_CHAIN_SHOWN || i + 1 == chain.len() {
                            shown.push((*s, graph.unit(*in_unit).display()));
                        }
                    }
                    facts.dll_entry.push(EntryReach {
                        api,
                        chain: shown,
                        omitted,
                    });
                }
            }
        }
        for (span, t) in &u.sites {
            if let Target::Winsock(name) = t {
                if let Some(api) = crate::winsock::api(name) {
                    facts.winsock_calls.push(WinsockCall { api, span: *span });
                }
            }
        }
    }
    (facts.interesting_names, facts.interesting_assoc) =
        interesting_names(&graph, &reach, &guard_types);
    facts.has_guard_types = !guard_types.is_empty();
    facts.unresolved_winsock = graph.unresolved_winsock.iter().cloned().collect();
    merge_holds(&mut facts.holds);
    facts.calls.sort();
    facts.calls.dedup();
    facts.releases.sort();
    facts.releases.dedup();
    facts.discarded.sort();
    facts.discarded.dedup();
    facts.winsock_calls.sort_by_key(|c| c.span);
    facts.winsock_calls.dedup_by_key(|c| c.span);
    facts
}

/// One fact per site and way of ending: the exits of a reference together.
fn merge_holds(holds: &mut Vec<HoldFact>) {
    fn exits_of(end: &mut HoldEnd) -> Option<&mut Vec<(Span, ExitKind)>> {
        match end {
            HoldEnd::Dropped { exits } | HoldEnd::HandedOut { exits, .. } => Some(exits),
            HoldEnd::Forgotten { .. } => None,
        }
    }
    let way = |e: &HoldEnd| match e {
        HoldEnd::Dropped { .. } => 0u8,
        HoldEnd::Forgotten { .. } => 1,
        HoldEnd::HandedOut { .. } => 2,
    };
    let mut by_site: BTreeMap<(Span, u8), HoldFact> = BTreeMap::new();
    for mut h in holds.drain(..) {
        match by_site.entry((h.site, way(&h.end))) {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if let (Some(m), Some(new)) = (exits_of(&mut o.get_mut().end), exits_of(&mut h.end))
                {
                    m.append(new);
                }
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(h);
            }
        }
    }
    for mut h in by_site.into_values() {
        if let Some(exits) = exits_of(&mut h.end) {
            exits.sort();
            exits.dedup();
        }
        holds.push(h);
    }
}

fn role_of(graph: &CallGraph<'_>, u: UnitId) -> Role {
    let unit = graph.unit(u);
    let called = graph.called.contains(&u);
    match unit.body {
        UnitBody::Closure { .. } => match unit.closure_use {
            ClosureUse::ProcessLifetime => Role::ProcessLifetime,
            ClosureUse::Thread => Role::Thread,
            ClosureUse::Other => Role::Transfer {
                external: true,
                uncalled_private: false,
            },
        },
        UnitBody::Fn(f) => {
            if f.kind == FnKind::StaticInit {
                return Role::ProcessLifetime;
            }
            if f.ir.exported_as.as_deref() == Some("DllMain") && f.kind == FnKind::Free {
                return Role::DllMain;
            }
            if f.ir.is_test {
                return Role::Test;
            }
            if f.kind == FnKind::Free && f.ir.name == "main" && f.module.0 == 0 && !called {
                return Role::Main;
            }
            let external = f.ir.is_pub
                || f.ir.exported_as.is_some()
                || f.trait_name.is_some()
                || graph.referenced.contains(&u)
                || (f.kind == FnKind::Assoc && graph.ambiguous_methods.contains(&f.ir.name));
            Role::Transfer {
                external,
                uncalled_private: !external && !called,
            }
        }
    }
}

/// Units that reach, through any chain of calls, a Winsock call whose name satisfies `pred`:
/// one walk back over the callers for all of them.
fn units_reaching(graph: &CallGraph<'_>, pred: impl Fn(&str) -> bool) -> HashSet<UnitId> {
    let mut reach: HashSet<UnitId> = HashSet::new();
    let mut callers: HashMap<UnitId, Vec<UnitId>> = HashMap::new();
    let mut work = Vec::new();
    for u in &graph.units {
        for (_, t) in &u.sites {
            match t {
                Target::Winsock(n) if pred(n) && reach.insert(u.id) => work.push(u.id),
                Target::Unit(v) => callers.entry(*v).or_default().push(u.id),
                _ => {}
            }
        }
    }
    while let Some(u) = work.pop() {
        for c in callers.get(&u).into_iter().flatten() {
            if reach.insert(*c) {
                work.push(*c);
            }
        }
    }
    reach
}

/// The units whose run can matter: those that reach Winsock, and every unit they call
/// (directly or not), whose summaries they apply. Any other unit makes no Winsock call, holds
/// no reference and is applied by no unit that does: running it would produce nothing a lint
/// reads. With guard types (a `Drop` that cleans up) every unit is run, since making or
/// leaking a guard is an effect without a Winsock call.
fn units_to_run(
    graph: &CallGraph<'_>,
    reach: &HashSet<UnitId>,
    guard_types: &HashSet<String>,
) -> Vec<bool> {
    if !guard_types.is_empty() {
        return vec![true; graph.units.len()];
    }
    let mut run = vec![false; graph.units.len()];
    let mut work: Vec<UnitId> = reach.iter().copied().collect();
    for u in &work {
        run[u.0 as usize] = true;
    }
    while let Some(u) = work.pop() {
        for (_, t) in &graph.unit(u).sites {
            if let Target::Unit(v) = t {
                if !run[v.0 as usize] {
                    run[v.0 as usize] = true;
                    work.push(*v);
                }
            }
        }
    }
    run
}

/// Names of crate functions that reach any Winsock call, and of guard types: a caller of one
/// elsewhere in the crate changes what the analysis concludes. Associated functions without
/// `self` come apart, with their type: `resolve` reaches them only through a path naming it
/// (a method call `x.f()` is resolved by the method's name alone, so methods are plain names).
fn interesting_names(
    graph: &CallGraph<'_>,
    reach: &HashSet<UnitId>,
    guard_types: &HashSet<String>,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut names: std::collections::BTreeSet<String> = guard_types.iter().cloned().collect();
    let mut assoc: std::collections::BTreeSet<(String, String)> = Default::default();
    for u in reach {
        if let UnitBody::Fn(f) = graph.unit(*u).body {
            if matches!(f.ir.name.as_str(), "main" | "drop" | "DllMain") {
                continue;
            }
            match &f.impl_ty {
                Some(ty) if f.kind == FnKind::Assoc && !f.ir.has_self => {
                    assoc.insert((f.ir.name.clone(), ty.clone()));
                }
                _ => {
                    names.insert(f.ir.name.clone());
                }
            }
        }
    }
    (names.into_iter().collect(), assoc.into_iter().collect())
}

#[cfg(test)]
mod tests {
    /// The functions of `text` whose analysis hit the step limit.
    fn truncated(text: &str) -> usize {
        let db = crate::source::SourceDb::default();
        let id = db.add("t.rs".into(), "t.rs".into(), text.to_string());
        let ir = crate::parse::parse(id, &db.get(id).text).expect("parses");
        let model = crate::resolve::CrateModel::build("t".into(), ir.items, &mut |_| None);
        super::analyze(&model).truncated.len()
    }

    fn analyze(text: &str) -> super::CrateFacts {
        let db = crate::source::SourceDb::default();
        let id = db.add("t.rs".into(), "t.rs".into(), text.to_string());
        let ir = crate::parse::parse(id, &db.get(id).text).expect("parses");
        let model = crate::resolve::CrateModel::build("t".into(), ir.items, &mut |_| None);
        super::analyze(&model)
    }

    #[test]
    fn a_helper_that_turns_the_code_into_a_result_splits_the_startup() {
        // However the helper tests its argument, `cvt(WSAStartup(..))?` passes only where the
        // startup succeeded: nothing leaks at the `?` and the cleanup after it is matched.
        for test in [
            "if rc != 0 { Err(rc) } else { Ok(()) }",
            "if rc.ne(&0) { Err(rc) } else { Ok(()) }",
            "if PartialEq::ne(&rc, &0) { Err(rc) } else { Ok(()) }",
            "if i32::eq(&rc, &0) { Ok(()) } else { Err(rc) }",
            "match rc { 0 => Ok(()), e => Err(e) }",
            "match rc { NO_ERROR => Ok(()), e => Err(e) }",
            "if matches!(rc, 0) { Ok(()) } else { Err(rc) }",
            "if rc == 0 { return Ok(()); } Err(rc)",
        ] {
            let text = format!(
                "use windows_sys::Win32::Networking::WinSock::*;\n\
                 fn cvt(rc: i32) -> Result<(), i32> {{ {test} }}\n\
                 fn main() -> Result<(), i32> {{ cvt(unsafe {{ WSAStartup(0x202, p) }})?; \
                 unsafe {{ WSACleanup() }}; Ok(()) }}\n"
            );
            let f = analyze(&text);
            assert!(f.holds.is_empty(), "{test}: {:?}", f.holds);
            assert!(
                f.releases
                    .iter()
                    .all(|r| !matches!(r.released, super::Released::Nothing { .. })),
                "{test}"
            );
        }
    }

    #[test]
    fn a_socket_a_helper_returns_is_the_callers() {
        // Returned as is, in `Some`/`Ok`, through `?`: the caller closes an accepted stream.
        for (ret, take) in [
            ("SOCKET { accept(l, a, n) }", "let s = acc(l);"),
            (
                "Option<SOCKET> { let s = accept(l, a, n); if s == INVALID_SOCKET { None } else { Some(s) } }",
                "let Some(s) = acc(l) else { return };",
            ),
            (
                "Result<SOCKET, i32> { match accept(l, a, n) { INVALID_SOCKET => Err(1), s => Ok(s) } }",
                "let s = match acc(l) { Ok(s) => s, Err(_) => return };",
            ),
        ] {
            let text = format!(
                "use windows_sys::Win32::Networking::WinSock::*;\n\
                 fn acc(l: SOCKET) -> {ret}\n\
                 fn main() {{ unsafe {{ {take} closesocket(s); }} }}\n"
            );
            let f = analyze(&text);
            let connected = f.calls.iter().any(|c| {
                c.api().is_some_and(|a| a.name == "closesocket")
                    && c.before
                        .socket
                        .as_ref()
                        .is_some_and(|s| s.connected.is_some())
            });
            assert!(connected, "{ret}");
        }
    }

    #[test]
    fn a_matches_without_a_pattern_is_a_plain_macro() {
        // Found by the fuzzer: `a|` is not an expression, so `matches!` had one argument; the
        // value and the condition readings sent it to each other until the step limit, growing
        // the stack to about 770 MB on the way.
        for body in [
            "matches!(x, a|);",
            "matches!(x);",
            "matches!();",
            "if matches!(x, a|) {}",
        ] {
            let text = format!("fn main() {{ {body} }}");
            assert_eq!(truncated(&text), 0, "{body}");
        }
        assert_eq!(truncated("fn main() { if matches!(x, Some(1)) {} }"), 0);
    }
}

/// The interpreter against the table: every function of `winsock::APIS` does what its row says,
/// and nothing the table does not say (the interpreter has no Winsock names of its own).
#[cfg(test)]
mod table_tests {
    use crate::winsock::{Effect, APIS};

    fn facts(body: &str) -> super::CrateFacts {
        let text = format!("use windows_sys::Win32::Networking::WinSock::*;\nfn main() {{ unsafe {{ {body} }} }}\n");
        let db = crate::source::SourceDb::default();
        let id = db.add("t.rs".into(), "t.rs".into(), text);
        let ir = crate::parse::parse(id, &db.get(id).text).expect("parses");
        let model = crate::resolve::CrateModel::build("t".into(), ir.items, &mut |_| None);
        super::analyze(&model)
    }

    /// A connected stream socket `s` from `accept`.
    const ACCEPTED: &str = "let s = accept(l, a, n);";

    /// The views of the paths at the calls of `name`.
    fn before<'f>(f: &'f super::CrateFacts, name: &str) -> Vec<&'f super::Before> {
        f.calls
            .iter()
            .filter(|c| c.api().is_some_and(|a| a.name == name))
            .map(|c| &c.before)
            .collect()
    }

    /// Some close (of any closing function) meets a connected stream not shut down for sending.
    fn closes_unshut(body: &str) -> bool {
        let f = facts(body);
        f.calls.iter().any(|c| {
            c.api().is_some_and(|a| a.effect == Effect::Closes)
                && c.before.socket.as_ref().is_some_and(|s| {
                    s.connected.is_some()
                        && !s.shut
                        && !matches!(
                            s.kind,
                            super::SocketKind::Datagram | super::SocketKind::Listening
                        )
                })
        })
    }

    #[test]
    fn each_effect_is_what_the_table_says() {
        for api in APIS {
            let n = api.name;
            match api.effect {
                Effect::Startup => {
                    let f = facts(&format!("if {n}(0x202, p) != 0 {{ return; }}"));
                    let dropped = f
                        .holds
                        .iter()
                        .filter(|h| matches!(h.end, super::HoldEnd::Dropped { .. }))
                        .count();
                    assert_eq!(dropped, 1, "{n}");
                    let f = facts(&format!("{n}(0x202, p);"));
                    assert!(f.discarded.iter().any(|d| d.api.0.name == n), "{n}");
                }
                Effect::Cleanup => {
                    // In `main`, which no caller holds a reference for.
                    let f = facts(&format!("{n}();"));
                    let orphans = f
                        .releases
                        .iter()
                        .filter(|r| r.released == super::Released::NoHolder)
                        .count();
                    assert_eq!(orphans, 1, "{n}");
                    let f = facts(&format!("if WSAStartup(0x202, p) == 0 {{ {n}(); {n}(); }}"));
                    let kinds: Vec<_> = f.releases.iter().map(|r| r.released).collect();
                    assert!(kinds.contains(&super::Released::Own), "{n}");
                    assert!(
                        kinds
                            .iter()
                            .any(|k| matches!(k, super::Released::Nothing { previous: Some(_) })),
                        "{n}"
                    );
                }
                Effect::ReadsLastError => {
                    let body = format!(
                        "if WSAStartup(0x202, p) != 0 {{ let e = {n}(); return; }} WSACleanup();"
                    );
                    let f = facts(&body);
                    assert!(
                        before(&f, n).iter().any(|b| b.failed_startup.is_some()),
                        "{n}"
                    );
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
            // After a close, a call knows its socket argument closed exactly when the table
            // names the argument (or the call acts on a socket by its effect).
            let body = format!("{ACCEPTED} shutdown(s, SD_BOTH); closesocket(s); {n}(s, s, s);");
            let f = facts(&body);
            let closed_seen = before(&f, n)
                .iter()
                .any(|b| b.socket.as_ref().is_some_and(|s| s.closed.is_some()));
            let acts_on_socket = matches!(
                api.effect,
                Effect::Connects | Effect::Listens | Effect::ShutsDown { .. } | Effect::Closes
            );
            assert_eq!(
                closed_seen,
                api.socket_arg == Some(0) || acts_on_socket,
                "{n}"
            );
            if api.effect == Effect::Startup {
                continue;
            }
            // After the final cleanup, every call knows Winsock is down.
            let body = format!("if WSAStartup(0x202, p) != 0 {{ return; }} WSACleanup(); {n}(x);");
            let f = facts(&body);
            let last = f
                .calls
                .iter()
                .filter(|c| c.api().is_some_and(|a| a.name == n))
                .map(|c| c.span)
                .max();
            let views: Vec<_> = f.calls.iter().filter(|c| Some(c.span) == last).collect();
            assert!(!views.is_empty(), "{n}");
            assert!(views.iter().all(|c| c.before.down_since.is_some()), "{n}");
        }
    }
}

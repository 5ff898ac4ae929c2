//! The abstract state of one path through a function body.
//!
//! A path knows: which `WSAStartup` references it holds, what it released of
//! its caller's, each value's possible classes (zero / non-zero, `Ok` / `Err`,
//! valid / invalid socket...), and each socket's life so far.
//!
//! Also the `Summary` of a unit for its callers, built from these parts by `summary` and
//! applied at call sites by `interp`.

pub use super::events::{Link, OwnEvent, SocketKind, Step};
use crate::source::Span;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Classes of values a caller can tell apart; a set is a bit mask.
pub type ClassSet = u16;
pub const ZERO: ClassSet = 1 << 0;
pub const NONZERO: ClassSet = 1 << 1;
pub const OK: ClassSet = 1 << 2;
pub const ERR: ClassSet = 1 << 3;
pub const TRUE: ClassSet = 1 << 4;
pub const FALSE: ClassSet = 1 << 5;
pub const SOME: ClassSet = 1 << 6;
pub const NONE: ClassSet = 1 << 7;
pub const UNIT: ClassSet = 1 << 8;
pub const VALID: ClassSet = 1 << 9;
pub const INVALID: ClassSet = 1 << 10;
pub const OTHER: ClassSet = 1 << 11;
pub const ALL: ClassSet = (1 << 12) - 1;

/// Identity of a value: the span of the expression that made it, or an interned place name.
pub type ValId = u64;

pub fn val_of_span(s: Span) -> ValId {
    ((s.lo as u64) << 32) | s.hi as u64
}

/// A value as the interpreter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    /// A tracked value whose classes live in the state (so a test on it refines the path).
    Sym(ValId),
    /// A constant; `exclusive` when it is the only value of its class (0, -1, `true`, `INVALID_SOCKET`),
    /// so `x != c` rules the class out.
    Lit(ClassSet, bool),
}

pub const UNKNOWN: Val = Val::Lit(ALL, false);

/// A call chain, shared by every state, summary and fact that carries it.
///
/// A reference handed up through N wrappers gets one link per wrapper; each wrapper's summary
/// and every path state holding the reference point at the same links instead of copying them,
/// so the chain costs N links in all instead of N^2, and forking a path copies one pointer.
/// Compares like the `Vec<Link>` it stands for (`to_vec`); shared tails compare in O(1).
#[derive(Clone, Default)]
pub struct Chain(Option<Arc<ChainNode>>);

struct ChainNode {
    link: Link,
    rest: Chain,
    len: usize,
}

impl Chain {
    /// `link` followed by `rest`; `rest` is shared, not copied.
    pub fn cons(link: Link, rest: &Chain) -> Chain {
        Chain(Some(Arc::new(ChainNode {
            link,
            rest: rest.clone(),
            len: rest.len() + 1,
        })))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |n| n.len)
    }

    pub fn first(&self) -> Option<&Link> {
        self.0.as_ref().map(|n| &n.link)
    }

    /// The chain without its first link.
    pub fn rest(&self) -> Chain {
        self.0
            .as_ref()
            .map_or_else(Chain::default, |n| n.rest.clone())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Link> {
        let mut cur = self.0.as_deref();
        std::iter::from_fn(move || {
            let n = cur?;
            cur = n.rest.0.as_deref();
            Some(&n.link)
        })
    }

    /// The links, for a fact that lints read. At most `max` (at least 2) are kept: the first
    /// `max - 1` and the last (the call that does it); the last then says how many calls
    /// between were left out, so a chain through thousands of wrappers stays readable and
    /// costs `max` labels, not thousands.
    pub fn to_vec_capped(&self, max: usize) -> Vec<Link> {
        let len = self.len();
        if len <= max {
            return self.iter().cloned().collect();
        }
        let keep = max.max(2) - 1;
        let mut out: Vec<Link> = self.iter().take(keep).cloned().collect();
        if let Some(last) = self.iter().last() {
            out.push(Link {
                omitted: len - keep - 1,
                ..last.clone()
            });
        }
        out
    }

    /// Same links, with the shared tails taken as equal without walking them.
    fn same_as(&self, other: &Chain) -> bool {
        let (mut a, mut b) = (self.0.as_ref(), other.0.as_ref());
        loop {
            match (a, b) {
                (None, None) => return true,
                (Some(x), Some(y)) => {
                    if Arc::ptr_eq(x, y) {
                        return true;
                    }
                    if x.len != y.len || x.link != y.link {
                        return false;
                    }
                    a = x.rest.0.as_ref();
                    b = y.rest.0.as_ref();
                }
                _ => return false,
            }
        }
    }
}

impl PartialEq for Chain {
    fn eq(&self, other: &Chain) -> bool {
        self.same_as(other)
    }
}

impl Eq for Chain {}

impl PartialOrd for Chain {
    fn partial_cmp(&self, other: &Chain) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Chain {
    /// The order of the `Vec<Link>`s the chains stand for.
    fn cmp(&self, other: &Chain) -> std::cmp::Ordering {
        let (mut a, mut b) = (self.0.as_ref(), other.0.as_ref());
        loop {
            match (a, b) {
                (None, None) => return std::cmp::Ordering::Equal,
                (None, Some(_)) => return std::cmp::Ordering::Less,
                (Some(_), None) => return std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => {
                    if Arc::ptr_eq(x, y) {
                        return std::cmp::Ordering::Equal;
                    }
                    match x.link.cmp(&y.link) {
                        std::cmp::Ordering::Equal => {}
                        o => return o,
                    }
                    a = x.rest.0.as_ref();
                    b = y.rest.0.as_ref();
                }
            }
        }
    }
}

impl std::hash::Hash for Chain {
    /// Length and first link: equal chains agree on both, and hashing stays O(1).
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.len().hash(h);
        self.first().hash(h);
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Drop for Chain {
    /// Unlinks the nodes this chain owns alone one by one: the default recursive drop of a
    /// chain through thousands of calls would overflow the stack.
    fn drop(&mut self) {
        let mut cur = self.0.take();
        while let Some(node) = cur {
            match Arc::try_unwrap(node) {
                Ok(mut n) => cur = n.rest.0.take(),
                Err(_) => break,
            }
        }
    }
}

/// A `WSAStartup` reference held on this path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    /// Where the holder got it: the `WSAStartup` call, or the call of the crate function that returned it.
    pub site: Span,
    /// Inside the callee(s), down to the `WSAStartup`.
    pub chain: Chain,
}

/// A `WSACleanup` that released a reference this function did not take (its caller's).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Release {
    /// The `WSACleanup` call itself.
    pub cleanup: Span,
    /// Calls from the current function down to it (empty when direct).
    pub chain: Chain,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// Created by `socket`/`WSASocket` here.
    Created(Span),
    /// Returned by `accept`.
    Accepted(Span),
    /// A parameter, field or other place this function did not create.
    Foreign(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sock {
    pub kind: SocketKind,
    pub origin: Origin,
    /// Where it became a connected stream (`accept`, successful `connect`).
    pub connected: Option<Span>,
    /// `shutdown(s, SD_SEND | SD_BOTH)` ran on this path.
    pub shut: bool,
    pub closed: Option<Span>,
    /// A macro the analysis does not model, passed after `closed`: the path may have ended there.
    pub closed_hidden_by: Option<Span>,
}

/// A value shared by copies until one of them changes it (copy on write).
///
/// Forking a path copies its state, and most forks change one or two entries of one map (the
/// tested value's classes) while the names, sockets and guards stay as they were: those maps
/// are then shared by the forks instead of copied entry by entry (every name a `String`).
/// Reading goes through `Deref`; writing (`DerefMut`) copies the value first if another
/// state still shares it, so code that writes through it looks as if it owned a plain map;
/// a write that changes nothing should be skipped, since it would still copy a shared map.
/// Compares, orders and hashes like the value it stands for; a shared value compares equal to
/// itself without being walked.
#[derive(Clone, Default)]
pub struct Shared<T>(Arc<T>);

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: Ord> PartialOrd for Shared<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Shared<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl<T: std::hash::Hash> std::hash::Hash for Shared<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    pub vals: Shared<BTreeMap<ValId, ClassSet>>,
    pub vars: Shared<BTreeMap<String, ValId>>,
    pub held: Vec<Token>,
    /// This path ran a `WSAStartup` or `WSACleanup` of its own: a cleanup with nothing held is then
    /// unmatched here rather than a release of the caller's reference.
    pub own: bool,
    pub released: Vec<Release>,
    pub socks: Shared<BTreeMap<ValId, Sock>>,
    /// Values that are guards owning a reference (their `Drop` cleans up): where each was made.
    pub guards: Shared<BTreeMap<ValId, Span>>,
    /// The last own `WSACleanup` or failed `WSAStartup` on this path, to explain an unmatched cleanup.
    pub last_own: Option<(Span, OwnEvent)>,
    /// The `WSACleanup` that released this path's last reference (and no caller's): Winsock is
    /// down from here until the next `WSAStartup`.
    pub final_cleanup: Option<Span>,
    /// The `WSAStartup` that just failed, when no other Winsock call came after it.
    pub startup_failed: Option<Span>,
    /// Wrapper values (`Ok(x)`, `Some(x)`: one part) and tuples (a part per element), and the
    /// values each was made from, so a pattern that takes it apart gets them back with what
    /// is known of them.
    pub parts: Shared<BTreeMap<ValId, Vec<Val>>>,
    /// The last macro the analysis does not model that this path passed (see `hidden_by`).
    pub passed_macro: Option<PassedMacro>,
}

/// A macro of another crate the analysis does not model, passed on a path that had started
/// or cleaned up Winsock itself. It may have ended the path there (a hidden `return`, a
/// panic) or tested a value it was given, so what the path knows of its own startups and
/// cleanups afterwards holds only if the macro fell through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PassedMacro {
    pub at: Span,
    /// The path's last own event and references held when it passed: a later own startup or
    /// cleanup changes them, and the macro no longer stands between that event and what follows.
    since: (Option<(Span, OwnEvent)>, usize),
}

impl State {
    /// Entries a copy of this state copies: what forking a path costs.
    pub fn weight(&self) -> usize {
        self.vals.len()
            + self.vars.len()
            + self.socks.len()
            + self.guards.len()
            + self.held.len()
            + self.parts.len()
    }

    pub fn classes(&self, v: Val) -> ClassSet {
        match v {
            Val::Sym(id) => self.vals.get(&id).copied().unwrap_or(ALL),
            Val::Lit(c, _) => c,
        }
    }

    /// Keeps this path only if `v` can be in `classes`; narrows `v` to them.
    pub fn restrict(mut self, v: Val, classes: ClassSet) -> Option<State> {
        match v {
            Val::Sym(id) => {
                let known = self.vals.get(&id).copied();
                let new = known.unwrap_or(ALL) & classes;
                if new == 0 {
                    return None;
                }
                // Unchanged: leave a shared map shared.
                if known != Some(new) {
                    self.vals.insert(id, new);
                }
                Some(self)
            }
            Val::Lit(c, _) => (c & classes != 0).then_some(self),
        }
    }

    /// A value id is about to name a new value: what was known of the old one goes.
    pub fn forget(&mut self, id: ValId) {
        // Only a map that holds `id` is written to (and so copied if shared).
        if self.vals.contains_key(&id) {
            self.vals.remove(&id);
        }
        if self.socks.contains_key(&id) {
            self.socks.remove(&id);
        }
        if self.guards.contains_key(&id) {
            self.guards.remove(&id);
        }
        if self.parts.contains_key(&id) {
            self.parts.remove(&id);
        }
    }

    /// The value facts something refers to: a variable, a socket or a guard.
    fn is_live(&self, id: &ValId, vars: &[ValId]) -> bool {
        vars.binary_search(id).is_ok()
            || self.socks.contains_key(id)
            || self.guards.contains_key(id)
    }

    /// Drops value facts nothing refers to any more (and a mark that ended), so equal paths
    /// compare equal.
    pub fn gc(&mut self) {
        self.gc_keeping(None)
    }

    /// `gc`, with `keep` (the value a statement passes on) and what it was made from live.
    pub fn gc_keeping(&mut self, keep: Option<ValId>) {
        // A mark a later own startup or cleanup ended says nothing more.
        if self.passed_macro.is_some() && self.hidden_by().is_none() {
            self.passed_macro = None;
        }
        let mut vars: Vec<ValId> = self.vars.values().copied().chain(keep).collect();
        // The payload of a live wrapper is live too (wrappers of wrappers: `Some(Ok(x))`).
        if !self.parts.is_empty() {
            let mut i = 0;
            while i < vars.len() {
                if let Some(ps) = self.parts.get(&vars[i]) {
                    for p in ps {
                        if let Val::Sym(p) = *p {
                            if !vars.contains(&p) {
                                vars.push(p);
                            }
                        }
                    }
                }
                i += 1;
            }
        }
        vars.sort_unstable();
        if self.parts.keys().any(|k| vars.binary_search(k).is_err()) {
            let mut parts = std::mem::take(&mut self.parts);
            parts.retain(|k, _| vars.binary_search(k).is_ok());
            self.parts = parts;
        }
        // Most states have nothing to drop: then `vals` is not written, and stays shared.
        if self.vals.keys().all(|k| self.is_live(k, &vars)) {
            return;
        }
        let mut vals = std::mem::take(&mut self.vals);
        vals.retain(|k, _| self.is_live(k, &vars));
        self.vals = vals;
    }

    /// What this path knows of Winsock before a call, as facts say it: `failed_startup` and
    /// the call's `socket` are read by the caller (the first is taken off the state).
    pub fn before(
        &self,
        failed_startup: Option<Span>,
        socket: Option<super::events::SocketFact>,
    ) -> super::events::Before {
        super::events::Before {
            held: self.held.len(),
            down_since: self.final_cleanup,
            failed_startup,
            socket,
            hidden_by: self.hidden_by(),
        }
    }

    /// The path passes a macro the analysis does not model. A path with no own startup or
    /// cleanup yet has nothing whose outcome the macro could hide, so it is not marked.
    /// The first such macro since the event is kept: paths through the same one stay equal.
    pub fn pass_unmodelled_macro(&mut self, at: Span) {
        if self.own && self.hidden_by().is_none() {
            self.passed_macro = Some(PassedMacro {
                at,
                since: (self.last_own, self.held.len()),
            });
        }
        // Likewise what follows from a socket's close: only a map with such a socket is written.
        let unmarked = |s: &Sock| s.closed.is_some() && s.closed_hidden_by.is_none();
        if self.socks.values().any(unmarked) {
            for sock in self.socks.values_mut() {
                if unmarked(sock) {
                    sock.closed_hidden_by = Some(at);
                }
            }
        }
    }

    /// The unmodelled macro that stands between this path's last own startup or cleanup and
    /// here: what follows from that event here rests on the macro having fallen through.
    pub fn hidden_by(&self) -> Option<Span> {
        self.passed_macro
            .filter(|m| m.since == (self.last_own, self.held.len()))
            .map(|m| m.at)
    }

    /// Binds `name` to `id`; a binding it already has is not written (see `Shared`).
    pub fn set_var(&mut self, name: &str, id: ValId) {
        if self.vars.get(name) != Some(&id) {
            self.vars.insert(name.to_string(), id);
        }
    }
}

// What a unit hands its callers. It lives here, beside the state it is made of, because both
// sides use it: `interp` applies callees' summaries and `summary` builds them from `interp`'s
// exits, so a home in either would make the two import each other.

/// A socket a unit hands its caller as its return value (or inside an `Ok`/`Some`): one it
/// made (`socket`, `accept`) and did not close on that exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReturnedSocket {
    pub kind: SocketKind,
    /// `accept` made it; otherwise `socket`.
    pub accepted: bool,
    /// A connected stream when returned.
    pub connected: bool,
    /// In the payload of the returned wrapper rather than the value itself.
    pub wrapped: bool,
    /// At this position of a returned tuple of this many elements (inside the wrapper when
    /// `wrapped`).
    pub index: Option<(u8, u8)>,
}

impl ReturnedSocket {
    /// The socket the exit's value `v` (or the value it wraps) is, when this unit made it
    /// and still has it open.
    pub fn of(st: &State, v: Val) -> Option<ReturnedSocket> {
        let Val::Sym(id) = v else { return None };
        let part = |w: ValId, k: usize| match st.parts.get(&w)?.get(k)? {
            Val::Sym(p) => Some(*p),
            Val::Lit(..) => None,
        };
        let sock_at = |p: Option<ValId>| p.and_then(|p| st.socks.get(&p));
        // The value itself, `Ok(s)`, `(s, ..)` or `Ok((s, ..))`: the first socket found.
        let (sock, wrapped, index) = if let Some(s) = st.socks.get(&id) {
            (s, false, None)
        } else if let Some(s) = sock_at(part(id, 0)).filter(|_| st.parts[&id].len() == 1) {
            (s, true, None)
        } else {
            let inner = part(id, 0).filter(|_| st.parts[&id].len() == 1);
            let (tuple, wrapped) = match inner {
                Some(t) => (t, true),
                None => (id, false),
            };
            let n = st.parts.get(&tuple).map_or(0, Vec::len);
            let n = u8::try_from(n).ok()?;
            let (k, s) = (0..n).find_map(|k| sock_at(part(tuple, k.into())).map(|s| (k, s)))?;
            (s, wrapped, Some((k, n)))
        };
        let accepted = match sock.origin {
            Origin::Accepted(_) => true,
            Origin::Created(_) => false,
            Origin::Foreign(_) => return None,
        };
        if sock.closed.is_some() {
            return None;
        }
        Some(ReturnedSocket {
            kind: sock.kind,
            accepted,
            connected: sock.connected.is_some(),
            wrapped,
            index,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The return-value classes of this outcome.
    pub classes: ClassSet,
    /// References the caller holds after this outcome, each with its chain into the callee.
    pub acquires: Vec<Chain>,
    /// Caller references this outcome released.
    pub releases: Vec<Release>,
    /// Every path of this outcome passed a macro the analysis does not model after its last own
    /// startup or cleanup (`State::hidden_by`): the outcome may not exist, and the caller's path
    /// through it is marked in turn.
    pub hidden_by: Option<Span>,
    /// The classes each parameter (by index) can have when the unit ends this way; empty when
    /// no exit tells its parameters apart. A caller's argument outside them rules the outcome
    /// out: `cvt(rc)?` passes only where `rc` was 0.
    pub params: Vec<ClassSet>,
    /// The socket this outcome returns, which the caller then owns.
    pub socket: Option<ReturnedSocket>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Empty when the function never returns.
    pub outcomes: Vec<Outcome>,
    /// Socket parameters (by index) shut down for sending on every return.
    pub shuts_params: Vec<usize>,
    /// Socket parameters closed on every return.
    pub closes_params: Vec<usize>,
    /// Returns a guard whose `Drop` releases the reference it owns.
    pub returns_guard: bool,
    /// The guard it returns is built with no `WSAStartup` of its own (`fn make() -> Winsock
    /// { Winsock }`): it takes over a reference its caller holds, as a guard built in place does.
    pub guard_from_callers: bool,
}

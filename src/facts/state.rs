//! The abstract state of one path through a function body.
//!
//! A path knows: which `WSAStartup` references it holds, what it released of
//! its caller's, each value's possible classes (zero / non-zero, `Ok` / `Err`,
//! valid / invalid socket...), and each socket's life so far.
//!
//! Also the `Summary` of a unit for its callers, built from these parts by `summary` and
//! applied at call sites by `interp`.

use crate::source::Span;
use std::collections::BTreeMap;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Val {
    /// A tracked value whose classes live in the state (so a test on it refines the path).
    Sym(ValId),
    /// A constant; `exclusive` when it is the only value of its class (0, -1, `true`, `INVALID_SOCKET`),
    /// so `x != c` rules the class out.
    Lit(ClassSet, bool),
}

pub const UNKNOWN: Val = Val::Lit(ALL, false);

/// One step of how a reference or release reached this point: a call and what it says.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    pub span: Span,
    pub label: String,
}

/// A `WSAStartup` reference held on this path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    /// Where the holder got it: the `WSAStartup` call, or the call of the crate function that returned it.
    pub site: Span,
    /// Inside the callee(s), down to the `WSAStartup`.
    pub chain: Vec<Link>,
}

/// A `WSACleanup` that released a reference this function did not take (its caller's).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Release {
    /// The `WSACleanup` call itself.
    pub cleanup: Span,
    /// Calls from the current function down to it (empty when direct).
    pub chain: Vec<Link>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SockKind {
    Stream,
    Datagram,
    Listening,
    Unknown,
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
    pub kind: SockKind,
    pub origin: Origin,
    /// Where it became a connected stream (`accept`, successful `connect`).
    pub connected: Option<Span>,
    /// `shutdown(s, SD_SEND | SD_BOTH)` ran on this path.
    pub shut: bool,
    pub closed: Option<Span>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    pub vals: BTreeMap<ValId, ClassSet>,
    pub vars: BTreeMap<String, ValId>,
    pub held: Vec<Token>,
    /// This path ran a `WSAStartup` or `WSACleanup` of its own: a cleanup with nothing held is then
    /// unmatched here rather than a release of the caller's reference.
    pub own: bool,
    pub released: Vec<Release>,
    pub socks: BTreeMap<ValId, Sock>,
    /// Values that are guards owning a reference (their `Drop` cleans up): where each was made.
    pub guards: BTreeMap<ValId, Span>,
    /// The last own `WSACleanup` or failed `WSAStartup` on this path, to explain an unmatched cleanup.
    pub last_own: Option<(Span, OwnEvent)>,
    /// The `WSACleanup` that released this path's last reference (and no caller's): Winsock is
    /// down from here until the next `WSAStartup`.
    pub final_cleanup: Option<Span>,
    /// The `WSAStartup` that just failed, when no other Winsock call came after it.
    pub startup_failed: Option<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnEvent {
    FailedStartup,
    Cleanup,
}

impl State {
    /// Entries a copy of this state copies: what forking a path costs.
    pub fn weight(&self) -> usize {
        self.vals.len() + self.vars.len() + self.socks.len() + self.guards.len() + self.held.len()
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
                let cur = self.vals.get(&id).copied().unwrap_or(ALL);
                let new = cur & classes;
                if new == 0 {
                    return None;
                }
                self.vals.insert(id, new);
                Some(self)
            }
            Val::Lit(c, _) => (c & classes != 0).then_some(self),
        }
    }

    /// A value id is about to name a new value: what was known of the old one goes.
    pub fn forget(&mut self, id: ValId) {
        self.vals.remove(&id);
        self.socks.remove(&id);
        self.guards.remove(&id);
    }

    /// Drops value facts nothing refers to any more, so equal paths compare equal.
    pub fn gc(&mut self) {
        let live: std::collections::BTreeSet<ValId> = self
            .vars
            .values()
            .copied()
            .chain(self.socks.keys().copied())
            .chain(self.guards.keys().copied())
            .collect();
        self.vals.retain(|k, _| live.contains(k));
    }
}

// What a unit hands its callers. It lives here, beside the state it is made of, because both
// sides use it: `interp` applies callees' summaries and `summary` builds them from `interp`'s
// exits, so a home in either would make the two import each other.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The return-value classes of this outcome.
    pub classes: ClassSet,
    /// References the caller holds after this outcome, each with its chain into the callee.
    pub acquires: Vec<Vec<Link>>,
    /// Caller references this outcome released.
    pub releases: Vec<Release>,
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
}

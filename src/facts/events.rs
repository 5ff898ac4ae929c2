//! The facts the analysis records, in Winsock's terms and no lint's: each Winsock call with
//! what the path knew just before it, each release of a reference, each reference that stops
//! with its holder, what an exported `DllMain` reaches. Plain data with spans; it knows
//! nothing of how it is computed (`interp`, `summary`) or which of it is a mistake and how
//! that is worded (`lints`: each lint is a query over these).

use crate::source::Span;
use crate::winsock::Api;

/// How a path leaves its function, or (the last two) how a loop iteration hands its path to
/// the next iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExitKind {
    Return,
    Question,
    End,
    /// A `continue` that starts another iteration.
    Continue,
    /// The end of a loop body that starts another iteration.
    NextIteration,
}

/// Why a socket counts as a connected stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectedBy {
    Accept,
    Connect,
    /// Used with send/recv/shutdown in this function.
    Usage,
}

/// What a path knows of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketKind {
    Stream,
    Datagram,
    Listening,
    Unknown,
}

/// One socket as a path knows it just before a call on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocketFact {
    pub kind: SocketKind,
    /// Where it became a connected stream, and how (for a socket this function did not make,
    /// its use as a stream elsewhere in the function).
    pub connected: Option<(Span, ConnectedBy)>,
    /// `shutdown` for sending (`SD_SEND`, `SD_BOTH`) ran on this path.
    pub shut: bool,
    /// Where this path closed it.
    pub closed: Option<Span>,
    /// A macro the analysis does not model that this path passed after closing it: the path
    /// may have ended there.
    pub closed_hidden_by: Option<Span>,
}

impl SocketFact {
    /// Where the path closed it, when no macro the analysis does not model stands between the
    /// close and here (see `lint::known_paths`).
    pub fn closed_on_known_path(&self) -> Option<Span> {
        self.closed.filter(|_| self.closed_hidden_by.is_none())
    }
}

/// What is called: a row of the Winsock table, or a crate function whose summary is applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Callee {
    Api(ApiRef),
    Crate {
        /// As shown in messages (`` `init` ``, ``a closure in `main` ``).
        display: String,
        /// It makes Winsock calls that need a started Winsock, directly or through callees.
        uses_winsock: bool,
        /// Some outcome hands the caller a `WSAStartup` reference.
        starts_winsock: bool,
    },
}

/// A row of `winsock::APIS`, compared by name.
#[derive(Debug, Clone, Copy)]
pub struct ApiRef(pub &'static Api);

impl PartialEq for ApiRef {
    fn eq(&self, other: &ApiRef) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for ApiRef {}
impl PartialOrd for ApiRef {
    fn partial_cmp(&self, other: &ApiRef) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ApiRef {
    fn cmp(&self, other: &ApiRef) -> std::cmp::Ordering {
        self.0.name.cmp(other.0.name)
    }
}

/// What one path knew of Winsock right before a call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Before {
    /// `WSAStartup` references the function holds on this path.
    pub held: usize,
    /// The `WSACleanup` that released the last reference this path held (and none of its
    /// caller's), with no `WSAStartup` since: Winsock is down here.
    pub down_since: Option<Span>,
    /// The `WSAStartup` that failed just before, with no other Winsock call between.
    pub failed_startup: Option<Span>,
    /// The socket argument of the call (by the table's `socket_arg`, else the first), when the
    /// path knows it as a socket.
    pub socket: Option<SocketFact>,
    /// A macro the analysis does not model that this path passed after its last own startup
    /// or cleanup: the path may have ended there, so what it knew of them may not hold here.
    pub hidden_by: Option<Span>,
}

/// A call of Winsock (or of a crate function that uses it) as one path reached it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallFact {
    pub span: Span,
    pub callee: Callee,
    pub before: Before,
    /// The version word a `WSAStartup` asks for, when it is a constant we can read: (the
    /// argument's span, its value).
    pub version: Option<(Span, VersionArg)>,
}

impl CallFact {
    /// The table row, for a call of a Winsock function.
    pub fn api(&self) -> Option<&'static Api> {
        match &self.callee {
            Callee::Api(a) => Some(a.0),
            Callee::Crate { .. } => None,
        }
    }
}

/// Whose reference a `WSACleanup` releases on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Released {
    /// One this function holds.
    Own,
    /// Its caller's: the function hands the release up.
    Callers,
    /// Its caller's, in a function no caller can hold one for (a root, an uncalled private
    /// function).
    NoHolder,
    /// None: the path took no reference, or gave back what it took (`previous`: the last own
    /// cleanup or failed startup on the path).
    Nothing { previous: Option<(Span, OwnEvent)> },
}

/// A `WSACleanup`, directly or in a callee, as one path reached it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseFact {
    /// Where the release happens in the holder: the `WSACleanup`, or the call of the crate
    /// function that makes it.
    pub at: Span,
    /// The `WSACleanup` itself.
    pub cleanup: Span,
    /// From the holder down to the `WSACleanup` (empty when direct).
    pub chain: Vec<Link>,
    pub released: Released,
    /// Sockets the function made (`socket`, `accept`) still open on the path: where each was made.
    pub open_sockets: Vec<Span>,
    /// The function it happens in, as shown.
    pub holder: String,
    /// As `Before::hidden_by`: a macro not modelled between the path's last own startup or
    /// cleanup and this release.
    pub hidden_by: Option<Span>,
}

/// A fact recorded on one path, which may rest on a macro the analysis does not model.
pub trait OnPath {
    fn hidden_by(&self) -> Option<Span>;
}

impl OnPath for CallFact {
    fn hidden_by(&self) -> Option<Span> {
        self.before.hidden_by
    }
}

impl OnPath for ReleaseFact {
    fn hidden_by(&self) -> Option<Span> {
        self.hidden_by
    }
}

/// How a `WSAStartup` reference stops with its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldEnd {
    /// The holder returns still holding it, on exits where no caller can know it holds it
    /// (or the holder has no caller: `main`, a test, a thread); or an iteration of a loop that
    /// took it starts the next one still holding it (`ExitKind::Continue`, `NextIteration`):
    /// one reference more per iteration.
    Dropped { exits: Vec<(Span, ExitKind)> },
    /// A guard owning it is forgotten (`mem::forget`, `Box::leak`, `ManuallyDrop::new`), so
    /// its `Drop` never runs.
    Forgotten { at: Span },
    /// Handed to callers outside the crate (a `pub` function nothing in the crate calls).
    /// `release_offered`: the crate has a function (or guard) that releases one for them.
    HandedOut {
        exits: Vec<(Span, ExitKind)>,
        release_offered: bool,
    },
}

/// A reference whose holder ends with it.
#[derive(Debug, Clone)]
pub struct HoldFact {
    /// The `WSAStartup` call, the call of the crate function that returned it, or the guard.
    pub site: Span,
    /// How the reference came out of callees (empty for a direct `WSAStartup`).
    pub chain: Vec<Link>,
    pub end: HoldEnd,
    /// The holder, as shown (`` `main` ``).
    pub holder: String,
}

/// A Winsock call reachable from an exported `DllMain`.
#[derive(Clone, Debug)]
pub struct EntryReach {
    pub api: &'static Api,
    /// The calls from `DllMain` down to the Winsock call: (call span, function it is in). At
    /// most `MAX_CHAIN_SHOWN` calls: `omitted` says how many between were left out.
    pub chain: Vec<(Span, String)>,
    pub omitted: usize,
}

/// A Winsock call site of the crate, whatever any path knows there.
#[derive(Clone, Debug)]
pub struct WinsockCall {
    pub api: &'static Api,
    pub span: Span,
}

/// The value of a Winsock call is thrown away where it is made.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Discarded {
    pub span: Span,
    pub api: ApiRef,
}

/// The version argument of a `WSAStartup`, when it is a constant we can read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum VersionArg {
    /// `2.2 as u16`: the float as written, the type it is cast to, and the integer it becomes.
    Float {
        text: String,
        ty: String,
        value: u16,
    },
    Word(u16),
}

/// One step of how a reference or release reached this point: a call, the function it was
/// made in, and what it did. Lints word it (`lint::chain_label`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    pub span: Span,
    /// The function the step is about, as shown (`` `init` ``, ``a closure in `main` ``): the
    /// one that takes or hands on the reference, or the one called.
    pub unit: String,
    pub step: Step,
    /// Calls of the chain left out after this one (only on the last link of a capped chain).
    pub omitted: usize,
}

/// What the call of a `Link` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// `unit` calls `WSAStartup` here and keeps the reference.
    Takes,
    /// `unit` gets a reference from a callee here and hands it on to its caller.
    HandsOn,
    /// `unit` calls the next function of the chain here.
    Calls,
}

/// What a path did last of its own, to explain a cleanup with nothing to release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnEvent {
    FailedStartup,
    Cleanup,
}

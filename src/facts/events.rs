//! What the analysis records that lints read by name: how a path left its function, how a
//! socket came to be connected, what happened after a cleanup or a close, the version a
//! `WSAStartup` asked for. Plain data with spans; it knows nothing of how it is computed
//! (`interp`) or worded (`lints`).

use crate::source::Span;

/// How a path leaves its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExitKind {
    Return,
    Question,
    End,
}

/// Why a closed socket counts as a connected stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectedBy {
    Accept,
    Connect,
    /// Used with send/recv/shutdown in this function.
    Usage,
}

/// A Winsock call made after the final `WSACleanup` on its path (`call`), or a socket used after
/// `closesocket` (`UseAfterCloseEvent`), with the event that made it late.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AfterCleanupEvent {
    pub call: Span,
    pub name: String,
    pub cleanup: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UseAfterCloseEvent {
    pub call: Span,
    pub name: String,
    pub closed: Span,
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

//! The runtime twins of the lints: the same mistakes, recognised in the
//! sequence of calls a run really made.
//!
//! Only calls made by the linted sources count (their innermost source frame is
//! in a `--source` file): the standard library's own `WSAStartup`, or a
//! dependency's, is its business, as it is for the static analysis.

use super::events::{self, Event, SOCK_STREAM, WSANOTINITIALISED};
use super::symbolize::Loc;
use crate::winsock::{Effect, How};
use std::collections::{BTreeMap, HashMap, HashSet};

/// An observed call with its source frames.
#[derive(Debug, Clone)]
pub struct Observed {
    pub event: Event,
    /// Every source frame, innermost first (canonical file paths).
    pub locs: Vec<Loc>,
    /// Which of `locs` lie in the linted sources.
    pub user: Vec<bool>,
}

impl Observed {
    /// The call was made by the linted code itself, not by a library it calls.
    pub fn by_user(&self) -> bool {
        self.user.first().copied().unwrap_or(false)
    }

    /// The linted-source frames, innermost first.
    pub fn user_locs(&self) -> impl Iterator<Item = &Loc> {
        self.locs
            .iter()
            .zip(&self.user)
            .filter(|(_, u)| **u)
            .map(|(l, _)| l)
    }

    /// Inside a one-time initialisation (`Once`, `OnceLock`, `lazy_static`...): a process-lifetime
    /// reference that is meant never to be released (WINSOCK.md section 7).
    fn one_time_init(&self) -> bool {
        const MARKS: &[&str] = &[
            "std::sync::once::",
            "std::sync::once_lock::",
            "std::sync::lazy_lock::",
            "OnceLock",
            "OnceCell",
            "LazyLock",
            "LazyCell",
            "once_cell::",
            "lazy_static",
            "Lazy<",
        ];
        self.locs.iter().any(|l| {
            l.function
                .as_deref()
                .is_some_and(|f| MARKS.iter().any(|m| f.contains(m)))
        })
    }
}

/// A mistake seen at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub lint: &'static str,
    /// The call the finding is about (the static lint's primary span).
    pub at: usize,
    /// Earlier calls that explain it (the startup, the close, the final cleanup).
    pub related: Vec<usize>,
    pub what: String,
}

/// Lints that have a runtime twin; the others cannot be observed in a run
/// (`unchecked_wsa_startup` is about what the code does with a result).
pub const OBSERVABLE: &[&str] = &[
    "missing_wsa_cleanup",
    "unmatched_wsa_cleanup",
    "wsa_cleanup_in_dllmain",
    "wsa_startup_in_dllmain",
    "closesocket_without_shutdown",
    "wsa_cleanup_with_open_sockets",
    "winsock_after_cleanup",
    "removed_winsock1_api",
    "wsagetlasterror_after_wsastartup",
    "socket_use_after_close",
];

#[derive(Debug, Default)]
pub struct Outcome {
    pub violations: Vec<Violation>,
    /// Successful startups minus successful cleanups when the log ended.
    pub references_at_exit: usize,
    /// Of those, references taken by one-time initialisation or by libraries.
    pub references_expected: usize,
}

/// `ended`: the program ran to its end (not killed or crashed), so what it still
/// held was really never released.
pub fn check(obs: &[Observed], ended: bool) -> Outcome {
    let mut out = Outcome::default();
    let mut v = |lint, at, related, what: String| {
        out.violations.push(Violation {
            lint,
            at,
            related,
            what,
        })
    };
    // Startups not yet released, oldest first.
    let mut held: Vec<usize> = Vec::new();
    let mut final_cleanup: Option<usize> = None;
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut closed: HashMap<u64, usize> = HashMap::new();
    let mut shut_send: HashSet<u64> = HashSet::new();
    // The call that connected each socket: `connect`, or the `accept` that made it.
    let mut connected_by: HashMap<u64, usize> = HashMap::new();
    let mut previous_on_thread: HashMap<u32, usize> = HashMap::new();

    for (i, o) in obs.iter().enumerate() {
        let e = &o.event;
        let user = o.by_user();
        let func = e.func.as_str();
        let previous = previous_on_thread.insert(e.thread, i);

        if user && crate::winsock::is_removed(func) {
            v(
                "removed_winsock1_api",
                i,
                vec![],
                format!("{func} was removed in Winsock 2 and was called"),
            );
        }
        if user && final_cleanup.is_some() && held.is_empty() {
            let exempt = !crate::winsock::needs_init(func);
            if !exempt {
                let cleanup = final_cleanup.unwrap_or(i);
                let result = match e.error {
                    Some(WSANOTINITIALISED) => " and failed with WSANOTINITIALISED",
                    _ => "",
                };
                v(
                    "winsock_after_cleanup",
                    i,
                    vec![cleanup],
                    format!("{func} was called after the final WSACleanup{result}"),
                );
            }
        }
        if let Some(s) = events::socket_arg(e) {
            if let (true, Some(&close)) = (user, closed.get(&s)) {
                v(
                    "socket_use_after_close",
                    i,
                    vec![close],
                    format!("socket {s} was used by {func} after closesocket"),
                );
            }
        }

        match crate::winsock::effect(func) {
            Effect::Startup => {
                if user && e.dllmain {
                    v(
                        "wsa_startup_in_dllmain",
                        i,
                        vec![],
                        "WSAStartup ran inside DllMain (the thread held the loader lock)".into(),
                    );
                }
                if !e.failed() {
                    held.push(i);
                    final_cleanup = None;
                }
            }
            Effect::Cleanup => {
                if user && e.dllmain {
                    v(
                        "wsa_cleanup_in_dllmain",
                        i,
                        vec![],
                        "WSACleanup ran inside DllMain (the thread held the loader lock)".into(),
                    );
                }
                if e.failed() || held.is_empty() {
                    if user {
                        v(
                            "unmatched_wsa_cleanup",
                            i,
                            vec![],
                            "WSACleanup was called with no successful WSAStartup outstanding"
                                .into(),
                        );
                    }
                } else {
                    // Release the newest reference of the same owner (the linted code, or a
                    // library); releasing a library's reference is the caller's mistake.
                    // Prefer the startup made by the same function (the usual pairing), else the
                    // newest one (nested guards, init/deinit pairs).
                    let function =
                        |o: &Observed| o.user_locs().next().and_then(|l| l.function.clone());
                    let here = function(o);
                    let same = held
                        .iter()
                        .rposition(|&s| {
                            obs[s].by_user() == user && here.is_some() && function(&obs[s]) == here
                        })
                        .or_else(|| held.iter().rposition(|&s| obs[s].by_user() == user));
                    let pos = same.unwrap_or(held.len() - 1);
                    let released = held.remove(pos);
                    if user && same.is_none() {
                        v(
                            "unmatched_wsa_cleanup",
                            i,
                            vec![released],
                            "WSACleanup released a reference that a library had taken, not one of this code's".into(),
                        );
                    }
                    if held.is_empty() {
                        final_cleanup = Some(i);
                        let still_open: Vec<usize> = open
                            .values()
                            .copied()
                            .filter(|&c| obs[c].by_user())
                            .collect();
                        if user && !still_open.is_empty() {
                            let n = still_open.len();
                            v(
                                "wsa_cleanup_with_open_sockets",
                                i,
                                still_open,
                                format!(
                                    "the final WSACleanup ran while {n} socket{} of this code {} still open",
                                    if n == 1 { "" } else { "s" },
                                    if n == 1 { "was" } else { "were" }
                                ),
                            );
                        }
                    }
                }
            }
            Effect::ReadsLastError => {
                if let Some(p) = previous {
                    let prev = &obs[p].event;
                    let startup = crate::winsock::effect(&prev.func) == Effect::Startup;
                    if user && startup && prev.failed() {
                        v(
                            "wsagetlasterror_after_wsastartup",
                            i,
                            vec![p],
                            format!(
                                "WSAGetLastError read {} after WSAStartup had returned {} itself",
                                e.ret as i32,
                                prev.error.unwrap_or(0)
                            ),
                        );
                    }
                }
            }
            Effect::Connects if !e.failed() => {
                if let Some(&s) = e.args.first() {
                    connected_by.insert(s, i);
                }
            }
            Effect::ShutsDown { how_arg } if !e.failed() => {
                let how = e.args.get(usize::from(how_arg));
                let how = how.and_then(|&v| crate::winsock::shutdown_how_value(v));
                if let (Some(&s), Some(How::Send | How::Both)) = (e.args.first(), how) {
                    shut_send.insert(s);
                }
            }
            Effect::Closes => {
                let s = e.args.first().copied().unwrap_or(0);
                let connected_stream = e.socket.is_some_and(|f| f.ty == SOCK_STREAM && f.connected);
                if user && connected_stream && !shut_send.contains(&s) {
                    let origin = connected_by
                        .get(&s)
                        .or(open.get(&s))
                        .copied()
                        .into_iter()
                        .collect();
                    v(
                        "closesocket_without_shutdown",
                        i,
                        origin,
                        format!("socket {s} was connected and closed without shutdown(SD_SEND)"),
                    );
                }
                if !e.failed() {
                    open.remove(&s);
                    shut_send.remove(&s);
                    closed.insert(s, i);
                }
            }
            _ => {}
        }
        // Handle values are reused: a new socket with an old number is a new socket.
        if let Some(s) = e.new_socket() {
            open.insert(s, i);
            closed.remove(&s);
            shut_send.remove(&s);
            connected_by.remove(&s);
            if crate::winsock::effect(func) == Effect::Accepts {
                connected_by.insert(s, i);
            }
        }
    }

    out.references_at_exit = held.len();
    for s in held {
        let o = &obs[s];
        if !ended || !o.by_user() || o.one_time_init() {
            out.references_expected += 1;
            continue;
        }
        v(
            "missing_wsa_cleanup",
            s,
            vec![],
            "the reference this WSAStartup took was still held when the program exited".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn call(seq: u64, func: &str, args: &[u64], ret: i64, error: Option<u32>) -> Observed {
        Observed {
            event: Event {
                seq,
                func: func.into(),
                args: args.to_vec(),
                ret,
                error,
                thread: 1,
                dllmain: false,
                frames: vec![],
                socket: None,
            },
            locs: vec![Loc {
                file: PathBuf::from("main.rs"),
                line: seq as u32 + 1,
                function: Some("prog::main".into()),
            }],
            user: vec![true],
        }
    }

    fn lints(o: &Outcome) -> Vec<(&'static str, usize)> {
        o.violations.iter().map(|v| (v.lint, v.at)).collect()
    }

    #[test]
    fn reference_counting() {
        let obs = [
            call(0, "WSAStartup", &[514], 0, None),
            call(1, "WSAStartup", &[514], 0, None),
            call(2, "WSACleanup", &[], 0, None),
        ];
        let o = check(&obs, true);
        assert_eq!(lints(&o), [("missing_wsa_cleanup", 0)]);
        assert_eq!(o.references_at_exit, 1);

        // A cleanup pairs with the startup of its own function: the helper's startup leaked.
        let mut helper = call(1, "WSAStartup", &[514], 0, None);
        helper.locs[0].function = Some("prog::fetch".into());
        let obs = [
            call(0, "WSAStartup", &[514], 0, None),
            helper,
            call(2, "WSACleanup", &[], 0, None),
        ];
        assert_eq!(lints(&check(&obs, true)), [("missing_wsa_cleanup", 1)]);
        let o = check(&obs, false);
        assert!(o.violations.is_empty(), "a run cut short leaks nothing");
        assert_eq!((o.references_at_exit, o.references_expected), (1, 1));

        let obs = [
            call(0, "WSAStartup", &[514], 10091, Some(10091)),
            call(1, "WSACleanup", &[], -1, Some(10093)),
        ];
        assert_eq!(lints(&check(&obs, true)), [("unmatched_wsa_cleanup", 1)]);
    }

    #[test]
    fn library_references_are_not_ours() {
        let mut std_init = call(0, "WSAStartup", &[514], 0, None);
        std_init.user = vec![false, true];
        let obs = [
            std_init,
            call(1, "WSAStartup", &[514], 0, None),
            call(2, "WSACleanup", &[], 0, None),
            call(3, "WSACleanup", &[], 0, None),
        ];
        let o = check(&obs, true);
        assert_eq!(lints(&o), [("unmatched_wsa_cleanup", 3)]);
        assert_eq!(o.references_at_exit, 0);
    }

    #[test]
    fn one_time_initialisation_is_not_a_leak() {
        let mut once = call(0, "WSAStartup", &[514], 0, None);
        once.locs.push(Loc {
            file: PathBuf::from("once.rs"),
            line: 1,
            function: Some("std::sync::once::Once::call_once::{{closure}}".into()),
        });
        once.user.push(false);
        let o = check(&[once], true);
        assert!(o.violations.is_empty());
        assert_eq!((o.references_at_exit, o.references_expected), (1, 1));
    }

    /// A `closesocket(40)` of a connected stream socket.
    fn connected_close(seq: u64) -> Observed {
        let mut close = call(seq, "closesocket", &[40], 0, None);
        close.event.socket = Some(events::SocketFacts {
            ty: SOCK_STREAM,
            connected: true,
        });
        close
    }

    #[test]
    fn sockets() {
        let obs = [
            call(0, "WSAStartup", &[514], 0, None),
            call(1, "socket", &[2, 1, 6], 40, None),
            call(2, "connect", &[40, 0, 16], 0, None),
            connected_close(3),
            call(4, "send", &[40, 0, 1, 0], -1, Some(10038)),
            call(5, "socket", &[2, 1, 6], 40, None),
            call(6, "send", &[40, 0, 1, 0], -1, Some(10057)),
            call(7, "WSACleanup", &[], 0, None),
            call(8, "recv", &[40, 0, 1, 0], -1, Some(10093)),
        ];
        assert_eq!(
            lints(&check(&obs, true)),
            [
                ("closesocket_without_shutdown", 3),
                ("socket_use_after_close", 4),
                ("wsa_cleanup_with_open_sockets", 7),
                ("winsock_after_cleanup", 8),
            ]
        );
    }

    #[test]
    fn shutdown_before_close_is_right() {
        let obs = [
            call(0, "WSAStartup", &[514], 0, None),
            call(1, "socket", &[2, 1, 6], 40, None),
            call(2, "shutdown", &[40, 1], 0, None),
            connected_close(3),
            call(4, "WSACleanup", &[], 0, None),
        ];
        assert!(check(&obs, true).violations.is_empty());
    }
}

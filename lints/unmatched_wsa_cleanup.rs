use crate::facts::{OwnEvent, Released};
use crate::lint::{known_paths, per_site, LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds a `WSACleanup` on a path where no successful `WSAStartup` is
    /// outstanding: after a `WSAStartup` that failed, a second cleanup for one
    /// startup, or a cleanup in a crate-private function none of whose callers
    /// holds a startup. A `pub` or exported function that only cleans up is the
    /// release half of an init/deinit pair and is not reported.
    ///
    /// ### Why is this bad
    /// A failed `WSAStartup` takes no reference. An extra `WSACleanup` either
    /// fails with `WSANOTINITIALISED` or, worse, releases a reference that
    /// another component of the process (a library, another thread) still
    /// relies on, tearing Winsock down under it.
    ///
    /// ### Known problems
    /// `debug_assert!(rc == 0)` is not a test of the result (release builds drop
    /// it), so a cleanup after it is reported. An unmodelled macro of another crate
    /// passed after the last own startup or cleanup may return or test what it is
    /// given, so findings that hold only on paths through it are not reported.
    /// With the counted N-startups loop of `missing_wsa_cleanup`, the later rounds
    /// of the cleanup loop are reported.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         unsafe { WSACleanup() }; // the startup failed: nothing to clean up
    ///         return;
    ///     }
    ///     serve();
    ///     unsafe { WSACleanup() };
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return;
    ///     }
    ///     serve();
    ///     unsafe { WSACleanup() };
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsacleanup>
    pub UNMATCHED_WSA_CLEANUP = "unmatched_wsa_cleanup", Correctness, Deny,
    "`WSACleanup` without an outstanding successful `WSAStartup`"
}

pub static DEF: LintDef = LintDef {
    lint: &UNMATCHED_WSA_CLEANUP,
    check,
    // A cleanup after a failed startup whose result was never tested is that startup's
    // fault: `unchecked_wsa_startup` reports it, once, at its cause.
    yields_to: &["unchecked_wsa_startup"],
};

/// Why a cleanup has nothing to release.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    AfterFailedStartup,
    Double,
    NoHolder,
}

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    // Per cleanup, the path that explains it best: the shortest chain, a release with nothing
    // to release before one no caller holds a reference for.
    let unmatched = per_site(known_paths(&facts.releases).filter_map(|r| {
        let rank: u8 = match r.released {
            Released::Nothing { .. } => 0,
            Released::NoHolder => 1,
            Released::Own | Released::Callers => return None,
        };
        Some((r.cleanup, (r.chain.len(), rank, r)))
    }));
    for (cleanup, (_, _, u)) in unmatched {
        let (reason, previous) = match u.released {
            Released::Nothing {
                previous: Some((at, OwnEvent::FailedStartup)),
            } => (Reason::AfterFailedStartup, Some(at)),
            Released::Nothing { previous } => (Reason::Double, previous.map(|p| p.0)),
            _ => (Reason::NoHolder, None),
        };
        let (label, help) = match reason {
            Reason::AfterFailedStartup => (
                "this cleanup can run after `WSAStartup` failed",
                "call `WSACleanup` only after `WSAStartup` returned 0".to_string(),
            ),
            Reason::Double => (
                "this cleanup can run after the reference was already released",
                "call `WSACleanup` exactly once for each successful `WSAStartup`".to_string(),
            ),
            Reason::NoHolder => (
                "no caller holds a Winsock reference for this cleanup",
                "call `WSACleanup` only where a successful `WSAStartup` is held, or make the function `pub` if it is the release half of an init/deinit pair".to_string(),
            ),
        };
        let mut e = cx.emit(
            &UNMATCHED_WSA_CLEANUP,
            cleanup,
            "`WSACleanup` without a matching successful `WSAStartup`",
            label,
        );
        if let Some(prev) = previous {
            let l = match reason {
                Reason::AfterFailedStartup => {
                    e = e.caused_by(prev);
                    "the startup fails here and takes no reference"
                }
                _ => "the reference is already released here",
            };
            e = e.label(prev, l);
        }
        for link in &u.chain {
            e = e.label(link.span, crate::lint::chain_label(link));
        }
        if reason == Reason::NoHolder {
            e = e.note(format!(
                "{} reaches this cleanup without holding a Winsock reference",
                u.holder
            ));
        }
        e.note("an unmatched `WSACleanup` fails with WSANOTINITIALISED or releases a reference another component still uses")
            .help(help);
    }
}

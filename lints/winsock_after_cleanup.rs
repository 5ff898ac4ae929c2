use crate::facts::Callee;
use crate::lint::{known_paths, per_site, LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds a Winsock call (direct, or through a crate function that makes
    /// one) on a path after the `WSACleanup` that released the last reference
    /// this code held, with no new `WSAStartup` in between. `WSAGetLastError`,
    /// byte-order helpers and `WSACleanup` itself (see `unmatched_wsa_cleanup`)
    /// are not counted.
    ///
    /// ### Why is this bad
    /// After the final `WSACleanup`, Winsock is torn down: every call fails with
    /// `WSANOTINITIALISED` (10093), so the socket operation silently does
    /// nothing, and error handling built for network errors sees a different
    /// code.
    ///
    /// ### Known problems
    /// A cleanup in a `defer!` or `scopeguard::guard` closure is taken when the
    /// guard is made, not when it runs: a Winsock call after the guard's scope ends
    /// is missed. A call after an unmodelled macro of another crate (which might
    /// have returned) is not reported.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return;
    ///     }
    ///     let s = unsafe { socket(AF_INET as i32, SOCK_DGRAM as i32, 0) };
    ///     unsafe { WSACleanup() };
    ///     unsafe { closesocket(s) }; // fails with WSANOTINITIALISED
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return;
    ///     }
    ///     let s = unsafe { socket(AF_INET as i32, SOCK_DGRAM as i32, 0) };
    ///     unsafe { closesocket(s) };
    ///     unsafe { WSACleanup() };
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsacleanup>
    pub WINSOCK_AFTER_CLEANUP = "winsock_after_cleanup", Correctness, Deny,
    "a Winsock call after the final `WSACleanup`"
}

pub static DEF: LintDef = LintDef {
    lint: &WINSOCK_AFTER_CLEANUP,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    let late = per_site(known_paths(&facts.calls).filter_map(|c| {
        let cleanup = c.before.down_since?;
        let what = match &c.callee {
            Callee::Api(a) if a.0.needs_init => format!("`{}` is a Winsock call", a.0.name),
            Callee::Crate {
                display,
                uses_winsock: true,
                starts_winsock: false,
            } => format!("{display} makes Winsock calls"),
            _ => return None,
        };
        Some((c.span, (cleanup, what)))
    }));
    for (call, (cleanup, what)) in late {
        cx.emit(
            &WINSOCK_AFTER_CLEANUP,
            call,
            "Winsock is used after the final `WSACleanup`",
            format!("{what} after Winsock was cleaned up"),
        )
        .label(cleanup, "the last reference is released here")
        .note("after the final `WSACleanup` every Winsock call fails with WSANOTINITIALISED")
        .help("move this call before the `WSACleanup`, or call `WSAStartup` again first");
    }
}

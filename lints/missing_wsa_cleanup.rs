use crate::facts::{ExitKind, HoldEnd};
use crate::lint::{LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds a successful `WSAStartup` that can reach the end of whoever holds it
    /// (the function, or the caller it was handed to) on some path without a
    /// matching `WSACleanup`: an early `return`, a `?`, a `break` out of the
    /// loop that would have cleaned up, or the end of `main`. A startup in a
    /// loop body that is still held when the next iteration starts (at a
    /// `continue` or the end of the body) leaks once per iteration. (A loop
    /// that starts Winsock N times on purpose and cleans up N times after it
    /// is reported too: the analysis does not count iterations.)
    ///
    /// ### Why is this bad
    /// `WSAStartup` and `WSACleanup` are a process-wide reference count. A
    /// reference that is never released keeps Winsock loaded for the rest of
    /// the process, and code that counts on the last `WSACleanup` to flush and
    /// reset its sockets never gets it. In a DLL or a long-running host the
    /// count only grows.
    ///
    /// Obligations may legitimately move: a guard whose `Drop` calls
    /// `WSACleanup`, one-time process initialisation (`Once`, `OnceLock`,
    /// `LazyLock`, `lazy_static`), and an `init()` that tells its caller
    /// whether it succeeded (`Ok`/`Err`, 0/error code, `true`/`false`) are
    /// not reported. A leaked guard (`mem::forget`) is.
    ///
    /// ### Known problems
    /// A loop that starts Winsock N times on purpose and cleans up N times in a
    /// second loop is reported: the analysis does not count iterations. A reference
    /// moved into a value without a cleaning `Drop` (a plain struct kept in a
    /// `Vec`) still counts as held where the value goes out of reach.
    /// `scopeguard::guard_on_unwind` is read as a guard that always runs, so a leak
    /// on a normal exit past it is missed. State kept in struct fields across
    /// methods (`new` starts, `close` cleans up) is not followed yet. A bare
    /// `bail!`/`ensure!` is known only in a file that imports it; elsewhere it is an
    /// unmodelled macro.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn main() -> io::Result<()> {
    ///     let mut data = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return Err(io::Error::last_os_error());
    ///     }
    ///     let s = connect_to_server()?; // leaks the reference on error
    ///     unsafe { WSACleanup() };
    ///     Ok(())
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// struct Winsock;
    /// impl Drop for Winsock {
    ///     fn drop(&mut self) { unsafe { WSACleanup(); } }
    /// }
    /// fn main() -> io::Result<()> {
    ///     let mut data = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return Err(io::Error::last_os_error());
    ///     }
    ///     let _winsock = Winsock;
    ///     let s = connect_to_server()?; // the guard cleans up
    ///     Ok(())
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsacleanup>
    pub MISSING_WSA_CLEANUP = "missing_wsa_cleanup", Correctness, Deny,
    "a successful `WSAStartup` is not matched by `WSACleanup` on some path"
}

pub static DEF: LintDef = LintDef {
    lint: &MISSING_WSA_CLEANUP,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    for hold in &facts.holds {
        let message = "`WSAStartup` is not balanced by `WSACleanup` on every path";
        let (exits, handed_out) = match &hold.end {
            HoldEnd::Forgotten { at } => {
                cx.emit(
                    &MISSING_WSA_CLEANUP,
                    hold.site,
                    message,
                    "this guard owns a Winsock reference",
                )
                .label(
                    *at,
                    "the guard is leaked here, so its `Drop` never calls `WSACleanup`",
                )
                .help("let the guard drop normally instead of leaking it");
                continue;
            }
            HoldEnd::Dropped { exits } => (exits, false),
            // Callers outside the crate can release it: the crate offers the other half.
            HoldEnd::HandedOut {
                release_offered: true,
                ..
            } => continue,
            HoldEnd::HandedOut { exits, .. } => (exits, true),
        };
        let primary = if hold.chain.is_empty() {
            "this startup can leak"
        } else {
            "this call returns a Winsock reference that can leak"
        };
        let mut e = cx.emit(&MISSING_WSA_CLEANUP, hold.site, message, primary);
        let mut per_iteration = false;
        for (span, kind) in exits {
            let label = match kind {
                ExitKind::Question => "`?` returns here without `WSACleanup`",
                ExitKind::Return => "returns here without `WSACleanup`",
                ExitKind::End => "the function ends here without `WSACleanup`",
                ExitKind::Continue => {
                    "`continue` starts the next iteration here still holding this one's reference"
                }
                ExitKind::NextIteration => {
                    "the iteration ends here still holding its reference, and the next one takes another"
                }
            };
            per_iteration |= matches!(kind, ExitKind::Continue | ExitKind::NextIteration);
            e = e.label(*span, label);
        }
        if per_iteration {
            e = e.note("the startup runs in a loop: the reference leaks once per iteration");
        }
        for link in &hold.chain {
            e = e.label(link.span, crate::lint::chain_label(link));
        }
        if handed_out {
            e = e.note(format!(
                "{} hands the reference to callers outside the crate, but the crate has no function that calls `WSACleanup` for them",
                hold.holder
            ));
        }
        e.help("call `WSACleanup` before returning, or hold the startup in a guard that cleans up on drop");
    }
}

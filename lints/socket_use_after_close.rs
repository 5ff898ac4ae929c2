use crate::lint::{per_site, LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds a socket used after `closesocket` on some path: `send`, `recv`,
    /// `shutdown`, `connect`, socket options, or a second `closesocket`. It is
    /// the static twin of Application Verifier's `WSA_SOCKET_ALREADY_CLOSED`.
    ///
    /// ### Why is this bad
    /// A closed handle is invalid; the call fails with `WSAENOTSOCK`. Worse,
    /// Windows reuses handle values, so by the time of the late call the same
    /// number may name another socket (opened by another thread or library),
    /// which then receives the data or gets closed.
    ///
    /// ### Known problems
    /// A `closesocket` inside a `defer!` or guard closure is not seen. The
    /// `windows` crate's `closesocket(SOCKET(raw))` and `s.0` name a different place
    /// than `s`, so a double close through them is missed. A socket kept in a
    /// struct field, or returned inside a struct, is not followed.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn serve(listener: SOCKET) {
    ///     unsafe {
    ///         if listen(listener, SOMAXCONN as i32) == SOCKET_ERROR {
    ///             closesocket(listener);
    ///         }
    ///         accept_loop(listener);
    ///         closesocket(listener); // a second close when `listen` failed
    ///     }
    /// }
    /// ```
    /// Use instead: close each socket exactly once (return, or set the variable
    /// to `INVALID_SOCKET`, once it is closed):
    /// ```rust,ignore
    /// fn serve(listener: SOCKET) {
    ///     unsafe {
    ///         if listen(listener, SOMAXCONN as i32) == SOCKET_ERROR {
    ///             closesocket(listener);
    ///             return;
    ///         }
    ///         accept_loop(listener);
    ///         closesocket(listener);
    ///     }
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-closesocket>
    pub SOCKET_USE_AFTER_CLOSE = "socket_use_after_close", Correctness, Deny,
    "a socket is used after `closesocket`"
}

pub static DEF: LintDef = LintDef {
    lint: &SOCKET_USE_AFTER_CLOSE,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    // A call on a socket (by the table's socket argument) that a path closed before it.
    let uses = per_site(facts.calls.iter().filter_map(|c| {
        let api = c.api()?;
        api.socket_arg?;
        let closed = c.before.socket.as_ref()?.closed_on_known_path()?;
        Some((c.span, (closed, api.name)))
    }));
    for (call, (closed, name)) in uses {
        let (message, label) = if crate::winsock::effect(name) == crate::winsock::Effect::Closes {
            ("socket closed twice", "the socket is closed again here")
        } else {
            ("socket used after `closesocket`", "the socket is used here")
        };
        cx.emit(&SOCKET_USE_AFTER_CLOSE, call, message, format!("{label} (`{name}`)"))
            .label(closed, "the socket is closed here")
            .note("a closed socket handle is invalid, and Windows may already have reused it for another socket")
            .help("use and close each socket before `closesocket`, exactly once");
    }
}

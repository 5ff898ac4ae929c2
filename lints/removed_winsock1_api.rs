use crate::lint::{LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds calls of the Winsock 1.1 blocking-hook functions that Winsock 2
    /// removed: `WSACancelBlockingCall`, `WSAIsBlocking`, `WSASetBlockingHook`
    /// and `WSAUnhookBlockingHook`.
    ///
    /// ### Why is this bad
    /// Under Winsock 2 they do nothing useful: they fail with `WSAEOPNOTSUPP`,
    /// so code that relies on them to cancel or detect a blocking call silently
    /// stops working.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn cancel_pending() {
    ///     unsafe {
    ///         if WSAIsBlocking() != 0 {
    ///             WSACancelBlockingCall();
    ///         }
    ///     }
    /// }
    /// ```
    /// Use instead: cancel a blocking call by closing its socket from another
    /// thread, or use overlapped I/O and `CancelIoEx`.
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/winsock/winsock-programming-considerations-2>
    pub REMOVED_WINSOCK1_API = "removed_winsock1_api", Correctness, Deny,
    "call of a Winsock 1.1 function removed in Winsock 2"
}

pub static DEF: LintDef = LintDef {
    lint: &REMOVED_WINSOCK1_API,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    for c in facts.winsock_calls.iter().filter(|c| c.api.removed) {
        cx.emit(
            &REMOVED_WINSOCK1_API,
            c.span,
            format!("`{}` was removed in Winsock 2", c.api.name),
            "fails with WSAEOPNOTSUPP",
        )
        .help(
            "cancel blocking calls by closing the socket, or use overlapped I/O with `CancelIoEx`",
        );
    }
}

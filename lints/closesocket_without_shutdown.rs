use crate::facts::{ConnectedBy, SocketKind};
use crate::lint::{per_site, LintCx, LintDef};
use crate::winsock::Effect;

crate::declare_lint! {
    /// ### What it does
    /// Finds `closesocket` on a connected stream socket that was not shut down
    /// for sending (`shutdown(s, SD_SEND)` or `SD_BOTH`) on every path before
    /// it. A socket is a connected stream when it came from `accept`, from a
    /// successful `connect` of a `SOCK_STREAM` socket, or (for a parameter or
    /// field) when the same function sends, receives or shuts it down.
    /// Listening sockets, datagram sockets, sockets whose `connect` failed, and
    /// handle wrappers that only close are not reported.
    ///
    /// ### Why is this bad
    /// Closing without `shutdown` is an abortive-risk close: with unread data
    /// or `SO_LINGER {on, 0}` the peer receives a reset and unsent data can be
    /// lost, and with a plain graceful close the peer cannot tell a clean end
    /// from a crash. `shutdown(SD_RECEIVE)` alone does not help.
    ///
    /// ### Known problems
    /// A `closesocket` inside a `defer!` or guard closure is not seen. Sockets a
    /// helper returns are followed only when the helper made or accepted them
    /// itself (a parameter handed back is a new value), and not inside a struct.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn reply(listener: SOCKET, reply: &[u8]) {
    ///     unsafe {
    ///         let c = accept(listener, std::ptr::null_mut(), std::ptr::null_mut());
    ///         if c == INVALID_SOCKET {
    ///             return;
    ///         }
    ///         send(c, reply.as_ptr(), reply.len() as i32, 0);
    ///         closesocket(c); // the peer may see a reset, and the reply may be lost
    ///     }
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn reply(listener: SOCKET, reply: &[u8]) {
    ///     unsafe {
    ///         let c = accept(listener, std::ptr::null_mut(), std::ptr::null_mut());
    ///         if c == INVALID_SOCKET {
    ///             return;
    ///         }
    ///         send(c, reply.as_ptr(), reply.len() as i32, 0);
    ///         shutdown(c, SD_SEND);
    ///         let mut buf = [0u8; 512];
    ///         while recv(c, buf.as_mut_ptr(), buf.len() as i32, 0) > 0 {}
    ///         closesocket(c);
    ///     }
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/winsock/graceful-shutdown-linger-options-and-socket-closure-2>
    pub CLOSESOCKET_WITHOUT_SHUTDOWN = "closesocket_without_shutdown", Suspicious, Warn,
    "`closesocket` on a connected stream socket without a prior `shutdown`"
}

pub static DEF: LintDef = LintDef {
    lint: &CLOSESOCKET_WITHOUT_SHUTDOWN,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    // A close of a socket that a path knows as a connected stream not shut down for sending.
    let closes = per_site(facts.calls.iter().filter_map(|c| {
        let api = c.api()?;
        (api.effect == Effect::Closes).then_some(())?;
        let sock = c.before.socket.as_ref()?;
        let stream = !matches!(sock.kind, SocketKind::Datagram | SocketKind::Listening);
        (stream && !sock.shut).then_some(())?;
        Some((c.span, sock.connected?))
    }));
    for (close, (connected_at, connected_by)) in closes {
        let origin = match connected_by {
            ConnectedBy::Accept => "the socket is accepted here",
            ConnectedBy::Connect => "the socket is connected here",
            ConnectedBy::Usage => "the socket is used as a connected stream here",
        };
        cx.emit(
            &CLOSESOCKET_WITHOUT_SHUTDOWN,
            close,
            "`closesocket` on a connected socket that was not shut down",
            "closed without `shutdown` on some path",
        )
        .label(connected_at, origin)
        .note("without `shutdown`, unread data or `SO_LINGER` {on, 0} makes the peer see a reset and unsent data can be lost")
        .help("call `shutdown(s, SD_SEND)` and read until `recv` returns 0 before `closesocket`");
    }
}

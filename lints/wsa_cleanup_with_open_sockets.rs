use crate::facts::Released;
use crate::lint::{LintCx, LintDef};
use crate::source::Span;

crate::declare_lint! {
    /// ### What it does
    /// Finds a `WSACleanup` (direct, or through a crate function) on a path
    /// where a socket that the same function created or accepted is still
    /// open.
    ///
    /// ### Why is this bad
    /// The final `WSACleanup` resets every socket that is still open, as if
    /// `closesocket` had been called on it abortively: the peer sees a reset,
    /// unsent data is lost, and pending overlapped operations fail with
    /// `WSA_OPERATION_ABORTED` without signalling. Even when it is not the final
    /// cleanup, the socket outlives the reference that kept Winsock up for it.
    ///
    /// ### Known problems
    /// Sockets in struct fields, or returned inside a struct, are not followed; a
    /// nested pattern (`Some(INVALID_SOCKET)`, `Ok(0)`) does not narrow the value
    /// inside, so a socket tested that way may still count as open.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return;
    ///     }
    ///     unsafe {
    ///         let s = socket(AF_INET as i32, SOCK_STREAM as i32, IPPROTO_TCP as i32);
    ///         if s == INVALID_SOCKET {
    ///             WSACleanup();
    ///             return;
    ///         }
    ///         let (addr, len) = server_addr();
    ///         connect(s, &addr, len);
    ///         send(s, b"bye".as_ptr(), 3, 0);
    ///         WSACleanup(); // `s` is reset: "bye" may never leave
    ///     }
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return;
    ///     }
    ///     unsafe {
    ///         let s = socket(AF_INET as i32, SOCK_STREAM as i32, IPPROTO_TCP as i32);
    ///         if s == INVALID_SOCKET {
    ///             WSACleanup();
    ///             return;
    ///         }
    ///         let (addr, len) = server_addr();
    ///         connect(s, &addr, len);
    ///         send(s, b"bye".as_ptr(), 3, 0);
    ///         shutdown(s, SD_SEND);
    ///         let mut buf = [0u8; 512];
    ///         while recv(s, buf.as_mut_ptr(), buf.len() as i32, 0) > 0 {}
    ///         closesocket(s);
    ///         WSACleanup();
    ///     }
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsacleanup>
    pub WSA_CLEANUP_WITH_OPEN_SOCKETS = "wsa_cleanup_with_open_sockets", Suspicious, Warn,
    "`WSACleanup` while a socket created in the same function is still open"
}

pub static DEF: LintDef = LintDef {
    lint: &WSA_CLEANUP_WITH_OPEN_SOCKETS,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    // A cleanup that releases a reference (its own or its caller's) while a socket this
    // function made is open on the path.
    let mut pairs: Vec<(Span, Span)> = facts
        .releases
        .iter()
        .filter(|r| matches!(r.released, Released::Own | Released::Callers))
        .flat_map(|r| r.open_sockets.iter().map(|s| (r.at, *s)))
        .collect();
    pairs.sort();
    pairs.dedup();
    for (cleanup, created) in pairs {
        cx.emit(
            &WSA_CLEANUP_WITH_OPEN_SOCKETS,
            cleanup,
            "`WSACleanup` while a socket is still open",
            "Winsock is cleaned up here",
        )
        .label(created, "this socket is still open on some path to the cleanup")
        .note("the final `WSACleanup` resets open sockets: the peer sees a reset and unsent data is lost")
        .help("shut down and close every socket before `WSACleanup`");
    }
}

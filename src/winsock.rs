//! What we know about Winsock itself: its functions, what each does, how each reports failure,
//! and the binding styles that declare them.
//!
//! The one table of Winsock knowledge (`APIS`, `BINDING_MODULES`, `LIBRARIES`, `LINK_MACROS`,
//! the constants): the prefilter (`scan`), extern-block and `link!` detection (`lower`),
//! resolution (`resolve`) and the interpreter (`facts`) all read it, and the tests at the end of
//! this file and in those modules fail when one of them disagrees with it. Pure data and small
//! lookups: no I/O, no syntax, no other module of this crate.

/// What a call does, as far as the analysis models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing the analysis follows.
    None,
    /// Takes a reference on Winsock (`WSAStartup`): 0 on success.
    Startup,
    /// Releases one (`WSACleanup`).
    Cleanup,
    /// Reads the last error (`WSAGetLastError`).
    ReadsLastError,
    /// Returns a new socket whose type (`SOCK_STREAM`, ..) is argument `type_arg`.
    Creates { type_arg: u8 },
    /// Returns a new connected stream socket.
    Accepts,
    /// Connects its socket argument: 0 on success.
    Connects,
    /// Makes its socket argument a listening socket.
    Listens,
    /// Shuts its socket argument down in the direction of argument `how_arg` (`SD_SEND`, ..).
    ShutsDown { how_arg: u8 },
    /// Closes its socket argument.
    Closes,
}

/// How a function reports failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// An `i32` that is the error code itself, 0 on success (`WSAStartup`, `getaddrinfo`).
    Code,
    /// An `i32`: `SOCKET_ERROR` (-1) on failure, the error then from `WSAGetLastError`.
    SocketError,
    /// A `SOCKET`, `INVALID_SOCKET` on failure.
    Socket,
    /// A `BOOL`, `FALSE` on failure.
    Bool,
    /// A pointer, null on failure.
    Pointer,
    /// A value with no failure (`WSAGetLastError`, `htons`), or nothing.
    Value,
    /// The `windows` crate's `Result<T>`: it reads the last error itself.
    Result,
}

/// When a call of the name makes the prefilter parse a file (`scan::needs_parse`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// In any file: the name is Winsock's alone (`closesocket`).
    Always,
    /// Only in a file that also names a Winsock binding: the name is also an ordinary word
    /// (`TcpStream::connect(..)`, libc's `socket`).
    WithMarker,
    /// Through the `WSA` prefix, which the prefilter looks for on its own.
    WsaPrefix,
    /// Never: pure functions (byte order) with no effect the analysis follows, whose names are
    /// common in code that is not Winsock (`htons` in every Unix socket crate).
    Never,
}

/// One Winsock function.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    /// Microsoft's spelling, which every binding style keeps.
    pub name: &'static str,
    pub effect: Effect,
    /// The argument that is the socket the call reads or changes, as the analysis follows it
    /// (use after close, shutdown, close).
    pub socket_arg: Option<u8>,
    /// Fails with `WSANOTINITIALISED` without a started Winsock (so it is late after the final
    /// `WSACleanup`).
    pub needs_init: bool,
    /// Removed in Winsock 2 (fails with `WSAEOPNOTSUPP`).
    pub removed: bool,
    /// Not in Winsock 1.1: a program calling it is a Winsock 2 program.
    pub winsock2_only: bool,
    /// A call on a socket that shows it is used as a connected stream.
    pub stream_io: bool,
    /// The return convention of the C signature (windows-sys, winapi, ws2_32-sys, hand-written
    /// `extern` blocks and `link!` declarations).
    pub returns: Returns,
    /// The return convention of the `windows` crate's wrapper (0.62: a `SOCKET` or a `BOOL`
    /// that comes with a last error becomes `Result`).
    pub returns_windows: Returns,
    /// The winapi module that declares it (`winapi::um::MODULE`).
    pub winapi: &'static str,
    pub trigger: Trigger,
}

impl Api {
    const fn new(name: &'static str, trigger: Trigger, returns: Returns) -> Api {
        Api {
            name,
            effect: Effect::None,
            socket_arg: None,
            needs_init: true,
            removed: false,
            winsock2_only: false,
            stream_io: false,
            returns,
            returns_windows: match returns {
                Returns::Socket | Returns::Bool => Returns::Result,
                r => r,
            },
            winapi: "winsock2",
            trigger,
        }
    }
    const fn effect(mut self, effect: Effect) -> Api {
        self.effect = effect;
        self
    }
    /// Its first argument is the socket.
    const fn on_socket(mut self) -> Api {
        self.socket_arg = Some(0);
        self
    }
    const fn stream_io(mut self) -> Api {
        self.stream_io = true;
        self
    }
    const fn ws2(mut self) -> Api {
        self.winsock2_only = true;
        self
    }
    const fn no_init(mut self) -> Api {
        self.needs_init = false;
        self
    }
    const fn removed(mut self) -> Api {
        self.removed = true;
        self
    }
    const fn winapi(mut self, module: &'static str) -> Api {
        self.winapi = module;
        self
    }
}

/// The two names other modules need on their own: the ends of a `DllMain` call chain.
pub const WSA_STARTUP: &str = "WSAStartup";
pub const WSA_CLEANUP: &str = "WSACleanup";

use Returns::{Bool, Code, Pointer, Socket, SocketError, Value};
use Trigger::{Always, Never, WithMarker, WsaPrefix};

/// The Winsock functions (ws2_32/wsock32/mswsock exports) the analysis or the lints care about,
/// plus the common rest of the API, so that glob imports and `extern` blocks without `#[link]`
/// are recognised.
pub const APIS: &[Api] = &[
    Api::new(WSA_STARTUP, WsaPrefix, Code)
        .effect(Effect::Startup)
        .no_init(),
    Api::new(WSA_CLEANUP, WsaPrefix, SocketError)
        .effect(Effect::Cleanup)
        .no_init(),
    Api::new("WSAGetLastError", WsaPrefix, Value)
        .effect(Effect::ReadsLastError)
        .no_init(),
    Api::new("WSASetLastError", WsaPrefix, Value).no_init(),
    Api::new("WSACancelBlockingCall", WsaPrefix, SocketError).removed(),
    Api::new("WSAIsBlocking", WsaPrefix, Bool).removed(),
    Api::new("WSASetBlockingHook", WsaPrefix, Pointer).removed(),
    Api::new("WSAUnhookBlockingHook", WsaPrefix, SocketError).removed(),
    Api::new("socket", WithMarker, Socket).effect(Effect::Creates { type_arg: 1 }),
    Api::new("WSASocketA", WsaPrefix, Socket)
        .effect(Effect::Creates { type_arg: 1 })
        .ws2(),
    Api::new("WSASocketW", WsaPrefix, Socket)
        .effect(Effect::Creates { type_arg: 1 })
        .ws2(),
    Api::new("accept", WithMarker, Socket)
        .effect(Effect::Accepts)
        .on_socket(),
    Api::new("WSAAccept", WsaPrefix, Socket)
        .effect(Effect::Accepts)
        .on_socket()
        .ws2(),
    Api::new("AcceptEx", Always, Bool).ws2().winapi("mswsock"),
    Api::new("bind", WithMarker, SocketError).on_socket(),
    Api::new("listen", WithMarker, SocketError)
        .effect(Effect::Listens)
        .on_socket(),
    Api::new("connect", WithMarker, SocketError)
        .effect(Effect::Connects)
        .on_socket(),
    Api::new("WSAConnect", WsaPrefix, SocketError)
        .effect(Effect::Connects)
        .on_socket()
        .ws2(),
    Api::new("WSAConnectByNameA", WsaPrefix, Bool).ws2(),
    Api::new("WSAConnectByNameW", WsaPrefix, Bool).ws2(),
    Api::new("send", WithMarker, SocketError)
        .on_socket()
        .stream_io(),
    Api::new("recv", WithMarker, SocketError)
        .on_socket()
        .stream_io(),
    Api::new("sendto", WithMarker, SocketError).on_socket(),
    Api::new("recvfrom", WithMarker, SocketError).on_socket(),
    Api::new("WSASend", WsaPrefix, SocketError)
        .on_socket()
        .stream_io()
        .ws2(),
    Api::new("WSARecv", WsaPrefix, SocketError)
        .on_socket()
        .stream_io()
        .ws2(),
    Api::new("WSASendTo", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    Api::new("WSARecvFrom", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    Api::new("WSASendMsg", WsaPrefix, SocketError).ws2(),
    // Microsoft's extension of Winsock 1.1 (mswsock), not a Winsock 2 function.
    Api::new("WSARecvEx", WsaPrefix, SocketError)
        .on_socket()
        .stream_io()
        .winapi("mswsock"),
    Api::new("shutdown", WithMarker, SocketError)
        .effect(Effect::ShutsDown { how_arg: 1 })
        .on_socket()
        .stream_io(),
    Api::new("closesocket", Always, SocketError)
        .effect(Effect::Closes)
        .on_socket(),
    Api::new("ioctlsocket", Always, SocketError).on_socket(),
    Api::new("WSAIoctl", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    Api::new("setsockopt", WithMarker, SocketError).on_socket(),
    Api::new("getsockopt", WithMarker, SocketError).on_socket(),
    Api::new("getsockname", WithMarker, SocketError).on_socket(),
    Api::new("getpeername", WithMarker, SocketError).on_socket(),
    Api::new("select", WithMarker, SocketError),
    Api::new("WSAPoll", WsaPrefix, SocketError).ws2(),
    Api::new("WSAEventSelect", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    // Winsock 1.1 has it.
    Api::new("WSAAsyncSelect", WsaPrefix, SocketError).on_socket(),
    Api::new("WSACreateEvent", WsaPrefix, Pointer).ws2(),
    Api::new("WSACloseEvent", WsaPrefix, Bool).ws2(),
    Api::new("WSAWaitForMultipleEvents", WsaPrefix, Value).ws2(),
    Api::new("WSAEnumNetworkEvents", WsaPrefix, SocketError).ws2(),
    Api::new("WSAGetOverlappedResult", WsaPrefix, Bool).ws2(),
    Api::new("WSADuplicateSocketA", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    Api::new("WSADuplicateSocketW", WsaPrefix, SocketError)
        .on_socket()
        .ws2(),
    Api::new("getaddrinfo", WithMarker, Code)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("GetAddrInfoW", Always, Code)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("GetAddrInfoExW", Always, Code)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("freeaddrinfo", WithMarker, Value)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("FreeAddrInfoW", Always, Value)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("getnameinfo", WithMarker, Code)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("GetNameInfoW", Always, Code)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("gethostbyname", Always, Pointer),
    Api::new("gethostbyaddr", Always, Pointer),
    Api::new("gethostname", WithMarker, SocketError),
    Api::new("GetHostNameW", Always, SocketError),
    Api::new("inet_addr", WithMarker, Value),
    Api::new("inet_ntoa", WithMarker, Pointer),
    Api::new("inet_pton", WithMarker, SocketError)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("inet_ntop", WithMarker, Pointer)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("InetPtonW", Always, SocketError)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("InetNtopW", Always, Pointer)
        .ws2()
        .winapi("ws2tcpip"),
    Api::new("htons", Never, Value).no_init(),
    Api::new("htonl", Never, Value).no_init(),
    Api::new("ntohs", Never, Value).no_init(),
    Api::new("ntohl", Never, Value).no_init(),
    Api::new("WSAHtons", WsaPrefix, SocketError).ws2(),
    Api::new("WSANtohs", WsaPrefix, SocketError).ws2(),
    Api::new("WSAAddressToStringW", WsaPrefix, SocketError).ws2(),
    Api::new("WSAStringToAddressW", WsaPrefix, SocketError).ws2(),
    Api::new("__WSAFDIsSet", Always, Value),
];

/// The table's entry for `name`.
pub fn api(name: &str) -> Option<&'static Api> {
    // Asked for every word of some large files (`load::macros`): a map, not a scan of the table.
    static BY_NAME: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static Api>> =
        std::sync::OnceLock::new();
    BY_NAME
        .get_or_init(|| APIS.iter().map(|a| (a.name, a)).collect())
        .get(name)
        .copied()
}

/// The effect of a Winsock call of `name` (`Effect::None` for a name not in the table).
pub fn effect(name: &str) -> Effect {
    api(name).map_or(Effect::None, |a| a.effect)
}

/// The names with `effect`.
pub fn names_with(effect: Effect) -> impl Iterator<Item = &'static str> {
    APIS.iter()
        .filter(move |a| a.effect == effect)
        .map(|a| a.name)
}

pub fn is_known_function(name: &str) -> bool {
    api(name).is_some()
}

/// Removed in Winsock 2 (`removed_winsock1_api`).
pub fn is_removed(name: &str) -> bool {
    api(name).is_some_and(|a| a.removed)
}

/// Does a call of `name` need a started Winsock? A Winsock function the table does not know
/// (any name under a binding module) is taken to need one.
pub fn needs_init(name: &str) -> bool {
    api(name).is_none_or(|a| a.needs_init)
}

/// Which argument of a call of `name` is the socket it reads or changes.
pub fn socket_arg(name: &str) -> Option<usize> {
    api(name).and_then(|a| a.socket_arg).map(usize::from)
}

/// Does a call of `name` on a socket show that the socket is a connected stream?
pub fn is_stream_io(name: &str) -> bool {
    api(name).is_some_and(|a| a.stream_io)
}

/// Functions Winsock 1.1 does not have: a program calling them is a Winsock 2 program. A name
/// the table does not know counts when it has the `WSA` prefix of Winsock 2's extensions.
pub fn is_winsock2_only(name: &str) -> bool {
    match api(name) {
        Some(a) => a.winsock2_only,
        None => name.starts_with("WSA"),
    }
}

/// A binding style: how Rust code reaches Winsock (WINSOCK.md section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `windows_sys::Win32::Networking::WinSock::NAME`.
    WindowsSys,
    /// `windows::Win32::Networking::WinSock::NAME` (returns `returns_windows`).
    Windows,
    /// `winapi::um::{winsock2, ws2tcpip, mswsock, ws2spi}::NAME`.
    Winapi,
    /// The ws2_32-sys crate: `ws2_32::NAME`.
    Ws2_32Sys,
    /// A hand-written `extern` block with `#[link(name = "ws2_32")]` (or `wsock32`), or with no
    /// `#[link]` at all and a name of the table.
    LinkAttr,
    /// A `link!` declaration (`LINK_MACROS`) naming `ws2_32.dll` (or `wsock32.dll`).
    LinkMacro,
}

/// Every style, for tests that go through all of them.
pub const STYLES: &[Style] = &[
    Style::WindowsSys,
    Style::Windows,
    Style::Winapi,
    Style::Ws2_32Sys,
    Style::LinkAttr,
    Style::LinkMacro,
];

/// The binding crates' Winsock modules, by style.
pub const BINDING_MODULES: &[(Style, &[&str])] = &[
    (
        Style::WindowsSys,
        &["windows_sys", "Win32", "Networking", "WinSock"],
    ),
    (
        Style::Windows,
        &["windows", "Win32", "Networking", "WinSock"],
    ),
    (Style::Winapi, &["winapi", "um", "winsock2"]),
    (Style::Winapi, &["winapi", "um", "ws2tcpip"]),
    (Style::Winapi, &["winapi", "um", "mswsock"]),
    (Style::Winapi, &["winapi", "um", "ws2spi"]),
    (Style::Ws2_32Sys, &["ws2_32"]),
    (Style::Ws2_32Sys, &["ws2_32_sys"]),
];

/// The libraries a `#[link(name = ..)]` or a `link!` names for Winsock (compared without case,
/// without `.dll`/`.lib`).
pub const LIBRARIES: &[&str] = &["ws2_32", "wsock32"];

/// The `link!` macros that declare a function of a DLL:
/// `windows_targets::link!("ws2_32.dll" "system" fn WSAStartup(..) -> i32);` (windows-targets,
/// which windows-sys 0.52 and the `windows` crate use), `windows_link::link!` (its successor),
/// `windows_sys::core::link!` (windows-sys 0.48). A leading `::` does not matter.
pub const LINK_MACROS: &[&[&str]] = &[
    &["windows_targets", "link"],
    &["windows_link", "link"],
    &["windows_sys", "core", "link"],
];

/// Is `name` (from `#[link(name = ..)]` or a `link!`) one of the Winsock `LIBRARIES`?
pub fn is_winsock_library(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let lower = lower.trim_end_matches(".dll").trim_end_matches(".lib");
    LIBRARIES.contains(&lower)
}

/// Is `path` (a macro's path, without the `!`) one of the `LINK_MACROS`?
pub fn is_link_macro<S: AsRef<str>>(path: &[S]) -> bool {
    let p: Vec<&str> = path
        .iter()
        .map(AsRef::as_ref)
        .skip_while(|s| *s == "::")
        .collect();
    LINK_MACROS.contains(&p.as_slice())
}

/// The type of a socket by its `type` argument (`socket(af, SOCK_STREAM, 0)`), named or as a
/// number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketType {
    Stream,
    /// Datagram or raw: nothing to flush before closing.
    Datagram,
}

/// `SOCK_*` constants: name, value, what the analysis makes of them.
pub const SOCKET_TYPES: &[(&str, u64, SocketType)] = &[
    ("SOCK_STREAM", 1, SocketType::Stream),
    ("SOCK_DGRAM", 2, SocketType::Datagram),
    ("SOCK_RAW", 3, SocketType::Datagram),
];

/// `how` of `shutdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Receive,
    Send,
    Both,
}

/// `SD_*` constants.
pub const SHUTDOWN_HOW: &[(&str, u64, How)] = &[
    ("SD_RECEIVE", 0, How::Receive),
    ("SD_SEND", 1, How::Send),
    ("SD_BOTH", 2, How::Both),
];

/// A constant of `table` by its name or its value written in decimal (what `const_name` in the
/// interpreter gives for a path or an integer literal).
fn constant<T: Copy>(table: &[(&str, u64, T)], written: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, value, _)| *name == written || value.to_string() == written)
        .map(|&(_, _, t)| t)
}

pub fn socket_type(written: &str) -> Option<SocketType> {
    constant(SOCKET_TYPES, written)
}

pub fn shutdown_how(written: &str) -> Option<How> {
    constant(SHUTDOWN_HOW, written)
}

/// `how` of `shutdown` by the value a call passed (the verifier's log).
pub fn shutdown_how_value(value: u64) -> Option<How> {
    SHUTDOWN_HOW
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|&(_, _, h)| h)
}

/// Is `path` (a module path, without the function name) one of the binding crates' Winsock modules?
pub fn is_winsock_module(path: &[String]) -> bool {
    let p: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .skip_while(|s| *s == "::")
        .collect();
    BINDING_MODULES.iter().any(|(_, m)| *m == p.as_slice())
}

/// Is the file at `rel` (relative to its package's directory, in the library of crate `krate`)
/// one of the Winsock modules of `is_winsock_module`? Such a file defines Winsock (the binding
/// crates' own declarations and wrappers) rather than uses it: calls into it are resolved by
/// module path, so it need not be parsed.
///
/// The module path is the one the crate's conventional layout gives the file (`src/a/b.rs` and
/// `src/a/b/mod.rs` are `krate::a::b`, `src/lib.rs` is `krate`). The `windows` and `windows-sys`
/// crates `include!("Windows/mod.rs")` at their root, so `src/Windows/Win32/..` is
/// `krate::Win32::..`.
pub fn is_binding_file(krate: &str, rel: &std::path::Path) -> bool {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(s) => match s.to_str() {
                Some(s) => parts.push(s),
                None => return false,
            },
            _ => return false,
        }
    }
    let Some((file, dirs)) = parts.split_last() else {
        return false;
    };
    let Some(("src", dirs)) = dirs.split_first().map(|(f, d)| (*f, d)) else {
        return false;
    };
    let Some(stem) = file.strip_suffix(".rs") else {
        return false;
    };
    let mut dirs = dirs;
    if matches!(krate, "windows" | "windows_sys") {
        match dirs.split_first() {
            Some((&"Windows", rest)) => dirs = rest,
            _ => return false,
        }
    }
    let mut path = vec![krate.to_string()];
    path.extend(dirs.iter().map(|d| d.to_string()));
    match (stem, dirs.is_empty()) {
        ("lib", true) | ("mod", false) => {}
        // A binary's root, or no module at all.
        ("main" | "mod", true) => return false,
        _ => path.push(stem.to_string()),
    }
    is_winsock_module(&path)
}

/// Is `path` a full path to a Winsock function (`windows_sys::Win32::Networking::WinSock::WSAStartup`)?
pub fn is_winsock_fn_path(path: &[String]) -> bool {
    match path.split_last() {
        Some((_, module)) if !module.is_empty() => is_winsock_module(module),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_binding_file;
    use std::path::Path;

    #[test]
    fn binding_files_are_the_winsock_modules_of_the_binding_crates() {
        let yes = [
            ("windows", "src/Windows/Win32/Networking/WinSock/mod.rs"),
            ("windows_sys", "src/Windows/Win32/Networking/WinSock/mod.rs"),
            ("winapi", "src/um/winsock2.rs"),
            ("winapi", "src/um/ws2tcpip.rs"),
            ("winapi", "src/um/mswsock.rs"),
            ("winapi", "src/um/ws2spi.rs"),
            ("ws2_32", "src/lib.rs"),
        ];
        for (krate, rel) in yes {
            assert!(is_binding_file(krate, Path::new(rel)), "{krate} {rel}");
        }
        let no = [
            // Other modules of the binding crates, and their other targets.
            ("windows", "src/Windows/Win32/Networking/mod.rs"),
            ("windows", "src/Windows/Win32/Networking/WinHttp/mod.rs"),
            ("windows", "src/lib.rs"),
            (
                "windows_sys",
                "src/Windows/Win32/Networking/WinSock.rs/x.rs",
            ),
            (
                "windows_sys",
                "examples/Windows/Win32/Networking/WinSock/mod.rs",
            ),
            ("winapi", "src/um/winsock2/mod.rs/extra.rs"),
            ("winapi", "src/shared/ws2def.rs"),
            ("winapi", "tests/um/winsock2.rs"),
            // The same layout in another crate: code that uses Winsock.
            ("socket2", "src/Windows/Win32/Networking/WinSock/mod.rs"),
            ("mio", "src/um/winsock2.rs"),
            ("my_app", "src/Win32/Networking/WinSock/mod.rs"),
            ("ws2_32", "src/bin/main.rs"),
            ("ws2_32", "build.rs"),
            ("windows", "../src/Windows/Win32/Networking/WinSock/mod.rs"),
        ];
        for (krate, rel) in no {
            assert!(!is_binding_file(krate, Path::new(rel)), "{krate} {rel}");
        }
    }

    /// Invariants of the table that its readers rely on.
    #[test]
    fn table_is_consistent() {
        use super::{Effect, Style, APIS, BINDING_MODULES};
        let mut names: Vec<&str> = APIS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "a name is in the table twice");
        for a in APIS {
            let on_socket = matches!(
                a.effect,
                Effect::Connects | Effect::Listens | Effect::ShutsDown { .. } | Effect::Closes
            );
            assert!(!on_socket || a.socket_arg.is_some(), "{}", a.name);
            // The call graph takes stream evidence from the first argument.
            assert!(!a.stream_io || a.socket_arg == Some(0), "{}", a.name);
            assert!(!(a.removed && a.winsock2_only), "{}", a.name);
            assert!(
                BINDING_MODULES
                    .iter()
                    .any(|(s, m)| *s == Style::Winapi && m[2] == a.winapi),
                "{}: winapi::um::{} is no binding module",
                a.name,
                a.winapi
            );
        }
    }

    /// No module but this one spells a Winsock function's name as a string literal: whatever
    /// they need to know about a function (its effect, its socket argument, whether it needs a
    /// started Winsock) they read from `APIS`. Test code is not looked at (`#[cfg(test)] mod`
    /// and what follows it).
    #[test]
    fn no_other_module_has_its_own_list_of_winsock_names() {
        // The verifier's event log: how each observed export returns and which of its arguments
        // are shown, for describing what ran (the proxy's log format, not the analysis).
        const EXEMPT: &[&str] = &["src/verify/events.rs"];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("src")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("src/ is readable") {
                let p = e.expect("readable").path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut found = Vec::new();
        for p in files {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "src/winsock.rs" || EXEMPT.contains(&rel.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("readable");
            let mut code = text.as_str();
            let mut lines = text.lines().peekable();
            let mut at = 0;
            while let Some(line) = lines.next() {
                if line.trim() == "#[cfg(test)]"
                    && lines
                        .peek()
                        .is_some_and(|l| l.trim_start().starts_with("mod "))
                {
                    code = &text[..at];
                    break;
                }
                at += line.len() + 1;
            }
            for a in super::APIS {
                if code.contains(&format!("\"{}\"", a.name)) {
                    found.push(format!("{rel}: \"{}\"", a.name));
                }
            }
        }
        assert!(
            found.is_empty(),
            "read these from `winsock::APIS`:\n{}",
            found.join("\n")
        );
    }
}

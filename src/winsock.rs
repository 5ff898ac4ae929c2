//! What we know about Winsock itself: which paths reach it and what its functions are.
//!
//! Pure tables; used by `resolve` (is this call Winsock?) and `facts` (what does it do?).

/// Functions exported by ws2_32/wsock32 that the analysis or the lints care about,
/// plus the common rest of the API so glob imports and bare `extern` blocks are recognised.
pub const KNOWN_FUNCTIONS: &[&str] = &[
    "WSAStartup",
    "WSACleanup",
    "WSAGetLastError",
    "WSASetLastError",
    "WSACancelBlockingCall",
    "WSAIsBlocking",
    "WSASetBlockingHook",
    "WSAUnhookBlockingHook",
    "socket",
    "WSASocketA",
    "WSASocketW",
    "accept",
    "WSAAccept",
    "AcceptEx",
    "bind",
    "listen",
    "connect",
    "WSAConnect",
    "WSAConnectByNameA",
    "WSAConnectByNameW",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "WSASend",
    "WSARecv",
    "WSASendTo",
    "WSARecvFrom",
    "WSASendMsg",
    "WSARecvEx",
    "shutdown",
    "closesocket",
    "ioctlsocket",
    "WSAIoctl",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "select",
    "WSAPoll",
    "WSAEventSelect",
    "WSAAsyncSelect",
    "WSACreateEvent",
    "WSACloseEvent",
    "WSAWaitForMultipleEvents",
    "WSAEnumNetworkEvents",
    "WSAGetOverlappedResult",
    "WSADuplicateSocketA",
    "WSADuplicateSocketW",
    "getaddrinfo",
    "GetAddrInfoW",
    "GetAddrInfoExW",
    "freeaddrinfo",
    "FreeAddrInfoW",
    "getnameinfo",
    "GetNameInfoW",
    "gethostbyname",
    "gethostbyaddr",
    "gethostname",
    "GetHostNameW",
    "inet_addr",
    "inet_ntoa",
    "inet_pton",
    "inet_ntop",
    "InetPtonW",
    "InetNtopW",
    "htons",
    "htonl",
    "ntohs",
    "ntohl",
    "WSAHtons",
    "WSANtohs",
    "WSAAddressToStringW",
    "WSAStringToAddressW",
    "__WSAFDIsSet",
];

pub const REMOVED_WINSOCK1: &[&str] = &[
    "WSACancelBlockingCall",
    "WSAIsBlocking",
    "WSASetBlockingHook",
    "WSAUnhookBlockingHook",
];

pub fn is_known_function(name: &str) -> bool {
    KNOWN_FUNCTIONS.contains(&name)
}

/// Is `path` (a module path, without the function name) one of the binding crates' Winsock modules?
pub fn is_winsock_module(path: &[String]) -> bool {
    let p: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .skip_while(|s| *s == "::")
        .collect();
    match p.as_slice() {
        ["windows_sys" | "windows", "Win32", "Networking", "WinSock"] => true,
        ["winapi", "um", m] => matches!(*m, "winsock2" | "ws2tcpip" | "mswsock" | "ws2spi"),
        ["ws2_32"] | ["ws2_32_sys"] => true,
        _ => false,
    }
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

/// Functions Winsock 1.1 does not have: a program calling them is a Winsock 2 program.
pub fn is_winsock2_only(name: &str) -> bool {
    (name.starts_with("WSA")
        && !matches!(
            name,
            "WSAStartup"
                | "WSACleanup"
                | "WSAGetLastError"
                | "WSASetLastError"
                | "WSAAsyncSelect"
                | "WSACancelBlockingCall"
                | "WSAIsBlocking"
                | "WSASetBlockingHook"
                | "WSAUnhookBlockingHook"
                | "WSARecvEx"
        ))
        || matches!(
            name,
            "getaddrinfo"
                | "GetAddrInfoW"
                | "GetAddrInfoExW"
                | "freeaddrinfo"
                | "FreeAddrInfoW"
                | "getnameinfo"
                | "GetNameInfoW"
                | "inet_pton"
                | "inet_ntop"
                | "InetPtonW"
                | "InetNtopW"
                | "AcceptEx"
        )
}

/// A Winsock call that reads or changes a socket (its first argument).
pub const SOCKET_CALLS: &[&str] = &[
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "WSASend",
    "WSARecv",
    "WSASendTo",
    "WSARecvFrom",
    "WSARecvEx",
    "shutdown",
    "closesocket",
    "connect",
    "WSAConnect",
    "bind",
    "listen",
    "accept",
    "WSAAccept",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "ioctlsocket",
    "WSAIoctl",
    "WSAEventSelect",
    "WSAAsyncSelect",
    "WSADuplicateSocketA",
    "WSADuplicateSocketW",
];

/// Calls that do not need an initialised Winsock (or manage it), so they are fine after the final cleanup.
pub const NO_INIT_NEEDED: &[&str] = &[
    "WSAStartup",
    "WSACleanup",
    "WSAGetLastError",
    "WSASetLastError",
    "htons",
    "htonl",
    "ntohs",
    "ntohl",
];

/// Calls on a socket that show it is used as a connected stream.
pub const SOCKET_IO: &[&str] = &[
    "send",
    "recv",
    "WSASend",
    "WSARecv",
    "WSARecvEx",
    "shutdown",
];

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
}

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

//! The observing DLL's log: one JSON object per line, one line per observed call.

use serde::Deserialize;
use std::collections::HashMap;

/// A call as the observing DLL saw it.
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: u64,
    pub func: String,
    pub args: Vec<u64>,
    /// The raw return register.
    pub ret: i64,
    /// The Winsock error code when the call failed.
    pub error: Option<u32>,
    pub thread: u32,
    /// The thread held the loader lock: the call ran inside a DllMain (or a TLS callback).
    pub dllmain: bool,
    /// Return addresses, innermost first, as (module path, offset in the module).
    pub frames: Vec<(String, u64)>,
    /// What the live socket was just before `closesocket`.
    pub socket: Option<SocketFacts>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SocketFacts {
    /// `SO_TYPE`, or -1 when the handle was not a socket.
    #[serde(rename = "type")]
    pub ty: i32,
    /// `getpeername` succeeded: the socket had a peer.
    pub connected: bool,
}

pub const SOCK_STREAM: i32 = 1;
pub const WSANOTINITIALISED: u32 = 10093;

#[derive(Deserialize)]
struct Line {
    event: Option<String>,
    seq: Option<u64>,
    #[serde(rename = "fn")]
    func: Option<String>,
    #[serde(default)]
    args: Vec<u64>,
    #[serde(default)]
    ret: i64,
    #[serde(default)]
    lasterror: u32,
    #[serde(default)]
    tid: u32,
    #[serde(default)]
    dllmain: bool,
    /// On a call: its stack's id. On a stack line: the id the frames are written for.
    stack: Option<u64>,
    /// Frames inline (older logs), or those of a stack line.
    #[serde(default)]
    frames: Vec<(String, u64)>,
    socket: Option<SocketFacts>,
}

/// How a function reports failure.
enum Returns {
    /// `SOCKET_ERROR` (-1) as an `int`.
    SocketError,
    /// An error code itself, 0 for success (`WSAStartup`, `getaddrinfo`).
    Code,
    /// A `SOCKET`, `INVALID_SOCKET` on failure.
    Socket,
    /// A pointer, NULL on failure.
    Pointer,
    /// A value with no failure (`WSAGetLastError`, `WSAIsBlocking`).
    Value,
}

fn returns(func: &str) -> Returns {
    match func {
        "WSAStartup" | "getaddrinfo" | "GetAddrInfoW" => Returns::Code,
        "socket" | "WSASocketA" | "WSASocketW" | "accept" | "WSAAccept" => Returns::Socket,
        "gethostbyname" => Returns::Pointer,
        "WSAGetLastError" | "WSAIsBlocking" | "WSASetBlockingHook" => Returns::Value,
        _ => Returns::SocketError,
    }
}

/// Does the function return a new socket handle?
pub fn creates_socket(func: &str) -> bool {
    matches!(returns(func), Returns::Socket)
}

/// Calls whose first argument is a socket handle.
pub fn socket_arg(e: &Event) -> Option<u64> {
    let takes_socket = !matches!(
        e.func.as_str(),
        "WSAStartup"
            | "WSACleanup"
            | "WSAGetLastError"
            | "WSACancelBlockingCall"
            | "WSAIsBlocking"
            | "WSASetBlockingHook"
            | "WSAUnhookBlockingHook"
            | "socket"
            | "WSASocketA"
            | "WSASocketW"
            | "select"
            | "getaddrinfo"
            | "GetAddrInfoW"
            | "gethostbyname"
            | "gethostname"
    );
    takes_socket.then(|| e.args.first().copied()).flatten()
}

impl Event {
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The socket a creating call returned.
    pub fn new_socket(&self) -> Option<u64> {
        (creates_socket(&self.func) && !self.failed()).then_some(self.ret as u64)
    }

    /// `wVersionRequested` of `WSAStartup` as `major.minor`.
    pub fn version(&self) -> Option<String> {
        let v = *self.args.first()? as u16;
        Some(format!("{}.{}", v & 0xff, v >> 8))
    }

    /// A short human form: `closesocket(s=240) = 0`, `WSACleanup() failed: 10093 (WSANOTINITIALISED)`.
    pub fn describe(&self) -> String {
        let args = match self.func.as_str() {
            "WSAStartup" => self.version().unwrap_or_default(),
            "shutdown" => {
                let how = match self.args.get(1) {
                    Some(0) => "SD_RECEIVE".to_string(),
                    Some(1) => "SD_SEND".to_string(),
                    Some(2) => "SD_BOTH".to_string(),
                    Some(h) => h.to_string(),
                    None => String::new(),
                };
                format!("{}, {how}", self.args.first().copied().unwrap_or(0))
            }
            "socket" | "WSASocketA" | "WSASocketW" => {
                let a = |i: usize| self.args.get(i).copied().unwrap_or(0) as i32;
                format!("{}, {}, {}", a(0), a(1), a(2))
            }
            _ => match socket_arg(self) {
                Some(s) if self.args.len() == 1 => s.to_string(),
                Some(s) => format!("{s}, .."),
                None if self.args.is_empty() => String::new(),
                None => "..".to_string(),
            },
        };
        let call = format!("{}({args})", self.func);
        match (self.error, returns(&self.func)) {
            (Some(code), _) => format!("{call} failed with {code}{}", error_name(code)),
            (None, Returns::Socket) => format!("{call} = socket {}", self.ret as u64),
            (None, Returns::Value) => format!("{call} = {}", self.ret as i32),
            (None, _) => format!("{call} succeeded"),
        }
    }
}

fn error_name(code: u32) -> &'static str {
    match code {
        10004 => " (WSAEINTR)",
        10009 => " (WSAEBADF)",
        10013 => " (WSAEACCES)",
        10014 => " (WSAEFAULT)",
        10022 => " (WSAEINVAL)",
        10035 => " (WSAEWOULDBLOCK)",
        10038 => " (WSAENOTSOCK)",
        10045 => " (WSAEOPNOTSUPP)",
        10048 => " (WSAEADDRINUSE)",
        10053 => " (WSAECONNABORTED)",
        10054 => " (WSAECONNRESET)",
        10057 => " (WSAENOTCONN)",
        10058 => " (WSAESHUTDOWN)",
        10061 => " (WSAECONNREFUSED)",
        10091 => " (WSASYSNOTREADY)",
        10092 => " (WSAVERNOTSUPPORTED)",
        10093 => " (WSANOTINITIALISED)",
        _ => "",
    }
}

/// The parsed log.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<Event>,
    /// The observing DLL was loaded (a `start` line).
    pub started: bool,
    /// The observing DLL saw the process end normally (an `exit` line).
    pub exited: bool,
    /// Lines that could not be read (a process killed mid-write).
    pub damaged: usize,
}

pub fn parse(text: &str) -> Log {
    let mut log = Log::default();
    let mut lines = Vec::new();
    // Stack lines come before the first call that uses them, but another thread's
    // call can be written in between: collect them all first.
    let mut stacks: HashMap<u64, Vec<(String, u64)>> = HashMap::new();
    for raw in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Line>(raw) {
            Ok(line) if line.func.is_none() && line.event.is_none() && line.stack.is_some() => {
                stacks.insert(line.stack.unwrap_or_default(), line.frames);
            }
            Ok(line) => lines.push(line),
            Err(_) => log.damaged += 1,
        }
    }
    for mut line in lines {
        if let Some(frames) = line.stack.and_then(|id| stacks.get(&id)) {
            line.frames = frames.clone();
        }
        match (line.event.as_deref(), line.seq, line.func) {
            (Some("start"), _, _) => log.started = true,
            (Some("exit"), _, _) => log.exited = true,
            (None, Some(seq), Some(func)) => {
                let failed = match returns(&func) {
                    Returns::SocketError => line.ret as i32 == -1,
                    Returns::Code => line.ret as i32 != 0,
                    Returns::Socket => line.ret == -1,
                    Returns::Pointer => line.ret == 0,
                    Returns::Value => false,
                };
                let error = failed.then(|| match returns(&func) {
                    Returns::Code => line.ret as u32,
                    _ => line.lasterror,
                });
                log.events.push(Event {
                    seq,
                    func,
                    args: line.args,
                    ret: line.ret,
                    error,
                    thread: line.tid,
                    dllmain: line.dllmain,
                    frames: line.frames,
                    socket: line.socket,
                });
            }
            _ => log.damaged += 1,
        }
    }
    log.events.sort_by_key(|e| e.seq);
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_classified_per_function() {
        let log = parse(concat!(
            "{\"event\":\"start\",\"pid\":7}\n",
            "{\"seq\":1,\"fn\":\"WSACleanup\",\"args\":[],\"ret\":4294967295,\"lasterror\":10093,\"tid\":9,\"dllmain\":false,\"frames\":[]}\n",
            "{\"seq\":0,\"fn\":\"WSAStartup\",\"args\":[514,1],\"ret\":0,\"lasterror\":6,\"tid\":9,\"dllmain\":true,\"stack\":77}\n",
            "{\"stack\":77,\"frames\":[[\"Z:\\\\a.exe\",100]]}\n",
            "{\"seq\":2,\"fn\":\"socket\",\"args\":[2,1,6],\"ret\":-1,\"lasterror\":10093,\"tid\":9,\"dllmain\":false,\"frames\":[]}\n",
            "{\"seq\":3,\"fn\":\"closesocket\",\"args\":[52],\"ret\":0,\"lasterror\":0,\"tid\":9,\"dllmain\":false,\"frames\":[],\"socket\":{\"type\":1,\"connected\":true}}\n",
            "{\"seq\":4,\"fn\":\"send\",\"args\":[52\n",
        ));
        assert!(log.started && !log.exited);
        assert_eq!(log.damaged, 1);
        let e = &log.events;
        assert_eq!(e[0].func, "WSAStartup");
        assert_eq!(e[0].error, None);
        assert!(e[0].dllmain);
        assert_eq!(e[0].version().as_deref(), Some("2.2"));
        assert_eq!(e[0].frames, vec![("Z:\\a.exe".to_string(), 100)]);
        assert_eq!(e[1].error, Some(WSANOTINITIALISED));
        assert_eq!(
            e[1].describe(),
            "WSACleanup() failed with 10093 (WSANOTINITIALISED)"
        );
        assert_eq!(e[2].error, Some(10093));
        assert_eq!(socket_arg(&e[3]), Some(52));
        assert!(e[3]
            .socket
            .is_some_and(|s| s.ty == SOCK_STREAM && s.connected));
    }
}

//! The observing half of `wsa-lint verify`: a Windows DLL that stands in for
//! ws2_32.dll.
//!
//! `wsa-lint verify` copies the program (and its DLLs that import ws2_32) and
//! renames the ws2_32.dll import of each copy to this DLL, so every Winsock call
//! of the program's own code arrives here first. Calls worth observing are
//! wrapped: the wrapper calls the real ws2_32 (statically imported by this DLL,
//! so ws2_32 is loaded before us), then appends one JSON line to the log named
//! by `WSA_LINT_VERIFY_LOG`. Every other export is a PE forwarder to ws2_32,
//! written into the `.def` file the verifier generates. The exports map
//! `name = wsl_name`, so the wrappers never shadow the imports they call.
//!
//! This file is compiled by whatever Rust can target Windows on the machine
//! (Debian's rustc 1.63 under Wine), so it uses nothing newer than 1.63 and no
//! crates. It must never panic and must leave the thread's last error as the
//! real call left it.

#![allow(non_snake_case, clippy::missing_safety_doc)]

use std::arch::asm;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const DLL_PROCESS_ATTACH: u32 = 1;
const DLL_PROCESS_DETACH: u32 = 0;
const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
const GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT: u32 = 0x2;
const SOL_SOCKET: usize = 0xffff;
const SO_TYPE: usize = 0x1008;
const MAX_FRAMES: usize = 24;

extern "system" {
    fn RtlCaptureStackBackTrace(skip: u32, n: u32, frames: *mut usize, hash: *mut u32) -> u16;
    fn GetModuleHandleExW(flags: u32, addr: usize, module: *mut usize) -> i32;
    fn GetModuleFileNameW(module: usize, buf: *mut u16, len: u32) -> u32;
    fn GetCurrentThreadId() -> u32;
    fn GetCurrentProcessId() -> u32;
    fn GetLastError() -> u32;
    fn SetLastError(code: u32);
}

/// Our own module handle: frames inside it are not the caller's.
static SELF_MODULE: AtomicUsize = AtomicUsize::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);
/// The open log (a leaked `File`), or 0 when not observing.
static LOG: AtomicUsize = AtomicUsize::new(0);

#[no_mangle]
pub extern "system" fn DllMain(module: usize, reason: u32, _reserved: usize) -> i32 {
    if reason == DLL_PROCESS_ATTACH {
        SELF_MODULE.store(module, Ordering::SeqCst);
        // Appending from several threads is safe: each event is one write of a
        // whole line to a handle opened for appending.
        if let Some(path) = std::env::var_os("WSA_LINT_VERIFY_LOG") {
            if let Ok(file) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
            {
                LOG.store(Box::into_raw(Box::new(file)) as usize, Ordering::SeqCst);
                let pid = unsafe { GetCurrentProcessId() };
                log_line(&format!("{{\"event\":\"start\",\"pid\":{}}}\n", pid));
            }
        }
    } else if reason == DLL_PROCESS_DETACH {
        log_line("{\"event\":\"exit\"}\n");
    }
    1
}

fn log_line(line: &str) {
    let file = LOG.load(Ordering::SeqCst) as *const File;
    if file.is_null() {
        return;
    }
    let mut file: &File = unsafe { &*file };
    let _ = file.write_all(line.as_bytes());
}

/// Is this thread inside a DllMain, i.e. does it own the loader lock?
/// PEB at gs:[0x60]; PEB.LoaderLock at 0x110; its OwningThread at 0x10.
fn holds_loader_lock() -> bool {
    unsafe {
        let peb: usize;
        asm!("mov {}, gs:[0x60]", out(reg) peb, options(nostack, readonly, preserves_flags));
        if peb == 0 {
            return false;
        }
        let lock = *((peb + 0x110) as *const usize);
        if lock == 0 {
            return false;
        }
        let owner = *((lock + 0x10) as *const usize);
        owner == GetCurrentThreadId() as usize
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

const SEEN_SLOTS: usize = 4096;
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: AtomicU64 = AtomicU64::new(0);
/// Stacks already written to the log, by hash: a loop's calls share one stack line.
static SEEN: [AtomicU64; SEEN_SLOTS] = [EMPTY; SEEN_SLOTS];

/// Marks a stack hash as written; `true` when it was already.
fn seen_before(hash: u64) -> bool {
    for probe in 0..16 {
        let slot = &SEEN[(hash as usize).wrapping_add(probe) % SEEN_SLOTS];
        match slot.compare_exchange(0, hash, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return false,
            Err(v) if v == hash => return true,
            Err(_) => {}
        }
    }
    // The table is full: write the stack again (correct, just longer).
    false
}

/// The caller's stack as a hash into the log's stack lines, writing a
/// `{"stack":H,"frames":[["module path", rva],...]}` line (innermost first,
/// without our own frames) the first time it is seen.
fn stack_id() -> u64 {
    let mut frames = [0usize; MAX_FRAMES + 8];
    let n = unsafe {
        RtlCaptureStackBackTrace(0, frames.len() as u32, frames.as_mut_ptr(), std::ptr::null_mut())
    } as usize;
    // FNV-1a over the return addresses, kept to 53 bits so every JSON reader holds it exactly.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &addr in &frames[..n] {
        hash = (hash ^ addr as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let hash = (hash & ((1 << 53) - 1)) | 1;
    if seen_before(hash) {
        return hash;
    }
    let own = SELF_MODULE.load(Ordering::SeqCst);
    let mut out = format!("{{\"stack\":{},\"frames\":[", hash);
    let mut written = 0;
    let mut cached: (usize, String) = (0, String::new());
    for &addr in frames[..n].iter() {
        let mut module = 0usize;
        let ok = unsafe {
            GetModuleHandleExW(
                GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                addr,
                &mut module,
            )
        };
        if ok == 0 || module == own || addr < module {
            continue;
        }
        if written == MAX_FRAMES {
            break;
        }
        if cached.0 != module {
            let mut buf = [0u16; 1024];
            let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) };
            cached = (module, String::from_utf16_lossy(&buf[..len as usize]));
        }
        if written > 0 {
            out.push(',');
        }
        out.push('[');
        push_json_str(&mut out, &cached.1);
        out.push_str(&format!(",{}]", addr - module));
        written += 1;
    }
    out.push_str("]}\n");
    log_line(&out);
    hash
}

/// Facts about a socket that only the live handle knows, asked of the real
/// ws2_32 without going through our wrappers.
fn socket_facts(s: usize) -> String {
    let mut ty: i32 = 0;
    let mut len: i32 = 4;
    let mut addr = [0u8; 128];
    let mut alen: i32 = addr.len() as i32;
    unsafe {
        let t = real_getsockopt(s, SOL_SOCKET, SO_TYPE, &mut ty as *mut i32 as usize, &mut len as *mut i32 as usize);
        let p = real_getpeername(s, addr.as_mut_ptr() as usize, &mut alen as *mut i32 as usize);
        format!(
            "{{\"type\":{},\"connected\":{}}}",
            if t as i32 == 0 { ty } else { -1 },
            p as i32 == 0
        )
    }
}

/// Called around every observed call. `facts` is what was learnt before it.
fn record(name: &str, args: &[usize], ret: isize, facts: Option<String>) {
    if LOG.load(Ordering::SeqCst) == 0 {
        return;
    }
    // The real call's error is the program's: keep it for the program.
    let err = unsafe { GetLastError() };
    let seq = SEQ.fetch_add(1, Ordering::SeqCst);
    let mut line = String::with_capacity(512);
    line.push_str(&format!("{{\"seq\":{},\"fn\":\"{}\",\"args\":[", seq, name));
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&a.to_string());
    }
    line.push_str(&format!(
        "],\"ret\":{},\"lasterror\":{},\"tid\":{},\"dllmain\":{},\"stack\":{}",
        ret,
        err,
        unsafe { GetCurrentThreadId() },
        holds_loader_lock(),
        stack_id()
    ));
    if let Some(facts) = facts {
        line.push_str(",\"socket\":");
        line.push_str(&facts);
    }
    line.push_str("}\n");
    log_line(&line);
    unsafe { SetLastError(err) };
}

/// Learn the socket's type and connection before `closesocket` destroys it.
fn facts_before(name: &str, args: &[usize]) -> Option<String> {
    if name != "closesocket" || LOG.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let err = unsafe { GetLastError() };
    let facts = socket_facts(args[0]);
    unsafe { SetLastError(err) };
    Some(facts)
}

macro_rules! hooks {
    ($($name:ident: $wsl:ident, $real:ident ($($a:ident),*);)*) => {
        #[link(name = "ws2_32")]
        extern "system" {
            $(
                #[link_name = stringify!($name)]
                fn $real($($a: usize),*) -> isize;
            )*
        }
        $(
            #[no_mangle]
            pub unsafe extern "system" fn $wsl($($a: usize),*) -> isize {
                let args = [$($a),*];
                let facts = facts_before(stringify!($name), &args);
                let ret = $real($($a),*);
                record(stringify!($name), &args, ret, facts);
                ret
            }
        )*
    };
}

// Argument counts must match the real signatures exactly (x64 passes the rest
// on the stack). Every argument travels as a machine word.
hooks! {
    WSAStartup: wsl_WSAStartup, real_WSAStartup(version, data);
    WSACleanup: wsl_WSACleanup, real_WSACleanup();
    WSAGetLastError: wsl_WSAGetLastError, real_WSAGetLastError();
    WSACancelBlockingCall: wsl_WSACancelBlockingCall, real_WSACancelBlockingCall();
    WSAIsBlocking: wsl_WSAIsBlocking, real_WSAIsBlocking();
    WSASetBlockingHook: wsl_WSASetBlockingHook, real_WSASetBlockingHook(hook);
    WSAUnhookBlockingHook: wsl_WSAUnhookBlockingHook, real_WSAUnhookBlockingHook();
    socket: wsl_socket, real_socket(af, ty, proto);
    WSASocketA: wsl_WSASocketA, real_WSASocketA(af, ty, proto, info, g, flags);
    WSASocketW: wsl_WSASocketW, real_WSASocketW(af, ty, proto, info, g, flags);
    accept: wsl_accept, real_accept(s, addr, len);
    WSAAccept: wsl_WSAAccept, real_WSAAccept(s, addr, len, cond, data);
    connect: wsl_connect, real_connect(s, name, len);
    WSAConnect: wsl_WSAConnect, real_WSAConnect(s, name, len, cin, cout, sq, gq);
    bind: wsl_bind, real_bind(s, name, len);
    listen: wsl_listen, real_listen(s, backlog);
    shutdown: wsl_shutdown, real_shutdown(s, how);
    closesocket: wsl_closesocket, real_closesocket(s);
    send: wsl_send, real_send(s, buf, len, flags);
    recv: wsl_recv, real_recv(s, buf, len, flags);
    sendto: wsl_sendto, real_sendto(s, buf, len, flags, to, tolen);
    recvfrom: wsl_recvfrom, real_recvfrom(s, buf, len, flags, from, fromlen);
    WSASend: wsl_WSASend, real_WSASend(s, bufs, n, sent, flags, ov, cr);
    WSARecv: wsl_WSARecv, real_WSARecv(s, bufs, n, got, flags, ov, cr);
    WSASendTo: wsl_WSASendTo, real_WSASendTo(s, bufs, n, sent, flags, to, tolen, ov, cr);
    WSARecvFrom: wsl_WSARecvFrom, real_WSARecvFrom(s, bufs, n, got, flags, from, fromlen, ov, cr);
    WSASendDisconnect: wsl_WSASendDisconnect, real_WSASendDisconnect(s, data);
    WSARecvDisconnect: wsl_WSARecvDisconnect, real_WSARecvDisconnect(s, data);
    getsockopt: wsl_getsockopt, real_getsockopt(s, level, name, val, len);
    setsockopt: wsl_setsockopt, real_setsockopt(s, level, name, val, len);
    getsockname: wsl_getsockname, real_getsockname(s, name, len);
    getpeername: wsl_getpeername, real_getpeername(s, name, len);
    ioctlsocket: wsl_ioctlsocket, real_ioctlsocket(s, cmd, arg);
    WSAIoctl: wsl_WSAIoctl, real_WSAIoctl(s, code, inb, inl, outb, outl, ret, ov, cr);
    WSAEventSelect: wsl_WSAEventSelect, real_WSAEventSelect(s, ev, events);
    WSAAsyncSelect: wsl_WSAAsyncSelect, real_WSAAsyncSelect(s, hwnd, msg, events);
    select: wsl_select, real_select(nfds, r, w, e, timeout);
    getaddrinfo: wsl_getaddrinfo, real_getaddrinfo(node, service, hints, res);
    GetAddrInfoW: wsl_GetAddrInfoW, real_GetAddrInfoW(node, service, hints, res);
    gethostbyname: wsl_gethostbyname, real_gethostbyname(name);
    gethostname: wsl_gethostname, real_gethostname(name, len);
}

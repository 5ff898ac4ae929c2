//! `wsa-lint lsp` never dies on input: each test writes raw bytes to the real binary (huge
//! `Content-Length` values, malformed JSON-RPC, bad params, requests after `shutdown`, huge
//! documents), then checks that a normal session still works and the exit code. Every wait has
//! a timeout, so a hang fails the test instead of blocking it.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Generous for a debug build on a loaded machine; the server answers in milliseconds.
const TIMEOUT: Duration = Duration::from_secs(60);

const LEAK: &str = "use windows_sys::Win32::Networking::WinSock::{WSACleanup, WSAStartup, WSADATA};

fn main() {
    let mut data: WSADATA = unsafe { std::mem::zeroed() };
    if unsafe { WSAStartup(0x202, &mut data) } != 0 {
        return;
    }
    if std::env::args().count() > 1 {
        return;
    }
    unsafe { WSACleanup() };
}
";

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Notifications read while waiting for a response.
    pending: VecDeque<Value>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsa-lint"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut r) {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            messages,
            pending: VecDeque::new(),
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("the server reads its input");
        stdin.flush().expect("the server reads its input");
    }

    fn frame(&mut self, body: &str) {
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn send(&mut self, msg: Value) {
        self.frame(&msg.to_string());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let r = self.next_response();
        assert_eq!(r["id"], json!(id), "{r}");
        r
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the server closed its output (exit status {:?})",
                self.child.try_wait()
            ),
        }
    }

    /// The next response, notifications before it kept for `diagnostics`.
    fn next_response(&mut self) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let m = self.recv(deadline);
            if m.get("method").is_some() {
                self.pending.push_back(m);
            } else {
                return m;
            }
        }
    }

    /// The next `publishDiagnostics` for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        let is_for = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_for) {
            return self.pending.remove(i).expect("the index was just found")["params"].take();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut m = self.recv(deadline);
            if is_for(&m) {
                return m["params"].take();
            }
            assert!(m.get("id").is_none(), "unexpected response {m}");
        }
    }

    fn initialize(&mut self) {
        let r = self.request(1, "initialize", json!({"capabilities": {}}));
        assert!(
            r["result"]["capabilities"]["codeActionProvider"] == json!(true),
            "{r}"
        );
        self.notify("initialized", json!({}));
    }

    /// Writes `text` to a file of the temporary directory and returns its `file:` URI.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the temporary directory is writable");
        uri(&path.canonicalize().expect("the file was just written"))
    }

    fn open(&mut self, uri: &str, version: i64, text: &str) {
        let doc = json!({"uri": uri, "languageId": "rust", "version": version, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    }

    /// The session still works: a leaking file gets its finding.
    fn assert_still_analyses(&mut self) {
        let uri = self.file("leak.rs", LEAK);
        self.open(&uri, 1, LEAK);
        let p = self.diagnostics(&uri);
        let diags = p["diagnostics"].as_array().expect("a diagnostics array");
        assert_eq!(diags.len(), 1, "{p}");
        assert_eq!(diags[0]["code"], "wsa_lint::missing_wsa_cleanup", "{p}");
        assert_eq!(
            diags[0]["range"]["start"],
            json!({"line": 4, "character": 16})
        );
    }

    fn shutdown(&mut self, id: i64) {
        let r = self.request(id, "shutdown", Value::Null);
        assert_eq!(r.get("result"), Some(&Value::Null), "{r}");
    }

    fn exit(&mut self) -> i32 {
        self.notify("exit", Value::Null);
        self.wait()
    }

    /// The exit code, after closing stdin.
    fn wait(&mut self) -> i32 {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                return status.code().expect("the server exits, it is not killed");
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri(path: &Path) -> String {
    let mut s = String::from("file://");
    for b in path.display().to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn error_code(r: &Value) -> i64 {
    r["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("an error response: {r}"))
}

#[test]
fn huge_content_lengths_are_skipped() {
    let mut s = Server::start();
    s.raw(b"Content-Length: 99999999999999\r\n\r\n{}");
    s.raw(b"Content-Length: 18446744073709551615\r\n\r\n");
    s.raw(b"Content-Length: 99999999999999999999999999\r\n\r\n");
    s.initialize();
    s.raw(b"Content-Length: 99999999999999\r\n\r\n");
    s.assert_still_analyses();
    s.shutdown(2);
    assert_eq!(s.exit(), 0);
}

#[test]
fn malformed_messages_get_json_rpc_errors_and_the_server_goes_on() {
    let mut s = Server::start();
    s.initialize();
    let cases = [
        ("{not json}", Value::Null, -32700),
        ("[]", Value::Null, -32600),
        ("[1, 2]", Value::Null, -32600),
        (r#"{"id": 3, "method": "shutdown"}"#, json!(3), -32600),
        (
            r#"{"jsonrpc": "1.0", "id": 4, "method": "shutdown"}"#,
            json!(4),
            -32600,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 5, "method": 5}"#,
            json!(5),
            -32600,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": [6], "method": "x"}"#,
            Value::Null,
            -32600,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 7, "method": "x", "params": 1}"#,
            json!(7),
            -32600,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 8, "method": "textDocument/codeAction", "params": {"bogus": 1}}"#,
            json!(8),
            -32602,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 9, "method": "no/such"}"#,
            json!(9),
            -32601,
        ),
    ];
    for (body, id, code) in cases {
        s.frame(body);
        let r = s.next_response();
        assert_eq!((&r["id"], error_code(&r)), (&id, code), "for {body}: {r}");
    }
    // Not a frame at all, and malformed notifications: skipped or logged, never answered.
    s.raw(b"Garbage\r\n\r\n");
    s.raw(b"Content-Length: twelve\r\n\r\n{}");
    s.frame(
        r#"{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 5}}"#,
    );
    s.frame(r#"{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {}}"#);
    s.frame(r#"{"jsonrpc": "2.0", "method": "textDocument/didOpen"}"#);
    s.frame(r#"{"method": "textDocument/didClose", "params": {}}"#);
    let r = s.next_response();
    assert_eq!((&r["id"], error_code(&r)), (&Value::Null, -32600), "{r}");
    s.open("file:///%ZZ", 1, LEAK);
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///%ZZ", "version": 2}, "contentChanges": [{"text": ""}]}),
    );
    s.assert_still_analyses();
    s.shutdown(10);
    assert_eq!(s.exit(), 0);
}

#[test]
fn requests_after_shutdown_are_invalid_until_exit() {
    let mut s = Server::start();
    let r = s.request(1, "textDocument/codeAction", json!({}));
    assert_eq!(error_code(&r), -32002, "before initialize: {r}");
    s.initialize();
    s.shutdown(2);
    let actions = json!({
        "textDocument": {"uri": "file:///a.rs"},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": []},
    });
    let r = s.request(3, "textDocument/codeAction", actions);
    assert_eq!(error_code(&r), -32600, "{r}");
    let r = s.request(4, "shutdown", Value::Null);
    assert_eq!(error_code(&r), -32600, "{r}");
    assert_eq!(s.exit(), 0);
}

#[test]
fn exit_without_shutdown_exits_1() {
    let mut s = Server::start();
    s.initialize();
    assert_eq!(s.exit(), 1);
}

#[test]
fn end_of_input_exits_0_after_shutdown_and_1_without() {
    let mut s = Server::start();
    s.initialize();
    s.raw(b"Content-Length: 100\r\n\r\n{\"jsonrpc\"");
    assert_eq!(s.wait(), 1);
    let mut s = Server::start();
    s.initialize();
    s.shutdown(2);
    assert_eq!(s.wait(), 0);
}

#[test]
fn requests_are_answered_while_a_file_is_analysed_and_a_newer_edit_wins() {
    let mut s = Server::start();
    s.initialize();
    // Thousands of functions with Winsock calls: an analysis that takes a while.
    let mut slow =
        String::from("use windows_sys::Win32::Networking::WinSock::{WSACleanup, WSAStartup};\n");
    for i in 0..3000 {
        slow.push_str(&format!(
            "pub fn f{i}(x: u32) -> u32 {{\n    if unsafe {{ WSAStartup(0x202, std::ptr::null_mut()) }} != 0 {{\n        return x;\n    }}\n    if x > {i} {{\n        return x;\n    }}\n    unsafe {{ WSACleanup() }};\n    x\n}}\n"
        ));
    }
    let uri = s.file("slow.rs", &slow);
    s.open(&uri, 1, &slow);
    let actions = json!({
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": []},
    });
    // Answered before the analysis of version 1 is published (or dropped).
    let r = s.request(2, "textDocument/codeAction", actions);
    assert_eq!(r["result"], json!([]), "{r}");
    assert!(s.pending.is_empty(), "{:?}", s.pending);
    // The edit replaces the slow text while it is analysed: only version 2 is published.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": LEAK}]}),
    );
    let p = s.diagnostics(&uri);
    assert_eq!(p["version"], 2, "{p}");
    assert_eq!(p["diagnostics"].as_array().map(Vec::len), Some(1), "{p}");
    s.shutdown(3);
    assert_eq!(s.exit(), 0);
}

#[test]
fn huge_documents_are_not_analysed_and_memory_stays_bounded() {
    let mut s = Server::start();
    s.initialize();
    // Over the analysis limit (8 MiB), under the message limit (64 MiB): one information
    // diagnostic, and requests go on being answered at once.
    let line = "pub fn f() -> u32 { 1 } // padding padding padding padding padding padding\n";
    let big = line.repeat(60_000_000 / line.len());
    let uri = s.file("big.rs", "");
    s.open(&uri, 1, &big);
    let start = Instant::now();
    let r = s.request(
        2,
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []},
        }),
    );
    assert_eq!(r["result"], json!([]), "{r}");
    let p = s.diagnostics(&uri);
    let diags = p["diagnostics"].as_array().expect("a diagnostics array");
    assert_eq!(diags.len(), 1, "{p}");
    assert_eq!(diags[0]["severity"], 3, "information: {p}");
    assert!(
        diags[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not analysed")),
        "{p}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    // Over the message limit: the message is skipped as a whole.
    let uri2 = s.file("bigger.rs", "");
    s.open(&uri2, 1, &"x".repeat(65 << 20));
    s.assert_still_analyses();
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id()))
            .expect("the server's /proc status");
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line");
        assert!(peak_kib < 1 << 20, "peak memory {peak_kib} KiB");
    }
    s.shutdown(3);
    assert_eq!(s.exit(), 0);
}

#[test]
fn quick_fixes_never_edit_through_a_macro_body() {
    let mut s = Server::start();
    s.initialize();
    let head = "use windows_sys::Win32::Networking::WinSock::*;\n";
    let text = format!(
        "{head}macro_rules! start {{ ($v:expr, $d:expr) => {{ WSAStartup($v as u16, $d) }} }}\n\
         fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    unsafe {{\n        \
         if start!(2.2, &mut d) != 0 {{ return; }}\n        \
         if WSAStartup(2.2 as u16, &mut d) != 0 {{ WSACleanup(); return; }}\n        \
         WSACleanup();\n        WSACleanup();\n    }}\n}}\n"
    );
    let uri = s.file("macro_fix.rs", &text);
    s.open(&uri, 1, &text);
    let p = s.diagnostics(&uri);
    let diags = p["diagnostics"].as_array().cloned().unwrap_or_default();
    let floats: Vec<&Value> = diags
        .iter()
        .filter(|d| d["code"] == "wsa_lint::malformed_wsa_version")
        .collect();
    assert_eq!(floats.len(), 2, "{p}");
    let r = s.request(
        2,
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 20, "character": 0}},
            "context": {"diagnostics": []},
        }),
    );
    let actions = r["result"].as_array().cloned().unwrap_or_default();
    let edits: Vec<(Value, Value, Value)> = actions
        .iter()
        .flat_map(|a| {
            let preferred = a["isPreferred"].clone();
            a["edit"]["changes"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .map(move |e| (e["range"].clone(), e["newText"].clone(), preferred.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    // Only the cast written in place on line 7 is edited; the macro call on line 6 gets none.
    let on_lines: Vec<u64> = edits
        .iter()
        .filter(|(_, text, _)| text == "0x0202")
        .map(|(range, _, _)| range["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(on_lines, vec![6], "{r}");
    for (range, _, preferred) in &edits {
        if preferred == true {
            assert_eq!(range["start"]["line"], range["end"]["line"], "{r}");
            assert_ne!(range["start"]["line"], 0, "{r}");
        }
    }
    s.shutdown(3);
    assert_eq!(s.exit(), 0);
}

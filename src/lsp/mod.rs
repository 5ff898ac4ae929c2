//! `wsa-lint lsp`: a Language Server over stdio. Publishes the diagnostics of open Rust files
//! on open, change (debounced) and save, clears them on close, and offers the suggestions of the
//! diagnostics as quick fixes. Unsaved buffers are analysed in place of the files on disk, with
//! the project's configuration and `wsa-lint: allow` comments.
//!
//! Three threads: a reader (`transport`) turns stdin into messages, the loop here answers them
//! and keeps the open documents, and a worker (`analysis`) runs the analyses, so a request is
//! answered while a file is analysed. No input ends the server but `exit` or the end of stdin:
//! malformed messages get JSON-RPC errors (requests) or are logged to stderr (notifications).

mod analysis;
mod transport;

use analysis::{Analysed, Fix, Job, Work};
use anyhow::Context as _;
use crossbeam_channel::{Receiver, Sender};
use lsp_types as lt;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::{Frame, Incoming, Invalid, MAX_MESSAGE_BYTES};

/// How long typing must pause before a changed buffer is re-analysed.
const DEBOUNCE: Duration = Duration::from_millis(120);
/// A buffer larger than this is not analysed (it gets one information diagnostic saying so):
/// the analysis of a file takes time and memory in proportion to its size, and a generated or
/// data file of this size is not code anyone edits by hand.
pub const MAX_ANALYSED_BYTES: usize = 8 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `initialize`: requests get `ServerNotInitialized`, notifications are dropped.
    Uninitialized,
    Running,
    /// After `shutdown`: requests get `InvalidRequest`, until `exit`.
    ShutDown,
}

/// What the reader thread hands the loop.
enum Event {
    Message(Incoming),
    Invalid(Invalid),
    /// Input that was skipped; worth a line in the log.
    Skipped(String),
    End,
}

struct Doc {
    uri: lt::Uri,
    /// `None` when the buffer is larger than `MAX_ANALYSED_BYTES`.
    text: Option<Arc<str>>,
    /// The server's count of edits at this document's last edit: a result computed for an older
    /// generation is stale.
    generation: u64,
    version: Option<i32>,
}

struct Server {
    out: std::io::Stdout,
    phase: Phase,
    /// Open buffers by canonical path.
    docs: HashMap<PathBuf, Doc>,
    dirty: HashMap<PathBuf, Instant>,
    fixes: HashMap<String, Vec<Fix>>,
    work: Sender<Work>,
    edits: u64,
}

/// Serves until `exit` or the end of stdin. The exit code is 0 if `shutdown` came first and 1
/// otherwise, as the LSP specification says for `exit`; the end of stdin counts as an `exit`.
pub fn serve(lints: &[&crate::lint::LintDef]) -> anyhow::Result<ExitCode> {
    let (work, results) = analysis::spawn(lints)?;
    let events = spawn_reader()?;
    let mut server = Server {
        out: std::io::stdout(),
        phase: Phase::Uninitialized,
        docs: HashMap::new(),
        dirty: HashMap::new(),
        fixes: HashMap::new(),
        work,
        edits: 0,
    };
    server.run(&events, results)
}

fn log(msg: &str) {
    eprintln!("wsa-lint lsp: {msg}");
}

fn spawn_reader() -> anyhow::Result<Receiver<Event>> {
    // One message waiting at a time: a client that floods the server is read no faster than
    // the loop handles it, which bounds the memory held by messages (each up to 64 MiB).
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("wsa-lint-lsp-reader".into())
        .spawn(move || {
            let mut reader = transport::Reader::new(std::io::stdin().lock());
            loop {
                let event = match reader.read_frame() {
                    Ok(Some(Frame::Body(body))) => match transport::decode(&body) {
                        Ok(m) => Event::Message(m),
                        Err(e) => Event::Invalid(e),
                    },
                    Ok(Some(Frame::TooLarge(n))) => Event::Skipped(format!(
                        "skipped a message of {n} bytes, more than the limit of {MAX_MESSAGE_BYTES}"
                    )),
                    Ok(Some(Frame::BadHeader(what))) => Event::Skipped(what),
                    Ok(None) => Event::End,
                    Err(e) => {
                        log(&format!("reading stdin: {e}"));
                        Event::End
                    }
                };
                let end = matches!(event, Event::End);
                if tx.send(event).is_err() || end {
                    return;
                }
            }
        })
        .context("starting the stdin reader")?;
    Ok(rx)
}

impl Server {
    fn run(
        &mut self,
        events: &Receiver<Event>,
        mut results: Receiver<Analysed>,
    ) -> anyhow::Result<ExitCode> {
        loop {
            let now = Instant::now();
            let wait = self
                .dirty
                .values()
                .map(|t| (*t + DEBOUNCE).saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            crossbeam_channel::select! {
                recv(events) -> e => match e {
                    Ok(Event::Message(m)) => {
                        if let Some(code) = self.message(m)? {
                            return Ok(code);
                        }
                    }
                    Ok(Event::Invalid(e)) => {
                        log(&format!("answered a malformed message: {}", e.message));
                        self.send(&transport::response_err(e.id, e.code, &e.message))?;
                    }
                    Ok(Event::Skipped(what)) => log(&what),
                    Ok(Event::End) | Err(_) => return Ok(self.exit_code()),
                },
                recv(results) -> r => match r {
                    Ok(r) => self.analysed(r)?,
                    Err(_) => {
                        log("the analysis worker stopped; files are no longer analysed");
                        results = crossbeam_channel::never();
                    }
                },
                default(wait) => {}
            }
            let due: Vec<PathBuf> = self
                .dirty
                .iter()
                .filter(|(_, t)| t.elapsed() >= DEBOUNCE)
                .map(|(p, _)| p.clone())
                .collect();
            for p in due {
                self.dirty.remove(&p);
                self.schedule(&p);
            }
        }
    }

    fn exit_code(&self) -> ExitCode {
        if self.phase == Phase::ShutDown {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }

    fn send(&mut self, msg: &Value) -> anyhow::Result<()> {
        transport::write_message(&mut self.out.lock(), msg).context("writing to the client")
    }

    /// Handles one message; `Some(code)` when the server is to exit.
    fn message(&mut self, m: Incoming) -> anyhow::Result<Option<ExitCode>> {
        match m {
            Incoming::Request { id, method, params } => {
                let reply = match self.request(&method, params) {
                    Ok(result) => transport::response_ok(id, result),
                    Err((code, msg)) => transport::response_err(id, code, &msg),
                };
                self.send(&reply)?;
            }
            Incoming::Notification { method, .. } if method == "exit" => {
                return Ok(Some(self.exit_code()));
            }
            Incoming::Notification { method, params } => {
                if self.phase == Phase::Running {
                    if let Err(e) = self.notification(&method, params) {
                        log(&format!("ignored `{method}`: {e:#}"));
                    }
                }
            }
            Incoming::Response => {}
        }
        Ok(None)
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, (i32, String)> {
        use lt::request::Request as _;
        match (self.phase, method) {
            (Phase::ShutDown, _) => Err((
                transport::INVALID_REQUEST,
                format!("`{method}` after `shutdown`: only `exit` is accepted"),
            )),
            (Phase::Uninitialized, lt::request::Initialize::METHOD) => {
                self.phase = Phase::Running;
                Ok(initialize_result())
            }
            (Phase::Uninitialized, _) => Err((
                transport::SERVER_NOT_INITIALIZED,
                format!("`{method}` before `initialize`"),
            )),
            (Phase::Running, lt::request::Initialize::METHOD) => Err((
                transport::INVALID_REQUEST,
                "`initialize` was already received".to_string(),
            )),
            (Phase::Running, lt::request::Shutdown::METHOD) => {
                self.phase = Phase::ShutDown;
                self.dirty.clear();
                Ok(Value::Null)
            }
            (Phase::Running, lt::request::CodeActionRequest::METHOD) => {
                let p = serde_json::from_value(params)
                    .map_err(|e| (transport::INVALID_PARAMS, e.to_string()))?;
                Ok(self.code_actions(&p))
            }
            _ => Err((
                transport::METHOD_NOT_FOUND,
                format!("unsupported request `{method}`"),
            )),
        }
    }

    fn notification(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        use lt::notification::Notification as _;
        match method {
            lt::notification::DidOpenTextDocument::METHOD => {
                let p: lt::DidOpenTextDocumentParams = serde_json::from_value(params)?;
                let doc = p.text_document;
                if let Some(path) = uri_to_path(&doc.uri) {
                    if self.edit(&path, doc.uri, doc.text, Some(doc.version))? {
                        self.schedule(&path);
                    }
                }
            }
            lt::notification::DidChangeTextDocument::METHOD => {
                let p: lt::DidChangeTextDocumentParams = serde_json::from_value(params)?;
                // Full sync: the last change holds the whole text.
                let (Some(path), Some(change)) = (
                    uri_to_path(&p.text_document.uri),
                    p.content_changes.into_iter().last(),
                ) else {
                    return Ok(());
                };
                let version = Some(p.text_document.version);
                if self.edit(&path, p.text_document.uri, change.text, version)? {
                    self.dirty.insert(path, Instant::now());
                }
            }
            lt::notification::DidSaveTextDocument::METHOD => {
                let p: lt::DidSaveTextDocumentParams = serde_json::from_value(params)?;
                let Some(path) = uri_to_path(&p.text_document.uri) else {
                    return Ok(());
                };
                let Some(version) = self.docs.get(&path).map(|d| d.version) else {
                    return Ok(());
                };
                let analysable = match p.text {
                    Some(text) => self.edit(&path, p.text_document.uri, text, version)?,
                    None => self.docs.get(&path).is_some_and(|d| d.text.is_some()),
                };
                if analysable {
                    self.dirty.remove(&path);
                    self.schedule(&path);
                }
            }
            lt::notification::DidCloseTextDocument::METHOD => {
                let p: lt::DidCloseTextDocumentParams = serde_json::from_value(params)?;
                if let Some(path) = uri_to_path(&p.text_document.uri) {
                    self.docs.remove(&path);
                    self.dirty.remove(&path);
                    self.forget(&path);
                }
                self.fixes.remove(p.text_document.uri.as_str());
                self.publish(p.text_document.uri, Vec::new(), None)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Records a buffer's new text; `false` if it is too large to analyse, in which case the
    /// file's diagnostics are replaced by one saying so.
    fn edit(
        &mut self,
        path: &Path,
        uri: lt::Uri,
        text: String,
        version: Option<i32>,
    ) -> anyhow::Result<bool> {
        self.edits += 1;
        let len = text.len();
        let analysable = len <= MAX_ANALYSED_BYTES;
        let doc = Doc {
            uri: uri.clone(),
            text: analysable.then(|| Arc::from(text)),
            generation: self.edits,
            version,
        };
        self.docs.insert(path.to_path_buf(), doc);
        if !analysable {
            self.dirty.remove(path);
            self.forget(path);
            self.fixes.remove(uri.as_str());
            let hint = lt::Diagnostic {
                severity: Some(lt::DiagnosticSeverity::INFORMATION),
                source: Some("wsa-lint".into()),
                message: format!(
                    "file not analysed: it is {len} bytes, over the {} MiB that wsa-lint analyses in an editor",
                    MAX_ANALYSED_BYTES >> 20
                ),
                ..Default::default()
            };
            self.publish(uri, vec![hint], version)?;
        }
        Ok(analysable)
    }

    /// Queues an analysis of `path` with every analysable open buffer in place. A buffer too
    /// large to analyse is left out of the overlay, so the crate sees that file as it is on disk.
    fn schedule(&mut self, path: &Path) {
        let Some(doc) = self.docs.get(path).filter(|d| d.text.is_some()) else {
            return;
        };
        let job = Job {
            path: path.to_path_buf(),
            uri: doc.uri.clone(),
            generation: doc.generation,
            version: doc.version,
            overlay: self
                .docs
                .iter()
                .filter_map(|(p, d)| Some((p.clone(), d.text.clone()?)))
                .collect(),
        };
        if self.work.send(Work::Analyse(job)).is_err() {
            log("the analysis worker stopped; files are no longer analysed");
        }
    }

    fn forget(&mut self, path: &Path) {
        // A stopped worker has nothing queued to forget.
        let _ = self.work.send(Work::Forget(path.to_path_buf()));
    }

    /// Publishes a finished analysis unless the document changed (or closed) since it started.
    fn analysed(&mut self, r: Analysed) -> anyhow::Result<()> {
        let current = self.docs.get(&r.path).map(|d| d.generation);
        if self.phase != Phase::Running || current != Some(r.generation) {
            return Ok(());
        }
        self.fixes.insert(r.uri.as_str().to_string(), r.fixes);
        self.publish(r.uri, r.diagnostics, r.version)
    }

    fn publish(
        &mut self,
        uri: lt::Uri,
        diagnostics: Vec<lt::Diagnostic>,
        version: Option<i32>,
    ) -> anyhow::Result<()> {
        use lt::notification::Notification as _;
        let params = lt::PublishDiagnosticsParams::new(uri, diagnostics, version);
        let msg = transport::notification(
            lt::notification::PublishDiagnostics::METHOD,
            serde_json::to_value(params).context("serialising diagnostics")?,
        );
        self.send(&msg)
    }

    fn code_actions(&self, p: &lt::CodeActionParams) -> Value {
        let uri = &p.text_document.uri;
        let actions: Vec<lt::CodeActionOrCommand> = self
            .fixes
            .get(uri.as_str())
            .into_iter()
            .flatten()
            .filter(|f| overlaps(&f.range, &p.range))
            .map(|f| {
                // lsp-types' `Uri` is the map key the protocol type requires.
                #[allow(clippy::mutable_key_type)]
                let mut changes = HashMap::new();
                changes.insert(
                    uri.clone(),
                    vec![lt::TextEdit::new(f.range, f.new_text.clone())],
                );
                lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
                    title: f.title.clone(),
                    kind: Some(lt::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![f.diagnostic.clone()]),
                    edit: Some(lt::WorkspaceEdit {
                        changes: Some(changes),
                        ..Default::default()
                    }),
                    is_preferred: Some(f.preferred),
                    ..Default::default()
                })
            })
            .collect();
        // Plain data (strings, numbers, string-keyed maps) always serialises.
        serde_json::to_value(actions).unwrap_or(Value::Null)
    }
}

fn initialize_result() -> Value {
    let caps = lt::ServerCapabilities {
        text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
            lt::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lt::TextDocumentSyncKind::FULL),
                save: Some(lt::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        code_action_provider: Some(lt::CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    };
    let result = lt::InitializeResult {
        capabilities: caps,
        server_info: Some(lt::ServerInfo {
            name: "wsa-lint".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    };
    serde_json::to_value(result).unwrap_or(Value::Null)
}

fn uri_to_path(uri: &lt::Uri) -> Option<PathBuf> {
    let s = uri.as_str().strip_prefix("file://")?;
    let mut bytes = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let (b'%', Some(&[h, l])) = (b[i], b.get(i + 1..i + 3)) {
            if let (Some(h), Some(l)) = (hex(h), hex(l)) {
                bytes.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    let p = PathBuf::from(String::from_utf8(bytes).ok()?);
    Some(p.canonicalize().unwrap_or(p))
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

fn path_to_uri(p: &Path) -> Option<lt::Uri> {
    let mut s = String::from("file://");
    for b in p.display().to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.parse().ok()
}

fn overlaps(a: &lt::Range, b: &lt::Range) -> bool {
    (a.start.line, a.start.character) <= (b.end.line, b.end.character)
        && (b.start.line, b.start.character) <= (a.end.line, a.end.character)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_decode() {
        let uri = |s: &str| s.parse::<lt::Uri>().expect("a valid URI");
        assert_eq!(
            uri_to_path(&uri("file:///nonexistent/a%20b.rs")),
            Some(PathBuf::from("/nonexistent/a b.rs"))
        );
        assert_eq!(
            uri_to_path(&uri("file:///nonexistent/%2B%e2%82%AC")),
            Some(PathBuf::from("/nonexistent/+\u{20ac}"))
        );
        assert_eq!(uri_to_path(&uri("untitled:x")), None);
    }
}

//! `wsa-lint lsp`: a Language Server over stdio. Publishes the diagnostics of open Rust files
//! on open, change (debounced) and save, clears them on close, and offers the suggestions of the
//! diagnostics as quick fixes. Unsaved buffers are analysed in place of the files on disk, with
//! the project's configuration and `wsa-lint: allow` comments.

use crate::diag::{Applicability, Severity};
use crate::lint::LintDef;
use crate::source::SourceFile;
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types as lt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long typing must pause before a changed buffer is re-analysed.
const DEBOUNCE: Duration = Duration::from_millis(120);

struct Fix {
    range: lt::Range,
    title: String,
    new_text: String,
    preferred: bool,
    diagnostic: lt::Diagnostic,
}

struct Server<'l> {
    lints: &'l [&'l LintDef],
    pool: rayon::ThreadPool,
    /// Open buffers by canonical path: their URI and text.
    docs: HashMap<PathBuf, (lt::Uri, String)>,
    dirty: HashMap<PathBuf, Instant>,
    fixes: HashMap<String, Vec<Fix>>,
}

pub fn serve(lints: &[&LintDef]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (conn, io) = Connection::stdio();
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
    conn.initialize(serde_json::to_value(caps)?)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(1 << 30)
        .build()?;
    let mut server = Server {
        lints,
        pool,
        docs: HashMap::new(),
        dirty: HashMap::new(),
        fixes: HashMap::new(),
    };
    loop {
        match conn.receiver.recv_timeout(Duration::from_millis(25)) {
            Ok(Message::Request(req)) => {
                if conn.handle_shutdown(&req)? {
                    break;
                }
                let resp = server.request(req);
                conn.sender.send(Message::Response(resp))?;
            }
            Ok(Message::Notification(n)) => server.notification(&conn, n)?,
            Ok(Message::Response(_)) => {}
            Err(crossbeam_like::Timeout) => {}
            Err(crossbeam_like::Disconnected) => break,
        }
        let due: Vec<PathBuf> = server
            .dirty
            .iter()
            .filter(|(_, t)| t.elapsed() >= DEBOUNCE)
            .map(|(p, _)| p.clone())
            .collect();
        for p in due {
            server.dirty.remove(&p);
            server.publish(&conn, &p)?;
        }
    }
    // The writer thread ends only once every sender is gone.
    drop(server);
    drop(conn);
    io.join()?;
    Ok(())
}

mod crossbeam_like {
    pub use crossbeam_channel::RecvTimeoutError::{Disconnected, Timeout};
}

fn uri_to_path(uri: &lt::Uri) -> Option<PathBuf> {
    let s = uri.as_str().strip_prefix("file://")?;
    let mut bytes = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).ok()?, 16) {
                bytes.push(v);
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

/// An LSP position (UTF-16 columns) of a byte offset.
fn position(f: &SourceFile, byte: u32) -> lt::Position {
    let lc = f.line_col(byte);
    let start = f.offset_of(lc.line, 0);
    let end = (byte as usize).clamp(start, f.text.len());
    let mut end = end;
    while !f.text.is_char_boundary(end) {
        end -= 1;
    }
    let character = f.text[start..end].encode_utf16().count() as u32;
    lt::Position::new(lc.line as u32 - 1, character)
}

fn range(f: &SourceFile, lo: u32, hi: u32) -> lt::Range {
    lt::Range::new(position(f, lo), position(f, hi))
}

fn overlaps(a: &lt::Range, b: &lt::Range) -> bool {
    (a.start.line, a.start.character) <= (b.end.line, b.end.character)
        && (b.start.line, b.start.character) <= (a.end.line, a.end.character)
}

impl Server<'_> {
    fn notification(
        &mut self,
        conn: &Connection,
        n: Notification,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use lt::notification::Notification as _;
        match n.method.as_str() {
            lt::notification::DidOpenTextDocument::METHOD => {
                let p: lt::DidOpenTextDocumentParams = serde_json::from_value(n.params)?;
                if let Some(path) = uri_to_path(&p.text_document.uri) {
                    self.docs
                        .insert(path.clone(), (p.text_document.uri, p.text_document.text));
                    self.publish(conn, &path)?;
                }
            }
            lt::notification::DidChangeTextDocument::METHOD => {
                let p: lt::DidChangeTextDocumentParams = serde_json::from_value(n.params)?;
                if let (Some(path), Some(change)) = (
                    uri_to_path(&p.text_document.uri),
                    p.content_changes.into_iter().last(),
                ) {
                    self.docs
                        .insert(path.clone(), (p.text_document.uri, change.text));
                    self.dirty.insert(path, Instant::now());
                }
            }
            lt::notification::DidSaveTextDocument::METHOD => {
                let p: lt::DidSaveTextDocumentParams = serde_json::from_value(n.params)?;
                if let Some(path) = uri_to_path(&p.text_document.uri) {
                    if let (Some(text), Some(doc)) = (p.text, self.docs.get_mut(&path)) {
                        doc.1 = text;
                    }
                    self.dirty.remove(&path);
                    self.publish(conn, &path)?;
                }
            }
            lt::notification::DidCloseTextDocument::METHOD => {
                let p: lt::DidCloseTextDocumentParams = serde_json::from_value(n.params)?;
                if let Some(path) = uri_to_path(&p.text_document.uri) {
                    self.docs.remove(&path);
                    self.dirty.remove(&path);
                }
                self.fixes.remove(p.text_document.uri.as_str());
                send_diagnostics(conn, p.text_document.uri, Vec::new())?;
            }
            _ => {}
        }
        Ok(())
    }

    fn request(&mut self, req: Request) -> Response {
        use lt::request::Request as _;
        if req.method != lt::request::CodeActionRequest::METHOD {
            return Response::new_err(
                req.id,
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("unsupported request {}", req.method),
            );
        }
        let p: lt::CodeActionParams = match serde_json::from_value(req.params) {
            Ok(p) => p,
            Err(e) => {
                return Response::new_err(
                    req.id,
                    lsp_server::ErrorCode::InvalidParams as i32,
                    e.to_string(),
                )
            }
        };
        let uri = p.text_document.uri.clone();
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
        Response::new_ok(req.id, actions)
    }

    /// Analyses the crate around `path` with every open buffer in place and publishes the file's findings.
    fn publish(
        &mut self,
        conn: &Connection,
        path: &Path,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some((uri, _)) = self.docs.get(path).cloned() else {
            return Ok(());
        };
        crate::load::set_overlay(
            self.docs
                .iter()
                .map(|(p, (_, t))| (p.clone(), t.clone()))
                .collect(),
        );
        let config = crate::config::discover(path).unwrap_or_default();
        let levels = crate::cli::build_levels(&config, &[], self.lints).unwrap_or_default();
        let discovered = crate::discover::from_paths(&[path.to_path_buf()]);
        let lints = self.lints;
        let out = self.pool.install(|| {
            crate::driver::run(
                discovered,
                lints,
                &levels,
                &crate::driver::RunOptions::default(),
            )
        });
        let mut diags = Vec::new();
        let mut fixes = Vec::new();
        for d in &out.diags {
            let Some(primary) = d.primary_span() else {
                continue;
            };
            let f = out.db.get(primary.file);
            if f.path != path {
                continue;
            }
            let related = d
                .labels
                .iter()
                .filter(|l| !l.primary)
                .filter_map(|l| {
                    let lf = out.db.get(l.span.file);
                    Some(lt::DiagnosticRelatedInformation {
                        location: lt::Location::new(
                            path_to_uri(&lf.path)?,
                            range(&lf, l.span.lo, l.span.hi),
                        ),
                        message: l.message.clone(),
                    })
                })
                .collect::<Vec<_>>();
            let mut message = d.message.clone();
            for n in &d.notes {
                let k = if n.kind == crate::diag::NoteKind::Help {
                    "help"
                } else {
                    "note"
                };
                message.push_str(&format!("\n{k}: {}", n.message));
            }
            let diag = lt::Diagnostic {
                range: range(&f, primary.lo, primary.hi),
                severity: Some(match d.severity {
                    Severity::Error => lt::DiagnosticSeverity::ERROR,
                    Severity::Warning => lt::DiagnosticSeverity::WARNING,
                }),
                code: d
                    .lint
                    .map(|l| lt::NumberOrString::String(format!("wsa_lint::{l}"))),
                source: Some("wsa-lint".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..Default::default()
            };
            for s in &d.suggestions {
                let sf = out.db.get(s.span.file);
                if sf.path == path {
                    fixes.push(Fix {
                        range: range(&sf, s.span.lo, s.span.hi),
                        title: s.message.clone(),
                        new_text: s.replacement.clone(),
                        preferred: s.applicability == Applicability::MachineApplicable,
                        diagnostic: diag.clone(),
                    });
                }
            }
            diags.push(diag);
        }
        self.fixes.insert(uri.as_str().to_string(), fixes);
        send_diagnostics(conn, uri, diags)?;
        Ok(())
    }
}

fn send_diagnostics(
    conn: &Connection,
    uri: lt::Uri,
    diagnostics: Vec<lt::Diagnostic>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use lt::notification::Notification as _;
    let params = lt::PublishDiagnosticsParams::new(uri, diagnostics, None);
    conn.sender.send(Message::Notification(Notification::new(
        lt::notification::PublishDiagnostics::METHOD.to_string(),
        params,
    )))?;
    Ok(())
}

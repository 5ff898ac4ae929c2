//! The analysis worker of `wsa-lint lsp`: one thread that takes jobs (a file and a snapshot of
//! the open buffers), runs the driver on them and sends back LSP diagnostics and quick fixes.
//! It keeps the message loop free, so requests are answered while a file is analysed.
//!
//! The driver cannot be interrupted, so a newer edit supersedes older work at job granularity:
//! a queued job for a file is replaced by the newer one, and the loop drops the result of a job
//! whose document has changed since (see `Analysed::generation`).

use crate::diag::{Applicability, Severity};
use crate::lint::LintDef;
use crate::source::SourceFile;
use crossbeam_channel::{Receiver, Sender};
use lsp_types as lt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct Job {
    pub(crate) path: PathBuf,
    pub(crate) uri: lt::Uri,
    /// The server's edit count for the document when the job was made.
    pub(crate) generation: u64,
    /// The client's version of the document, echoed in `publishDiagnostics`.
    pub(crate) version: Option<i32>,
    /// Every open buffer that is analysed, the job's file included.
    pub(crate) overlay: Vec<(PathBuf, Arc<str>)>,
}

pub(crate) enum Work {
    Analyse(Job),
    /// The file was closed or became too large: its queued job is dropped.
    Forget(PathBuf),
}

pub(crate) struct Fix {
    pub(crate) range: lt::Range,
    pub(crate) title: String,
    pub(crate) new_text: String,
    pub(crate) preferred: bool,
    pub(crate) diagnostic: lt::Diagnostic,
}

pub(crate) struct Analysed {
    pub(crate) path: PathBuf,
    pub(crate) uri: lt::Uri,
    pub(crate) generation: u64,
    pub(crate) version: Option<i32>,
    pub(crate) diagnostics: Vec<lt::Diagnostic>,
    pub(crate) fixes: Vec<Fix>,
}

/// Starts the worker. It ends when `Work`'s sender is dropped or the loop stops listening; the
/// process does not wait for it, so `exit` is not delayed by a running analysis.
pub(crate) fn spawn(lints: &[&LintDef]) -> anyhow::Result<(Sender<Work>, Receiver<Analysed>)> {
    use anyhow::Context as _;
    let (work_tx, work_rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    // The worker outlives this borrow; the definitions are a fn pointer and a static each.
    let defs: Vec<LintDef> = lints
        .iter()
        .map(|l| LintDef {
            lint: l.lint,
            check: l.check,
            yields_to: l.yields_to,
        })
        .collect();
    // The parser recurses per nesting level: the driver's threads get a large stack.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(1 << 30)
        .build()
        .context("starting the analysis threads")?;
    std::thread::Builder::new()
        .name("wsa-lint-analysis".into())
        .spawn(move || {
            let lints: Vec<&LintDef> = defs.iter().collect();
            work(&lints, &pool, &work_rx, &done_tx);
        })
        .context("starting the analysis worker")?;
    Ok((work_tx, done_rx))
}

fn work(lints: &[&LintDef], pool: &rayon::ThreadPool, rx: &Receiver<Work>, tx: &Sender<Analysed>) {
    let mut queue: Vec<Job> = Vec::new();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok(w) => enqueue(&mut queue, w),
                Err(_) => return,
            }
        }
        while let Ok(w) = rx.try_recv() {
            enqueue(&mut queue, w);
        }
        if queue.is_empty() {
            continue;
        }
        let job = queue.remove(0);
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyse(lints, pool, &job)));
        let (diagnostics, fixes) = match caught {
            Ok(r) => r,
            Err(_) => {
                eprintln!(
                    "wsa-lint lsp: internal error while analysing {}",
                    job.path.display()
                );
                continue;
            }
        };
        let done = Analysed {
            path: job.path,
            uri: job.uri,
            generation: job.generation,
            version: job.version,
            diagnostics,
            fixes,
        };
        if tx.send(done).is_err() {
            return;
        }
    }
}

/// Keeps one job per file, the newest, in the order files were first queued.
fn enqueue(queue: &mut Vec<Job>, w: Work) {
    match w {
        Work::Analyse(job) => {
            if let Some(old) = queue.iter_mut().find(|j| j.path == job.path) {
                *old = job;
            } else {
                queue.push(job);
            }
        }
        Work::Forget(path) => queue.retain(|j| j.path != path),
    }
}

/// Analyses the crate around the job's file with the job's buffers in place of the files on disk.
fn analyse(
    lints: &[&LintDef],
    pool: &rayon::ThreadPool,
    job: &Job,
) -> (Vec<lt::Diagnostic>, Vec<Fix>) {
    let path = job.path.as_path();
    // The overlay is process-global; this thread is the only one that sets it, right before
    // each run, so a run always sees its own snapshot.
    crate::load::set_overlay(
        job.overlay
            .iter()
            .map(|(p, t)| (p.clone(), t.to_string()))
            .collect::<HashMap<_, _>>(),
    );
    let config = crate::config::discover(path).unwrap_or_default();
    let levels = crate::levels::build_levels(&config, &[], lints).unwrap_or_default();
    let discovered = crate::discover::from_paths(&[path.to_path_buf()]);
    let out = pool.install(|| {
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
                        super::path_to_uri(&lf.path)?,
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
                Severity::Note => lt::DiagnosticSeverity::INFORMATION,
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
    (diags, fixes)
}

/// An LSP position (UTF-16 columns) of a byte offset.
fn position(f: &SourceFile, byte: u32) -> lt::Position {
    let lc = f.line_col(byte);
    let start = f.offset_of(lc.line, 0);
    let mut end = (byte as usize).clamp(start, f.text.len());
    while !f.text.is_char_boundary(end) {
        end -= 1;
    }
    let character = f.text[start..end].encode_utf16().count() as u32;
    lt::Position::new(lc.line as u32 - 1, character)
}

fn range(f: &SourceFile, lo: u32, hi: u32) -> lt::Range {
    lt::Range::new(position(f, lo), position(f, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(path: &str, generation: u64) -> Work {
        Work::Analyse(Job {
            path: PathBuf::from(path),
            uri: "file:///x".parse().expect("a valid URI"),
            generation,
            version: None,
            overlay: Vec::new(),
        })
    }

    #[test]
    fn a_newer_job_replaces_the_queued_one_for_its_file() {
        let mut q = Vec::new();
        for w in [
            job("/a", 1),
            job("/b", 2),
            job("/a", 3),
            Work::Forget("/b".into()),
        ] {
            enqueue(&mut q, w);
        }
        let left: Vec<_> = q.iter().map(|j| (j.path.clone(), j.generation)).collect();
        assert_eq!(left, [(PathBuf::from("/a"), 3)]);
    }
}

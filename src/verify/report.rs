//! Static findings beside runtime violations: confirmed, not exercised, runtime only.

use super::twins::{Observed, Outcome, Violation, OBSERVABLE};
use crate::diag::{Diagnostic, Level, Severity};
use crate::source::SourceDb;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::WriteColor;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Confirmed,
    RuntimeOnly,
    NotExercised,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::NotExercised => "not-exercised",
            Status::RuntimeOnly => "runtime-only",
        }
    }
}

/// One line of the verdict.
#[derive(Debug)]
pub struct Entry {
    pub lint: &'static str,
    pub status: Status,
    pub deny: bool,
    /// Canonical path of the source file.
    pub file: PathBuf,
    pub line: u32,
    pub message: String,
    /// Runtime violations behind it (indices into the violations).
    pub violations: Vec<usize>,
    /// For not-exercised findings: how often the linted code ran that line.
    pub line_ran: usize,
    /// The static finding's labels in its file (the primary one among them): (byte range,
    /// message, primary). Empty for runtime-only entries.
    pub labels: Vec<(std::ops::Range<usize>, String, bool)>,
}

pub fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Sets static findings and runtime violations side by side.
pub fn reconcile(
    db: &SourceDb,
    diags: &[Diagnostic],
    obs: &[Observed],
    outcome: &Outcome,
    level_of: &dyn Fn(&str) -> Level,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut matched = vec![false; outcome.violations.len()];
    // Where each observed call's linted frames are: (file, line) -> calls.
    let mut ran: HashMap<(PathBuf, u32), usize> = HashMap::new();
    let user_locs: Vec<Vec<(PathBuf, u32)>> = obs
        .iter()
        .map(|o| o.user_locs().map(|l| (l.file.clone(), l.line)).collect())
        .collect();
    for locs in &user_locs {
        for l in locs {
            *ran.entry(l.clone()).or_default() += 1;
        }
    }
    for d in diags {
        let (Some(lint), Some(span)) = (d.lint, d.primary_span()) else {
            continue;
        };
        if !OBSERVABLE.contains(&lint) {
            continue;
        }
        let f = db.get(span.file);
        let file = canonical(&f.path);
        let first = f.line_col(span.lo).line as u32;
        let last = f.line_col(span.hi.saturating_sub(1).max(span.lo)).line as u32;
        let hits: Vec<usize> = outcome
            .violations
            .iter()
            .enumerate()
            .filter(|(_, v)| v.lint == lint)
            .filter(|(_, v)| {
                user_locs[v.at]
                    .iter()
                    .any(|(p, l)| *p == file && (first..=last).contains(l))
            })
            .map(|(i, _)| i)
            .collect();
        for &h in &hits {
            matched[h] = true;
        }
        let line_ran = (first..=last)
            .map(|l| ran.get(&(file.clone(), l)).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        entries.push(Entry {
            lint,
            status: if hits.is_empty() {
                Status::NotExercised
            } else {
                Status::Confirmed
            },
            deny: d.severity == Severity::Error,
            file,
            line: first,
            message: d.message.clone(),
            violations: hits,
            line_ran,
            labels: d
                .labels
                .iter()
                .filter(|l| l.span.file == span.file)
                .map(|l| {
                    (
                        l.span.lo as usize..l.span.hi as usize,
                        l.message.clone(),
                        l.primary,
                    )
                })
                .collect(),
        });
    }
    // What the static analysis missed, one entry per lint and call site.
    let mut missed: BTreeMap<(&'static str, PathBuf, u32), Vec<usize>> = BTreeMap::new();
    for (i, v) in outcome.violations.iter().enumerate() {
        if matched[i] {
            continue;
        }
        let Some((file, line)) = user_locs[v.at].first().cloned() else {
            continue;
        };
        missed.entry((v.lint, file, line)).or_default().push(i);
    }
    for ((lint, file, line), vs) in missed {
        let level = level_of(lint);
        if level == Level::Allow {
            continue;
        }
        entries.push(Entry {
            lint,
            status: Status::RuntimeOnly,
            deny: level == Level::Deny,
            file,
            line,
            message: outcome.violations[vs[0]].what.clone(),
            violations: vs,
            line_ran: 0,
            labels: Vec::new(),
        });
    }
    entries.sort_by(|a, b| {
        (a.status, &a.file, a.line, a.lint).cmp(&(b.status, &b.file, b.line, b.lint))
    });
    entries
}

/// A path relative to the `--source` root that holds it.
pub fn relative(file: &Path, roots: &[PathBuf]) -> String {
    roots
        .iter()
        .find_map(|r| file.strip_prefix(r).ok())
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/")
}

fn location(o: &Observed, roots: &[PathBuf]) -> Option<String> {
    o.user_locs()
        .next()
        .map(|l| format!("{}:{}", relative(&l.file, roots), l.line))
}

fn event_json(o: &Observed, role: &str, roots: &[PathBuf]) -> serde_json::Value {
    let e = &o.event;
    json!({
        "role": role,
        "seq": e.seq,
        "function": e.func,
        "call": e.describe(),
        "result": e.ret,
        "error": e.error,
        "thread": e.thread,
        "in_dllmain": e.dllmain,
        "location": location(o, roots),
        "stack": o
            .user_locs()
            .map(|l| format!("{}:{}", relative(&l.file, roots), l.line))
            .collect::<Vec<_>>(),
    })
}

fn events_of(v: &Violation, obs: &[Observed], roots: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut out = vec![event_json(&obs[v.at], "call", roots)];
    out.extend(
        v.related
            .iter()
            .map(|&r| event_json(&obs[r], "related", roots)),
    );
    out
}

/// Facts about the run for the summary.
pub struct RunFacts {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub log_complete: bool,
    pub calls: BTreeMap<String, usize>,
    pub observed_modules: Vec<String>,
    /// Static findings of lints a run cannot observe (`unchecked_wsa_startup`...), per lint.
    pub not_observable: BTreeMap<String, usize>,
}

pub fn json_lines(
    entries: &[Entry],
    outcome: &Outcome,
    obs: &[Observed],
    roots: &[PathBuf],
    run: &RunFacts,
) -> String {
    let mut out = String::new();
    for e in entries {
        let mut events = Vec::new();
        for &v in &e.violations {
            events.extend(events_of(&outcome.violations[v], obs, roots));
        }
        let line = json!({
            "reason": "wsa-verify",
            "lint": e.lint,
            "status": e.status.as_str(),
            "level": if e.deny { "deny" } else { "warn" },
            "file": relative(&e.file, roots),
            "line": e.line,
            "message": e.message,
            "events": events,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    let count = |s: Status| entries.iter().filter(|e| e.status == s).count();
    let summary = json!({
        "reason": "wsa-verify-summary",
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "log_complete": run.log_complete,
        "references_at_exit": outcome.references_at_exit,
        "references_expected_at_exit": outcome.references_expected,
        "confirmed": count(Status::Confirmed),
        "not_exercised": count(Status::NotExercised),
        "runtime_only": count(Status::RuntimeOnly),
        "calls": run.calls,
        "observed_modules": run.observed_modules,
        "not_observable": run.not_observable,
    });
    out.push_str(&summary.to_string());
    out.push('\n');
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn human(
    w: &mut dyn WriteColor,
    entries: &[Entry],
    outcome: &Outcome,
    obs: &[Observed],
    roots: &[PathBuf],
    run: &RunFacts,
) -> std::io::Result<()> {
    let mut files = SimpleFiles::new();
    let mut ids: HashMap<PathBuf, Option<usize>> = HashMap::new();
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..Default::default()
    };
    for e in entries {
        let id = *ids.entry(e.file.clone()).or_insert_with(|| {
            std::fs::read_to_string(&e.file)
                .ok()
                .map(|text| files.add(relative(&e.file, roots), text))
        });
        let (severity, head) = match (e.status, e.deny) {
            (Status::Confirmed, true) => (cs::Severity::Error, "confirmed at run time"),
            (Status::Confirmed, false) => (cs::Severity::Warning, "confirmed at run time"),
            (Status::RuntimeOnly, true) => (cs::Severity::Error, "seen at run time only"),
            (Status::RuntimeOnly, false) => (cs::Severity::Warning, "seen at run time only"),
            (Status::NotExercised, _) => (cs::Severity::Note, "not exercised"),
        };
        let mut d = cs::Diagnostic::new(severity)
            .with_code(e.lint)
            .with_message(format!("{head}: {}", e.message));
        if let Some(id) = id {
            // A static finding brings its labels; a runtime-only one marks the code on its line.
            let labels = if e.labels.is_empty() {
                let text = files.get(id).map(|f| f.source().as_str()).unwrap_or("");
                vec![cs::Label::primary(id, line_range(text, e.line))]
            } else {
                e.labels
                    .iter()
                    .map(|(r, msg, primary)| {
                        let label = if *primary {
                            cs::Label::primary(id, r.clone())
                        } else {
                            cs::Label::secondary(id, r.clone())
                        };
                        label.with_message(msg)
                    })
                    .collect()
            };
            d = d.with_labels(labels);
        }
        let mut notes = Vec::new();
        for &v in &e.violations {
            let v = &outcome.violations[v];
            let o = &obs[v.at];
            notes.push(format!(
                "run time: {} [thread {}{}]: {}",
                o.event.describe(),
                o.event.thread,
                if o.event.dllmain {
                    ", inside DllMain"
                } else {
                    ""
                },
                v.what
            ));
            for &r in &v.related {
                let r = &obs[r];
                notes.push(format!(
                    "related: {}{}",
                    r.event.describe(),
                    location(r, roots)
                        .map(|l| format!(" at {l}"))
                        .unwrap_or_default()
                ));
            }
        }
        match e.status {
            Status::RuntimeOnly => notes
                .push("the static analysis missed this: please report it with this output".into()),
            Status::NotExercised if e.line_ran == 0 => {
                notes.push("this code did not run in this run".into())
            }
            Status::NotExercised => notes.push(format!(
                "this line ran {}, but not on the path that goes wrong",
                plural(e.line_ran, "time", "times")
            )),
            Status::Confirmed => {}
        }
        d = d.with_notes(notes);
        if let Err(err) = term::emit(w, &config, &files, &d) {
            return Err(std::io::Error::other(err.to_string()));
        }
    }
    let count = |s: Status| entries.iter().filter(|e| e.status == s).count();
    let total: usize = run.calls.values().sum();
    let ended = match (run.timed_out, run.exit_code) {
        (true, _) => "was stopped after the timeout".to_string(),
        (false, Some(c)) => format!("exited with {c}"),
        (false, None) => "was killed by a signal".to_string(),
    };
    writeln!(
        w,
        "verify: {} confirmed, {} not exercised, {} runtime only; the program {ended}; \
         {} observed; {} held at exit{}",
        count(Status::Confirmed),
        count(Status::NotExercised),
        count(Status::RuntimeOnly),
        plural(total, "Winsock call", "Winsock calls"),
        plural(
            outcome.references_at_exit,
            "Winsock reference",
            "Winsock references"
        ),
        if outcome.references_expected > 0 {
            format!(
                " ({} by one-time initialisation or libraries)",
                outcome.references_expected
            )
        } else {
            String::new()
        }
    )?;
    if !run.not_observable.is_empty() {
        let n: usize = run.not_observable.values().sum();
        writeln!(
            w,
            "verify: {} about the code rather than a run {} not part of this report ({})",
            plural(n, "static finding", "static findings"),
            if n == 1 { "is" } else { "are" },
            run.not_observable
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if !run.log_complete {
        writeln!(
            w,
            "verify: the program did not end normally; calls after its last logged one were not seen"
        )?;
    }
    Ok(())
}

/// The byte range of a 1-based line without its indentation.
fn line_range(text: &str, line: u32) -> std::ops::Range<usize> {
    let mut start = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            // Code only: not the indentation, nor a trailing `//` comment.
            let body = l.find(" //").map_or(l, |c| &l[..c]).trim_end();
            let indent = body.len() - body.trim_start().len();
            return start + indent..start + body.len();
        }
        start += l.len();
    }
    0..0
}

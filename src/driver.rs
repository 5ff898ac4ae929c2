//! The run: discovered crates -> loaded trees -> facts -> findings, in
//! parallel per crate, merged and ordered deterministically.
//!
//! Gets the lint list from its caller; knows no individual lint.

use crate::diag::{Diagnostic, PathProblem};
use crate::discover::{CrateInput, Discovered};
use crate::engine::{self, Levels};
use crate::lint::LintDef;
use crate::load::{self, display_path};
use crate::source::{FileId, SourceDb};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

pub struct RunOutput {
    pub db: SourceDb,
    pub diags: Vec<Diagnostic>,
    pub problems: Vec<PathProblem>,
    /// Requested files that were read and parsed.
    pub linted_files: usize,
    /// Something went wrong inside wsa-lint itself (a caught panic).
    pub internal_error: bool,
}

struct CrateResult {
    input: CrateInput,
    files: Vec<FileId>,
    diags: Vec<Diagnostic>,
    problems: Vec<PathProblem>,
    parsed: HashSet<FileId>,
    internal_error: bool,
}

fn run_crate(
    input: &CrateInput,
    db: &SourceDb,
    lints: &[&LintDef],
    levels: &Levels,
) -> CrateResult {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let loaded = load::load_crate(input, db);
        let facts = crate::facts::analyze(&loaded.model);
        let mut diags = engine::check(lints, &facts, levels);
        let broken: HashSet<FileId> = loaded
            .diags
            .iter()
            .filter_map(|d| d.primary_span().map(|s| s.file))
            .collect();
        diags.extend(loaded.diags);
        let parsed = loaded
            .files
            .iter()
            .copied()
            .filter(|f| !broken.contains(f))
            .collect();
        (loaded.files, diags, loaded.problems, parsed)
    }));
    match caught {
        Ok((files, diags, problems, parsed)) => CrateResult {
            input: input.clone(),
            files,
            diags,
            problems,
            parsed,
            internal_error: false,
        },
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            CrateResult {
                input: input.clone(),
                files: Vec::new(),
                diags: Vec::new(),
                problems: vec![PathProblem {
                    path: display_path(&input.root),
                    message: format!(
                        "internal error while analyzing this crate ({what}); please report it"
                    ),
                }],
                parsed: HashSet::new(),
                internal_error: true,
            }
        }
    }
}

pub fn run(discovered: Discovered, lints: &[&LintDef], levels: &Levels) -> RunOutput {
    let db = SourceDb::default();
    let mut results: Vec<CrateResult> = discovered
        .crates
        .par_iter()
        .map(|c| run_crate(c, &db, lints, levels))
        .collect();

    // A loose file that another tree reaches as a module belongs to that tree.
    let children: HashSet<FileId> = results
        .iter()
        .flat_map(|r| r.files.iter().skip(1).copied())
        .collect();
    results.retain(|r| {
        !(discovered.loose_roots.contains(&r.input.root)
            && r.files.first().is_some_and(|root| children.contains(root)))
    });

    // Requested files no tree reached (an orphan file in a package) are analyzed on their own.
    if let Some(requested) = &discovered.requested {
        let reached: HashSet<FileId> = results
            .iter()
            .flat_map(|r| r.files.iter().copied())
            .collect();
        let orphans: Vec<CrateInput> = requested
            .iter()
            .filter(|p| db.id_of(p).is_none_or(|id| !reached.contains(&id)))
            .filter(|p| !results.iter().any(|r| r.input.root == **p))
            .map(|p| CrateInput {
                name: p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                root: p.clone(),
            })
            .collect();
        let more: Vec<CrateResult> = orphans
            .par_iter()
            .map(|c| run_crate(c, &db, lints, levels))
            .collect();
        results.extend(more);
    }

    let requested_ids: Option<HashSet<FileId>> = discovered
        .requested
        .as_ref()
        .map(|req| req.iter().filter_map(|p| db.id_of(p)).collect());
    let wanted = |f: FileId| requested_ids.as_ref().is_none_or(|r| r.contains(&f));

    let mut diags = Vec::new();
    let mut problems: Vec<PathProblem> = discovered.problems;
    let mut parsed: BTreeSet<FileId> = BTreeSet::new();
    let mut internal_error = false;
    for r in results {
        internal_error |= r.internal_error;
        diags.extend(
            r.diags
                .into_iter()
                .filter(|d| d.primary_span().is_none_or(|s| wanted(s.file))),
        );
        problems.extend(r.problems);
        parsed.extend(r.parsed.into_iter().filter(|f| wanted(*f)));
    }
    // The same file in several crates (lib and bin) yields the same finding twice.
    let key = |d: &Diagnostic| {
        let s = d.primary_span().unwrap_or_default();
        (
            db.get(s.file).display.clone(),
            s.lo,
            s.hi,
            d.lint,
            d.message.clone(),
        )
    };
    diags.sort_by_key(|d| key(d));
    diags.dedup_by(|a, b| key(a) == key(b));
    problems.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    problems.dedup();
    RunOutput {
        linted_files: parsed.len(),
        db,
        diags,
        problems,
        internal_error,
    }
}

/// Paths given on the command line, defaulting to the current directory.
pub fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

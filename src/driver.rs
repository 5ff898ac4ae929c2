//! The run: discovered crates -> loaded trees -> facts -> findings, in
//! parallel per crate, merged and ordered deterministically.
//!
//! Gets the lint list from its caller; knows no individual lint.

use crate::diag::{Diagnostic, PathProblem};
use crate::discover::{display_path, CrateInput, Discovered};
use crate::engine::{self, Levels};
use crate::lint::LintDef;
use crate::load;
use crate::source::{FileId, SourceDb};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

pub struct RunOutput {
    pub db: SourceDb,
    pub diags: Vec<Diagnostic>,
    pub problems: Vec<PathProblem>,
    /// Requested files that were read and parsed.
    pub linted_files: usize,
    /// Those files: the only ones `--fix` may write.
    pub linted: BTreeSet<FileId>,
    /// Something went wrong inside wsa-lint itself (a caught panic).
    pub internal_error: bool,
    /// What the run read and parsed. Handed to the caller so that it chooses when it is freed:
    /// the command line leaves it (and `db`) to the end of the process, which is much cheaper
    /// than freeing every file's entry one by one.
    pub cache: load::VisitCache,
}

struct CrateResult {
    /// Function items per file, for the scopes of allow comments.
    fn_extents: Vec<(FileId, crate::suppress::FnExtent)>,
    input: CrateInput,
    files: Vec<FileId>,
    diags: Vec<Diagnostic>,
    problems: Vec<PathProblem>,
    parsed: HashSet<FileId>,
    /// Some function of the crate reaches a Winsock call.
    relevant: bool,
    internal_error: bool,
}

fn run_crate(
    input: &CrateInput,
    db: &SourceDb,
    cache: &load::VisitCache,
    lints: &[&LintDef],
    levels: &Levels,
) -> CrateResult {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (loaded, facts) = load_and_analyze(input, db, cache);
        let fn_extents: Vec<_> = loaded
            .model
            .fns
            .iter()
            .filter(|f| f.ir.span.hi > 0)
            .map(|f| {
                (
                    f.ir.span.file,
                    (f.ir.span.lo, f.ir.span.hi, f.ir.body_open.lo),
                )
            })
            .collect();
        let mut diags = engine::check(lints, &facts, levels, db);
        diags.retain(|d| {
            d.primary_span()
                .is_none_or(|s| !loaded.context.contains(&s.file))
        });
        // Files that did not parse (a warning about a skipped module leaves its file linted).
        let broken: HashSet<FileId> = loaded
            .diags
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .filter_map(|d| d.primary_span().map(|s| s.file))
            .collect();
        diags.extend(loaded.diags);
        let parsed = loaded
            .files
            .iter()
            .copied()
            .filter(|f| !broken.contains(f))
            .collect();
        // Context is worth loading only if the crate has functions that reach Winsock.
        let relevant = !facts.interesting_names.is_empty();
        (
            loaded.files,
            diags,
            loaded.problems,
            parsed,
            fn_extents,
            relevant,
        )
    }));
    match caught {
        Ok((files, diags, problems, parsed, fn_extents, relevant)) => CrateResult {
            relevant,
            fn_extents,
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
                relevant: false,
                fn_extents: Vec::new(),
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

/// What the run does besides linting.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Report `wsa-lint: allow(..)` comments that suppress nothing.
    pub warn_unused_allows: bool,
}

/// Rounds of pulling in files that call crate functions with Winsock effects.
const MAX_DEMAND_ROUNDS: usize = 4;

/// Loads a crate (parsing only what can matter), analyzes it, and pulls in the files that mention
/// functions with Winsock effects until nothing new is needed.
fn load_and_analyze(
    input: &CrateInput,
    db: &SourceDb,
    cache: &load::VisitCache,
) -> (load::LoadedCrate, crate::facts::CrateFacts) {
    let mut demand: HashSet<PathBuf> = HashSet::new();
    let mut round = 0;
    loop {
        let loaded = load::load_crate(input, db, cache, &demand);
        if loaded.parsed.is_empty() {
            return (loaded, crate::facts::CrateFacts::default());
        }
        let facts = crate::facts::analyze(&loaded.model);
        round += 1;
        if round >= MAX_DEMAND_ROUNDS
            || loaded.unparsed.is_empty()
            || facts.interesting_names.is_empty()
        {
            return (loaded, facts);
        }
        let names = crate::scan::Names::new(&facts.interesting_names);
        let more: Vec<PathBuf> = loaded
            .unparsed
            .par_iter()
            .filter(|p| load::with_text(p, |t| names.found_in(t.as_bytes())).unwrap_or(false))
            .cloned()
            .collect();
        if more.is_empty() {
            return (loaded, facts);
        }
        demand.extend(more);
    }
}

pub fn run(
    discovered: Discovered,
    lints: &[&LintDef],
    levels: &Levels,
    opts: &RunOptions,
) -> RunOutput {
    run_with(Prefetched::default(), discovered, lints, levels, opts)
}

/// Files read ahead of the run (while discovery was still walking), and where they went.
#[derive(Default)]
pub struct Prefetched {
    db: SourceDb,
    cache: load::VisitCache,
}

impl Prefetched {
    /// Reads and scans a file into the cache; `run_with` then finds it there.
    pub fn prefetch(&self, path: &std::path::Path) {
        load::prefetch(&self.db, &self.cache, path);
    }
}

/// `run`, with the files `prefetched` holds already read.
pub fn run_with(
    prefetched: Prefetched,
    discovered: Discovered,
    lints: &[&LintDef],
    levels: &Levels,
    opts: &RunOptions,
) -> RunOutput {
    let Prefetched { db, cache } = prefetched;
    // Every requested file is visited by some crate below (or is an orphan root): read and scan
    // them all first, spread evenly over the threads, and the crates find them in the cache.
    // (Crates are few and uneven: one holding a large tree would otherwise keep a thread busy
    // while the others wait at the end of a phase.)
    if let Some(requested) = &discovered.requested {
        requested
            .par_iter()
            .for_each(|p| load::prefetch(&db, &cache, p));
    }
    // Libraries first: a bin/test/example target reads its package's library as context only
    // when that library has anything Winsock in it (a crate like tokio has hundreds of targets).
    let lib_roots: HashSet<&PathBuf> = discovered
        .crates
        .iter()
        .filter_map(|c| c.lib.as_ref().map(|l| &l.1))
        .collect();
    let (libs, others): (Vec<&CrateInput>, Vec<&CrateInput>) = discovered
        .crates
        .iter()
        .partition(|c| lib_roots.contains(&c.root));
    let mut results: Vec<CrateResult> = libs
        .par_iter()
        .map(|c| run_crate(c, &db, &cache, lints, levels))
        .collect();
    let relevant_libs: HashSet<PathBuf> = results
        .iter()
        .filter(|r| r.relevant)
        .map(|r| r.input.root.clone())
        .collect();
    let others: Vec<CrateInput> = others
        .into_iter()
        .map(|c| {
            let mut c = c.clone();
            if c.lib
                .as_ref()
                .is_some_and(|l| !relevant_libs.contains(&l.1))
            {
                c.lib = None;
            }
            c
        })
        .collect();
    results.extend(
        others
            .par_iter()
            .map(|c| run_crate(c, &db, &cache, lints, levels))
            .collect::<Vec<_>>(),
    );

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
        let roots: HashSet<&PathBuf> = results.iter().map(|r| &r.input.root).collect();
        let orphans: Vec<CrateInput> = requested
            .iter()
            .filter(|p| db.id_of(p).is_none_or(|id| !reached.contains(&id)))
            .filter(|p| !roots.contains(p))
            .map(|p| CrateInput {
                name: p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                root: p.clone(),
                lib: None,
                bound: discovered.bound_of(p),
            })
            .collect();
        let more: Vec<CrateResult> = orphans
            .par_iter()
            .map(|c| run_crate(c, &db, &cache, lints, levels))
            .collect();
        results.extend(more);
    }

    let requested_ids: Option<HashSet<FileId>> = discovered
        .requested
        .as_ref()
        .map(|req| req.iter().filter_map(|p| db.id_of(p)).collect());
    let wanted = |f: FileId| requested_ids.as_ref().is_none_or(|r| r.contains(&f));

    // What discovery skipped (links out of the tree, targets outside their package).
    let mut diags: Vec<Diagnostic> = discovered.warnings;
    let mut problems: Vec<PathProblem> = discovered.problems;
    let mut parsed: BTreeSet<FileId> = BTreeSet::new();
    let mut internal_error = false;
    let mut extents: HashMap<FileId, Vec<crate::suppress::FnExtent>> = HashMap::new();
    for r in &results {
        for (f, e) in &r.fn_extents {
            extents.entry(*f).or_default().push(*e);
        }
    }
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
    let mut diags = suppress(&db, diags, &parsed, &extents, lints, opts);
    // The same file in several crates (lib and bin) yields the same finding twice.
    // A diagnostic without a span (what discovery skipped) sorts first: the store may be empty.
    let key = |d: &Diagnostic| {
        let (file, lo, hi) = match d.primary_span() {
            Some(s) => (db.get(s.file).display.clone(), s.lo, s.hi),
            None => (String::new(), 0, 0),
        };
        (file, lo, hi, d.lint, d.message.clone())
    };
    diags.sort_by_key(|d| key(d));
    diags.dedup_by(|a, b| key(a) == key(b));
    problems.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    problems.dedup();
    RunOutput {
        linted_files: parsed.len(),
        linted: parsed,
        db,
        diags,
        problems,
        internal_error,
        cache,
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

/// Drops findings covered by `wsa-lint: allow(..)` comments; reports unknown names in them, and
/// (when asked) the ones that suppress nothing.
fn suppress(
    db: &SourceDb,
    diags: Vec<Diagnostic>,
    files: &BTreeSet<FileId>,
    extents: &HashMap<FileId, Vec<crate::suppress::FnExtent>>,
    lints: &[&LintDef],
    opts: &RunOptions,
) -> Vec<Diagnostic> {
    let mut allows: HashMap<FileId, Vec<(crate::suppress::Allow, bool)>> = HashMap::new();
    for f in files {
        let src = db.get(*f);
        if !src.text.contains("wsa-lint:") {
            continue;
        }
        let ext = extents.get(f).map(Vec::as_slice).unwrap_or(&[]);
        let found = crate::suppress::allows(&src, ext);
        allows.insert(*f, found.into_iter().map(|a| (a, false)).collect());
    }
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for d in diags {
        let (Some(lint), Some(primary)) = (d.lint, d.primary_span()) else {
            out.push(d);
            continue;
        };
        let Some(def) = lints.iter().find(|l| l.lint.name == lint) else {
            out.push(d);
            continue;
        };
        let mut suppressed = false;
        if let Some(list) = allows.get_mut(&primary.file) {
            for (a, used) in list.iter_mut() {
                if a.scope.0 <= primary.lo
                    && primary.lo < a.scope.1
                    && crate::lint::names_lint(&a.lint, def)
                {
                    *used = true;
                    suppressed = true;
                }
            }
        }
        if !suppressed {
            out.push(d);
        }
    }
    for list in allows.values() {
        for (a, used) in list {
            let known = crate::lint::is_known_name(&a.lint, lints);
            if !known {
                out.push(allow_warning(
                    a,
                    format!("unknown lint `{}` in a `wsa-lint: allow` comment", a.lint),
                    "not a wsa-lint lint or group",
                ));
            } else if opts.warn_unused_allows && !used {
                out.push(allow_warning(
                    a,
                    format!("unused `wsa-lint: allow({})`", a.lint),
                    "nothing is suppressed here",
                ));
            }
        }
    }
    out
}

fn allow_warning(a: &crate::suppress::Allow, message: String, label: &str) -> Diagnostic {
    let mut d = Diagnostic::input_error(a.comment, message, label);
    d.severity = crate::diag::Severity::Warning;
    d
}

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
    /// What its bin/test/example targets must mention to need it as context, if it is a
    /// library (`None` when no function of the crate reaches Winsock).
    lib: Option<LibNames>,
    internal_error: bool,
}

/// What a library's own run tells its targets: whether a target can need it as context.
struct LibNames {
    /// The library's interesting names (functions that reach Winsock, guard types) and the
    /// aliases its `use` renames give them: a target that names none of them calls none of them.
    names: Vec<String>,
    /// Its interesting associated functions, each with its type and the type's aliases.
    qualified: Vec<(String, Vec<String>)>,
    /// A guard type's value can reach a target unnamed (returned by a function that is not
    /// itself interesting), and guard types make every unit run: such a library is always read.
    has_guard_types: bool,
}

/// `LibNames` ready to be searched for, shared by the library's targets.
struct LibFacts {
    names: crate::scan::Names,
    has_guard_types: bool,
    /// Every name the demand rounds searched for in a run of the library as a bare target's
    /// context, kept from the first such run that never parsed the target's root: the same
    /// for every bare target of the library (`load_and_analyze_target`).
    bare_rounds: std::sync::OnceLock<crate::scan::Names>,
}

/// The names one demand round searched the unparsed files for: plain and qualified.
type DemandNames = (Vec<String>, Vec<(String, Vec<String>)>);

impl LibNames {
    fn of(
        model: &crate::resolve::CrateModel,
        exported_macros: &[String],
        facts: &crate::facts::CrateFacts,
    ) -> LibNames {
        let (plain, qualified) = demand_names(model, facts);
        let interesting: HashSet<&str> =
            facts.interesting_names.iter().map(String::as_str).collect();
        let mut names: BTreeSet<String> = plain.into_iter().collect();
        // `pub use net::startup as init;` lets a target call `mylib::init()`: only `init` is
        // in its text.
        for (alias, last) in model.renamed_imports() {
            if interesting.contains(last) {
                names.insert(alias.to_string());
            }
        }
        // `mylib::start!()` expands in the target to what the library's macro writes.
        names.extend(exported_macros.iter().cloned());
        LibNames {
            names: names.into_iter().collect(),
            qualified,
            has_guard_types: facts.has_guard_types,
        }
    }
}

/// Runs one crate. `lib`: what the library's own run found, for a target that has its
/// package's library as context (`input.lib`).
fn run_crate(
    input: &CrateInput,
    lib: Option<&LibFacts>,
    db: &SourceDb,
    cache: &load::VisitCache,
    lints: &[&LintDef],
    levels: &Levels,
) -> CrateResult {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (loaded, mut facts) = match lib {
            Some(lib) => load_and_analyze_target(input, lib, db, cache),
            None => load_and_analyze(input, db, cache),
        };
        note_too_large(&loaded, &mut facts, db);
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
        // Files that did not parse (a warning about a skipped module leaves its file linted, and
        // so does an item that did not parse in a file whose other items did).
        let broken: HashSet<FileId> = loaded
            .diags
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .filter_map(|d| d.primary_span().map(|s| s.file))
            .filter(|f| !loaded.parsed.contains(f))
            .collect();
        diags.extend(loaded.diags);
        let parsed = loaded
            .files
            .iter()
            .copied()
            .filter(|f| !broken.contains(f))
            .collect();
        // Context is worth loading only if the crate has functions that reach Winsock.
        let relevant = facts.has_interesting_names();
        let lib_names =
            relevant.then(|| LibNames::of(&loaded.model, &loaded.exported_macros, &facts));
        (
            loaded.files,
            diags,
            loaded.problems,
            parsed,
            fn_extents,
            lib_names,
        )
    }));
    match caught {
        Ok((files, diags, problems, parsed, fn_extents, lib)) => CrateResult {
            lib,
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
                lib: None,
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

/// Rounds of pulling in files that call crate functions with Winsock effects: each round
/// reaches one more level of wrappers spread over files, and re-analyses the crate.
const MAX_DEMAND_ROUNDS: usize = 8;

/// What files are searched for to find the callers that matter: the crate's interesting names,
/// and its interesting associated functions each with its qualifiers (its type, and the aliases
/// `use .. as` gives the type: `use net::Conn as C; C::open()` names only `C`).
fn demand_names(
    model: &crate::resolve::CrateModel,
    facts: &crate::facts::CrateFacts,
) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut aliases: HashMap<&str, Vec<&str>> = HashMap::new();
    if !facts.interesting_assoc.is_empty() {
        for (alias, last) in model.renamed_imports() {
            aliases.entry(last).or_default().push(alias);
        }
    }
    let qualified = facts
        .interesting_assoc
        .iter()
        .map(|(name, ty)| {
            let mut quals: BTreeSet<String> = BTreeSet::from([ty.clone()]);
            let found = aliases.get(ty.as_str()).into_iter().flatten();
            quals.extend(found.map(|a| a.to_string()));
            (name.clone(), quals.into_iter().collect())
        })
        .collect();
    let mut plain = facts.interesting_names.clone();
    plain.extend(facts.unresolved_winsock.iter().cloned());
    (plain, qualified)
}

/// Loads a crate (parsing only what can matter), analyzes it, and pulls in the files that mention
/// functions with Winsock effects until nothing new is needed.
fn load_and_analyze(
    input: &CrateInput,
    db: &SourceDb,
    cache: &load::VisitCache,
) -> (load::LoadedCrate, crate::facts::CrateFacts) {
    load_and_analyze_rounds(input, db, cache, &mut Vec::new())
}

/// `load_and_analyze`, also saying what each demand round searched for (in `searched`).
fn load_and_analyze_rounds(
    input: &CrateInput,
    db: &SourceDb,
    cache: &load::VisitCache,
    searched: &mut Vec<DemandNames>,
) -> (load::LoadedCrate, crate::facts::CrateFacts) {
    let mut demand: HashSet<PathBuf> = HashSet::new();
    let mut whole: HashSet<PathBuf> = HashSet::new();
    let mut round = 0;
    let mut macro_rounds = load::MacroRounds::default();
    loop {
        let loaded = load::load_crate(input, db, cache, &demand, &whole, &mut macro_rounds);
        if loaded.parsed.is_empty() {
            return (loaded, crate::facts::CrateFacts::default());
        }
        let mut facts = crate::facts::analyze(&loaded.model);
        // Functions left out of a large file that the analysis could reach: parse it whole.
        let reached = elided_reached(&loaded, &facts, db);
        if !reached.is_empty() {
            demand.extend(reached.iter().cloned());
            whole.extend(reached);
            continue;
        }
        round += 1;
        if loaded.unparsed.is_empty() || !facts.has_interesting_names() {
            return (loaded, facts);
        }
        let (plain, qualified) = demand_names(&loaded.model, &facts);
        let names = crate::scan::Names::qualified(&plain, &qualified);
        let more: Vec<PathBuf> = loaded
            .unparsed
            .par_iter()
            .filter(|p| {
                let bodies = loaded.macro_bodies.get(*p);
                bodies.is_some_and(|b| b.iter().any(|b| names.found_in(b.as_bytes())))
                    || load::with_text(p, |t| names.found_in(t.as_bytes())).unwrap_or(false)
            })
            .cloned()
            .collect();
        let first_named = plain.first().cloned();
        searched.push((plain, qualified));
        if more.is_empty() {
            return (loaded, facts);
        }
        if round >= MAX_DEMAND_ROUNDS {
            // Callers of these functions are in files not read: what rests on a function
            // having no caller in the crate is not known, and the run says so.
            let dropped = facts.forget_caller_absence();
            let named = dropped.first().cloned().or(first_named).unwrap_or_default();
            if let Some(f) = loaded.model.fns.iter().find(|f| f.ir.name == named) {
                facts.truncated.push(crate::facts::Incomplete {
                    name_span: f.ir.name_span,
                    function: format!("`{}`", f.display),
                    reason: format!(
                        "its callers are found through more than {MAX_DEMAND_ROUNDS} rounds of reading the files that call crate functions; {} more {} that may call it {} not read",
                        more.len(),
                        if more.len() == 1 { "file" } else { "files" },
                        if more.len() == 1 { "was" } else { "were" },
                    ),
                });
            }
            return (loaded, facts);
        }
        demand.extend(more);
    }
}

/// Each item too large to parse (`FileIr::too_large`) that could matter (it names what the
/// prefilter looks for) is an `Incomplete`: what is in it is not analysed, and the run says so.
fn note_too_large(loaded: &load::LoadedCrate, facts: &mut crate::facts::CrateFacts, db: &SourceDb) {
    for item in &loaded.too_large {
        let file = db.get(item.span.file);
        let Some(text) = file.text.get(item.span.lo as usize..item.span.hi as usize) else {
            continue;
        };
        if !crate::scan::needs_parse(text.as_bytes()) {
            continue;
        }
        let name = file
            .text
            .get(item.name_span.lo as usize..item.name_span.hi as usize)
            .filter(|n| !n.is_empty())
            .map_or_else(|| "an item".to_string(), |n| format!("`{n}`"));
        facts.truncated.push(crate::facts::Incomplete {
            name_span: item.name_span,
            function: name,
            reason: format!(
                "it is {:.1} MB long, and items over {} MB are not parsed (a syntax tree takes about 150 bytes per byte of source)",
                text.len() as f64 / (1 << 20) as f64,
                crate::parse::MAX_ITEM_BYTES >> 20
            ),
        });
    }
}

/// The files whose left-out functions (`ir::FileIr::elided`) this analysis could reach
/// (`parse::elided_needed`): a caller in another file, or a call of theirs to a function that
/// reaches Winsock or a rename.
fn elided_reached(
    loaded: &load::LoadedCrate,
    facts: &crate::facts::CrateFacts,
    db: &SourceDb,
) -> Vec<PathBuf> {
    if loaded.elided.is_empty() {
        return Vec::new();
    }
    let elided: HashMap<FileId, &[crate::ir::ElidedFn]> =
        loaded.elided.iter().map(|(f, e)| (*f, &e[..])).collect();
    let sources: Vec<_> = loaded.parsed.iter().map(|f| db.get(*f)).collect();
    let files: Vec<(&str, &[crate::ir::ElidedFn])> = sources
        .iter()
        .map(|s| (s.text.as_str(), elided.get(&s.id).copied().unwrap_or(&[])))
        .collect();
    let mut reaching: HashSet<&str> = facts.interesting_names.iter().map(|n| n.as_str()).collect();
    reaching.extend(facts.interesting_assoc.iter().map(|(f, _)| f.as_str()));
    reaching.extend(loaded.model.renamed_imports().map(|(alias, _)| alias));
    crate::parse::elided_needed(&files, &reaching, facts.has_guard_types)
        .into_iter()
        .map(|i| sources[i].path.clone())
        .collect()
}

/// `load_and_analyze` for a target whose library reaches Winsock. The target's own files are
/// loaded and analyzed first; the library is read as context only when it can change what is
/// found in them, that is unless all of these hold:
/// - no function of the target reaches Winsock by itself (else the library's functions it
///   calls, Winsock or not, shape its paths through their summaries);
/// - no file of the target (parsed or only scanned) names one of the library's interesting
///   names (`LibFacts::names`; an associated function without `self` only beside its type or
///   an alias of the type), whole words outside comment lines, as demand rounds search: then
///   no call of the target resolves to a library function that reaches Winsock, and with the
///   library read no file of the target would be pulled in by demand either;
/// - the library has no guard types.
///
/// Then the target's findings with and without the library are the same: with it, the target's
/// functions would reach nothing new, and every finding in the library's files is dropped as
/// context (the library's own run reports them). A `#[macro_export]`ed macro of the library
/// counts as one of its names (`LibNames::of`): called in the target (`mylib::start!()`), it
/// expands there to what the library's macro writes.
///
/// A *bare* target is one file with no items the tree keeps (no `mod`) and nothing parsed (a
/// typical `tests/x.rs`). Read with the library, such a root stays unparsed unless a demand
/// round's names are found in it; until then the model is the library's files under an empty
/// root, whichever bare target it is (a root's path and crate name reach no fact), so every
/// bare target of the library goes through the same rounds with the same names. Once one run
/// has kept those names (`LibFacts::bare_rounds`), a bare target whose root contains none of
/// them needs no run with the library: its root would never be parsed, so it has no finding of
/// its own, and what the run reports in the library's files (a syntax error in a file only
/// demanded there) is what the run that kept the names reported, which the merge deduplicates.
fn load_and_analyze_target(
    input: &CrateInput,
    lib: &LibFacts,
    db: &SourceDb,
    cache: &load::VisitCache,
) -> (load::LoadedCrate, crate::facts::CrateFacts) {
    let mut bare = None;
    if !lib.has_guard_types {
        let alone = CrateInput {
            lib: None,
            ..input.clone()
        };
        let (loaded, facts) = load_and_analyze(&alone, db, cache);
        if !facts.has_interesting_names() {
            // One module (no `mod` item, not even of a missing file), nothing parsed or reported.
            let is_bare = loaded.parsed.is_empty()
                && loaded.files.len() == 1
                && loaded.model.modules.len() == 1
                && loaded.diags.is_empty();
            let mentions = loaded.files.par_iter().any(|f| {
                let path = db.get(*f).path.clone();
                load::with_text(&path, |t| {
                    lib.names.found_in(t.as_bytes())
                        && !(is_bare
                            && lib
                                .bare_rounds
                                .get()
                                .is_some_and(|n| !n.found_in(t.as_bytes())))
                })
                .unwrap_or(false)
            });
            if !mentions {
                return (loaded, facts);
            }
            bare = is_bare.then(|| loaded.files[0]);
        }
    }
    // The files read so far are in the cache: this reads only the library's.
    let mut searched = Vec::new();
    let (loaded, facts) = load_and_analyze_rounds(input, db, cache, &mut searched);
    if let Some(root) = bare {
        if !loaded.parsed.contains(&root) && lib.bare_rounds.get().is_none() {
            let mut plain = Vec::new();
            let mut qualified = Vec::new();
            for (p, q) in searched {
                plain.extend(p);
                qualified.extend(q);
            }
            let _ = lib
                .bare_rounds
                .set(crate::scan::Names::qualified(&plain, &qualified));
        }
    }
    (loaded, facts)
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
        .map(|c| run_crate(c, None, &db, &cache, lints, levels))
        .collect();
    let relevant_libs: HashMap<PathBuf, LibFacts> = results
        .iter()
        .filter_map(|r| {
            let lib = r.lib.as_ref()?;
            let facts = LibFacts {
                names: crate::scan::Names::qualified(&lib.names, &lib.qualified),
                has_guard_types: lib.has_guard_types,
                bare_rounds: std::sync::OnceLock::new(),
            };
            Some((r.input.root.clone(), facts))
        })
        .collect();
    let others: Vec<(CrateInput, Option<&LibFacts>)> = others
        .into_iter()
        .map(|c| {
            let mut c = c.clone();
            let lib = c.lib.as_ref().and_then(|l| relevant_libs.get(&l.1));
            if lib.is_none() {
                c.lib = None;
            }
            (c, lib)
        })
        .collect();
    results.extend(
        others
            .par_iter()
            .map(|(c, lib)| run_crate(c, *lib, &db, &cache, lints, levels))
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
                // A requested file no crate reaches is read as a loose file is.
                edition: crate::parse::Edition::E2018,
            })
            .collect();
        let more: Vec<CrateResult> = orphans
            .par_iter()
            .map(|c| run_crate(c, None, &db, &cache, lints, levels))
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

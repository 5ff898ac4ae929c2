//! Loading: a crate root -> every file of its module tree, read, parsed and
//! lowered, assembled into a `CrateModel`.
//!
//! Follows `mod x;` (`x.rs`, `x/mod.rs`, `#[path]`, nested inline modules) the
//! way rustc does. A file that cannot be read or parsed becomes a diagnostic;
//! the rest of the tree still loads.
//!
//! Reads only what belongs to the project: a module file is opened only when it is a regular
//! `.rs` file inside the crate's `bound` (its package's directory), after symbolic links. Any
//! other is skipped with a warning at its `mod` declaration that names the path as written,
//! never anything of the file.

use crate::diag::{Diagnostic, PathProblem};
use crate::discover::{below, display_path, io_message, shown_dir, CrateInput};
use crate::ir::{FileIr, Item};
use crate::resolve::CrateModel;
use crate::source::{FileId, PathMap, SourceDb, Span};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod macros;

pub use macros::MacroRounds;

pub struct LoadedCrate {
    pub model: CrateModel,
    /// Files of the package's library, read as context: findings there belong to the library's own run.
    pub context: std::collections::HashSet<FileId>,
    /// Every file of the tree, root first.
    pub files: Vec<FileId>,
    /// Files of the tree that were only scanned for `mod` declarations, not parsed.
    pub unparsed: Vec<PathBuf>,
    /// For an unparsed file that calls macros of other files: their bodies, which the demand
    /// rounds search as if they were its text (`name!()` may call a crate function).
    pub macro_bodies: HashMap<PathBuf, Vec<std::sync::Arc<str>>>,
    /// Names of the `#[macro_export]`ed macros of the tree (not its context's): a bin that
    /// names one needs its library as context.
    pub exported_macros: Vec<String>,
    /// Files that were parsed (the others cannot contain anything to report).
    pub parsed: Vec<FileId>,
    /// Parsed files that left functions out (`FileIr::elided`), with them.
    pub elided: Vec<(FileId, std::sync::Arc<[crate::ir::ElidedFn]>)>,
    /// Items too large to parse (`FileIr::too_large`).
    pub too_large: Vec<crate::ir::ElidedFn>,
    pub diags: Vec<Diagnostic>,
    pub problems: Vec<PathProblem>,
}

/// Unsaved editor buffers (the language server sets them): read instead of the files on disk.
static OVERLAY: std::sync::RwLock<Option<std::collections::HashMap<PathBuf, String>>> =
    std::sync::RwLock::new(None);

/// Replaces the set of unsaved buffers, by canonical path.
pub fn set_overlay(files: std::collections::HashMap<PathBuf, String>) {
    *OVERLAY.write().unwrap_or_else(|e| e.into_inner()) = Some(files);
}

/// Reads a file's text: `Err` with a user-facing message when it cannot be used.
pub fn read_text(path: &Path) -> Result<String, PathProblem> {
    let mut bytes = Vec::new();
    let n = read_bytes(path, &mut bytes)?;
    bytes.truncate(n);
    String::from_utf8(bytes).map_err(|e| not_utf8(path, e.utf8_error()))
}

/// Runs `f` on a file's text, read into a buffer this thread reuses: most files are only
/// scanned, and a fresh allocation per file costs more than the scan (page faults, `free`).
pub fn with_text<T>(path: &Path, f: impl FnOnce(&str) -> T) -> Result<T, PathProblem> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| {
        // A nested call (none today) gets its own buffer instead of a borrow panic.
        let mut fresh = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let buf = guard.as_deref_mut().unwrap_or(&mut fresh);
        let result = read_bytes(path, buf).and_then(|n| {
            std::str::from_utf8(&buf[..n])
                .map(f)
                .map_err(|e| not_utf8(path, e))
        });
        // Keep a buffer of ordinary size, not the largest file ever read.
        if buf.capacity() > 16 << 20 {
            *buf = Vec::new();
        }
        result
    })
}

fn not_utf8(path: &Path, e: std::str::Utf8Error) -> PathProblem {
    PathProblem {
        path: display_path(path),
        message: format!(
            "file is not valid UTF-8 (invalid byte at offset {}); it is skipped",
            e.valid_up_to()
        ),
    }
}

/// Reads a file's bytes into the start of `buf`, and says how many there are. What follows them
/// in `buf` is left from earlier files: a reused buffer is not zeroed again for every file.
fn read_bytes(path: &Path, buf: &mut Vec<u8>) -> Result<usize, PathProblem> {
    if let Some(text) = OVERLAY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|o| o.get(path))
    {
        buf.clear();
        buf.extend_from_slice(text.as_bytes());
        return Ok(buf.len());
    }
    let problem = |message: String| PathProblem {
        path: display_path(path),
        message,
    };
    // Only regular files: reading a FIFO or device named `*.rs` would block or never end.
    // Opening a FIFO for reading blocks too, unless non-blocking (which regular files ignore);
    // asking the open file rather than the path saves a path lookup per file.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path).map_err(|e| problem(io_message(&e)))?;
    let meta = file.metadata().map_err(|e| problem(io_message(&e)))?;
    if !meta.is_file() {
        return Err(problem("not a regular file; it is skipped".to_string()));
    }
    read_all(&mut file, buf, meta.len() as usize).map_err(|e| problem(io_message(&e)))
}

/// Reads to the end into the start of `buf`, sized for `size` bytes, and says how many bytes it
/// read: one `read` for the file and one that sees its end (the generic `read_to_end` asks the
/// file for its size and position again). `buf` only grows: its bytes are initialised once.
fn read_all(file: &mut std::fs::File, buf: &mut Vec<u8>, size: usize) -> std::io::Result<usize> {
    use std::io::Read;
    if buf.len() < size + 1 {
        buf.resize(size + 1, 0);
    }
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // The file grew since it was measured.
            buf.resize(buf.len() * 2 + 4096, 0);
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

struct Pending {
    /// Part of the package's library, loaded as context for a bin/test/example target.
    context: bool,
    path: PathBuf,
    /// The `mod x;` declaration that asked for it (by the span of `x`).
    decl: Option<Span>,
    /// Directory its own `mod y;` children live in.
    child_dir: PathBuf,
    /// `child_dir` is known to hold no symbolic link and no `..` (else its parent is).
    child_dir_physical: bool,
    /// Where the file is in its tree's textual order (`lower::MacroEnv::key`).
    key: Vec<u32>,
    /// How much of `key` names the module its `macro_rules!` are scoped to: less than all of it
    /// when `#[macro_use]` lends them to the module around.
    scope: usize,
}

/// What happened to one file of the tree.
enum Visit {
    Parsed(FileId, Result<FileIr, Diagnostic>),
    Scanned(FileId, FileIr),
}

/// What one file gave, shared by every crate of a run whose tree reaches it: a crate root and
/// its `mod` children (and a bin's library context, and orphan files that are each their own
/// root) read the same files, so each file is read and scanned or parsed once per run.
#[derive(Default)]
pub struct VisitCache {
    files: std::sync::Mutex<PathMap<std::sync::Arc<Cached>>>,
    /// For a directory: the package it is in.
    packages: std::sync::Mutex<PathMap<Option<PackageLib>>>,
    /// Files lowered with other files' macros lately.
    recent: std::sync::Mutex<macros::Recent>,
}

/// A package (the nearest manifest with a `[package]`): its directory, and its library's crate
/// name (`None` when the library is not at `src/lib.rs`).
type PackageLib = (PathBuf, Option<String>);

#[derive(Default)]
struct Cached {
    /// The prefilter's verdict: the file is parsed even when not demanded.
    needs_parse: std::sync::OnceLock<bool>,
    /// The file is one of the binding crates' Winsock modules: it is never parsed. Asked only
    /// of files that would be parsed.
    binding: std::sync::OnceLock<bool>,
    scanned: std::sync::OnceLock<FileIr>,
    parsed: std::sync::OnceLock<(FileId, Result<FileIr, Diagnostic>)>,
    /// Parsed with every function (`parse::parse_whole`), when the driver asked for it.
    parsed_whole: std::sync::OnceLock<(FileId, Result<FileIr, Diagnostic>)>,
    /// Whether the text names a Winsock function (`scan::Verdict::names_winsock`), read with
    /// the verdict.
    names_winsock: std::sync::OnceLock<bool>,
    /// What it defines and mounts of `macro_rules!`, read with the verdict (`macros::of_text`).
    macros: std::sync::OnceLock<macros::MacroText>,
    /// Its `macro_rules!` when only their names were read first (`MacroText::Later`), lexed
    /// once a file of the tree calls one of them.
    macros_later: std::sync::OnceLock<Option<std::sync::Arc<crate::lower::FileMacros>>>,
    /// Parsed with other files' macros: whether whole, the macros, and the id.
    with_macros: std::sync::Mutex<Vec<macros::ParsedWithMacros>>,
    /// The macros its text calls, hashed (`macros::called_hashes`), read with the verdict.
    called_hashes: std::sync::OnceLock<std::sync::Arc<[u32]>>,
    /// What the crate macros ask of its text (`macros::MacroCalls`), once one crate asked.
    macro_calls: std::sync::OnceLock<std::sync::Arc<macros::MacroCalls>>,
    /// Module children of the scanned and of the parsed items, with the directory they were
    /// resolved below.
    children: [std::sync::OnceLock<(PathBuf, std::sync::Arc<Vec<Child>>)>; 2],
}

impl Cached {
    /// The macros the file was lowered with under `id`.
    fn env_of(&self, id: FileId) -> Option<std::sync::Arc<crate::lower::MacroEnv>> {
        let done = self.with_macros.lock().unwrap_or_else(|e| e.into_inner());
        done.iter()
            .find(|(_, _, i)| *i == id)
            .map(|(_, e, _)| e.clone())
    }
}

impl VisitCache {
    fn entry(&self, path: &Path) -> std::sync::Arc<Cached> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = files.get(path.as_os_str()) {
            return c.clone();
        }
        files
            .entry(path.as_os_str().to_owned())
            .or_default()
            .clone()
    }

    /// The package directory and library crate name of the package `dir` is in.
    fn package_of(&self, dir: &Path) -> Option<PackageLib> {
        if let Some(hit) = self
            .packages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(dir.as_os_str())
        {
            return hit.clone();
        }
        // Manifests are read outside the lock; two threads may read the same one.
        let found = match crate::discover::package_lib_step(dir) {
            crate::discover::PackageStep::Package(lib) => Some((dir.to_path_buf(), lib)),
            crate::discover::PackageStep::Stop => None,
            crate::discover::PackageStep::Up => dir.parent().and_then(|p| self.package_of(p)),
        };
        self.packages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(dir.as_os_str().to_owned(), found.clone());
        found
    }

    fn recent_lowered(&self, id: FileId) -> Option<Result<FileIr, Diagnostic>> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
    }

    fn keep_lowered(&self, id: FileId, bytes: usize, r: &Result<FileIr, Diagnostic>) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.keep(id, bytes, r);
    }

    /// Is the file one of the binding crates' Winsock modules (`winsock::is_binding_file`)?
    fn is_binding_file(&self, path: &Path) -> bool {
        let Some((dir, Some(krate))) = path.parent().and_then(|d| self.package_of(d)) else {
            return false;
        };
        path.strip_prefix(&dir)
            .is_ok_and(|rel| crate::winsock::is_binding_file(&krate, rel))
    }
}

/// Reads and scans (or parses) a file into the cache ahead of the crates that will visit it.
/// Problems are not kept: the visit that needs the file reads it again and reports them.
pub fn prefetch(db: &SourceDb, cache: &VisitCache, path: &Path) {
    let _ = visit_file(db, cache, &cache.entry(path), path, false, false, None);
}

/// A `mod x;` declaration and the file it names, as found on disk (the crate's `bound` is
/// checked by the crate: the same file can be reached from crates with different bounds).
struct Child {
    decl: Span,
    /// The file as written: the `#[path]` value, or `x.rs` / `x/mod.rs` relative to the
    /// declaring file's directory. Messages show only this.
    written: String,
    target: Target,
    /// The directory of the file's own `mod y;` children.
    child_dir: PathBuf,
    child_dir_physical: bool,
}

/// Where a `mod` declaration leads.
enum Target {
    /// A regular file with no symbolic link or `..` in its path (so bounds compare as prefixes).
    File(PathBuf),
    /// Nothing there (often a `cfg`-gated module): the read says so, or finds an editor buffer.
    Missing(PathBuf),
    /// Never opened, whatever the crate: the reason, for the warning.
    Skip(&'static str),
}

/// Visits a file and finds its module children (below `child_dir`; `physical`: it holds no
/// symbolic link, else its parent holds none).
// Each argument is one independent fact of the visit (what to read, how, and where its
// children are): a struct for them would only be built to be taken apart here.
#[allow(clippy::too_many_arguments)]
fn visit(
    db: &SourceDb,
    cache: &VisitCache,
    path: &Path,
    demanded: bool,
    whole: bool,
    child_dir: &Path,
    physical: bool,
    edition: crate::parse::Edition,
) -> Result<(Visit, std::sync::Arc<Vec<Child>>), PathProblem> {
    let c = cache.entry(path);
    let v = visit_file(db, cache, &c, path, demanded, whole, Some(edition))?;
    let (ir, parsed) = match &v {
        Visit::Parsed(_, Ok(ir)) => (ir, true),
        Visit::Scanned(_, ir) => (ir, false),
        Visit::Parsed(_, Err(_)) => return Ok((v, Default::default())),
    };
    // The same file reached by several crates has the same children: the `is_file` checks
    // are made once.
    let slot = &c.children[usize::from(parsed)];
    if let Some((dir, kids)) = slot.get() {
        if dir == child_dir {
            return Ok((v, kids.clone()));
        }
    }
    let file_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let trusted = if physical {
        child_dir
    } else {
        child_dir.parent().unwrap_or(child_dir)
    };
    let mut kids = Vec::new();
    collect_mods(
        &ir.items,
        &Dirs {
            dir: child_dir,
            file_dir: &file_dir,
            trusted,
        },
        false,
        &mut None,
        &mut |kid| kids.push(kid),
    );
    let kids = std::sync::Arc::new(kids);
    let _ = slot.set((child_dir.to_path_buf(), kids.clone()));
    Ok((v, kids))
}

fn visit_file(
    db: &SourceDb,
    cache: &VisitCache,
    c: &Cached,
    path: &Path,
    demanded: bool,
    whole: bool,
    edition: Option<crate::parse::Edition>,
) -> Result<Visit, PathProblem> {
    // The binding crates' Winsock modules define what the others call: calls into them are
    // resolved by module path, and they are only scanned, like files without Winsock calls.
    let parse = |needs_parse: bool| {
        (demanded || needs_parse) && !*c.binding.get_or_init(|| cache.is_binding_file(path))
    };
    let Some(&needs_parse) = c.needs_parse.get() else {
        // First visit: one read gives the verdict and what it asks for (module items or text).
        let got = with_text(path, |t| {
            // Files with allow comments are parsed too: the comments' scopes and use are checked.
            let v = crate::scan::verdict(t.as_bytes());
            let n = v.parse;
            let _ = c.macros.set(macros::of_text(t));
            let _ = c.names_winsock.set(v.names_winsock);
            let _ = c.called_hashes.set(macros::called_hashes(t));
            let _ = c.needs_parse.set(n);
            if parse(n) {
                Err(t.to_string())
            } else {
                Ok(scanned(db, path, t))
            }
        })?;
        return Ok(match got {
            Ok(ir) => {
                let _ = c.scanned.set(ir.clone());
                Visit::Scanned(ir.file, ir)
            }
            Err(text) => parsed(db, c, path, text, whole, edition),
        });
    };
    if parse(needs_parse) {
        let slot = if whole { &c.parsed_whole } else { &c.parsed };
        if let Some((id, r)) = slot.get() {
            return Ok(Visit::Parsed(*id, r.clone()));
        }
        return Ok(parsed(db, c, path, read_text(path)?, whole, edition));
    }
    if let Some(ir) = c.scanned.get() {
        return Ok(Visit::Scanned(ir.file, ir.clone()));
    }
    let ir = with_text(path, |t| scanned(db, path, t))?;
    let _ = c.scanned.set(ir.clone());
    Ok(Visit::Scanned(ir.file, ir))
}

/// Parses a file (the text becomes the file's source) and keeps the result for other crates.
/// `whole`: no function is left out (`parse::parse_whole`).
/// `edition`: the crate's (the first crate that reaches a file decides how it is read); `None`
/// ahead of any crate (`prefetch`): then a file that does not parse whole as today's Rust is
/// not kept, since its crate's edition may read it otherwise.
fn parsed(
    db: &SourceDb,
    c: &Cached,
    path: &Path,
    text: String,
    whole: bool,
    edition: Option<crate::parse::Edition>,
) -> Visit {
    let id = db.add(path.to_path_buf(), display_path(path), text);
    let src = db.get(id);
    let r = crate::parse::parse_as(id, &src.text, whole, edition.unwrap_or_default());
    let slot = if whole { &c.parsed_whole } else { &c.parsed };
    let clean = matches!(&r, Ok(ir) if ir.syntax_errors.is_empty());
    if edition.is_some() || clean {
        let _ = slot.set((id, r.clone()));
    }
    Visit::Parsed(id, r)
}

/// The module structure of a file that is not parsed (its text is not kept).
fn scanned(db: &SourceDb, path: &Path, text: &str) -> FileIr {
    let id = db.add(path.to_path_buf(), display_path(path), String::new());
    // Only module structure is needed from such a file; without `mod` it has none.
    let items = if crate::scan::may_declare_modules(text.as_bytes()) {
        crate::scan::mod_items(text, id)
    } else {
        Vec::new()
    };
    FileIr {
        file: id,
        items,
        elided: Default::default(),
        too_large: Default::default(),
        syntax_errors: Default::default(),
    }
}

/// Loads a crate's module tree; files that cannot matter are scanned, not parsed, unless
/// `demand`ed. Files in `whole` (a subset of `demand`) are parsed with every function.
pub fn load_crate(
    input: &CrateInput,
    db: &SourceDb,
    cache: &VisitCache,
    demand: &std::collections::HashSet<PathBuf>,
    whole: &std::collections::HashSet<PathBuf>,
    rounds: &mut MacroRounds,
) -> LoadedCrate {
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let mut parsed: HashMap<FileId, FileIr> = HashMap::new();
    let mut decl_target: HashMap<Span, FileId> = HashMap::new();
    let mut order = Vec::new();
    let mut seen: rustc_hash::FxHashSet<std::ffi::OsString> = Default::default();

    let root_dir = input
        .root
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Roots are canonical (discovery made them so).
    let mut level = vec![Pending {
        context: false,
        path: input.root.clone(),
        decl: None,
        child_dir: root_dir,
        child_dir_physical: true,
        key: vec![0],
        scope: 1,
    }];
    seen.insert(input.root.clone().into_os_string());
    if let Some((_, lib)) = &input.lib {
        if seen.insert(lib.clone().into_os_string()) {
            level.push(Pending {
                context: true,
                path: lib.clone(),
                decl: None,
                child_dir: lib.parent().map(Path::to_path_buf).unwrap_or_default(),
                child_dir_physical: true,
                key: vec![1],
                scope: 1,
            });
        }
    }
    let mut lib_id = None;
    let mut context = std::collections::HashSet::new();
    let mut root_id = None;
    let mut unparsed = Vec::new();
    let mut parsed_files = Vec::new();
    let mut elided = Vec::new();
    let mut too_large = Vec::new();
    let mut mounted = Vec::new();
    let mut macro_bodies = HashMap::new();
    let mut exported_macros = Vec::new();
    while !level.is_empty() {
        let results: Vec<_> = level
            .par_iter()
            .map(|p| {
                let demanded = demand.contains(&p.path);
                visit(
                    db,
                    cache,
                    &p.path,
                    demanded,
                    whole.contains(&p.path),
                    &p.child_dir,
                    p.child_dir_physical,
                    input.edition,
                )
            })
            .collect();
        let mut next = Vec::new();
        for (p, r) in level.iter().zip(results) {
            let (id, ir, kids) = match r {
                Err(problem) => {
                    // A missing module file of a `mod x;` is often `cfg`-gated out: say so quietly.
                    if p.decl.is_none() || !problem.message.contains("no such file") {
                        problems.push(problem);
                    }
                    continue;
                }
                Ok((Visit::Parsed(id, Err(d)), _)) => {
                    if p.context {
                        context.insert(id);
                    } else if p.decl.is_none() {
                        root_id.get_or_insert(id);
                    }
                    order.push(id);
                    diags.push(d);
                    continue;
                }
                Ok((Visit::Parsed(id, Ok(ir)), kids)) => {
                    parsed_files.push(id);
                    if !ir.elided.is_empty() {
                        elided.push((id, ir.elided.clone()));
                    }
                    too_large.extend(ir.too_large.iter().copied());
                    diags.extend(ir.syntax_errors.iter().cloned());
                    (id, ir, kids)
                }
                Ok((Visit::Scanned(id, ir), kids)) => {
                    unparsed.push(p.path.clone());
                    (id, ir, kids)
                }
            };
            if p.context {
                context.insert(id);
                if p.decl.is_none() {
                    lib_id = Some(id);
                }
            } else if p.decl.is_none() {
                root_id.get_or_insert(id);
            }
            order.push(id);
            if let Some(decl) = p.decl {
                decl_target.insert(decl, id);
            }
            let file_macros = cache
                .entry(&p.path)
                .macros
                .get()
                .cloned()
                .unwrap_or_default();
            let lends = |decl: Span| file_macros.mounts(decl.lo);
            mounted.push(macros::Mounted {
                id,
                path: p.path.clone(),
                key: p.key.clone(),
                scope: p.scope,
                context: p.context,
                parsed: parsed_files.last() == Some(&id),
                macros: file_macros.clone(),
            });
            for kid in kids.iter() {
                let path = match &kid.target {
                    Target::File(path) if below(path, &input.bound).is_some() => path,
                    // Not read, so not shown: only the path as written and why.
                    Target::File(_) => {
                        let why = format!("it resolves outside `{}`", shown_dir(&input.bound));
                        diags.push(skipped_module(db, id, &p.path, kid, &why));
                        continue;
                    }
                    // A path with `..` that leads nowhere: there is nothing to read.
                    Target::Missing(path)
                        if !crate::discover::is_plain_below(path, &input.bound) =>
                    {
                        continue
                    }
                    Target::Missing(path) => path,
                    Target::Skip(why) => {
                        diags.push(skipped_module(db, id, &p.path, kid, why));
                        continue;
                    }
                };
                if seen.insert(path.as_os_str().to_owned()) {
                    next.push(Pending {
                        context: p.context,
                        path: path.clone(),
                        decl: Some(kid.decl),
                        child_dir: kid.child_dir.clone(),
                        child_dir_physical: kid.child_dir_physical,
                        key: p.key.iter().copied().chain([kid.decl.lo]).collect(),
                        scope: if lends(kid.decl) {
                            p.scope
                        } else {
                            p.key.len() + 1
                        },
                    });
                }
            }
            parsed.insert(id, ir);
        }
        level = next;
    }
    macros::expand_crate_macros(
        &macros::Tree {
            input,
            db,
            cache,
            whole,
            mounted: &mounted,
        },
        &mut macros::Loaded {
            parsed: &mut parsed,
            parsed_files: &mut parsed_files,
            unparsed: &mut unparsed,
            elided: &mut elided,
            too_large: &mut too_large,
            diags: &mut diags,
            macro_bodies: &mut macro_bodies,
            exported_macros: &mut exported_macros,
        },
        rounds,
    );
    let mut root_items = root_id
        .and_then(|id| parsed.remove(&id))
        .map(|f| f.items)
        .unwrap_or_default();
    // The library becomes a module named after its crate: `use mylib::net::start` resolves.
    if let (Some((name, _)), Some(id)) = (&input.lib, lib_id) {
        if let Some(lib) = parsed.remove(&id) {
            root_items.push(crate::ir::Item::Mod(crate::ir::ModIr {
                name: name.clone(),
                span: Span::new(id, 0, 0),
                inline: Some(lib.items),
                path_attr: None,
            }));
        }
    }
    let model = CrateModel::build(input.name.clone(), root_items, &mut |span| {
        let id = decl_target.get(&span)?;
        parsed.remove(id).map(|f| f.items)
    });
    LoadedCrate {
        model,
        context,
        files: order,
        unparsed,
        macro_bodies,
        exported_macros,
        parsed: parsed_files,
        elided,
        too_large,
        diags,
        problems,
    }
}

/// A warning at a `mod` declaration whose file is not read.
fn skipped_module(db: &SourceDb, file: FileId, path: &Path, kid: &Child, why: &str) -> Diagnostic {
    // A file that was only scanned has no text in the store: the warning points into it.
    if db.get(file).text.is_empty() {
        if let Ok(text) = read_text(path) {
            db.add(path.to_path_buf(), display_path(path), text);
        }
    }
    let mut d = Diagnostic::input_error(
        kid.decl,
        format!("module file `{}` is not read: {why}", kid.written),
        "this module is skipped",
    );
    d.severity = crate::diag::Severity::Warning;
    d.notes.push(crate::diag::Note {
        kind: crate::diag::NoteKind::Note,
        message: "wsa-lint opens only regular `.rs` files inside the package's directory \
                  (outside a package: inside the paths it was given), after symbolic links"
            .to_string(),
        span: None,
    });
    d
}

/// Where `collect_mods` resolves module files.
struct Dirs<'a> {
    /// The directory of plain `mod x;` files.
    dir: &'a Path,
    /// The declaring file's directory (`#[path]` outside inline modules is relative to it).
    file_dir: &'a Path,
    /// A prefix of `dir` known to hold no symbolic link and no `..`.
    trusted: &'a Path,
}

/// Finds `mod x;` declarations and where their files are. `physical` remembers the last
/// directory checked for symbolic links, and what it really is.
fn collect_mods(
    items: &[Item],
    dirs: &Dirs<'_>,
    inline: bool,
    physical: &mut Option<(PathBuf, Physical)>,
    found: &mut dyn FnMut(Child),
) {
    for item in items {
        let Item::Mod(m) = item else { continue };
        match &m.inline {
            Some(children) => {
                let sub = match &m.path_attr {
                    Some(p) => dirs.dir.join(p),
                    None => dirs.dir.join(&m.name),
                };
                let inner = Dirs { dir: &sub, ..*dirs };
                collect_mods(children, &inner, true, physical, found);
            }
            None => {
                let kid = match &m.path_attr {
                    Some(p) => {
                        let base = if inline { dirs.dir } else { dirs.file_dir };
                        path_attr_child(m.span, p, base)
                    }
                    None => {
                        if physical.as_ref().is_none_or(|(d, _)| d != dirs.dir) {
                            *physical = Some((dirs.dir.to_path_buf(), physical_dir(dirs)));
                        }
                        let real = physical.as_ref().map_or(&Physical::Absent, |(_, r)| r);
                        plain_child(m.span, &m.name, dirs, real)
                    }
                };
                found(kid);
            }
        }
    }
}

/// What a directory of module files really is.
enum Physical {
    /// The directory, without symbolic links or `..`.
    Real(PathBuf),
    /// It does not exist: its modules are missing.
    Absent,
    /// A symbolic link on the way leads nowhere.
    Dangling,
}

/// `dirs.dir` without symbolic links or `..` (itself, when it has none: a `lstat` per
/// component below `dirs.trusted`, usually one).
fn physical_dir(dirs: &Dirs<'_>) -> Physical {
    let dir = dirs.dir;
    let canonical = || match dir.canonicalize() {
        Ok(c) => Physical::Real(c),
        Err(_) => Physical::Absent,
    };
    let odd = |c: std::path::Component<'_>| {
        matches!(
            c,
            std::path::Component::CurDir | std::path::Component::ParentDir
        )
    };
    if dirs.trusted.components().any(odd) {
        return canonical();
    }
    let Ok(rel) = dir.strip_prefix(dirs.trusted) else {
        return canonical();
    };
    let mut cur = dirs.trusted.to_path_buf();
    for c in rel.components() {
        let std::path::Component::Normal(c) = c else {
            return canonical();
        };
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return dir
                    .canonicalize()
                    .map_or(Physical::Dangling, Physical::Real)
            }
            Ok(m) if m.is_dir() => {}
            // Nothing is below a missing directory or a file: its modules are missing.
            _ => return Physical::Absent,
        }
    }
    Physical::Real(dir.to_path_buf())
}

/// `#[path = "p"] mod x;`, relative to `base`.
fn path_attr_child(decl: Span, p: &str, base: &Path) -> Child {
    let joined = base.join(p);
    let fallback_dir = joined.parent().map(Path::to_path_buf).unwrap_or_default();
    let child = |target, child_dir, child_dir_physical| Child {
        decl,
        written: p.to_string(),
        target,
        child_dir,
        child_dir_physical,
    };
    // rustc reads any file a `#[path]` names; wsa-lint reads Rust source only.
    if Path::new(p).extension().is_none_or(|x| x != "rs") {
        return child(Target::Skip("it is not a `.rs` file"), fallback_dir, false);
    }
    match joined.canonicalize() {
        Ok(c) => {
            let target = regular_rs(&c);
            let dir = c.parent().map(Path::to_path_buf).unwrap_or_default();
            child(target, dir, true)
        }
        Err(_) => child(Target::Missing(joined), fallback_dir, false),
    }
}

/// A canonical path's target: a regular `.rs` file, or why it is skipped.
fn regular_rs(canonical: &Path) -> Target {
    match std::fs::symlink_metadata(canonical) {
        Ok(m) if !m.is_file() => Target::Skip("it is not a regular file"),
        _ if canonical.extension().is_none_or(|x| x != "rs") => {
            Target::Skip("it is a symbolic link to a file that is not a `.rs` file")
        }
        Ok(_) => Target::File(canonical.to_path_buf()),
        Err(_) => Target::Missing(canonical.to_path_buf()),
    }
}

/// `mod name;` below `dirs.dir` (`real`: what that directory really is): `name.rs`, or
/// `name/mod.rs`. One `lstat` per file, as a plain existence check would cost; a symbolic link
/// is resolved and checked.
fn plain_child(decl: Span, name: &str, dirs: &Dirs<'_>, real: &Physical) -> Child {
    let written = |rel: &Path| {
        let shown = rel.strip_prefix(dirs.file_dir).unwrap_or(rel);
        shown.display().to_string()
    };
    let logical_flat = dirs.dir.join(format!("{name}.rs"));
    let dir = match real {
        Physical::Real(dir) => dir,
        // Nothing there can be read: a missing module, as rustc would see it (or one whose
        // directory is a link that leads nowhere, which gets a warning).
        Physical::Absent | Physical::Dangling => {
            let target = match real {
                Physical::Dangling => {
                    Target::Skip("its directory is a symbolic link that leads nowhere")
                }
                _ => Target::Missing(logical_flat.clone()),
            };
            return Child {
                decl,
                written: written(&logical_flat),
                target,
                child_dir: dirs.dir.join(name),
                child_dir_physical: false,
            };
        }
    };
    let flat = dir.join(format!("{name}.rs"));
    let sub = dir.join(name);
    let flat_meta = std::fs::symlink_metadata(&flat);
    let flat_usable = flat_meta
        .as_ref()
        .is_ok_and(|m| m.is_file() || m.file_type().is_symlink());
    if !flat_usable {
        let nested = sub.join("mod.rs");
        if let Ok(m) = std::fs::symlink_metadata(&nested) {
            let written = written(&dirs.dir.join(name).join("mod.rs"));
            // `name/` itself may be a link: then `nested` is not where it seems.
            let sub_is_link =
                std::fs::symlink_metadata(&sub).is_ok_and(|s| s.file_type().is_symlink());
            let target = if sub_is_link || m.file_type().is_symlink() {
                match nested.canonicalize() {
                    Ok(c) => regular_rs(&c),
                    Err(_) => Target::Skip("it is a symbolic link that leads nowhere"),
                }
            } else if m.is_file() {
                Target::File(nested)
            } else {
                Target::Skip("it is not a regular file")
            };
            let (child_dir, physical) = if sub_is_link {
                match sub.canonicalize() {
                    Ok(c) => (c, true),
                    Err(_) => (sub, false),
                }
            } else {
                (sub, true)
            };
            return Child {
                decl,
                written,
                target,
                child_dir,
                child_dir_physical: physical,
            };
        }
    }
    let target = match flat_meta {
        Ok(m) if m.is_file() => Target::File(flat),
        Ok(m) if m.file_type().is_symlink() => match flat.canonicalize() {
            Ok(c) => regular_rs(&c),
            Err(_) => Target::Skip("it is a symbolic link that leads nowhere"),
        },
        // A directory, FIFO or device named `name.rs`: never opened.
        Ok(_) => Target::Skip("it is not a regular file"),
        Err(_) => Target::Missing(flat),
    };
    Child {
        decl,
        written: written(&logical_flat),
        target,
        child_dir: sub,
        child_dir_physical: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_shows_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (dir.path().join("big.rs"), dir.path().join("small.rs"));
        std::fs::write(&big, "x".repeat(10_000)).unwrap();
        std::fs::write(&small, "abc").unwrap();
        assert_eq!(with_text(&big, |t| t.len()).unwrap(), 10_000);
        assert_eq!(with_text(&small, str::to_string).unwrap(), "abc");
        assert_eq!(read_text(&small).unwrap(), "abc");
        // A file longer than its measured size (it grew) is read to its end.
        let mut buf = Vec::new();
        let mut f = std::fs::File::open(&big).unwrap();
        let n = read_all(&mut f, &mut buf, 10).unwrap();
        assert_eq!(&buf[..n], "x".repeat(10_000).as_bytes());
    }

    /// A package `name` (with extra manifest lines) holding `rel`, which calls Winsock.
    fn package(dir: &Path, name: &str, extra: &str, rel: &str) -> PathBuf {
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n{extra}"),
        )
        .unwrap();
        let file = dir.join(rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "use windows_sys::Win32::Networking::WinSock::*;\npub fn f() { unsafe { WSAStartup(0x202, &mut d) }; }\nmod child;\n",
        )
        .unwrap();
        file.canonicalize().unwrap()
    }

    fn visit_of(path: &Path) -> (bool, usize) {
        let (db, cache) = (SourceDb::default(), VisitCache::default());
        let dir = path.parent().unwrap();
        let (v, kids) = visit(
            &db,
            &cache,
            path,
            false,
            false,
            dir,
            true,
            Default::default(),
        )
        .unwrap();
        (matches!(v, Visit::Parsed(..)), kids.len())
    }

    #[test]
    fn binding_modules_are_scanned_not_parsed() {
        let winsock = "src/Windows/Win32/Networking/WinSock/mod.rs";
        for (name, extra, rel) in [
            ("windows-sys", "", winsock),
            ("windows", "", winsock),
            ("winapi", "", "src/um/winsock2.rs"),
            ("ws2_32-sys", "[lib]\nname = \"ws2_32\"\n", "src/lib.rs"),
        ] {
            let t = tempfile::tempdir().unwrap();
            let file = package(t.path(), name, extra, rel);
            // Still scanned for its `mod` declarations.
            assert_eq!(visit_of(&file), (false, 1), "{name} {rel}");
        }
        for (name, extra, rel) in [
            // Code that uses Winsock, in the same layout.
            ("socket2", "", winsock),
            ("ws2-helpers", "", "src/lib.rs"),
            // A library somewhere else: the layout says nothing.
            ("windows-sys", "[lib]\npath = \"lib.rs\"\n", winsock),
            ("winapi", "", "src/um/winsock2/extra.rs"),
        ] {
            let t = tempfile::tempdir().unwrap();
            let file = package(t.path(), name, extra, rel);
            assert_eq!(visit_of(&file), (true, 1), "{name} {rel}");
        }
    }
}

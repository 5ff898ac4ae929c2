//! Discovery: command-line paths or `cargo metadata` -> the crates to analyze
//! and which of their files the user asked about.
//!
//! Never builds or runs anything: Cargo manifests are read as TOML, and
//! `cargo metadata --no-deps` only reads manifests.
//!
//! Stays inside the project: a symbolic link found by a walk that leads out of the walked
//! directory, or a target root outside its package, is skipped with a warning, never read, and
//! the walk up from a file to its package stops at the repository or workspace root.
//!
//! Also the path helpers every later phase shows paths with (`display_path`, `below`): `load`
//! and `config` use them, and this module uses neither of those.

use crate::diag::{Diagnostic, PathProblem};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// One module tree to analyze: a target's root file (or a loose file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateInput {
    pub name: String,
    pub root: PathBuf,
    /// The package's library, for a bin/example/test target: `(crate name, root)`. Its module
    /// tree is loaded as context, so calls into it are followed (it is linted as its own crate).
    pub lib: Option<(String, PathBuf)>,
    /// The directory its module files must stay in (canonical): the package's directory, or for
    /// a file outside any package the path named on the command line that holds it. A module
    /// file that resolves outside it is not read (see `load`).
    pub bound: PathBuf,
    /// The package's edition (`package.edition`, also through `edition.workspace = true`);
    /// 2015 when the manifest names none, as Cargo reads it. A file outside any package is read
    /// as 2018: `rustc`'s own default edition is 2015, so bare trait objects are read, while
    /// `async`, `await` and `try` stay keywords, as most code written today has them.
    pub edition: crate::parse::Edition,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub crates: Vec<CrateInput>,
    /// Files the user asked about (sorted, no duplicates); `None` means every file of the crates.
    pub requested: Option<Vec<PathBuf>>,
    pub problems: Vec<PathProblem>,
    /// Loose files (no Cargo package): a root reached as another root's module is dropped later.
    pub loose_roots: BTreeSet<PathBuf>,
    /// A path named on the command line does not exist (a usage error).
    pub missing_arg: bool,
    /// Warnings about what was skipped (symbolic links out of the walked directory, target
    /// roots outside their package): not lints, and no span to point at.
    pub warnings: Vec<Diagnostic>,
    /// For each directory of a requested file: the `bound` of a crate rooted there.
    bounds: HashMap<PathBuf, PathBuf>,
}

impl Discovered {
    /// The `bound` of a crate rooted at `file`, one of the requested files (an orphan).
    pub fn bound_of(&self, file: &Path) -> PathBuf {
        let dir = file.parent().unwrap_or(Path::new(""));
        self.bounds
            .get(dir)
            .cloned()
            .unwrap_or_else(|| dir.to_path_buf())
    }
}

/// A warning about something discovery skipped; it has no source text to point into.
fn skipped(message: String) -> Diagnostic {
    Diagnostic {
        lint: None,
        severity: crate::diag::Severity::Warning,
        message,
        labels: Vec::new(),
        notes: Vec::new(),
        suggestions: Vec::new(),
    }
}

/// Files and directories from the command line.
pub fn from_paths(paths: &[PathBuf]) -> Discovered {
    from_paths_prefetching(paths, None)
}

/// A hook that reads a found file ahead of the run, on another worker thread.
pub type Prefetch<'a> = &'a (dyn Fn(&Path) + Sync);

/// `from_paths`, handing each `.rs` file found in a directory to `prefetch` as soon as the walk
/// finds it (as a task of the current rayon pool): the other workers read the files while the
/// walk and the package lookups go on. With one worker there is nothing to overlap.
pub fn from_paths_prefetching(paths: &[PathBuf], prefetch: Option<Prefetch<'_>>) -> Discovered {
    match prefetch.filter(|_| rayon::current_num_threads() > 1) {
        Some(f) => rayon::scope(|s| {
            discover_paths(paths, &mut |p: &Path| {
                let p = p.to_path_buf();
                s.spawn(move |_| f(&p));
            })
        }),
        None => discover_paths(paths, &mut |_: &Path| {}),
    }
}

fn discover_paths(paths: &[PathBuf], found: &mut dyn FnMut(&Path)) -> Discovered {
    let mut d = Discovered::default();
    let mut requested = Vec::new();
    // The canonical directories named (a named file: its directory), where files outside any
    // package must keep their modules.
    let mut named: Vec<PathBuf> = Vec::new();
    for p in paths {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                d.missing_arg |= e.kind() == std::io::ErrorKind::NotFound;
                d.problems.push(PathProblem {
                    path: p.display().to_string(),
                    message: io_message(&e),
                });
                continue;
            }
        };
        if meta.is_dir() {
            if let Ok(c) = p.canonicalize() {
                named.push(c);
            }
            walk_dir(p, &mut requested, &mut d.problems, &mut d.warnings, found);
        } else if !meta.is_file() {
            // A FIFO or device: opening it could block or have effects.
            d.problems.push(PathProblem {
                path: p.display().to_string(),
                message: "not a regular file; it is skipped".to_string(),
            });
        } else {
            match p.canonicalize() {
                Ok(c) => {
                    named.extend(c.parent().map(Path::to_path_buf));
                    requested.push(c);
                }
                Err(e) => d.problems.push(PathProblem {
                    path: p.display().to_string(),
                    message: io_message(&e),
                }),
            }
        }
    }
    // Byte order, not `Path`'s component order: the same for the run's purposes (a set with a
    // fixed order) and much cheaper to sort.
    requested.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    requested.dedup();
    let mut crates = BTreeSet::new();
    let mut packages: Vec<Package> = Vec::new();
    let mut package_at: HashMap<PathBuf, usize> = HashMap::new();
    let mut manifests = HashMap::new();
    // Per directory: the package it is in, and the targets whose module tree can reach its files
    // (those whose root's directory is the directory or one of its ancestors). Empty: none.
    let mut reach: rustc_hash::FxHashMap<&std::ffi::OsStr, Option<(usize, Vec<usize>)>> =
        Default::default();
    let warnings = &mut d.warnings;
    let bounds = &mut d.bounds;
    for f in &requested {
        let dir = f.parent().unwrap_or(Path::new(""));
        let reached = reach.entry(dir.as_os_str()).or_insert_with(|| {
            let Some((manifest_dir, table)) = package_of_dir(dir, &mut manifests) else {
                // The longest named directory holding it.
                let bound = named
                    .iter()
                    .filter(|n| below(dir, n).is_some())
                    .max_by_key(|n| n.as_os_str().len())
                    .map_or_else(|| dir.to_path_buf(), PathBuf::clone);
                bounds.insert(dir.to_path_buf(), bound);
                return None;
            };
            bounds.insert(dir.to_path_buf(), manifest_dir.clone());
            let at = *package_at.entry(manifest_dir).or_insert_with_key(|dir| {
                packages.push(Package::new(package_targets(dir, &table, warnings)));
                packages.len() - 1
            });
            let pkg = &packages[at];
            let targets = dir
                .ancestors()
                .filter_map(|a| pkg.by_dir.get(a))
                .flatten()
                .copied()
                .collect();
            Some((at, targets))
        });
        match reached {
            Some((at, targets)) if !targets.is_empty() => {
                for &t in targets.iter() {
                    packages[*at].used[t] = true;
                }
            }
            _ => {
                let bound = bounds
                    .get(dir)
                    .cloned()
                    .unwrap_or_else(|| dir.to_path_buf());
                crates.insert(loose(f, bound));
                d.loose_roots.insert(f.clone());
            }
        }
    }
    for pkg in packages {
        crates.extend(
            pkg.targets
                .into_iter()
                .zip(pkg.used)
                .filter_map(|(t, used)| used.then_some(t)),
        );
    }
    d.crates = crates.into_iter().collect();
    d.requested = Some(requested);
    d
}

/// A package's targets, indexed by the directory of their root.
struct Package {
    targets: Vec<CrateInput>,
    by_dir: HashMap<PathBuf, Vec<usize>>,
    /// Targets that a requested file is below.
    used: Vec<bool>,
}

impl Package {
    fn new(targets: Vec<CrateInput>) -> Package {
        let mut by_dir: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let dir = t.root.parent().map(Path::to_path_buf).unwrap_or_default();
            by_dir.entry(dir).or_default().push(i);
        }
        Package {
            used: vec![false; targets.len()],
            targets,
            by_dir,
        }
    }
}

fn loose(f: &Path, bound: PathBuf) -> CrateInput {
    CrateInput {
        name: f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        root: f.to_path_buf(),
        lib: None,
        bound,
        edition: crate::parse::Edition::E2018,
    }
}

pub fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ if e.raw_os_error() == Some(40) => "symbolic link loop; not followed".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory, not a file".to_string(),
        _ => e.to_string(),
    }
}

fn walk_dir(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<PathProblem>,
    warnings: &mut Vec<Diagnostic>,
    found: &mut dyn FnMut(&Path),
) {
    let canonical = dir.canonicalize();
    let root_is_canonical = canonical.is_ok();
    let dir = canonical.as_deref().unwrap_or(dir);
    // Directories reached through a symbolic link that stays inside the root: paths below them
    // are not canonical. Almost always empty, so checking it costs nothing.
    let linked: std::cell::RefCell<Vec<PathBuf>> = Default::default();
    let outside: std::cell::RefCell<Vec<Diagnostic>> = Default::default();
    let escapes = |link: &Path| {
        skipped(format!(
            "`{}` is a symbolic link to a path outside `{}`; it is skipped",
            display_path(link),
            shown_dir(dir),
        ))
    };
    // Unsorted: the caller sorts what it found.
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 || !e.file_type().is_dir() {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if name.starts_with('.') || name == "target" {
                return false;
            }
            if e.path_is_symlink() {
                // Followed only where it stays in the tree the user named.
                match e.path().canonicalize() {
                    Ok(c) if below(&c, dir).is_some() => {
                        linked.borrow_mut().push(e.path().to_path_buf());
                    }
                    Ok(_) => {
                        outside.borrow_mut().push(escapes(e.path()));
                        return false;
                    }
                    // The walk reports it.
                    Err(_) => {}
                }
            }
            true
        });
    for entry in walker {
        match entry {
            Ok(e) => {
                let kind = e.file_type();
                if kind.is_dir() || e.path().extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                if !kind.is_file() {
                    // A FIFO or device named `*.rs` (the walk only asked for its type).
                    warnings.push(skipped(format!(
                        "`{}` is not a regular file; it is skipped",
                        display_path(e.path())
                    )));
                    continue;
                }
                // Below a canonical root, only a symbolic link can make a path non-canonical.
                let below_link = {
                    let linked = linked.borrow();
                    !linked.is_empty() && linked.iter().any(|l| e.path().starts_with(l))
                };
                if !e.path_is_symlink() && !below_link && root_is_canonical {
                    found(e.path());
                    out.push(e.into_path());
                    continue;
                }
                match e.path().canonicalize() {
                    Ok(c) if below(&c, dir).is_none() => warnings.push(escapes(e.path())),
                    Ok(c) if c.extension().is_none_or(|x| x != "rs") => {
                        warnings.push(skipped(format!(
                        "`{}` is a symbolic link to a file that is not a `.rs` file; it is skipped",
                        display_path(e.path())
                    )))
                    }
                    Ok(c) => {
                        found(&c);
                        out.push(c);
                    }
                    Err(err) => problems.push(PathProblem {
                        path: e.path().display().to_string(),
                        message: io_message(&err),
                    }),
                }
            }
            Err(err) => {
                let path = err
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| dir.display().to_string());
                let message = if err.loop_ancestor().is_some() {
                    "symbolic link loop; not followed".to_string()
                } else if let Some(io) = err.io_error() {
                    io_message(io)
                } else {
                    err.to_string()
                };
                problems.push(PathProblem { path, message });
            }
        }
    }
    warnings.extend(outside.into_inner());
}

/// A directory as shown in messages (`.` for the working directory itself).
pub(crate) fn shown_dir(dir: &Path) -> String {
    let shown = display_path(dir);
    if shown.is_empty() {
        ".".to_string()
    } else {
        shown
    }
}

/// What a directory tells a walk up from a file looking for the file's package.
enum Step {
    /// Its `Cargo.toml` has a `[package]`.
    Package(toml::Table),
    /// The walk goes no higher: the directory is a repository root (it holds `.git`) or a
    /// workspace root. What lies above is not part of the project.
    Stop,
    Up,
}

/// `dir`'s step in a walk up to its package.
fn step(dir: &Path) -> Step {
    if let Some(table) = read_manifest(dir) {
        if table.contains_key("package") {
            return Step::Package(table);
        }
        if table.contains_key("workspace") {
            return Step::Stop;
        }
    }
    if is_repository_root(dir) {
        Step::Stop
    } else {
        Step::Up
    }
}

/// Does `dir` hold `.git` (a directory, or a file in a worktree or submodule)? Not followed.
pub fn is_repository_root(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(".git")).is_ok()
}

/// Reads a file only when it is a regular file: a FIFO or device is never opened (opening one
/// can block or have effects), and the open itself does not block should the file change
/// between the check and the open.
pub fn read_regular(path: &Path) -> std::io::Result<String> {
    let not_regular = || std::io::Error::other("not a regular file");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text)?;
    Ok(text)
}

/// The directory of the nearest `Cargo.toml` with a `[package]` at or above `dir`. Answers are
/// cached per directory, ancestors included: a tree has thousands of files and few manifests.
/// The answer is the package's directory and its parsed manifest.
fn package_of_dir(dir: &Path, cache: &mut HashMap<PathBuf, Option<Manifest>>) -> Option<Manifest> {
    if let Some(hit) = cache.get(dir) {
        return hit.clone();
    }
    let found = match step(dir) {
        Step::Package(table) => Some((dir.to_path_buf(), std::rc::Rc::new(table))),
        Step::Stop => None,
        Step::Up => dir.parent().and_then(|p| package_of_dir(p, cache)),
    };
    cache.insert(dir.to_path_buf(), found.clone());
    found
}

/// A package's directory and its manifest.
type Manifest = (PathBuf, std::rc::Rc<toml::Table>);

/// `dir/Cargo.toml`, parsed, when it is a regular file. Not a FIFO or device: reading one could
/// block.
fn read_manifest(dir: &Path) -> Option<toml::Table> {
    read_regular(&dir.join("Cargo.toml"))
        .ok()?
        .parse::<toml::Table>()
        .ok()
}

/// The crate name of a package's library (`[lib] name`, or the package's name).
fn lib_name(table: &toml::Table, pkg_name: &str) -> String {
    table
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .map(|n| n.replace('-', "_"))
        .unwrap_or_else(|| pkg_name.to_string())
}

/// One directory of a walk up from a file to its package (see `package_lib_step`).
pub enum PackageStep {
    /// The directory holds the package: the crate name of its library when that library's root
    /// is the conventional `src/lib.rs`.
    Package(Option<String>),
    /// A repository or workspace root without a package: the walk stops.
    Stop,
    Up,
}

/// What `dir` tells a walk up from a file looking for the file's package.
pub fn package_lib_step(dir: &Path) -> PackageStep {
    match step(dir) {
        Step::Package(table) => PackageStep::Package(conventional_lib_name(&table)),
        Step::Stop => PackageStep::Stop,
        Step::Up => PackageStep::Up,
    }
}

/// The crate name of a package's library when that library's root is the conventional
/// `src/lib.rs`, from the package's manifest.
fn conventional_lib_name(table: &toml::Table) -> Option<String> {
    let package = table.get("package")?;
    let lib_path = table.get("lib").and_then(|l| l.get("path"));
    let conventional = lib_path
        .is_none_or(|p| p.as_str().map(|p| p.trim_start_matches("./")) == Some("src/lib.rs"));
    let name = package.get("name").and_then(|n| n.as_str());
    name.filter(|_| conventional)
        .map(|n| lib_name(table, &n.replace('-', "_")))
}

/// `dir` joined with relative parts without `.` or `..`.
pub(crate) fn is_plain_below(p: &Path, dir: &Path) -> bool {
    p.strip_prefix(dir).is_ok_and(|rel| {
        rel.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    })
}

/// A path as shown to users: relative to the working directory when below it.
pub fn display_path(path: &Path) -> String {
    static CWD: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .map(|c| c.canonicalize().unwrap_or(c))
    });
    if let Some(rel) = cwd.as_ref().and_then(|c| below(path, c)) {
        return rel.display().to_string();
    }
    path.display().to_string()
}

/// `path.strip_prefix(dir)`. On Unix, for the plain absolute paths the run works with, compared
/// as bytes: `strip_prefix` parses both paths into components, once for every file of a run.
pub(crate) fn below<'a>(path: &'a Path, dir: &Path) -> Option<&'a Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
        let plain = |b: &[u8]| {
            b.first() == Some(&b'/')
                && !b.windows(2).any(|w| w == b"//" || w == b"/.")
                && b.len() > 1
                && b.last() != Some(&b'/')
        };
        if plain(p) && plain(d) {
            let rest = p.strip_prefix(d)?;
            let rest = if rest.is_empty() {
                rest
            } else {
                rest.strip_prefix(b"/")?
            };
            return Some(Path::new(std::ffi::OsStr::from_bytes(rest)));
        }
    }
    path.strip_prefix(dir).ok()
}

/// The canonical path of a regular file, or `None`. `plain`: the path is canonical unless it is
/// a symbolic link.
fn canonical_file(p: &Path, plain: bool) -> Option<PathBuf> {
    if plain {
        let meta = std::fs::symlink_metadata(p).ok()?;
        if meta.is_file() {
            return Some(p.to_path_buf());
        }
        if !meta.file_type().is_symlink() {
            return None;
        }
    }
    p.is_file().then(|| p.canonicalize().ok()).flatten()
}

/// A package's targets, from its manifest `table` (of `dir/Cargo.toml`) and Cargo's conventional
/// layout.
fn package_targets(
    dir: &Path,
    table: &toml::Table,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<CrateInput> {
    let pkg_name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("crate")
        .replace('-', "_");
    let lib_name = lib_name(table, &pkg_name);
    let edition = manifest_edition(dir, table);
    let canonical_dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let inside = |p: &Path| below(p, &canonical_dir).is_some();
    let lib_root = table
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .map(|p| dir.join(p))
        .unwrap_or_else(|| dir.join("src/lib.rs"))
        .canonicalize()
        .ok()
        .filter(|l| inside(l) && l.is_file());
    let mut roots: BTreeSet<PathBuf> = BTreeSet::new();
    let explicit = |key: &str, roots: &mut BTreeSet<PathBuf>| {
        let entries: Vec<&toml::Value> = match table.get(key) {
            Some(toml::Value::Array(a)) => a.iter().collect(),
            Some(v @ toml::Value::Table(_)) => vec![v],
            _ => Vec::new(),
        };
        for e in entries {
            if let Some(p) = e.get("path").and_then(|p| p.as_str()) {
                roots.insert(dir.join(p));
            }
        }
    };
    for key in ["lib", "bin", "example", "test", "bench"] {
        explicit(key, &mut roots);
    }
    for conventional in ["src/lib.rs", "src/main.rs", "build.rs"] {
        roots.insert(dir.join(conventional));
    }
    for sub in ["src/bin", "examples", "tests", "benches"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "rs") {
                    roots.insert(p);
                } else if p.join("main.rs").is_file() {
                    roots.insert(p.join("main.rs"));
                }
            }
        }
    }
    // In a canonical package directory, a plain relative path stays canonical unless it is a
    // symbolic link: one `lstat` per target instead of a `realpath` (a `readlink` per component).
    let dir_is_canonical = canonical_dir == dir;
    roots
        .into_iter()
        .filter_map(|p| {
            let plain = dir_is_canonical && is_plain_below(&p, dir);
            let root = canonical_file(&p, plain)?;
            // `..` or a symbolic link may lead out of the package.
            if !inside(&root) {
                warnings.push(outside_package(&p, dir));
                return None;
            }
            Some(root)
        })
        .map(|root| {
            let lib = lib_root
                .as_ref()
                .filter(|l| **l != root && !root.ends_with("build.rs"))
                .map(|l| (lib_name.clone(), l.clone()));
            CrateInput {
                name: pkg_name.clone(),
                root,
                lib,
                bound: canonical_dir.clone(),
                edition,
            }
        })
        .collect()
}

/// The edition of the package whose manifest `table` is `dir/Cargo.toml`: `package.edition`,
/// or with `edition.workspace = true` the `workspace.package.edition` of the nearest manifest
/// above with a `[workspace]` (the walk stops at a repository root). None named: 2015, as
/// Cargo reads a manifest without one.
fn manifest_edition(dir: &Path, table: &toml::Table) -> crate::parse::Edition {
    use crate::parse::Edition;
    let named =
        |v: Option<&toml::Value>| v.and_then(|e| e.as_str()).and_then(Edition::from_manifest);
    let field = table.get("package").and_then(|p| p.get("edition"));
    let inherits = field
        .and_then(|e| e.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true);
    if !inherits {
        return named(field).unwrap_or(Edition::E2015);
    }
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if let Some(t) = read_manifest(d) {
            if let Some(ws) = t.get("workspace") {
                let e = ws.get("package").and_then(|p| p.get("edition"));
                return named(e).unwrap_or(Edition::E2015);
            }
        }
        if d != dir && is_repository_root(d) {
            break;
        }
        cur = d.parent();
    }
    Edition::E2015
}

/// A target root outside its package: it is not read.
fn outside_package(root: &Path, package: &Path) -> Diagnostic {
    skipped(format!(
        "target `{}` of the package in `{}` is outside the package's directory; it is not read",
        display_path(root),
        shown_dir(package),
    ))
}

/// Options of `cargo wsa-lint` that select packages.
#[derive(Debug, Default, Clone)]
pub struct CargoSelection {
    pub manifest_path: Option<PathBuf>,
    pub packages: Vec<String>,
    pub workspace: bool,
}

#[derive(Debug)]
pub enum CargoError {
    Metadata(String),
    NoSuchPackage(String),
}

impl std::fmt::Display for CargoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CargoError::Metadata(m) => write!(f, "`cargo metadata` failed: {m}"),
            CargoError::NoSuchPackage(p) => {
                write!(f, "package `{p}` is not a member of this workspace")
            }
        }
    }
}

impl std::error::Error for CargoError {}

/// The selected packages' targets, found through `cargo metadata --no-deps` (which never builds).
pub fn from_cargo(sel: &CargoSelection) -> Result<Discovered, CargoError> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.no_deps();
    if let Some(m) = &sel.manifest_path {
        cmd.manifest_path(m);
    }
    let meta = cmd
        .exec()
        .map_err(|e| CargoError::Metadata(metadata_message(e)))?;
    let members: BTreeSet<_> = meta.workspace_members.iter().cloned().collect();
    let mut chosen = Vec::new();
    if !sel.packages.is_empty() {
        for name in &sel.packages {
            match meta
                .packages
                .iter()
                .find(|p| &*p.name == name && members.contains(&p.id))
            {
                Some(p) => chosen.push(p),
                None => return Err(CargoError::NoSuchPackage(name.clone())),
            }
        }
    } else if sel.workspace || meta.root_package().is_none() {
        chosen.extend(meta.packages.iter().filter(|p| members.contains(&p.id)));
    } else if let Some(root) = meta.root_package() {
        chosen.push(root);
    }
    let mut crates = BTreeSet::new();
    let mut warnings = Vec::new();
    for p in chosen {
        let manifest_dir: PathBuf = p
            .manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf())
            .unwrap_or_default();
        let bound = manifest_dir
            .canonicalize()
            .unwrap_or_else(|_| manifest_dir.clone());
        // A root is read only when it is a regular file inside the package (a FIFO or device is
        // not opened; `..` or a link may lead out). One that does not exist is reported when read.
        let usable = |root: &Path| match std::fs::metadata(root) {
            Ok(m) if !m.is_file() => Err(skipped(format!(
                "target `{}` is not a regular file; it is not read",
                display_path(root)
            ))),
            Ok(_) if below(root, &bound).is_none() => Err(outside_package(root, &manifest_dir)),
            _ => Ok(()),
        };
        let is_lib = |t: &cargo_metadata::Target| {
            t.kind.iter().any(|k| {
                matches!(
                    k,
                    cargo_metadata::TargetKind::Lib
                        | cargo_metadata::TargetKind::RLib
                        | cargo_metadata::TargetKind::DyLib
                        | cargo_metadata::TargetKind::CDyLib
                        | cargo_metadata::TargetKind::StaticLib
                        | cargo_metadata::TargetKind::ProcMacro
                )
            })
        };
        let lib = p
            .targets
            .iter()
            .find(|t| is_lib(t))
            .map(|t| {
                let root: PathBuf = t.src_path.clone().into();
                (
                    t.name.replace('-', "_"),
                    root.canonicalize().unwrap_or(root),
                )
            })
            .filter(|(_, root)| usable(root).is_ok());
        for t in &p.targets {
            let root: PathBuf = t.src_path.clone().into();
            let root = root.canonicalize().unwrap_or(root);
            if let Err(w) = usable(&root) {
                warnings.push(w);
                continue;
            }
            let build = t
                .kind
                .iter()
                .any(|k| matches!(k, cargo_metadata::TargetKind::CustomBuild));
            crates.insert(CrateInput {
                name: t.name.replace('-', "_"),
                root,
                lib: if is_lib(t) || build {
                    None
                } else {
                    lib.clone()
                },
                bound: bound.clone(),
                edition: crate::parse::Edition::from_manifest(p.edition.as_str())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(Discovered {
        crates: crates.into_iter().collect(),
        warnings,
        ..Discovered::default()
    })
}

fn metadata_message(e: cargo_metadata::Error) -> String {
    match e {
        cargo_metadata::Error::CargoMetadata { stderr } => stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("error: ").to_string())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_agrees_with_strip_prefix() {
        let paths = [
            "/a/b/c.rs",
            "/a/b",
            "/a/bc/d.rs",
            "/a/b/",
            "/a//b/c.rs",
            "/a/./b/c.rs",
            "/a/b/../c.rs",
            "/",
            "/a",
            "a/b/c.rs",
            "/a/.hidden/x.rs",
            "/ab/c.rs",
        ];
        for p in paths {
            for d in paths {
                let (p, d) = (Path::new(p), Path::new(d));
                assert_eq!(below(p, d), p.strip_prefix(d).ok(), "{p:?} below {d:?}");
            }
        }
    }
}

//! Discovery: command-line paths or `cargo metadata` -> the crates to analyze
//! and which of their files the user asked about.
//!
//! Never builds or runs anything: Cargo manifests are read as TOML, and
//! `cargo metadata --no-deps` only reads manifests.

use crate::diag::PathProblem;
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
            walk_dir(p, &mut requested, &mut d.problems, found);
        } else {
            match p.canonicalize() {
                Ok(c) => requested.push(c),
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
    for f in &requested {
        let dir = f.parent().unwrap_or(Path::new(""));
        let reached = reach.entry(dir.as_os_str()).or_insert_with(|| {
            let (manifest_dir, table) = package_of_dir(dir, &mut manifests)?;
            let at = *package_at.entry(manifest_dir).or_insert_with_key(|dir| {
                packages.push(Package::new(package_targets(dir, &table)));
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
                crates.insert(loose(f));
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

fn loose(f: &Path) -> CrateInput {
    CrateInput {
        name: f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        root: f.to_path_buf(),
        lib: None,
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
    found: &mut dyn FnMut(&Path),
) {
    let canonical = dir.canonicalize();
    let root_is_canonical = canonical.is_ok();
    let dir = canonical.as_deref().unwrap_or(dir);
    // Unsorted: the caller sorts what it found.
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            !(e.file_type().is_dir() && (name.starts_with('.') || name == "target"))
        });
    for entry in walker {
        match entry {
            Ok(e) => {
                if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs") {
                    // Below a canonical root, only a symbolic link can make a path non-canonical.
                    if !e.path_is_symlink() && root_is_canonical {
                        found(e.path());
                        out.push(e.into_path());
                        continue;
                    }
                    match e.path().canonicalize() {
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
}

/// The directory of the nearest `Cargo.toml` with a `[package]` at or above `dir`. Answers are
/// cached per directory, ancestors included: a tree has thousands of files and few manifests.
/// The answer is the package's directory and its parsed manifest.
fn package_of_dir(dir: &Path, cache: &mut HashMap<PathBuf, Option<Manifest>>) -> Option<Manifest> {
    if let Some(hit) = cache.get(dir) {
        return hit.clone();
    }
    let found = match package_manifest(dir) {
        Some(table) => Some((dir.to_path_buf(), std::rc::Rc::new(table))),
        None => dir.parent().and_then(|p| package_of_dir(p, cache)),
    };
    cache.insert(dir.to_path_buf(), found.clone());
    found
}

/// A package's directory and its manifest.
type Manifest = (PathBuf, std::rc::Rc<toml::Table>);

/// `dir/Cargo.toml`, parsed, when it is a regular file with a `[package]` (a virtual workspace's
/// manifest has none). Not a FIFO or device: reading one could block.
fn package_manifest(dir: &Path) -> Option<toml::Table> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return None;
    }
    std::fs::read_to_string(&manifest)
        .ok()?
        .parse::<toml::Table>()
        .ok()
        .filter(|t| t.contains_key("package"))
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

/// Is `dir/Cargo.toml` a package's manifest? If so, the crate name of the package's library
/// when that library's root is the conventional `src/lib.rs`.
pub fn conventional_lib_name(dir: &Path) -> Option<Option<String>> {
    let table = package_manifest(dir)?;
    let package = table.get("package")?;
    let lib_path = table.get("lib").and_then(|l| l.get("path"));
    let conventional = lib_path
        .is_none_or(|p| p.as_str().map(|p| p.trim_start_matches("./")) == Some("src/lib.rs"));
    let name = package.get("name").and_then(|n| n.as_str());
    Some(
        name.filter(|_| conventional)
            .map(|n| lib_name(&table, &n.replace('-', "_"))),
    )
}

/// `dir` joined with relative parts without `.` or `..`.
fn is_plain_below(p: &Path, dir: &Path) -> bool {
    p.strip_prefix(dir).is_ok_and(|rel| {
        rel.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    })
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
fn package_targets(dir: &Path, table: &toml::Table) -> Vec<CrateInput> {
    let pkg_name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("crate")
        .replace('-', "_");
    let lib_name = lib_name(table, &pkg_name);
    let lib_root = table
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .map(|p| dir.join(p))
        .unwrap_or_else(|| dir.join("src/lib.rs"))
        .canonicalize()
        .ok();
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
    let dir_is_canonical = dir.canonicalize().is_ok_and(|c| c == dir);
    roots
        .into_iter()
        .filter_map(|p| canonical_file(&p, dir_is_canonical && is_plain_below(&p, dir)))
        .map(|root| {
            let lib = lib_root
                .as_ref()
                .filter(|l| **l != root && !root.ends_with("build.rs"))
                .map(|l| (lib_name.clone(), l.clone()));
            CrateInput {
                name: pkg_name.clone(),
                root,
                lib,
            }
        })
        .collect()
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
    for p in chosen {
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
        let lib = p.targets.iter().find(|t| is_lib(t)).map(|t| {
            let root: PathBuf = t.src_path.clone().into();
            (
                t.name.replace('-', "_"),
                root.canonicalize().unwrap_or(root),
            )
        });
        for t in &p.targets {
            let root: PathBuf = t.src_path.clone().into();
            let root = root.canonicalize().unwrap_or(root);
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
            });
        }
    }
    Ok(Discovered {
        crates: crates.into_iter().collect(),
        requested: None,
        problems: Vec::new(),
        loose_roots: BTreeSet::new(),
        missing_arg: false,
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

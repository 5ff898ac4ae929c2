//! Loading: a crate root -> every file of its module tree, read, parsed and
//! lowered, assembled into a `CrateModel`.
//!
//! Follows `mod x;` (`x.rs`, `x/mod.rs`, `#[path]`, nested inline modules) the
//! way rustc does. A file that cannot be read or parsed becomes a diagnostic;
//! the rest of the tree still loads.

use crate::diag::{Diagnostic, PathProblem};
use crate::discover::{io_message, CrateInput};
use crate::ir::{FileIr, Item};
use crate::resolve::CrateModel;
use crate::source::{FileId, SourceDb, Span};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub struct LoadedCrate {
    pub model: CrateModel,
    /// Every file of the tree, root first.
    pub files: Vec<FileId>,
    pub diags: Vec<Diagnostic>,
    pub problems: Vec<PathProblem>,
}

/// Reads a source file into the database: `Err` with a user-facing message when it cannot.
pub fn read_source(db: &SourceDb, path: &Path) -> Result<FileId, PathProblem> {
    if let Some(id) = db.id_of(path) {
        return Ok(id);
    }
    let problem = |message: String| PathProblem {
        path: display_path(path),
        message,
    };
    // Only regular files: reading a FIFO or device named `*.rs` would block or never end.
    let meta = std::fs::metadata(path).map_err(|e| problem(io_message(&e)))?;
    if !meta.is_file() {
        return Err(problem("not a regular file; it is skipped".to_string()));
    }
    let bytes = std::fs::read(path).map_err(|e| problem(io_message(&e)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        problem(format!(
            "file is not valid UTF-8 (invalid byte at offset {}); it is skipped",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(db.add(path.to_path_buf(), display_path(path), text))
}

/// A path as shown to users: relative to the working directory when below it.
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir() {
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        if let Ok(rel) = path.strip_prefix(&cwd) {
            return rel.display().to_string();
        }
    }
    path.display().to_string()
}

struct Pending {
    path: PathBuf,
    /// The `mod x;` declaration that asked for it (by the span of `x`).
    decl: Option<Span>,
    /// Directory its own `mod y;` children live in.
    child_dir: PathBuf,
}

pub fn load_crate(input: &CrateInput, db: &SourceDb) -> LoadedCrate {
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let mut parsed: HashMap<FileId, FileIr> = HashMap::new();
    let mut decl_target: HashMap<Span, FileId> = HashMap::new();
    let mut order = Vec::new();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();

    let root_dir = input
        .root
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut level = vec![Pending {
        path: input.root.clone(),
        decl: None,
        child_dir: root_dir,
    }];
    seen.insert(input.root.clone());
    let mut root_id = None;
    while !level.is_empty() {
        let results: Vec<_> = level
            .par_iter()
            .map(|p| {
                let id = read_source(db, &p.path)?;
                let src = db.get(id);
                Ok::<_, PathProblem>((id, crate::parse::parse(id, &src.text)))
            })
            .collect();
        let mut next = Vec::new();
        for (p, r) in level.iter().zip(results) {
            match r {
                Err(problem) => {
                    // A missing module file of a `mod x;` is often `cfg`-gated out: say so quietly.
                    if p.decl.is_none() || !problem.message.contains("no such file") {
                        problems.push(problem);
                    }
                }
                Ok((id, Err(d))) => {
                    root_id.get_or_insert(id);
                    order.push(id);
                    diags.push(d);
                }
                Ok((id, Ok(ir))) => {
                    root_id.get_or_insert(id);
                    order.push(id);
                    if let Some(decl) = p.decl {
                        decl_target.insert(decl, id);
                    }
                    let file_dir = p.path.parent().map(Path::to_path_buf).unwrap_or_default();
                    collect_mods(
                        &ir.items,
                        &p.child_dir,
                        &file_dir,
                        false,
                        &mut |decl, path, child_dir| {
                            if seen.insert(path.clone()) {
                                next.push(Pending {
                                    path,
                                    decl: Some(decl),
                                    child_dir,
                                });
                            }
                        },
                    );
                    parsed.insert(id, ir);
                }
            }
        }
        level = next;
    }
    let root_items = root_id
        .and_then(|id| parsed.remove(&id))
        .map(|f| f.items)
        .unwrap_or_default();
    let model = CrateModel::build(input.name.clone(), root_items, &mut |span| {
        let id = decl_target.get(&span)?;
        parsed.remove(id).map(|f| f.items)
    });
    LoadedCrate {
        model,
        files: order,
        diags,
        problems,
    }
}

/// Finds `mod x;` declarations and where their files are.
fn collect_mods(
    items: &[Item],
    dir: &Path,
    file_dir: &Path,
    inline: bool,
    found: &mut dyn FnMut(Span, PathBuf, PathBuf),
) {
    for item in items {
        let Item::Mod(m) = item else { continue };
        match &m.inline {
            Some(children) => {
                let sub = match &m.path_attr {
                    Some(p) => dir.join(p),
                    None => dir.join(&m.name),
                };
                collect_mods(children, &sub, file_dir, true, found);
            }
            None => {
                let (path, child_dir) = match &m.path_attr {
                    Some(p) => {
                        let base = if inline { dir } else { file_dir };
                        let path = base.join(p);
                        let child_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                        (path, child_dir)
                    }
                    None => {
                        let flat = dir.join(format!("{}.rs", m.name));
                        let nested = dir.join(&m.name).join("mod.rs");
                        if !flat.is_file() && nested.is_file() {
                            (nested, dir.join(&m.name))
                        } else {
                            (flat, dir.join(&m.name))
                        }
                    }
                };
                let path = path.canonicalize().unwrap_or(path);
                found(m.span, path, child_dir);
            }
        }
    }
}

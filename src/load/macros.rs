//! The crate's `macro_rules!`, seen from each file as rustc scopes them.
//!
//! A file is lowered on its own, but may call macros defined in other files: textually
//! scoped ones (a macro is usable after its definition, to the end of its module, and past
//! it when the module is mounted with `#[macro_use]`), `#[macro_export]`ed ones by path
//! (`crate::name!`, `$crate::name!`) and by name, and the exported macros of the package's
//! library in a bin target. Once the tree is loaded, each file that calls such a macro is
//! lowered again with the definitions it can see (`lower::MacroEnv`), and a file that was only
//! scanned is parsed when one of them names a Winsock function: its own text may name none.
//!
//! Textual order is a key per point of the tree: the byte offsets of the `mod` declarations
//! from the root down to the file, then the offset in the file. Comparing keys compares
//! places in the crate read as one text, each `mod x;` replaced by its file's contents.

use super::*;
use crate::lower::{CrateMacro, FileMacros, MacroEnv};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

/// A file read with macros of other files: whether whole, the macros, its id in the store.
pub(super) type ParsedWithMacros = (bool, Arc<MacroEnv>, FileId);

/// What of `macro_rules!` a file's text has, when it names any. A file too large to parse
/// whole is not lexed for them either: its macros serve only its own parts.
pub(super) fn of_text(text: &str) -> Option<Arc<FileMacros>> {
    if text.len() > crate::parse::MAX_ITEM_BYTES {
        return None;
    }
    let b = text.as_bytes();
    let names = |w: &[u8]| memchr::memmem::find(b, w).is_some();
    if !names(b"macro_rules") && !names(b"macro_use") {
        return None;
    }
    let found = crate::parse::file_macros(text);
    (!found.defs.is_empty() || !found.macro_use_mods.is_empty()).then(|| Arc::new(found))
}

/// A file of the loaded tree, where it is mounted.
pub(super) struct Mounted {
    pub id: FileId,
    pub path: PathBuf,
    pub key: Vec<u32>,
    pub scope: usize,
    /// Part of the package's library, read as context for a bin target.
    pub context: bool,
    pub parsed: bool,
    pub macros: Option<Arc<FileMacros>>,
}

pub(super) struct Tree<'a> {
    pub input: &'a CrateInput,
    pub db: &'a SourceDb,
    pub cache: &'a VisitCache,
    pub whole: &'a std::collections::HashSet<PathBuf>,
    pub mounted: &'a [Mounted],
}

/// What `load_crate` has gathered, updated for the files lowered again.
pub(super) struct Loaded<'a> {
    pub parsed: &'a mut HashMap<FileId, FileIr>,
    pub parsed_files: &'a mut Vec<FileId>,
    pub unparsed: &'a mut Vec<PathBuf>,
    pub elided: &'a mut Vec<(FileId, Arc<[crate::ir::ElidedFn]>)>,
    pub too_large: &'a mut Vec<crate::ir::ElidedFn>,
    pub diags: &'a mut Vec<Diagnostic>,
    pub macro_bodies: &'a mut HashMap<PathBuf, String>,
    pub exported_macros: &'a mut Vec<String>,
}

/// What a file needs: to be lowered with macros of other files, or (a scanned file whose
/// expansions name no Winsock function) the bodies of those it calls, for the demand rounds.
enum Found {
    Job(usize, String, Arc<MacroEnv>),
    Bodies(usize, String),
}

/// A definition of the tree.
struct Def<'a> {
    /// Index of its file in `Tree::mounted`.
    file: usize,
    key: Vec<u32>,
    scope: &'a [u32],
    context: bool,
    def: &'a crate::lower::FileMacroDef,
    /// Macros its body calls.
    calls: BTreeSet<String>,
    names_winsock: bool,
}

/// Lowers again, with the macros of other files they can call, the files that call one.
pub(super) fn expand_crate_macros(tree: &Tree<'_>, out: &mut Loaded<'_>) {
    let defs: Vec<Def<'_>> = tree
        .mounted
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            let macros = m.macros.as_deref().map_or(&[][..], |f| &f.defs[..]);
            macros.iter().map(move |d| Def {
                file: i,
                key: m.key.iter().copied().chain([d.at]).collect(),
                scope: &m.key[..m.scope],
                context: m.context,
                def: d,
                calls: crate::lower::called_names(d.text.as_bytes()),
                names_winsock: names_winsock(&d.text),
            })
        })
        .collect();
    out.exported_macros.extend(
        defs.iter()
            .filter(|d| d.def.exported && !d.context)
            .map(|d| d.def.name.clone()),
    );
    if defs.is_empty() {
        return;
    }
    let defined: HashSet<&str> = defs.iter().map(|d| d.def.name.as_str()).collect();
    let lib_name = tree.input.lib.as_ref().map(|(name, _)| name.as_str());
    // Each file's text is read again only in a crate that defines macros.
    let found: Vec<Found> = tree
        .mounted
        .par_iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let calls_one = |t: &str| {
                let called = crate::lower::called_names(t.as_bytes());
                called
                    .iter()
                    .any(|n| defined.contains(n.as_str()))
                    .then(|| (t.to_string(), called))
            };
            // A scanned file's text is copied only when it calls one of the macros.
            let (text, called) = if m.parsed {
                calls_one(&tree.db.get(m.id).text)?
            } else {
                with_text(&m.path, calls_one).ok()??
            };
            let own = m
                .macros
                .as_deref()
                .is_some_and(|f| f.defs.iter().any(|d| called.contains(&d.name)));
            let (env, winsock) = env_of(&defs, i, m, called, lib_name);
            // A parsed file has expanded its own macros already. A scanned one matters when an
            // expansion can reach Winsock: through a macro's body, or a name the call passes
            // in (`ws!(WSAStartup, ..)` pastes it into a call, which the prefilter cannot see).
            let needed = if m.parsed {
                !env.macros.is_empty()
            } else {
                (own || !env.macros.is_empty()) && (winsock || names_winsock(&text))
            };
            if tree.cache.is_binding_file(&m.path) {
                return None;
            }
            if !needed {
                let bodies: Vec<&str> = env.macros.iter().map(|d| d.text.as_str()).collect();
                let bodies = bodies.join("\n");
                return Some(Found::Bodies(i, bodies));
            }
            Some(Found::Job(i, text, Arc::new(env)))
        })
        .collect();
    let mut jobs = Vec::new();
    for f in found {
        match f {
            Found::Job(i, text, env) => jobs.push((i, text, env)),
            Found::Bodies(i, bodies) => {
                out.macro_bodies
                    .insert(tree.mounted[i].path.clone(), bodies);
            }
        }
    }
    let results: Vec<(usize, FileId, Result<FileIr, Diagnostic>)> = jobs
        .into_par_iter()
        .map(|(i, text, env)| {
            let m = &tree.mounted[i];
            let whole = tree.whole.contains(&m.path);
            let c = tree.cache.entry(&m.path);
            // The same file seen with the same macros (another target of the package) keeps
            // its id. Its IR is lowered again rather than kept: kept for the whole run, these
            // IRs were a third of the Winsock-heavy corpus's peak memory.
            let id = {
                let mut done = c.with_macros.lock().unwrap_or_else(|e| e.into_inner());
                match done.iter().find(|(w, e, _)| *w == whole && **e == *env) {
                    Some((_, _, id)) => *id,
                    None => {
                        // A scanned file's entry in the store has no text yet: this gives it
                        // its text.
                        let id = tree.db.add(m.path.clone(), display_path(&m.path), text);
                        done.push((whole, env.clone(), id));
                        id
                    }
                }
            };
            let src = tree.db.get(id);
            let r = crate::parse::parse_with_macros(id, &src.text, whole, tree.input.edition, &env);
            (i, id, r)
        })
        .collect();
    for (i, id, r) in results {
        let m = &tree.mounted[i];
        match r {
            Ok(ir) => {
                out.elided.retain(|(f, _)| *f != id);
                if !ir.elided.is_empty() {
                    out.elided.push((id, ir.elided.clone()));
                }
                if !m.parsed {
                    out.too_large.extend(ir.too_large.iter().copied());
                    out.parsed_files.push(id);
                    out.unparsed.retain(|p| *p != m.path);
                }
                out.parsed.insert(id, ir);
            }
            // The file parsed without the macros, and these cannot break it: a scanned one.
            Err(d) => out.diags.push(d),
        }
    }
}

/// The definitions of other files that file `i` can call, following the macros they call
/// in turn; and whether one of them names a Winsock function.
fn env_of(
    defs: &[Def<'_>],
    i: usize,
    m: &Mounted,
    called: BTreeSet<String>,
    lib_name: Option<&str>,
) -> (MacroEnv, bool) {
    // How file `i` sees a definition: textually, by export, or not at all.
    let seen = |d: &Def<'_>| -> Option<CrateMacro> {
        if d.file == i {
            return None;
        }
        let same_tree = d.context == m.context;
        let textual = (same_tree && m.key.starts_with(d.scope)).then(|| d.key.clone());
        let krate = match (d.context, m.context) {
            (a, b) if a == b => None,
            // A bin target sees the library's exported macros; the library sees nothing of the bin.
            (true, false) if d.def.exported => Some(lib_name?.to_string()),
            _ => return None,
        };
        // Not visible by name, a macro of the same tree may still be called by the path of
        // a re-export (`crate::util::name!`).
        if textual.is_none() && !d.def.exported && !same_tree {
            return None;
        }
        Some(CrateMacro {
            name: d.def.name.clone(),
            exported: d.def.exported,
            textual,
            krate,
            text: d.def.text.clone(),
        })
    };
    let mut wanted: Vec<String> = called.into_iter().collect();
    let mut asked: HashSet<String> = wanted.iter().cloned().collect();
    let mut taken = BTreeSet::new();
    let mut winsock = false;
    while let Some(name) = wanted.pop() {
        for (k, d) in defs.iter().enumerate() {
            if d.def.name != name || taken.contains(&k) || seen(d).is_none() {
                continue;
            }
            taken.insert(k);
            winsock |= d.names_winsock;
            for c in &d.calls {
                if asked.insert(c.clone()) {
                    wanted.push(c.clone());
                }
            }
        }
    }
    let macros = taken.into_iter().filter_map(|k| seen(&defs[k])).collect();
    (
        MacroEnv {
            key: m.key.clone(),
            macros,
        },
        winsock,
    )
}

/// The text names a Winsock function, as a whole word (a macro body may paste the rest of
/// the call together, so calls are not looked for). A name that is also an ordinary word
/// (`send`, `socket`: libc declares them in every Unix module) counts only beside a word
/// that names Winsock, as in the prefilter (`scan::has_marker`).
fn names_winsock(text: &str) -> bool {
    use crate::winsock::Trigger;
    let mut generic = false;
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        match crate::winsock::api(word).map(|a| a.trigger) {
            Some(Trigger::Always | Trigger::WsaPrefix) => return true,
            Some(Trigger::WithMarker) => generic = true,
            _ => {}
        }
    }
    generic && crate::scan::has_marker(text.as_bytes())
}

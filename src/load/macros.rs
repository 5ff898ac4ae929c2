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

/// What of `macro_rules!` a file's text has.
#[derive(Clone, Default)]
pub(super) enum MacroText {
    /// It names neither `macro_rules` nor `macro_use`, or is too large to parse whole (its
    /// macros serve only its own parts).
    #[default]
    None,
    /// Lexed with the first read: it mounts macros (`#[macro_use] mod`), which decides the
    /// scopes of the tree as it is walked.
    Lexed(Arc<FileMacros>),
    /// The names after its `macro_rules!` (comments and strings too), and whether it names
    /// `macro_export`: it is lexed only when another file calls one of them. Most macros
    /// serve only the file that defines them.
    Later(Arc<[String]>, bool),
}

impl MacroText {
    /// Does the file lend its macros to the `#[macro_use] mod` whose name is at `at`?
    pub fn mounts(&self, at: u32) -> bool {
        matches!(self, MacroText::Lexed(f) if f.macro_use_mods.contains(&at))
    }
}

pub(super) fn of_text(text: &str) -> MacroText {
    if text.len() > crate::parse::MAX_ITEM_BYTES {
        return MacroText::None;
    }
    let b = text.as_bytes();
    let names = |w: &[u8]| memchr::memmem::find(b, w).is_some();
    if mounts_macros(b) {
        return lexed(text).map_or(MacroText::None, MacroText::Lexed);
    }
    let defined = defined_names(b);
    if defined.is_empty() {
        return MacroText::None;
    }
    MacroText::Later(defined.into(), names(b"macro_export"))
}

/// May the text have a `#[macro_use] mod`? A `macro_use` with the word `mod` before the
/// next `;` or `{` (`#[macro_use] extern crate log;` has none).
fn mounts_macros(text: &[u8]) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    memchr::memmem::find_iter(text, b"macro_use").any(|at| {
        let rest = &text[at + "macro_use".len()..];
        let end = memchr::memchr2(b';', b'{', rest).unwrap_or(rest.len());
        let head = &rest[..end];
        memchr::memmem::find_iter(head, b"mod")
            .any(|k| (k == 0 || !ident(head[k - 1])) && head.get(k + 3).is_none_or(|&c| !ident(c)))
    })
}

/// The file's macros, lexed, when it defines or mounts any.
fn lexed(text: &str) -> Option<Arc<FileMacros>> {
    let found = crate::scan::file_macros(text);
    (!found.defs.is_empty() || !found.macro_use_mods.is_empty()).then(|| Arc::new(found))
}

/// The names after each `macro_rules!` of the text, by bytes.
fn defined_names(text: &[u8]) -> Vec<String> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let skip_space = |k: &mut usize| {
        while text.get(*k).is_some_and(|c| c.is_ascii_whitespace()) {
            *k += 1;
        }
    };
    let mut out: Vec<String> = Vec::new();
    for at in memchr::memmem::find_iter(text, b"macro_rules") {
        let mut k = at + "macro_rules".len();
        skip_space(&mut k);
        if text.get(k) != Some(&b'!') {
            continue;
        }
        k += 1;
        skip_space(&mut k);
        let start = k;
        while text.get(k).is_some_and(|&c| ident(c)) {
            k += 1;
        }
        if let Ok(name) = std::str::from_utf8(&text[start..k]) {
            if !name.is_empty() && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    }
    out
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
    pub macros: MacroText,
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
    pub macro_bodies: &'a mut HashMap<PathBuf, Vec<Arc<str>>>,
    pub exported_macros: &'a mut Vec<String>,
}

/// What a file needs: to be lowered with macros of other files, or (a scanned file whose
/// expansions name no Winsock function) the bodies of those it calls, for the demand rounds.
enum Found {
    Job(usize, Arc<MacroEnv>),
    Bodies(usize, Vec<Arc<str>>),
}

/// The macros a file's text calls, read once per run (when a crate that defines macros
/// mounts it).
pub(super) struct MacroCalls {
    called: BTreeSet<String>,
}

/// A name's hash in `called_hashes`.
fn name_hash(name: &[u8]) -> u32 {
    // FNV-1a: names are short, and a collision costs only a file read again.
    name.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The hashes of the macros a text calls, sorted: kept for every file from its first read
/// (a few bytes each), so that a crate which defines macros reads again only the files that
/// may call one of them.
pub(super) fn called_hashes(text: &str) -> Arc<[u32]> {
    let mut out = Vec::new();
    crate::lower::for_each_called(text.as_bytes(), |n| out.push(name_hash(n)));
    out.sort_unstable();
    out.dedup();
    out.into()
}

fn calls_of(tree: &Tree<'_>, m: &Mounted) -> Option<Arc<MacroCalls>> {
    let c = tree.cache.entry(&m.path);
    if let Some(calls) = c.macro_calls.get() {
        return Some(calls.clone());
    }
    let of = |t: &str| MacroCalls {
        called: crate::lower::called_names(t.as_bytes()),
    };
    let calls = if m.parsed {
        Arc::new(of(&tree.db.get(m.id).text))
    } else {
        Arc::new(with_text(&m.path, of).ok()?)
    };
    Some(c.macro_calls.get_or_init(|| calls).clone())
}

/// Whether a file's text names a Winsock function (`scan::Verdict::names_winsock`).
fn names_winsock(tree: &Tree<'_>, m: &Mounted) -> bool {
    let c = tree.cache.entry(&m.path);
    c.names_winsock.get().copied().unwrap_or_else(|| {
        with_text(&m.path, |t| crate::scan::names_winsock(t.as_bytes())).unwrap_or(false)
    })
}

/// The files lowered with macros of other files most recently, up to `RECENT_BYTES` of their
/// text: the targets of a package (library, bins, examples, tests) run one after another
/// and mount the same library files with the same macros.
#[derive(Default)]
pub(super) struct Recent {
    lowered: std::collections::VecDeque<(FileId, usize, Result<FileIr, Diagnostic>)>,
    bytes: usize,
}

/// Enough for the files of a package that call crate macros; bounded, since the IRs of a
/// whole run's were a third of the Winsock-heavy corpus's peak memory.
const RECENT_BYTES: usize = 512 << 10;

impl Recent {
    pub fn get(&self, id: FileId) -> Option<Result<FileIr, Diagnostic>> {
        self.lowered
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, _, r)| r.clone())
    }

    pub fn keep(&mut self, id: FileId, bytes: usize, r: &Result<FileIr, Diagnostic>) {
        if bytes > RECENT_BYTES || self.lowered.iter().any(|(i, _, _)| *i == id) {
            return;
        }
        while self.bytes + bytes > RECENT_BYTES {
            let Some((_, b, _)) = self.lowered.pop_front() else {
                break;
            };
            self.bytes -= b;
        }
        self.lowered.push_back((id, bytes, r.clone()));
        self.bytes += bytes;
    }
}

/// The files one crate lowered with macros of other files, by id (an id stands for the file
/// and the macros it was lowered with), kept while the driver loads the crate again in its
/// demand rounds; a round that finds the same file with the same macros reuses the lowering.
/// Kept per crate, not per run: for the whole run these IRs were a third of the
/// Winsock-heavy corpus's peak memory.
#[derive(Default)]
pub struct MacroRounds {
    lowered: HashMap<FileId, Result<FileIr, Diagnostic>>,
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
pub(super) fn expand_crate_macros(tree: &Tree<'_>, out: &mut Loaded<'_>, rounds: &mut MacroRounds) {
    if tree
        .mounted
        .iter()
        .all(|m| matches!(m.macros, MacroText::None))
    {
        return;
    }
    let hashes: Vec<Arc<[u32]>> = tree
        .mounted
        .par_iter()
        .map(|m| {
            let c = tree.cache.entry(&m.path);
            // Set by the file's first read; read again only if that did not happen.
            let h = c.called_hashes.get_or_init(|| {
                if m.parsed {
                    called_hashes(&tree.db.get(m.id).text)
                } else {
                    with_text(&m.path, called_hashes).unwrap_or_default()
                }
            });
            h.clone()
        })
        .collect();
    let mut callers: HashMap<u32, usize> = HashMap::new();
    for h in hashes.iter().flat_map(|h| h.iter()) {
        *callers.entry(*h).or_default() += 1;
    }
    let file_macros: Vec<Option<Arc<FileMacros>>> = tree
        .mounted
        .par_iter()
        .zip(hashes.par_iter())
        .map(|(m, own)| match &m.macros {
            MacroText::None => None,
            MacroText::Lexed(f) => Some(f.clone()),
            MacroText::Later(names, _) => {
                let by_own = |n: &String| own.binary_search(&name_hash(n.as_bytes())).is_ok();
                let by_other = |n: &String| {
                    let h = name_hash(n.as_bytes());
                    callers.get(&h).copied().unwrap_or(0) > usize::from(by_own(n))
                };
                // Called from another file, or by a scanned file whose own calls may paste a
                // Winsock name together (`own` below).
                let wanted = names.iter().any(by_other)
                    || !m.parsed && names.iter().any(by_own) && names_winsock(tree, m);
                if !wanted {
                    return None;
                }
                let c = tree.cache.entry(&m.path);
                let later = c
                    .macros_later
                    .get_or_init(|| with_text(&m.path, lexed).ok().flatten());
                later.clone()
            }
        })
        .collect();
    let defs: Vec<Def<'_>> = tree
        .mounted
        .iter()
        .zip(&file_macros)
        .enumerate()
        .flat_map(|(i, (m, macros))| {
            let macros = macros.as_deref().map_or(&[][..], |f| &f.defs[..]);
            macros.iter().map(move |d| Def {
                file: i,
                key: m.key.iter().copied().chain([d.at]).collect(),
                scope: &m.key[..m.scope],
                context: m.context,
                def: d,
                calls: crate::lower::called_names(d.text.as_bytes()),
                names_winsock: crate::scan::names_winsock(d.text.as_bytes()),
            })
        })
        .collect();
    out.exported_macros.extend(
        defs.iter()
            .filter(|d| d.def.exported && !d.context)
            .map(|d| d.def.name.clone()),
    );
    // A file not lexed (none of its macros is called in the tree) may still export one to a
    // bin of the package: all its names count.
    for (m, lexed) in tree.mounted.iter().zip(&file_macros) {
        if let (MacroText::Later(names, true), None, false) = (&m.macros, lexed, m.context) {
            out.exported_macros.extend(names.iter().cloned());
        }
    }
    if defs.is_empty() {
        return;
    }
    let defined: HashSet<&str> = defs.iter().map(|d| d.def.name.as_str()).collect();
    let defined_hashes: HashSet<u32> = defined.iter().map(|n| name_hash(n.as_bytes())).collect();
    let lib_name = tree.input.lib.as_ref().map(|(name, _)| name.as_str());
    let found: Vec<Found> = tree
        .mounted
        .par_iter()
        .enumerate()
        .filter_map(|(i, m)| {
            if !hashes[i].iter().any(|h| defined_hashes.contains(h)) {
                return None;
            }
            let calls = calls_of(tree, m)?;
            if !calls.called.iter().any(|n| defined.contains(n.as_str())) {
                return None;
            }
            let own = file_macros[i]
                .as_deref()
                .is_some_and(|f| f.defs.iter().any(|d| calls.called.contains(&d.name)));
            let (env, winsock) = env_of(&defs, i, m, &calls.called, lib_name);
            // A parsed file has expanded its own macros already. A scanned one matters when an
            // expansion can reach Winsock: through a macro's body, or a name the call passes
            // in (`ws!(WSAStartup, ..)` pastes it into a call, which the prefilter cannot see).
            let needed = if m.parsed {
                !env.macros.is_empty()
            } else {
                (own || !env.macros.is_empty()) && (winsock || names_winsock(tree, m))
            };
            if tree.cache.is_binding_file(&m.path) {
                return None;
            }
            if !needed {
                let bodies = env.macros.iter().map(|d| d.text.clone()).collect();
                return Some(Found::Bodies(i, bodies));
            }
            Some(Found::Job(i, Arc::new(env)))
        })
        .collect();
    let mut jobs = Vec::new();
    for f in found {
        match f {
            Found::Job(i, env) => jobs.push((i, env)),
            Found::Bodies(i, bodies) => {
                out.macro_bodies
                    .insert(tree.mounted[i].path.clone(), bodies);
            }
        }
    }
    // The same file seen with the same macros (another target of the package, or another
    // round of this crate) keeps its id. A file that can no longer be read keeps what it was
    // read as.
    let ids: Vec<(usize, FileId)> = jobs
        .into_par_iter()
        .filter_map(|(i, env)| Some((i, lowered_id(tree, &tree.mounted[i], env)?)))
        .collect();
    let fresh: Vec<(FileId, Result<FileIr, Diagnostic>)> = ids
        .par_iter()
        .filter_map(|&(i, id)| {
            if rounds.lowered.contains_key(&id) {
                return None;
            }
            if let Some(r) = tree.cache.recent_lowered(id) {
                return Some((id, r));
            }
            let m = &tree.mounted[i];
            let whole = tree.whole.contains(&m.path);
            let env = tree.cache.entry(&m.path).env_of(id)?;
            let src = tree.db.get(id);
            let r = crate::parse::parse_with_macros(id, &src.text, whole, tree.input.edition, &env);
            tree.cache.keep_lowered(id, src.text.len(), &r);
            Some((id, r))
        })
        .collect();
    rounds.lowered.extend(fresh);
    for (i, id) in ids {
        let m = &tree.mounted[i];
        match rounds.lowered.get(&id).cloned() {
            Some(Ok(ir)) => {
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
            Some(Err(d)) => out.diags.push(d),
            None => {}
        }
    }
}

/// The id of file `m` lowered with `env`: a new one (given the file's text) the first time.
fn lowered_id(tree: &Tree<'_>, m: &Mounted, env: Arc<MacroEnv>) -> Option<FileId> {
    let whole = tree.whole.contains(&m.path);
    let c = tree.cache.entry(&m.path);
    let mut done = c.with_macros.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, id)) = done.iter().find(|(w, e, _)| *w == whole && **e == *env) {
        return Some(*id);
    }
    let text = if m.parsed {
        tree.db.get(m.id).text.clone()
    } else {
        read_text(&m.path).ok()?
    };
    // A scanned file's entry in the store has no text yet: this gives it its text.
    let id = tree.db.add(m.path.clone(), display_path(&m.path), text);
    done.push((whole, env, id));
    Some(id)
}

/// The definitions of other files that file `i` can call, following the macros they call
/// in turn; and whether one of them names a Winsock function.
fn env_of(
    defs: &[Def<'_>],
    i: usize,
    m: &Mounted,
    called: &BTreeSet<String>,
    lib_name: Option<&str>,
) -> (MacroEnv, bool) {
    // How file `i` sees a definition: textually, by export, or not at all.
    let seen = |d: &Def<'_>| -> Option<CrateMacro> {
        if d.file == i {
            return None;
        }
        let same_tree = d.context == m.context;
        let textual = (same_tree && m.key.starts_with(d.scope)).then(|| d.key[1..].to_vec());
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
    let mut wanted: Vec<String> = called.iter().cloned().collect();
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
    // Keys of one tree share their first number, which tells the crate's own tree from its
    // library's: left out, a library file has the same macros in the library's run and as
    // context of each bin, and is lowered once for all of them.
    (
        MacroEnv {
            key: m.key[1..].to_vec(),
            macros,
        },
        winsock,
    )
}

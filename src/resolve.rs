//! Names: which function a call reaches.
//!
//! Builds the crate's module tree from lowered files (`mod`, `use`, `extern`,
//! `impl` items) and answers, for a call path or method name written in some
//! function, whether it is a Winsock function (any binding style of WINSOCK.md
//! section 6), a function of this crate, or unknown. Knows nothing of flow.

use crate::ir::{FnIr, ImplIr, Item, LinkKind, Pat, UseEntry};
use crate::source::Span;
use crate::winsock;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModId(pub u32);

#[derive(Debug, Default)]
pub struct Module {
    pub parent: Option<ModId>,
    pub name: String,
    children: HashMap<String, ModId>,
    fns: HashMap<String, FnId>,
    /// Functions declared in `extern` blocks that link ws2_32/wsock32 (or link nothing and carry a Winsock name).
    winsock_externs: HashSet<String>,
    /// Functions declared in `extern` blocks of other libraries: shadow Winsock names.
    other_externs: HashSet<String>,
    types: HashSet<String>,
    uses: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnKind {
    Free,
    /// In an `impl` or `trait` block.
    Assoc,
    /// A `static`/`const` initialiser or `lazy_static!` entry.
    StaticInit,
}

#[derive(Debug)]
pub struct FnDef {
    pub id: FnId,
    pub module: ModId,
    pub kind: FnKind,
    pub impl_ty: Option<String>,
    pub trait_name: Option<String>,
    /// `net::Conn::close`, for notes.
    pub display: String,
    pub ir: std::sync::Arc<FnIr>,
}

impl FnDef {
    pub fn name_span(&self) -> Span {
        self.ir.name_span
    }
}

/// What a call expression reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    Winsock(String),
    Crate(FnId),
    /// A tuple-struct or enum-variant constructor of a crate type, or `Ok`/`Err`/`Some`.
    Ctor(String),
    /// Not ours, not Winsock: the last segment of the path.
    Unknown(String),
    /// Resolution ran out of its step budget (a very long chain of `use` re-exports): the
    /// path as written. Treated as unknown, and said.
    GaveUp(String),
}

#[derive(Debug, Default)]
pub struct CrateModel {
    pub name: String,
    pub modules: Vec<Module>,
    pub fns: Vec<FnDef>,
    assoc: HashMap<(String, String), FnId>,
    methods: HashMap<String, Vec<FnId>>,
    crate_types: HashSet<String>,
    /// `impl Drop for T`: T -> its `drop`.
    pub drop_impls: HashMap<String, FnId>,
}

/// Resolution steps one query may take. Cycles of globs and re-exports are cut by
/// `Budget::first_lookup`; the step limit bounds what is left (very long re-export chains).
pub struct Budget {
    steps: std::cell::Cell<u32>,
    /// Names (and `use` paths) already looked up in a module during this query: a second
    /// lookup of one is a cycle (`pub use via::*` and `use super::*` in `via`; a `use` that
    /// names itself) or a lookup that failed.
    looked_up: std::cell::RefCell<HashSet<(ModId, String)>>,
}

/// Steps of one resolution query.
pub const RESOLVE_STEPS: u32 = 256;

impl Budget {
    fn new() -> Budget {
        Budget {
            steps: std::cell::Cell::new(RESOLVE_STEPS),
            looked_up: Default::default(),
        }
    }

    fn step(&self) -> bool {
        let left = self.steps.get();
        self.steps.set(left.saturating_sub(1));
        left > 0
    }

    /// Every step was taken: a query that failed may have failed for want of steps.
    fn spent(&self) -> bool {
        self.steps.get() == 0
    }

    /// False when `name` was looked up in `mid` before in this query: the search returns on
    /// the first success, so that lookup is on the stack (a cycle) or failed.
    fn first_lookup(&self, mid: ModId, name: &str) -> bool {
        self.looked_up.borrow_mut().insert((mid, name.to_string()))
    }
}

impl CrateModel {
    /// Builds the model; `take_mod` hands over the items of an out-of-line `mod x;` (by the span of its name).
    pub fn build(
        name: String,
        root: Vec<Item>,
        take_mod: &mut dyn FnMut(Span) -> Option<Vec<Item>>,
    ) -> CrateModel {
        let mut m = CrateModel {
            name,
            ..CrateModel::default()
        };
        m.modules.push(Module {
            name: "crate".into(),
            ..Module::default()
        });
        m.add_items(ModId(0), root, take_mod, "");
        m
    }

    fn module(&self, id: ModId) -> &Module {
        &self.modules[id.0 as usize]
    }

    fn module_mut(&mut self, id: ModId) -> &mut Module {
        &mut self.modules[id.0 as usize]
    }

    pub fn fn_def(&self, id: FnId) -> &FnDef {
        &self.fns[id.0 as usize]
    }

    fn add_items(
        &mut self,
        mid: ModId,
        items: Vec<Item>,
        take_mod: &mut dyn FnMut(Span) -> Option<Vec<Item>>,
        prefix: &str,
    ) {
        for item in items {
            match item {
                Item::Fn(f) => {
                    let name = f.name.clone();
                    let id = self.add_fn(mid, f, FnKind::Free, None, None, prefix);
                    self.module_mut(mid).fns.insert(name, id);
                }
                Item::Mod(md) => {
                    let items = match md.inline {
                        Some(items) => Some(items),
                        None => take_mod(md.span),
                    };
                    let child = ModId(self.modules.len() as u32);
                    self.modules.push(Module {
                        parent: Some(mid),
                        name: md.name.clone(),
                        ..Module::default()
                    });
                    self.module_mut(mid).children.insert(md.name.clone(), child);
                    if let Some(items) = items {
                        let p = format!("{prefix}{}::", md.name);
                        self.add_items(child, items, take_mod, &p);
                    }
                }
                Item::Use(entries) => {
                    for UseEntry { alias, path } in entries {
                        let m = self.module_mut(mid);
                        if alias == "*" {
                            m.globs.push(path);
                        } else if alias != "_" {
                            m.uses.insert(alias, path);
                        }
                    }
                }
                Item::Extern { link, names } => {
                    let m = self.module_mut(mid);
                    for n in names {
                        let is_ws = match link {
                            LinkKind::Winsock => true,
                            LinkKind::Unspecified => winsock::is_known_function(&n),
                            LinkKind::Other => false,
                        };
                        if is_ws {
                            m.winsock_externs.insert(n);
                        } else {
                            m.other_externs.insert(n);
                        }
                    }
                }
                Item::Impl(ImplIr {
                    self_ty,
                    trait_name,
                    fns,
                }) => {
                    for f in fns {
                        let name = f.name.clone();
                        let has_self = f.has_self;
                        let id = self.add_fn(
                            mid,
                            f,
                            FnKind::Assoc,
                            Some(self_ty.clone()),
                            trait_name.clone(),
                            prefix,
                        );
                        self.assoc.insert((self_ty.clone(), name.clone()), id);
                        if has_self {
                            self.methods.entry(name.clone()).or_default().push(id);
                        }
                        if trait_name.as_deref() == Some("Drop") && name == "drop" {
                            self.drop_impls.insert(self_ty.clone(), id);
                        }
                    }
                }
                Item::Type { name } => {
                    self.crate_types.insert(name.clone());
                    self.module_mut(mid).types.insert(name);
                }
                Item::Static { body, .. } => {
                    self.add_fn(mid, (*body).into(), FnKind::StaticInit, None, None, prefix);
                }
            }
        }
    }

    fn add_fn(
        &mut self,
        mid: ModId,
        f: std::sync::Arc<FnIr>,
        kind: FnKind,
        impl_ty: Option<String>,
        trait_name: Option<String>,
        prefix: &str,
    ) -> FnId {
        // The body's own items go to the module; the IR may be shared with other crates, so they
        // are copied out of it (they stay in `ir.nested`, which nothing else reads).
        let nested = f.nested.clone();
        let id = FnId(self.fns.len() as u32);
        let display = match (&impl_ty, kind) {
            (Some(t), _) => format!("{prefix}{t}::{}", f.name),
            (None, FnKind::StaticInit) => format!("{prefix}{} (initialiser)", f.name),
            _ => format!("{prefix}{}", f.name),
        };
        self.fns.push(FnDef {
            id,
            module: mid,
            kind,
            impl_ty,
            trait_name,
            display,
            ir: f,
        });
        // Items declared inside a body are visible in it; we approximate by giving them to the module.
        self.add_items(mid, nested, &mut |_| None, prefix);
        id
    }

    /// Resolves a call path written inside `ctx`.
    pub fn resolve_call(&self, ctx: &FnDef, segs: &[String]) -> Callee {
        let Some(last) = segs.last() else {
            return Callee::Unknown(String::new());
        };
        if segs.len() == 1 && matches!(last.as_str(), "Ok" | "Err" | "Some") {
            return Callee::Ctor(last.clone());
        }
        if segs.len() == 2 && segs[0] == "Self" {
            if let Some(t) = &ctx.impl_ty {
                if let Some(id) = self.assoc.get(&(t.clone(), segs[1].clone())) {
                    return Callee::Crate(*id);
                }
                return Callee::Ctor(t.clone());
            }
        }
        if segs.len() == 1 && segs[0] == "Self" {
            if let Some(t) = &ctx.impl_ty {
                return Callee::Ctor(t.clone());
            }
        }
        let budget = Budget::new();
        match self.resolve_in(ctx.module, segs, &budget) {
            Some(c) => c,
            None => {
                // `Type::new` where `Type` came in through a path we could not follow.
                if segs.len() >= 2 {
                    let ty = &segs[segs.len() - 2];
                    if let Some(id) = self.assoc.get(&(ty.clone(), last.clone())) {
                        return Callee::Crate(*id);
                    }
                }
                if self.crate_types.contains(last) {
                    return Callee::Ctor(last.clone());
                }
                if budget.spent() {
                    return Callee::GaveUp(segs.join("::"));
                }
                Callee::Unknown(last.clone())
            }
        }
    }

    /// Resolves a method call `recv.name(..)`: the impl of the current type for `self.name()`,
    /// otherwise the crate's only method of that name.
    pub fn resolve_method(&self, ctx: &FnDef, recv_is_self: bool, name: &str) -> Option<FnId> {
        if recv_is_self {
            if let Some(t) = &ctx.impl_ty {
                if let Some(id) = self.assoc.get(&(t.clone(), name.to_string())) {
                    return Some(*id);
                }
            }
        }
        match self.methods.get(name).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }

    /// `use` renames (`use path::to::last as alias`) over the crate's modules: (alias, last).
    /// A caller may name the item only by its alias.
    pub fn renamed_imports(&self) -> impl Iterator<Item = (&str, &str)> {
        self.modules.iter().flat_map(|m| {
            m.uses.iter().filter_map(|(alias, path)| {
                let last = path.last()?;
                (alias != last).then_some((alias.as_str(), last.as_str()))
            })
        })
    }

    /// Is `name` a crate type (for constructor calls and struct literals)?
    pub fn is_crate_type(&self, name: &str) -> bool {
        self.crate_types.contains(name)
    }

    fn resolve_in(&self, mid: ModId, segs: &[String], b: &Budget) -> Option<Callee> {
        if !b.step() || segs.is_empty() {
            return None;
        }
        let first = segs[0].as_str();
        if segs.len() == 1 {
            return self.lookup_name(mid, first, b);
        }
        match first {
            "::" => return self.extern_path(&segs[1..]),
            "crate" => return self.walk(ModId(0), &segs[1..], b),
            "self" => return self.walk(mid, &segs[1..], b),
            "super" => {
                let parent = self.module(mid).parent.unwrap_or(ModId(0));
                return self.walk(parent, &segs[1..], b);
            }
            _ => {}
        }
        let m = self.module(mid);
        if let Some(&child) = m.children.get(first) {
            return self.walk(child, &segs[1..], b);
        }
        if segs.len() == 2 {
            if let Some(id) = self.assoc.get(&(first.to_string(), segs[1].clone())) {
                if m.types.contains(first) || self.crate_types.contains(first) {
                    return Some(Callee::Crate(*id));
                }
            }
        }
        if let Some(target) = m.uses.get(first) {
            let mut full = target.clone();
            full.extend_from_slice(&segs[1..]);
            return self.resolve_use_path(mid, &full, b);
        }
        // A module reached through a glob import (`use crate::net::*; conn::open()`, or
        // `use windows_sys::Win32::Networking::*; WinSock::WSAStartup()`).
        for g in &m.globs {
            if let Some(gm) = self.module_of_path(mid, g, b) {
                if let Some(&child) = self.module(gm).children.get(first) {
                    return self.walk(child, &segs[1..], b);
                }
            } else {
                let mut full = g.clone();
                full.extend_from_slice(segs);
                if let Some(c) = self.extern_path(&full) {
                    return Some(c);
                }
            }
        }
        self.extern_path(segs)
    }

    /// A single name in module `mid`: local items shadow imports, imports shadow globs.
    fn lookup_name(&self, mid: ModId, name: &str, b: &Budget) -> Option<Callee> {
        let m = self.module(mid);
        if let Some(&id) = m.fns.get(name) {
            return Some(Callee::Crate(id));
        }
        if m.winsock_externs.contains(name) {
            return Some(Callee::Winsock(name.to_string()));
        }
        if m.other_externs.contains(name) {
            return Some(Callee::Unknown(name.to_string()));
        }
        if m.types.contains(name) {
            return Some(Callee::Ctor(name.to_string()));
        }
        if let Some(target) = m.uses.get(name) {
            return self.resolve_use_path(mid, target, b);
        }
        if !m.globs.is_empty() && !b.first_lookup(mid, name) {
            return None;
        }
        for g in &m.globs {
            if winsock::is_winsock_module(g) {
                if winsock::is_known_function(name) {
                    return Some(Callee::Winsock(name.to_string()));
                }
                continue;
            }
            if let Some(gm) = self.module_of_path(mid, g, b) {
                if gm != mid {
                    if let Some(c) = self.lookup_name(gm, name, b) {
                        return Some(c);
                    }
                }
            }
            // `use super::*` in a child module and the like are handled above; a glob of an
            // enum or unknown crate contributes nothing we can name.
        }
        None
    }

    /// Walks `segs` down from module `mid`; the last segment is looked up there.
    fn walk(&self, mid: ModId, segs: &[String], b: &Budget) -> Option<Callee> {
        if !b.step() || segs.is_empty() {
            return None;
        }
        if segs.len() == 1 {
            return self.lookup_name(mid, &segs[0], b);
        }
        match segs[0].as_str() {
            "super" => {
                let parent = self.module(mid).parent.unwrap_or(ModId(0));
                return self.walk(parent, &segs[1..], b);
            }
            "self" => return self.walk(mid, &segs[1..], b),
            _ => {}
        }
        let m = self.module(mid);
        if let Some(&child) = m.children.get(&segs[0]) {
            return self.walk(child, &segs[1..], b);
        }
        if segs.len() == 2 {
            if let Some(id) = self.assoc.get(&(segs[0].clone(), segs[1].clone())) {
                return Some(Callee::Crate(*id));
            }
        }
        if let Some(target) = m.uses.get(&segs[0]) {
            // A re-export: `pub use windows_sys::Win32::Networking::WinSock as ws;`
            let mut full = target.clone();
            full.extend_from_slice(&segs[1..]);
            return self.resolve_use_path(mid, &full, b);
        }
        None
    }

    /// A path as written in a `use` of module `mid` (2018 rules: crate name, `crate`, `self`, `super`, or a local name).
    fn resolve_use_path(&self, mid: ModId, path: &[String], b: &Budget) -> Option<Callee> {
        if !b.step() || path.is_empty() {
            return None;
        }
        // A `use` that leads back to itself (`use crate::X` where the crate root's `X` is
        // that same import) would go round until the budget is spent.
        if !b.first_lookup(mid, &path.join("::")) {
            return None;
        }
        match path[0].as_str() {
            "crate" => return self.walk(ModId(0), &path[1..], b),
            "self" => return self.walk(mid, &path[1..], b),
            "super" => {
                let parent = self.module(mid).parent.unwrap_or(ModId(0));
                return self.walk(parent, &path[1..], b);
            }
            "::" => return self.extern_path(&path[1..]),
            _ => {}
        }
        if winsock::is_winsock_fn_path(path) {
            return self.extern_path(path);
        }
        let m = self.module(mid);
        if m.children.contains_key(&path[0]) {
            return self.walk(mid, path, b);
        }
        if path.len() == 1 {
            if let Some(c) = self.lookup_local_item(mid, &path[0]) {
                return Some(c);
            }
        }
        // 2015-style paths are relative to the crate root.
        if self.module(ModId(0)).children.contains_key(&path[0]) {
            return self.walk(ModId(0), path, b);
        }
        if path.len() >= 2 {
            if let Some(target) = m.uses.get(&path[0]) {
                if target.last() != Some(&path[0]) || target.len() > 1 {
                    let mut full = target.clone();
                    full.extend_from_slice(&path[1..]);
                    return self.resolve_use_path(mid, &full, b);
                }
            }
        }
        self.extern_path(path)
    }

    fn lookup_local_item(&self, mid: ModId, name: &str) -> Option<Callee> {
        let m = self.module(mid);
        if let Some(&id) = m.fns.get(name) {
            return Some(Callee::Crate(id));
        }
        if m.winsock_externs.contains(name) {
            return Some(Callee::Winsock(name.to_string()));
        }
        None
    }

    /// The crate module a (glob) path names, if it is one of ours.
    fn module_of_path(&self, mid: ModId, path: &[String], b: &Budget) -> Option<ModId> {
        if !b.step() {
            return None;
        }
        let (start, rest) = match path.first().map(String::as_str) {
            Some("crate") => (ModId(0), &path[1..]),
            Some("self") => (mid, &path[1..]),
            Some("super") => (self.module(mid).parent.unwrap_or(ModId(0)), &path[1..]),
            Some(first) if self.module(mid).children.contains_key(first) => (mid, path),
            Some(first) if self.module(ModId(0)).children.contains_key(first) => (ModId(0), path),
            _ => return None,
        };
        let mut cur = start;
        for seg in rest {
            if seg == "super" {
                cur = self.module(cur).parent.unwrap_or(ModId(0));
                continue;
            }
            cur = *self.module(cur).children.get(seg)?;
        }
        Some(cur)
    }

    /// A path into another crate: Winsock when it names a binding crate's Winsock module.
    fn extern_path(&self, path: &[String]) -> Option<Callee> {
        if winsock::is_winsock_fn_path(path) {
            return path.last().map(|n| Callee::Winsock(n.clone()));
        }
        None
    }
}

/// The local bindings in scope at a point of a body (parameters, `let`, closure parameters,
/// match-arm, `if let`/`while let` and `for` patterns): a call of a name bound here calls the
/// local, never a crate function or Winsock function of that name. Scopes nest as a stack:
/// `mark` before a scope opens, `reset` to the mark when it closes.
#[derive(Debug, Default, Clone)]
pub struct Locals {
    /// Innermost last; the closure (by index in the body) a `let` bound, if it bound one.
    names: Vec<(String, Option<usize>)>,
}

/// What a name written in a body stands for when a local binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// `let f = |..| ..;`: calls of `f` run that closure.
    Closure(usize),
    Value,
}

impl Locals {
    pub fn mark(&self) -> usize {
        self.names.len()
    }

    pub fn reset(&mut self, mark: usize) {
        self.names.truncate(mark);
    }

    pub fn bind(&mut self, name: &str, closure: Option<usize>) {
        self.names.push((name.to_string(), closure));
    }

    /// Binds every name the pattern binds.
    pub fn bind_pat(&mut self, p: &Pat) {
        match p {
            Pat::Ident(n, sub) => {
                self.bind(n, None);
                if let Some(s) = sub {
                    self.bind_pat(s);
                }
            }
            Pat::TupleStruct(_, v) | Pat::Tuple(v) | Pat::Or(v) => {
                v.iter().for_each(|p| self.bind_pat(p))
            }
            Pat::Wild | Pat::Lit(_) | Pat::Path(_) | Pat::Other => {}
        }
    }

    /// The innermost binding of a one-segment path.
    pub fn get(&self, segs: &[String]) -> Option<Local> {
        let [name] = segs else { return None };
        self.names
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.map_or(Local::Value, Local::Closure))
    }
}

/// Resolution against the table: every function of `winsock::APIS` resolves to Winsock in every
/// binding style that declares it, and a crate function of the same name does not.
#[cfg(test)]
mod table_tests {
    use super::{Callee, CrateModel};
    use crate::winsock::{Api, Style, APIS, BINDING_MODULES, LIBRARIES, LINK_MACROS, STYLES};

    /// The sources that declare `api` in `style`, each with `fn main` calling it through the
    /// path that follows the source.
    fn sources(style: Style, api: &Api) -> Vec<(String, String)> {
        let n = api.name;
        let modules = BINDING_MODULES
            .iter()
            .filter(|(s, m)| *s == style && (style != Style::Winapi || m[2] == api.winapi))
            .map(|(_, m)| m.join("::"));
        match style {
            Style::WindowsSys | Style::Windows | Style::Winapi | Style::Ws2_32Sys => modules
                .flat_map(|m| {
                    let last = m.rsplit("::").next().unwrap_or_default().to_string();
                    [
                        (format!("use {m}::{n};"), n.to_string()),
                        (format!("use {m}::{n} as renamed;"), "renamed".to_string()),
                        (format!("use {m}::*;"), n.to_string()),
                        (String::new(), format!("{m}::{n}")),
                        (String::new(), format!("::{m}::{n}")),
                        (format!("use {m} as ws;"), format!("ws::{n}")),
                        (format!("use {m};"), format!("{last}::{n}")),
                    ]
                })
                .collect(),
            Style::LinkAttr => {
                let mut v: Vec<(String, String)> = LIBRARIES
                    .iter()
                    .flat_map(|lib| [lib.to_string(), format!("{}.dll", lib.to_uppercase())])
                    .map(|lib| {
                        let block = format!(
                            "#[link(name = \"{lib}\")] extern \"system\" {{ fn {n}() -> i32; }}"
                        );
                        (block, n.to_string())
                    })
                    .collect();
                // No `#[link]`: the symbol comes from whatever is linked, so the name decides.
                v.push((
                    format!("extern \"system\" {{ fn {n}() -> i32; }}"),
                    n.to_string(),
                ));
                v
            }
            Style::LinkMacro => LINK_MACROS
                .iter()
                .flat_map(|m| [m.join("::"), format!("::{}", m.join("::"))])
                .flat_map(|m| {
                    LIBRARIES.iter().map(move |lib| {
                        let decl = format!("{m}!(\"{lib}.dll\" \"system\" fn {n}() -> i32);");
                        (decl, n.to_string())
                    })
                })
                .collect(),
        }
    }

    fn resolve(decl: &str, call: &str) -> Callee {
        let text = format!("{decl}\nfn main() {{ {call}(); }}\n");
        let ir = crate::parse::parse(crate::source::FileId(0), &text).expect("parses");
        let model = CrateModel::build("t".into(), ir.items, &mut |_| None);
        let main = model
            .fns
            .iter()
            .find(|f| f.ir.name == "main")
            .expect("main");
        let segs: Vec<String> = match call.strip_prefix("::") {
            Some(rest) => std::iter::once("::".to_string())
                .chain(rest.split("::").map(String::from))
                .collect(),
            None => call.split("::").map(String::from).collect(),
        };
        model.resolve_call(main, &segs)
    }

    #[test]
    fn every_binding_style_of_every_api_resolves_to_winsock() {
        for api in APIS {
            for &style in STYLES {
                let sources = sources(style, api);
                assert!(
                    !sources.is_empty(),
                    "{style:?} has no source for {}",
                    api.name
                );
                for (decl, call) in sources {
                    let got = resolve(&decl, &call);
                    assert_eq!(got, Callee::Winsock(api.name.into()), "{decl} / {call}");
                }
            }
            // A link! declaration in a function body declares it there.
            let in_body = format!(
                "fn main() {{ windows_targets::link!(\"ws2_32.dll\" \"system\" fn {n}() -> i32); {n}(); }}",
                n = api.name
            );
            let ir = crate::parse::parse(crate::source::FileId(0), &in_body).expect("parses");
            let model = CrateModel::build("t".into(), ir.items, &mut |_| None);
            let main = &model.fns[0];
            assert_eq!(
                model.resolve_call(main, &[api.name.to_string()]),
                Callee::Winsock(api.name.into())
            );
        }
    }

    #[test]
    fn other_libraries_and_crate_functions_are_not_winsock() {
        for api in APIS {
            let n = api.name;
            for decl in [
                format!("fn {n}() {{}}"),
                format!("#[link(name = \"kernel32\")] extern \"system\" {{ fn {n}() -> i32; }}"),
                format!("windows_targets::link!(\"kernel32.dll\" \"system\" fn {n}() -> i32);"),
                // A `link!` of some other crate is no declaration we know.
                format!("my_macros::link!(\"ws2_32.dll\" \"system\" fn {n}() -> i32);"),
            ] {
                let got = resolve(&decl, n);
                assert!(!matches!(got, Callee::Winsock(_)), "{decl}: {got:?}");
            }
        }
    }
}

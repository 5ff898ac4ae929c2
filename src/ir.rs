//! The syntax-free intermediate form every later phase reads.
//!
//! `lower` turns a `syn::File` into these values with `source::Span`s, so no
//! syn or proc-macro2 type outlives parsing. It keeps only what the analysis
//! needs: items that name things (modules, uses, functions, impls, extern
//! blocks, statics) and function bodies as a small expression tree.

use crate::source::{FileId, Span};

#[derive(Debug, Default, Clone)]
pub struct FileIr {
    pub file: FileId,
    pub items: Vec<Item>,
    /// Top-level functions of a large file that were not parsed: no Winsock name, no rename,
    /// and nothing kept in the file names them (`parse::elidable`). If code of another file
    /// could reach one, the driver has the file parsed whole (`parse::parse_whole`).
    pub elided: std::sync::Arc<[ElidedFn]>,
    /// Top-level items longer than `parse::MAX_ITEM_BYTES`, not parsed: a syntax tree takes
    /// about 150 bytes per byte of source, so one 50 MB item would need 7 GB. The driver says
    /// so for each one that could matter.
    pub too_large: std::sync::Arc<[ElidedFn]>,
    /// Top-level items that did not parse, each an input diagnostic, when the rest of the file
    /// did (`parse::parse_recovering`): the file is analysed without them.
    pub syntax_errors: std::sync::Arc<[crate::diag::Diagnostic]>,
}

/// A function left out of a file's IR: the item (attributes to closing brace) and its name.
#[derive(Debug, Clone, Copy)]
pub struct ElidedFn {
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone)]
pub enum Item {
    /// Shared: the IR of a parsed file is kept for every crate that reaches it, and cloned.
    Fn(std::sync::Arc<FnIr>),
    Mod(ModIr),
    Use(Vec<UseEntry>),
    /// Functions declared in an `extern` block.
    Extern {
        link: LinkKind,
        names: Vec<String>,
    },
    Impl(ImplIr),
    /// A struct, enum, union or type alias: a name `Type::f` paths can start with.
    Type {
        name: String,
    },
    /// A `static`/`const` initialiser or a `lazy_static!`/`thread_local!` entry:
    /// code that runs once for the life of the process.
    Static {
        name: String,
        body: Box<FnIr>,
    },
}

#[derive(Debug, Clone)]
pub struct ModIr {
    pub name: String,
    pub span: Span,
    /// `Some` for `mod x { .. }`, `None` for `mod x;`.
    pub inline: Option<Vec<Item>>,
    /// The `#[path = ".."]` attribute, if any.
    pub path_attr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseEntry {
    /// The name the import binds; `*` for a glob import; `_` for `as _`.
    pub alias: String,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `#[link(name = "ws2_32")]` or `wsock32`.
    Winsock,
    /// No `#[link]` attribute: the symbol comes from whatever is linked.
    Unspecified,
    /// Some other library.
    Other,
}

#[derive(Debug, Clone)]
pub struct ImplIr {
    /// Last path segment of the self type (`Guard` for `impl Drop for crate::Guard`).
    pub self_ty: String,
    /// Last path segment of the trait, if a trait impl.
    pub trait_name: Option<String>,
    pub fns: Vec<std::sync::Arc<FnIr>>,
}

#[derive(Debug, Default, Clone)]
pub struct FnIr {
    pub name: String,
    pub name_span: Span,
    /// The whole item, from its visibility or `fn` keyword to the closing brace.
    pub span: Span,
    /// The body's opening brace.
    pub body_open: Span,
    pub is_pub: bool,
    /// The symbol name when `#[no_mangle]` or `#[export_name]` exports it.
    pub exported_as: Option<String>,
    pub is_test: bool,
    pub has_self: bool,
    pub params: Vec<String>,
    /// Identifiers appearing in the return type (`io::Result<Guard>` -> io, Result, Guard).
    pub ret_names: Vec<String>,
    pub returns_unit: bool,
    /// Lowering stopped short somewhere in the body (a macro past the expansion budget):
    /// why, for the note that says the analysis of this function is partial.
    pub incomplete: Option<String>,
    pub body: Block,
    /// Closures written in this body, in source order; `Expr::Closure` indexes here.
    pub closures: Vec<ClosureIr>,
    /// Functions, uses and other items declared inside the body.
    pub nested: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct ClosureIr {
    pub span: Span,
    pub params: Vec<String>,
    pub body: Expr,
}

#[derive(Debug, Default, Clone)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// The closing brace: where a body "ends" for the notes of a leak.
    pub close: Span,
}

#[derive(Debug, Clone)]
pub enum Stmt {
    Let {
        pat: Pat,
        init: Option<Expr>,
        els: Option<Block>,
    },
    Expr {
        expr: Expr,
        semi: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lit {
    Int(i128),
    /// As written, suffix included (`2.2f32`).
    Float(String),
    Bool(bool),
    Str,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
    Deref,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// `a | b`; in a `matches!` pattern parsed as an expression, an or-pattern.
    BitOr,
    Other,
}

#[derive(Debug, Clone)]
pub struct Arm {
    pub pat: Pat,
    pub guard: Option<Expr>,
    pub body: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pat {
    Wild,
    Ident(String, Option<Box<Pat>>),
    Lit(Lit),
    Path(Vec<String>),
    TupleStruct(Vec<String>, Vec<Pat>),
    Tuple(Vec<Pat>),
    Or(Vec<Pat>),
    /// Anything else (struct patterns, ranges, slices): matches some values.
    Other,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        span: Span,
    },
    Method {
        recv: Box<Expr>,
        name: String,
        args: Vec<Expr>,
        span: Span,
    },
    Path {
        segs: Vec<String>,
        span: Span,
    },
    Lit {
        lit: Lit,
        span: Span,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
    Assign {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
    If {
        cond: Box<Expr>,
        then: Block,
        els: Option<Box<Expr>>,
        span: Span,
    },
    /// `let PAT = EXPR` inside a condition.
    Let {
        pat: Pat,
        expr: Box<Expr>,
        span: Span,
    },
    Match {
        expr: Box<Expr>,
        arms: Vec<Arm>,
        span: Span,
    },
    Block {
        block: Block,
        label: Option<String>,
        span: Span,
    },
    Loop {
        label: Option<String>,
        body: Block,
        span: Span,
    },
    While {
        label: Option<String>,
        cond: Box<Expr>,
        body: Block,
        span: Span,
    },
    For {
        label: Option<String>,
        pat: Pat,
        iter: Box<Expr>,
        body: Block,
        span: Span,
    },
    Break {
        label: Option<String>,
        expr: Option<Box<Expr>>,
        span: Span,
    },
    Continue {
        label: Option<String>,
        span: Span,
    },
    Return {
        expr: Option<Box<Expr>>,
        span: Span,
    },
    /// `expr?`; `span` is the `?` itself.
    Try {
        expr: Box<Expr>,
        span: Span,
    },
    Closure {
        index: usize,
        span: Span,
    },
    Macro {
        path: Vec<String>,
        args: Vec<Expr>,
        span: Span,
    },
    /// A struct literal; with an empty path, a tuple `(a, b, ..)` of two or more elements.
    Struct {
        path: Vec<String>,
        fields: Vec<Expr>,
        span: Span,
    },
    Field {
        base: Box<Expr>,
        name: String,
        span: Span,
    },
    Cast {
        expr: Box<Expr>,
        ty: String,
        span: Span,
    },
    /// Tuples, arrays, indexing, ranges...: evaluate the parts, value unknown.
    Seq {
        exprs: Vec<Expr>,
        span: Span,
    },
    Other {
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Call { span, .. }
            | Expr::Method { span, .. }
            | Expr::Path { span, .. }
            | Expr::Lit { span, .. }
            | Expr::Unary { span, .. }
            | Expr::Binary { span, .. }
            | Expr::Assign { span, .. }
            | Expr::If { span, .. }
            | Expr::Let { span, .. }
            | Expr::Match { span, .. }
            | Expr::Block { span, .. }
            | Expr::Loop { span, .. }
            | Expr::While { span, .. }
            | Expr::For { span, .. }
            | Expr::Break { span, .. }
            | Expr::Continue { span, .. }
            | Expr::Return { span, .. }
            | Expr::Try { span, .. }
            | Expr::Closure { span, .. }
            | Expr::Macro { span, .. }
            | Expr::Struct { span, .. }
            | Expr::Field { span, .. }
            | Expr::Cast { span, .. }
            | Expr::Seq { span, .. }
            | Expr::Other { span } => *span,
        }
    }

    /// The variable or field a socket handle lives in (`s`, `self.sock`), looking through `&`, `*` and casts.
    pub fn place_key(&self) -> Option<String> {
        match self {
            Expr::Path { segs, .. } if segs.len() == 1 => Some(segs[0].clone()),
            Expr::Field { base, name, .. } => Some(format!("{}.{}", base.place_key()?, name)),
            Expr::Unary {
                op: UnOp::Deref,
                expr,
                ..
            } => expr.place_key(),
            Expr::Cast { expr, .. } => expr.place_key(),
            Expr::Method {
                recv, name, args, ..
            } if args.is_empty() && is_handle_accessor(name) => recv.place_key(),
            _ => None,
        }
    }
}

/// Methods that read a handle out of a wrapper without changing it.
fn is_handle_accessor(name: &str) -> bool {
    matches!(name, "as_raw_socket" | "clone" | "as_raw" | "raw" | "get")
}

/// What a file defines of `macro_rules!` and mounts with `#[macro_use]`, read from its
/// tokens without parsing it (`scan::file_macros`); `lower` expands calls with them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileMacros {
    pub defs: Vec<FileMacroDef>,
    /// Byte offsets of the names of its `#[macro_use] mod x` declarations.
    pub macro_use_mods: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMacroDef {
    pub name: String,
    /// Byte offset of `macro_rules` in the file.
    pub at: u32,
    pub exported: bool,
    pub text: std::sync::Arc<str>,
}

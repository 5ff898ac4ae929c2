//! `#[cfg(..)]` read for a Windows target: what a Winsock program compiles on Windows is what
//! the analysis reads. `windows`, `target_os = "windows"` and `target_family = "windows"` hold;
//! `unix`, another `target_os` or `target_family`, and a `target_vendor` no Windows target has
//! (they are `pc`, `uwp` and `win7`) do not; `not`, `all` and `any` combine them.
//! Anything else (a feature, `test`, `debug_assertions`, the architecture) is not known, and an
//! item under it is kept. `#[cfg_attr(pred, ..)]` is read the same way (`expand_file`, before
//! lowering; `attr_effects`, for the `mod` scanner).

/// Rewrites `#[cfg_attr(pred, a, b)]` in `attrs` as Windows reads it: where `pred` holds, the
/// attributes `a`, `b` in its place (a nested `cfg_attr` read the same way); where it does
/// not, nothing. One whose predicate is not known stays as written, so that what reads
/// attributes sees neither of its branches as taken.
pub fn expand_attrs(attrs: &mut Vec<syn::Attribute>) {
    if !attrs.iter().any(|a| a.path().is_ident("cfg_attr")) {
        return;
    }
    for a in std::mem::take(attrs) {
        expand_one(a, attrs, 0);
    }
}

/// Nesting of `cfg_attr` followed; deeper ones stay as written.
const MAX_CFG_ATTR_NESTING: usize = 16;

fn expand_one(a: syn::Attribute, out: &mut Vec<syn::Attribute>, depth: usize) {
    if !a.path().is_ident("cfg_attr") || depth > MAX_CFG_ATTR_NESTING {
        out.push(a);
        return;
    }
    let args = match &a.meta {
        syn::Meta::List(l) => l.parse_args_with(
            syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
        ),
        _ => {
            out.push(a);
            return;
        }
    };
    let Ok(args) = args else {
        out.push(a);
        return;
    };
    let mut args = args.into_iter();
    let Some(pred) = args.next() else {
        out.push(a);
        return;
    };
    match eval(&pred) {
        Truth::Yes => {
            for meta in args {
                let taken = syn::Attribute {
                    pound_token: a.pound_token,
                    style: a.style,
                    bracket_token: a.bracket_token,
                    meta,
                };
                expand_one(taken, out, depth + 1);
            }
        }
        Truth::No => {}
        Truth::Unknown => out.push(a),
    }
}

/// `expand_attrs` over a file's items, their attributes and those of the items inside inline
/// modules, impls, traits and `extern` blocks: every later reader of attributes (`cfg`,
/// `path`, `no_mangle`, `macro_use`, `link`) then sees what Windows compiles.
pub fn expand_file(f: &mut syn::File) {
    expand_attrs(&mut f.attrs);
    expand_items(&mut f.items);
}

fn expand_items(items: &mut [syn::Item]) {
    use syn::Item as I;
    for item in items {
        match item {
            I::Fn(i) => expand_attrs(&mut i.attrs),
            I::Mod(i) => {
                expand_attrs(&mut i.attrs);
                if let Some((_, content)) = &mut i.content {
                    expand_items(content);
                }
            }
            I::Use(i) => expand_attrs(&mut i.attrs),
            I::ExternCrate(i) => expand_attrs(&mut i.attrs),
            I::ForeignMod(i) => {
                expand_attrs(&mut i.attrs);
                for fi in &mut i.items {
                    match fi {
                        syn::ForeignItem::Fn(f) => expand_attrs(&mut f.attrs),
                        syn::ForeignItem::Static(s) => expand_attrs(&mut s.attrs),
                        _ => {}
                    }
                }
            }
            I::Impl(i) => {
                expand_attrs(&mut i.attrs);
                for ii in &mut i.items {
                    match ii {
                        syn::ImplItem::Fn(f) => expand_attrs(&mut f.attrs),
                        syn::ImplItem::Const(c) => expand_attrs(&mut c.attrs),
                        _ => {}
                    }
                }
            }
            I::Trait(i) => {
                expand_attrs(&mut i.attrs);
                for ti in &mut i.items {
                    if let syn::TraitItem::Fn(f) = ti {
                        expand_attrs(&mut f.attrs);
                    }
                }
            }
            I::Static(i) => expand_attrs(&mut i.attrs),
            I::Const(i) => expand_attrs(&mut i.attrs),
            I::Macro(i) => expand_attrs(&mut i.attrs),
            I::Struct(i) => expand_attrs(&mut i.attrs),
            I::Enum(i) => expand_attrs(&mut i.attrs),
            I::Type(i) => expand_attrs(&mut i.attrs),
            I::Union(i) => expand_attrs(&mut i.attrs),
            _ => {}
        }
    }
}

/// What one outer attribute, written as text between `#[` and `]`, does to the item under it
/// on Windows, for a reader that does not parse the file (`scan::mod_items`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrEffect {
    /// A `cfg` false on Windows: the item is not compiled.
    Excludes,
    /// `path = ".."`, directly or through a `cfg_attr` that holds.
    Path(String),
    Nothing,
}

/// `AttrEffect`s of the attribute `inner` (the text between `#[` and `]`); one that does not
/// read as an attribute does nothing.
pub fn attr_effects(inner: &str) -> Vec<AttrEffect> {
    // Most attributes above a `mod` (`cfg(feature = ..)`, `doc`, `allow`) can decide nothing
    // here: no parse for them. Nor for one nested deeper than any real predicate, which would
    // only cost stack.
    let decides = ["path", "windows", "unix", "target_"]
        .iter()
        .any(|w| inner.contains(w));
    if !decides || inner.len() > MAX_ATTR_BYTES || nesting(inner) > MAX_CFG_ATTR_NESTING * 4 {
        return Vec::new();
    }
    let Ok(meta) = syn::parse_str::<syn::Meta>(inner) else {
        return Vec::new();
    };
    let mut attrs = vec![syn::Attribute {
        pound_token: Default::default(),
        style: syn::AttrStyle::Outer,
        bracket_token: Default::default(),
        meta,
    }];
    expand_attrs(&mut attrs);
    attrs
        .iter()
        .map(|a| {
            if excluded(std::slice::from_ref(a)) {
                return AttrEffect::Excludes;
            }
            match &a.meta {
                syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => AttrEffect::Path(s.value()),
                    _ => AttrEffect::Nothing,
                },
                _ => AttrEffect::Nothing,
            }
        })
        .collect()
}

/// An attribute longer than this is not read by `attr_effects`.
const MAX_ATTR_BYTES: usize = 16 * 1024;

/// The deepest bracket nesting of `text`.
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// What a predicate is on a Windows target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    Yes,
    No,
    Unknown,
}

/// Some `#[cfg(..)]` of `attrs` is false on Windows: the item does not exist there.
pub fn excluded(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| eval(&m) == Truth::No)
    })
}

/// The predicate `m` on a Windows target.
pub fn eval(m: &syn::Meta) -> Truth {
    match m {
        syn::Meta::Path(p) => match p.get_ident().map(|i| i.to_string()).as_deref() {
            Some("windows") => Truth::Yes,
            Some("unix") => Truth::No,
            _ => Truth::Unknown,
        },
        syn::Meta::NameValue(nv) => {
            let key = nv.path.get_ident().map(|i| i.to_string());
            let value = match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => s.value(),
                _ => return Truth::Unknown,
            };
            match key.as_deref() {
                Some("target_os") | Some("target_family") => {
                    if value == "windows" {
                        Truth::Yes
                    } else {
                        Truth::No
                    }
                }
                // Windows targets are `pc`, `uwp` or `win7`: which one is not known.
                Some("target_vendor") => {
                    if matches!(value.as_str(), "pc" | "uwp" | "win7") {
                        Truth::Unknown
                    } else {
                        Truth::No
                    }
                }
                _ => Truth::Unknown,
            }
        }
        syn::Meta::List(l) => {
            let name = l.path.get_ident().map(|i| i.to_string());
            let args = l.parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            );
            let Ok(args) = args else {
                return Truth::Unknown;
            };
            let truths: Vec<Truth> = args.iter().map(eval).collect();
            match name.as_deref() {
                Some("not") if truths.len() == 1 => match truths[0] {
                    Truth::Yes => Truth::No,
                    Truth::No => Truth::Yes,
                    Truth::Unknown => Truth::Unknown,
                },
                Some("all") => {
                    if truths.contains(&Truth::No) {
                        Truth::No
                    } else if truths.iter().all(|t| *t == Truth::Yes) {
                        Truth::Yes
                    } else {
                        Truth::Unknown
                    }
                }
                Some("any") => {
                    if truths.contains(&Truth::Yes) {
                        Truth::Yes
                    } else if truths.iter().all(|t| *t == Truth::No) {
                        Truth::No
                    } else {
                        Truth::Unknown
                    }
                }
                _ => Truth::Unknown,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{eval, Truth};

    fn truth(pred: &str) -> Truth {
        eval(&syn::parse_str::<syn::Meta>(pred).expect("a predicate"))
    }

    #[test]
    fn cfg_attr_is_read_for_windows() {
        use super::{attr_effects, AttrEffect};
        let path = |p: &str| vec![AttrEffect::Path(p.to_string())];
        assert_eq!(
            attr_effects("cfg_attr(windows, path = \"win.rs\")"),
            path("win.rs")
        );
        assert_eq!(attr_effects("cfg_attr(unix, path = \"unix.rs\")"), vec![]);
        assert_eq!(attr_effects("path = \"a.rs\""), path("a.rs"));
        assert_eq!(attr_effects("cfg(unix)"), vec![AttrEffect::Excludes]);
        assert_eq!(attr_effects("cfg(windows)"), vec![AttrEffect::Nothing]);
        assert_eq!(
            attr_effects("cfg_attr(not(unix), cfg_attr(windows, path = \"w.rs\"), allow(x))"),
            vec![AttrEffect::Path("w.rs".into()), AttrEffect::Nothing]
        );
        assert_eq!(
            attr_effects("cfg_attr(feature = \"x\", path = \"x.rs\")"),
            vec![AttrEffect::Nothing]
        );
        assert_eq!(
            attr_effects("cfg_attr(windows, cfg(unix))"),
            vec![AttrEffect::Excludes]
        );
        assert_eq!(attr_effects("cfg(windows) not an attribute ("), vec![]);
        let deep = format!("cfg({}windows{})", "not(".repeat(1000), ")".repeat(1000));
        assert_eq!(attr_effects(&deep), vec![]);
    }

    #[test]
    fn predicates_read_for_windows() {
        for (pred, want) in [
            ("windows", Truth::Yes),
            ("unix", Truth::No),
            ("target_os = \"windows\"", Truth::Yes),
            ("target_os = \"linux\"", Truth::No),
            ("target_family = \"windows\"", Truth::Yes),
            ("target_family = \"unix\"", Truth::No),
            ("not(unix)", Truth::Yes),
            ("not(windows)", Truth::No),
            ("feature = \"net\"", Truth::Unknown),
            ("test", Truth::Unknown),
            ("not(test)", Truth::Unknown),
            ("all(windows, feature = \"net\")", Truth::Unknown),
            ("all(unix, feature = \"net\")", Truth::No),
            ("any(unix, target_os = \"wasi\")", Truth::No),
            ("any(windows, feature = \"x\")", Truth::Yes),
            ("all(windows, not(unix))", Truth::Yes),
            ("any()", Truth::No),
            ("target_vendor = \"apple\"", Truth::No),
            ("target_vendor = \"pc\"", Truth::Unknown),
            ("all()", Truth::Yes),
        ] {
            assert_eq!(truth(pred), want, "{pred}");
        }
    }
}

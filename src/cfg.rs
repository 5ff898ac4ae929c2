//! `#[cfg(..)]` read for a Windows target: what a Winsock program compiles on Windows is what
//! the analysis reads. `windows`, `target_os = "windows"` and `target_family = "windows"` hold;
//! `unix`, another `target_os` or `target_family`, and a `target_vendor` no Windows target has
//! (they are `pc`, `uwp` and `win7`) do not; `not`, `all` and `any` combine them.
//! Anything else (a feature, `test`, `debug_assertions`, the architecture) is not known, and an
//! item under it is kept.

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

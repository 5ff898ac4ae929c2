//! The layering of docs/architecture.md, kept by reading the code's own paths.
//!
//! The fenced `layers` block in docs/architecture.md ("Layers") lists the modules from the
//! foundation up; a module may use only modules on lines above its own, and a line with
//! `only:` narrows that further. This test reads every file under `src/` and `lints/`, finds
//! each path into the crate (`use crate::..`, `crate::x::f(..)`, `super::..`, `self::..`, a
//! child module's name in its parent) outside comments and string literals, and fails on each
//! edge the table forbids, naming the file, the line and the edge. The table is the one source:
//! the test has no list of its own, so moving a module means moving its line in the doc.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Layer {
    module: String,
    /// Empty: every module above. Otherwise only these (and their submodules).
    only: Vec<String>,
}

fn layers() -> Vec<Layer> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let mut lines = doc.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "```layers")
        .expect("docs/architecture.md has a ```layers block");
    let mut out: Vec<Layer> = Vec::new();
    for line in lines.take_while(|l| l.trim() != "```") {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (module, only) = match line.split_once("only:") {
            Some((m, o)) => (m.trim(), o.split_whitespace().map(String::from).collect()),
            None => (line, Vec::new()),
        };
        assert!(
            !module.contains(char::is_whitespace),
            "layers block: one module per line, got `{line}`"
        );
        assert!(
            out.iter().all(|l| l.module != module),
            "layers block: `{module}` is listed twice"
        );
        out.push(Layer {
            module: module.to_string(),
            only,
        });
    }
    assert!(!out.is_empty(), "the ```layers block is empty");
    out
}

/// `a` is `b` or inside it.
fn within(a: &str, b: &str) -> bool {
    a == b || a.strip_prefix(b).is_some_and(|r| r.starts_with("::"))
}

/// An `only:` entry admits `module`: `=m` is `m` itself, without its submodules; `m` is `m`
/// and everything inside it.
fn admits(entry: &str, module: &str) -> bool {
    match entry.strip_prefix('=') {
        Some(exact) => module == exact,
        None => within(module, entry),
    }
}

/// The layer a module belongs to: the longest listed module that contains it.
fn layer_of(layers: &[Layer], module: &str) -> Option<usize> {
    (0..layers.len())
        .filter(|&i| within(module, &layers[i].module))
        .max_by_key(|&i| layers[i].module.len())
}

/// Source files with their module paths. `src/lib.rs`, `src/main.rs` and `src/bin/` are the
/// crate roots and binaries: they mount or hand over modules, they are not a layer.
fn files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("source directory is readable")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for (top, prefix) in [("src", ""), ("lints", "lints")] {
        let base = Path::new(ROOT).join(top);
        let mut paths = Vec::new();
        walk(&base, &mut paths);
        for p in paths {
            let rel = p.strip_prefix(&base).expect("walked below base");
            let rel_s = rel.to_string_lossy().replace('\\', "/");
            if top == "src"
                && (rel_s == "lib.rs" || rel_s == "main.rs" || rel_s.starts_with("bin/"))
            {
                continue;
            }
            let mut parts: Vec<String> = Vec::new();
            if !prefix.is_empty() {
                parts.push(prefix.to_string());
            }
            let stem = rel_s.trim_end_matches(".rs");
            parts.extend(stem.split('/').map(String::from));
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            out.push((p, parts.join("::")));
        }
    }
    out
}

/// The text with comments and string and character literals blanked (newlines kept), so
/// that only code is searched and line numbers stay right.
fn code_only(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br"))
            && (i == 0 || !ident(b[i - 1]))
        {
            // Raw string: r"..", r#".."#, br"..".
            let start = i;
            let mut j = i + if rest[0] == b'b' { 2 } else { 1 };
            let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
            j += hashes;
            if b.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            j += 1;
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            j = (j + close.len()).min(b.len());
            blank(&mut out, start, j);
            i = j;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|n| n + 3)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(n) => {
                    blank(&mut out, i, i + n);
                    i += n;
                }
                None => i += 1,
            }
        } else if ident(rest[0]) {
            // Skip a whole word, so the `r` of `for"` or `b'` inside a name is never a prefix.
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every path into the crate in `code`, as (line, module segments of the file's module, the
/// path's segments from the crate root).
fn paths(code: &[u8], module: &[String]) -> Vec<(usize, Vec<String>)> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let word_at = |i: usize| -> &str {
        let end = (i..code.len())
            .find(|&j| !ident(code[j]))
            .unwrap_or(code.len());
        std::str::from_utf8(&code[i..end]).unwrap_or("")
    };
    // After a `mod` keyword ending at `at`: the module's name and the byte that follows it
    // (`;` for a module in its own file, `{` for an inline one).
    let mod_decl = |at: usize| -> Option<(String, u8)> {
        let skip = |mut j: usize| {
            while j < code.len() && code[j].is_ascii_whitespace() {
                j += 1;
            }
            j
        };
        let j = skip(at);
        let name = word_at(j).to_string();
        let next = *code.get(skip(j + name.len()))?;
        (!name.is_empty()).then_some((name, next))
    };
    // Child modules declared in this file (`mod x;`): their names start paths here.
    let mut children = BTreeSet::new();
    {
        let mut i = 0;
        while i < code.len() {
            if (i == 0 || !ident(code[i - 1])) && word_at(i) == "mod" {
                if let Some((name, b';')) = mod_decl(i + 3) {
                    children.insert(name);
                }
            }
            i += 1;
        }
    }
    let mut out = Vec::new();
    // Inline modules (`mod tests { .. }`) change what `super` and `self` mean.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut line = 1;
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        match c {
            b'\n' => line += 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        let starts_word = ident(c) && (i == 0 || !(ident(code[i - 1]) || code[i - 1] == b':'));
        if !starts_word && c != b'$' {
            i += 1;
            continue;
        }
        let dollar = c == b'$';
        let w = word_at(if dollar { i + 1 } else { i }).to_string();
        if dollar && w != "crate" {
            i += 1;
            continue;
        }
        let after = i + usize::from(dollar) + w.len();
        if w == "mod" {
            if let Some((name, b'{')) = mod_decl(after) {
                inline.push((name, depth));
            }
        }
        let current: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        let base: Option<Vec<String>> = match w.as_str() {
            "crate" => Some(Vec::new()),
            "super" | "self" => Some(current.clone()),
            n if children.contains(n) && inline.is_empty() => Some(current.clone()),
            _ => None,
        };
        let Some(mut base) = base.filter(|_| code[after..].starts_with(b"::")) else {
            i = after.max(i + 1);
            continue;
        };
        match w.as_str() {
            "super" => {
                base.pop();
            }
            "crate" | "self" => {}
            n => base.push(n.to_string()),
        }
        let mut j = after;
        let mut found = Vec::new();
        use_tree(code, &mut j, base, &mut found);
        out.extend(found.into_iter().map(|p| (line, p)));
        // Count the newlines the tree spanned (a `use` group over several lines).
        line += code[i..j].iter().filter(|&&c| c == b'\n').count();
        depth += code[i..j].iter().filter(|&&c| c == b'{').count();
        depth -= code[i..j].iter().filter(|&&c| c == b'}').count();
        i = j;
    }
    out
}

/// Reads `::seg::seg::{tree, tree}` from `*j` on, pushing each full path.
fn use_tree(code: &[u8], j: &mut usize, mut path: Vec<String>, out: &mut Vec<Vec<String>>) {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let skip_ws = |j: &mut usize| {
        while *j < code.len() && code[*j].is_ascii_whitespace() {
            *j += 1;
        }
    };
    loop {
        skip_ws(j);
        if !code[*j..].starts_with(b"::") {
            break;
        }
        *j += 2;
        skip_ws(j);
        if code.get(*j) == Some(&b'{') {
            *j += 1;
            loop {
                skip_ws(j);
                match code.get(*j) {
                    Some(b'}') => {
                        *j += 1;
                        return;
                    }
                    Some(b',') => *j += 1,
                    Some(&c) if ident(c) => {
                        let start = *j;
                        while *j < code.len() && ident(code[*j]) {
                            *j += 1;
                        }
                        let seg = String::from_utf8_lossy(&code[start..*j]).into_owned();
                        let mut sub = path.clone();
                        if seg != "self" {
                            sub.push(seg);
                        }
                        use_tree(code, j, sub, out);
                    }
                    Some(_) => *j += 1,
                    None => return,
                }
            }
        }
        let start = *j;
        while *j < code.len() && ident(code[*j]) {
            *j += 1;
        }
        if start == *j {
            break;
        }
        path.push(String::from_utf8_lossy(&code[start..*j]).into_owned());
    }
    out.push(path);
}

#[test]
fn modules_use_only_modules_above_them() {
    let layers = layers();
    let files = files();
    let modules: BTreeSet<String> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut problems = Vec::new();
    for l in &layers {
        if !modules.contains(&l.module) {
            problems.push(format!(
                "docs/architecture.md layers: `{}` is not a module under src/ or lints/",
                l.module
            ));
        }
        for o in &l.only {
            if !layers
                .iter()
                .any(|x| within(&x.module, o.trim_start_matches('=')))
            {
                problems.push(format!(
                    "docs/architecture.md layers: `{}` names `{o}` after `only:`, which is not listed",
                    l.module
                ));
            }
        }
    }
    for (path, module) in &files {
        let shown = path
            .strip_prefix(ROOT)
            .unwrap_or(path)
            .display()
            .to_string();
        let Some(from) = layer_of(&layers, module) else {
            problems.push(format!(
                "{shown}: module `{module}` has no line in the layers block of docs/architecture.md"
            ));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("source file is readable");
        let code = code_only(&text);
        let segs: Vec<String> = module.split("::").map(String::from).collect();
        let mut seen = BTreeSet::new();
        for (line, p) in paths(&code, &segs) {
            // The module a path names: its longest prefix that is a module of the crate.
            let Some(target) = (0..=p.len())
                .rev()
                .map(|n| p[..n].join("::"))
                .find(|m| modules.contains(m))
            else {
                continue;
            };
            let Some(to) = layer_of(&layers, &target) else {
                continue;
            };
            if to == from || !seen.insert((line, to)) {
                continue;
            }
            let (f, t) = (&layers[from], &layers[to]);
            let edge = format!(
                "`{}` -> `{}` (`crate::{}`)",
                f.module,
                t.module,
                p.join("::")
            );
            if to > from {
                problems.push(format!(
                    "{shown}:{line}: {edge}: `{}` is listed below `{}` in the layers of docs/architecture.md",
                    t.module, f.module
                ));
            } else if !f.only.is_empty() && !f.only.iter().any(|o| admits(o, &t.module)) {
                problems.push(format!(
                    "{shown}:{line}: {edge}: `{}` may use only {} (docs/architecture.md layers)",
                    f.module,
                    f.only.join(", ")
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering of docs/architecture.md broken:\n{}\n",
        problems.join("\n")
    );
}

/// The test's own reading of paths, on the shapes it meets in the code.
#[test]
fn reads_paths_the_way_the_code_writes_them() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let read = |text: &str, module: &str| -> Vec<String> {
        paths(&code_only(text), &m(module))
            .into_iter()
            .map(|(l, p)| format!("{l}:{}", p.join("::")))
            .collect()
    };
    assert_eq!(
        read(
            "use crate::{a::{self, B}, c};\nlet x = crate::d::f(1);",
            "x"
        ),
        ["1:a", "1:a::B", "1:c", "2:d::f"]
    );
    assert_eq!(
        read("use super::state::*;", "facts::interp"),
        ["1:facts::state"]
    );
    assert_eq!(
        read("mod tests {\n    use super::*;\n}\nuse super::y;", "a::b"),
        ["2:a::b", "4:a::y"]
    );
    assert_eq!(
        read("pub mod child;\nuse child::X;\n$crate::lint::Lint", "facts"),
        ["2:facts::child::X", "3:lint::Lint"]
    );
    // Comments, strings, `pub(crate)` and `pub(super)` name no path.
    assert!(read(
        "// crate::a::b\n/* crate::c */ let s = \"crate::d::e\"; let r = r#\"super::f\"#;\npub(crate) fn g<'a>(c: char) { let _ = '\"'; }",
        "x"
    )
    .is_empty());
}

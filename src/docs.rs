//! Generated documentation: `docs/lints.md` is written from the lint
//! declarations themselves, so the page cannot drift from `--explain`.

use crate::lint::LintDef;

/// The whole lints page: a table, then one section per lint (its own docs).
pub fn lints_markdown(lints: &[&LintDef]) -> String {
    let mut s = String::from(
        "<!-- Generated from the lint declarations in lints/; do not edit. \
         Regenerate with `WSA_BLESS=1 cargo test --test docs`. -->\n\n# wsa-lint lints\n\n\
         | lint | group | default | what it finds |\n|---|---|---|---|\n",
    );
    for d in lints {
        s.push_str(&format!(
            "| [`{0}`](#{0}) | {1} | {2} | {3} |\n",
            d.lint.name,
            d.lint.group.as_str(),
            d.lint.default_level.as_str(),
            d.lint.summary.replace('|', "\\|"),
        ));
    }
    for d in lints {
        s.push_str(&format!(
            "\n## `{}`\n\nGroup `{}`, {} by default. {}.\n\n{}",
            d.lint.name,
            d.lint.group.as_str(),
            d.lint.default_level.as_str(),
            capitalize(d.lint.summary),
            demote(&unindent(d.lint.docs)),
        ));
    }
    s
}

/// The text of a lint's `///` lines without the space each line starts with.
pub fn unindent(docs: &str) -> String {
    docs.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `### Section` inside a lint becomes `#### Section` under the lint's `##` heading.
fn demote(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("### ") {
                format!("#{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

//! Levels: configuration settings and `-A`/`-W`/`-D` flags -> the `engine::Levels` a run uses.
//!
//! Takes the `config::Setting`s found for the run and the flags in command-line order, and
//! resolves each name against the lint catalog it is handed (a lint, a group, `all` or
//! `warnings`); an unknown name is an error that suggests a close one. Knows no individual lint
//! and no command-line parser: `cli`, `lsp` and `verify` all build their levels here.

use crate::config::Setting;
use crate::diag::Level;
use crate::engine::{LevelSource, Levels};
use crate::lint::{group_of, LintDef};

pub(crate) fn normalize_lint_name(name: &str) -> String {
    name.trim_start_matches("wsa_lint::").replace('-', "_")
}

/// Levels from configuration files, then the command line (which wins).
pub fn build_levels(
    config: &[Setting],
    order: &[(usize, Level, String)],
    lints: &[&LintDef],
) -> Result<Levels, String> {
    let mut levels = Levels::default();
    for s in config {
        apply_level(
            &mut levels,
            lints,
            &s.name,
            s.level,
            LevelSource::Config(s.origin.clone()),
        )
        .map_err(|e| format!("{}: {e}", s.origin))?;
    }
    for (_, level, raw) in order {
        apply_level(&mut levels, lints, raw, *level, LevelSource::CommandLine)?;
    }
    Ok(levels)
}

fn apply_level(
    levels: &mut Levels,
    lints: &[&LintDef],
    raw: &str,
    level: Level,
    source: LevelSource,
) -> Result<(), String> {
    let name = normalize_lint_name(raw);
    if name == "warnings" {
        levels.warnings_are_errors = level == Level::Deny;
        return Ok(());
    }
    if let Some(group) = group_of(&name) {
        for def in lints {
            if group.is_none_or(|g| g == def.lint.group) {
                levels.set(def.lint.name, level, source.clone());
            }
        }
        return Ok(());
    }
    match lints.iter().find(|d| d.lint.name == name) {
        Some(def) => {
            levels.set(def.lint.name, level, source);
            Ok(())
        }
        None => Err(unknown_lint(raw, lints)),
    }
}

pub(crate) fn unknown_lint(raw: &str, lints: &[&LintDef]) -> String {
    let name = normalize_lint_name(raw);
    let close = lints
        .iter()
        .map(|d| d.lint.name)
        .find(|n| n.contains(&name) || name.contains(n) || edit_distance(n, &name) <= 3);
    match close {
        Some(c) => {
            format!("unknown lint `{raw}`; did you mean `{c}`? (`wsa-lint --list` shows all lints)")
        }
        None => format!("unknown lint `{raw}` (`wsa-lint --list` shows all lints)"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

//! The lint catalog keeps its promises: every file in `lints/` is registered,
//! names agree everywhere, docs have their sections, and each lint has both a
//! firing and a silent fixture.

use std::collections::BTreeSet;
use std::path::Path;
use wsa_lint::lints::ALL;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_lint_file_is_registered_under_its_own_name() {
    let files: BTreeSet<String> = std::fs::read_dir(root().join("lints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "mod.rs")
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let registered: BTreeSet<String> = ALL.iter().map(|d| d.lint.name.to_string()).collect();
    assert_eq!(files, registered);
    assert_eq!(registered.len(), ALL.len(), "duplicate lint names");
    for def in ALL {
        let name = def.lint.name;
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        let src = std::fs::read_to_string(root().join("lints").join(format!("{name}.rs"))).unwrap();
        assert!(
            src.contains(&format!("pub {} = \"{name}\"", name.to_uppercase())),
            "{name}: constant and name disagree"
        );
    }
}

#[test]
fn every_lint_is_documented() {
    for def in ALL {
        let docs = def.lint.docs;
        for section in ["### What it does", "### Why is this bad", "### Example"] {
            assert!(docs.contains(section), "{} lacks {section}", def.lint.name);
        }
        assert!(
            !def.lint.summary.ends_with('.'),
            "{}: summary ends with a period",
            def.lint.name
        );
    }
}

#[test]
fn every_lint_has_firing_and_silent_fixtures() {
    for def in ALL {
        let dir = root().join("fixtures").join(def.lint.name);
        let mut firing = 0;
        let mut silent = 0;
        for e in walkdir::WalkDir::new(&dir) {
            let e = e.unwrap();
            if e.path().extension().is_some_and(|x| x == "rs") && e.depth() == 1 {
                let text = std::fs::read_to_string(e.path()).unwrap();
                if text.contains("//~") {
                    firing += 1;
                } else {
                    silent += 1;
                }
            }
        }
        assert!(firing >= 3, "{}: {firing} firing fixtures", def.lint.name);
        assert!(silent >= 2, "{}: {silent} silent fixtures", def.lint.name);
    }
}

/// The engine knows no individual lint: only the binaries and lib.rs name the catalog.
#[test]
fn nothing_in_src_names_the_lint_catalog() {
    for e in walkdir::WalkDir::new(root().join("src")) {
        let e = e.unwrap();
        let p = e.path();
        if p.extension().is_none_or(|x| x != "rs")
            || p.ends_with("lib.rs")
            || p.ends_with("main.rs")
            || p.parent().is_some_and(|d| d.ends_with("bin"))
        {
            continue;
        }
        let text = std::fs::read_to_string(p).unwrap();
        assert!(
            !text.contains("crate::lints"),
            "{} names the lint catalog",
            p.display()
        );
    }
}

#[test]
fn lints_yield_only_to_lints_that_exist() {
    for def in wsa_lint::lints::ALL {
        for other in def.yields_to {
            assert!(
                wsa_lint::lints::ALL
                    .iter()
                    .any(|d| d.lint.name == *other && d.lint.name != def.lint.name),
                "`{}` yields to `{other}`, which is not another lint",
                def.lint.name
            );
        }
    }
}

//! The examples of `--explain` tell the truth: each lint's "Example" makes the real binary
//! report that lint, and its "Use instead" code does not. A user who copies the fix from our
//! own documentation must not be told it is still wrong, by this lint or another.

mod common;

use common::*;

/// Names every example may use without declaring them: the bindings of WINSOCK.md's most
/// common style and `std::io`.
const PRELUDE: &str = "use std::io;\nuse windows_sys::Win32::Networking::WinSock::*;\n";

fn lint_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("lints"))
        .expect("lints/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .filter(|n| n != "mod")
        .collect();
    names.sort();
    names
}

/// The fenced Rust blocks of one `### Example` section: the bad code first, then the code
/// after "Use instead:" (if any).
fn examples(explain: &str) -> (Vec<String>, Vec<String>) {
    let section = explain
        .split("### Example")
        .nth(1)
        .expect("every lint has an Example section");
    let section = section.split("\n### ").next().unwrap_or(section);
    let (bad, good) = match section.split_once("Use instead:") {
        Some((b, g)) => (b, g),
        None => (section, ""),
    };
    (blocks(bad), blocks(good))
}

fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```rust") {
        let after = &rest[start..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let end = body.find("```").expect("a fenced block is closed");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

/// Lint names reported (at any level) for `code` written as `main.rs` of a scratch directory.
fn reported(code: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("main.rs");
    std::fs::write(&file, format!("{PRELUDE}{code}")).expect("writable");
    let out = run(wsa_lint()
        .arg("--message-format")
        .arg("json")
        .arg(&file)
        .current_dir(dir.path()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    findings(&stdout).into_iter().map(|(_, _, l)| l).collect()
}

#[test]
fn every_example_fires_and_every_fix_is_silent() {
    let mut failures = Vec::new();
    for name in lint_names() {
        let out = run(wsa_lint().arg("--explain").arg(&name));
        assert!(out.status.success(), "--explain {name} fails");
        let text = String::from_utf8_lossy(&out.stdout);
        let (bad, good) = examples(&text);
        assert!(!bad.is_empty(), "{name}: no example code");
        for code in &bad {
            let got = reported(code);
            if !got.contains(&name) {
                failures.push(format!(
                    "{name}: its Example is not reported (got {got:?}):\n{code}"
                ));
            }
        }
        for code in &good {
            let got = reported(code);
            if !got.is_empty() {
                failures.push(format!(
                    "{name}: its \"Use instead\" code is reported ({got:?}):\n{code}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

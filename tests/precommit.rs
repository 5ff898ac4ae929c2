//! The pre-commit hook through the real `pre-commit` (installed by .ci/run): in a temporary git
//! repository a staged file with a leak makes the hook fail with the diagnostic; after the fix
//! it passes.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let s = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        s.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&s.stderr)
    );
}

const LEAK: &str =
    "use windows_sys::Win32::Networking::WinSock::{WSACleanup, WSAStartup, WSADATA};\n\
fn main() {\n\
    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n\
    if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }\n\
    if std::env::args().count() > 1 { return; }\n\
    unsafe { WSACleanup() };\n\
}\n";

#[test]
fn pre_commit_hook_fails_on_a_staged_leak_and_passes_after_the_fix() {
    let which = Command::new("pre-commit").arg("--version").output();
    assert!(
        which.is_ok_and(|o| o.status.success()),
        "pre-commit is not installed (python3 -m pip install pre-commit; .ci/run does this)"
    );
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    git(d, &["init", "-q"]);
    git(d, &["config", "user.email", "ci@example.com"]);
    git(d, &["config", "user.name", "ci"]);
    std::fs::write(
        d.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(d.join("src/main.rs"), LEAK).unwrap();
    git(d, &["add", "."]);
    // Reuse the hook's build between runs of the test suite.
    let cache = root().join("target/pre-commit");
    let hook = |d: &Path| {
        Command::new("pre-commit")
            .current_dir(d)
            .args(["try-repo"])
            .arg(root())
            .arg("wsa-lint")
            .env("PRE_COMMIT_HOME", cache.join("home"))
            .env("CARGO_TARGET_DIR", cache.join("target"))
            .output()
            .unwrap()
    };
    let o = hook(d);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    assert!(out.contains("src/main.rs:4:13"), "{out}");

    std::fs::write(
        d.join("src/main.rs"),
        LEAK.replace(
            "if std::env::args().count() > 1 { return; }",
            "println!(\"working\");",
        ),
    )
    .unwrap();
    git(d, &["add", "."]);
    let o = hook(d);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    assert!(out.contains("wsa-lint") && out.contains("Passed"), "{out}");
}

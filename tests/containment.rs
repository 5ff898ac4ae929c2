//! Files outside the project are not read, and never printed (issue 12, section 2), through the
//! real binaries: `#[path]` and symbolic links out of the package, symbolic links out of a
//! walked tree, FIFOs where a module or a walked file should be, configuration above the
//! repository root. Every run has a time limit: a FIFO that is opened blocks forever.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A string that appears only in the files outside the project.
const SECRET: &str = "SECRET_b7f3c1_DO_NOT_PRINT";

/// Outside the project: it names the crate function `helper` (so that a tree that reached it
/// would parse it) and does not parse (so that a parse error would quote it).
fn secret_text() -> String {
    format!("fn leak() {{ helper(); let {SECRET} = 1; }}}}}}\n")
}

/// A crate function with a Winsock effect and a deny-level finding: the run lints this file.
const MAIN_TAIL: &str = "use windows_sys::Win32::Networking::WinSock::*;\n\
pub fn helper() {\n\
    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n\
    if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }\n\
}\n\
fn main() { helper(); }\n";

const MANIFEST: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {path:?}"
    );
}

/// `t/outside/secret.rs` and a package `t/app` (its own repository) whose `src/main.rs` starts
/// with `head`. Returns the package directory.
fn project(t: &Path, head: &str) -> PathBuf {
    write(t, "outside/secret.rs", &secret_text());
    let app = t.join("app");
    write(&app, "Cargo.toml", MANIFEST);
    std::fs::create_dir_all(app.join(".git")).unwrap();
    write(&app, "src/main.rs", &format!("{head}{MAIN_TAIL}"));
    app
}

/// Runs a command, failing the test if it takes longer than a minute (a FIFO was opened).
fn run_limited(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("the binary ran"),
        Err(_) => {
            // Only the child this test started, by its id.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the run did not end within a minute (did it open a FIFO?)");
        }
    }
}

const FORMATS: [&str; 5] = ["human", "short", "json", "github", "sarif"];

/// One run per output format in `dir`: the secret never shows, a warning containing `warning`
/// does, and the exit status is `code`.
fn check_formats(mut make: impl FnMut() -> Command, dir: &Path, warning: &str, code: i32) {
    for format in FORMATS {
        let mut cmd = make();
        cmd.current_dir(dir)
            .args(["--message-format", format, "--color", "never"]);
        let o = run_limited(&mut cmd);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !all.contains(SECRET),
            "{format}: the secret was printed:\n{all}"
        );
        assert!(!all.contains("panicked"), "{format}:\n{all}");
        assert!(all.contains(warning), "{format}: no `{warning}`:\n{all}");
        assert_eq!(o.status.code(), Some(code), "{format}:\n{all}");
        if format == "json" {
            let skipped = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .any(|v| {
                    v["message"]["level"] == "warning"
                        && v["message"]["code"].is_null()
                        && v["message"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(warning))
                });
            assert!(skipped, "no warning-level JSON message: {all}");
        }
        if format == "sarif" {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
            let notes = &v["runs"][0]["invocations"][0]["toolExecutionNotifications"];
            assert!(
                notes.to_string().contains(warning),
                "no SARIF notification: {all}"
            );
        }
    }
}

/// Both commands: `wsa-lint` (the current directory) and `cargo wsa-lint`.
fn check_both(app: &Path, warning: &str) {
    check_formats(wsa_lint, app, warning, 1);
    check_formats(cargo_wsa_lint, app, warning, 1);
}

#[test]
fn a_path_attribute_out_of_the_package_is_not_read() {
    let t = tempfile::tempdir().unwrap();
    let app = project(t.path(), "#[path = \"../../outside/secret.rs\"]\nmod x;\n");
    check_both(
        &app,
        "module file `../../outside/secret.rs` is not read: it resolves outside",
    );
}

#[test]
fn a_symlinked_module_out_of_the_package_is_not_read() {
    let t = tempfile::tempdir().unwrap();
    let app = project(
        t.path(),
        "mod x;\nmod y;\nmod net;\nmod a {\n    mod b;\n}\n",
    );
    symlink(&t.path().join("outside/secret.rs"), &app.join("src/x.rs"));
    // `y/` links out of the package: `y/mod.rs` is outside too.
    symlink(&t.path().join("outside"), &app.join("src/y"));
    std::fs::rename(
        t.path().join("outside/secret.rs"),
        t.path().join("outside/mod.rs"),
    )
    .unwrap();
    symlink(
        &t.path().join("outside/mod.rs"),
        &t.path().join("outside/secret.rs"),
    );
    // `net.rs` is a plain file in the package, but its directory `net/` links out of it; so
    // does the directory of the inline module `a`.
    write(&app, "src/net.rs", "mod inner;\n");
    symlink(&t.path().join("outside"), &app.join("src/net"));
    symlink(&t.path().join("outside"), &app.join("src/a"));
    write(t.path(), "outside/inner.rs", &secret_text());
    write(t.path(), "outside/b.rs", &secret_text());
    check_both(&app, "module file `x.rs` is not read: it resolves outside");
    check_both(
        &app,
        "module file `net/inner.rs` is not read: it resolves outside",
    );
    check_both(
        &app,
        "module file `a/b.rs` is not read: it resolves outside",
    );
    check_both(
        &app,
        "module file `y/mod.rs` is not read: it resolves outside",
    );
}

#[test]
fn a_target_root_out_of_the_package_is_not_read() {
    let t = tempfile::tempdir().unwrap();
    let app = project(t.path(), "");
    write(
        &app,
        "Cargo.toml",
        &format!("{MANIFEST}\n[[bin]]\nname = \"sneaky\"\npath = \"../outside/secret.rs\"\n"),
    );
    // Cargo's own layout makes `src/main.rs` a target too.
    check_both(&app, "is outside the package's directory; it is not read");
}

#[test]
fn a_walk_does_not_follow_links_out_of_the_tree() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "outside/secret.rs", &secret_text());
    let tree = t.path().join("tree");
    write(&tree, "main.rs", MAIN_TAIL);
    symlink(&t.path().join("outside"), &tree.join("linked_dir"));
    symlink(&t.path().join("outside/secret.rs"), &tree.join("linked.rs"));
    let o = run_limited(
        wsa_lint()
            .current_dir(&tree)
            .args(["--message-format", "short"]),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains(SECRET), "{out}");
    assert!(
        out.contains("`linked_dir` is a symbolic link to a path outside `.`; it is skipped"),
        "{out}"
    );
    assert!(
        out.contains("`linked.rs` is a symbolic link to a path outside `.`; it is skipped"),
        "{out}"
    );
    assert!(
        out.contains("main.rs:4:13: error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
    // A link that stays inside the tree is still followed.
    write(&tree, "real/inner.rs", MAIN_TAIL);
    symlink(&tree.join("real"), &tree.join("alias"));
    let o = run_limited(
        wsa_lint()
            .current_dir(&tree)
            .args(["--message-format", "short"]),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("real/inner.rs:4:13: error"), "{out}");
    assert!(!out.contains("alias"), "{out}");
}

#[test]
fn a_loose_file_keeps_its_modules_inside_the_named_directory() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "outside/secret.rs", &secret_text());
    let tree = t.path().join("tree");
    std::fs::create_dir_all(tree.join(".git")).unwrap();
    write(
        &tree,
        "main.rs",
        &format!("#[path = \"../outside/secret.rs\"]\nmod x;\nmod inner;\n{MAIN_TAIL}"),
    );
    write(&tree, "inner.rs", "pub fn g() {}\n");
    for args in [&["."][..], &["main.rs"]] {
        let o = run_limited(
            wsa_lint()
                .current_dir(&tree)
                .args(["--message-format", "short"])
                .args(args),
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains(SECRET), "{out}");
        assert!(
            out.contains("main.rs:2:5: warning: module file `../outside/secret.rs` is not read"),
            "{out}"
        );
        assert!(out.contains("main.rs:7:13: error"), "{out}");
        assert!(!out.contains("inner.rs"), "{out}");
        assert_eq!(o.status.code(), Some(1), "{out}");
    }
}

#[test]
fn fifos_are_never_opened() {
    let t = tempfile::tempdir().unwrap();
    let app = project(
        t.path(),
        "mod pipe;\n#[path = \"other_pipe.rs\"]\nmod other;\n",
    );
    mkfifo(&app.join("src/pipe.rs"));
    mkfifo(&app.join("src/other_pipe.rs"));
    // A walked directory: the FIFOs are found by the walk as well as by `mod`.
    check_formats(
        wsa_lint,
        &app,
        "module file `pipe.rs` is not read: it is not a regular file",
        1,
    );
    check_formats(
        wsa_lint,
        &app,
        "module file `other_pipe.rs` is not read: it is not a regular file",
        1,
    );
    check_formats(
        wsa_lint,
        &app,
        "`src/pipe.rs` is not a regular file; it is skipped",
        1,
    );
    check_formats(
        cargo_wsa_lint,
        &app,
        "module file `pipe.rs` is not read: it is not a regular file",
        1,
    );
    // Named on the command line.
    let o = run_limited(wsa_lint().current_dir(&app).args([
        "--message-format",
        "short",
        "src/pipe.rs",
        "src/main.rs",
    ]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("src/pipe.rs: error: not a regular file"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
}

#[test]
fn a_path_attribute_to_a_file_that_is_not_rust_is_not_read() {
    let t = tempfile::tempdir().unwrap();
    let app = project(t.path(), "#[path = \"notes.txt\"]\nmod notes;\n");
    write(&app, "src/notes.txt", &secret_text());
    check_both(
        &app,
        "module file `notes.txt` is not read: it is not a `.rs` file",
    );
}

#[test]
fn path_attributes_inside_the_package_still_work() {
    let t = tempfile::tempdir().unwrap();
    let app = project(
        t.path(),
        "#[path = \"imp/windows.rs\"]\nmod imp;\n#[path = \"../shared/common.rs\"]\nmod common;\n",
    );
    write(
        &app,
        "src/imp/windows.rs",
        MAIN_TAIL.replace("fn main() { helper(); }\n", "").as_str(),
    );
    write(
        &app,
        "shared/common.rs",
        &MAIN_TAIL
            .replace("helper", "shared")
            .replace("fn main() { shared(); }\n", ""),
    );
    for mut cmd in [wsa_lint(), cargo_wsa_lint()] {
        let o = run_limited(cmd.current_dir(&app).args(["--message-format", "short"]));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("src/imp/windows.rs:4:13: error"), "{out}");
        assert!(out.contains("shared/common.rs:4:13: error"), "{out}");
        assert!(!out.contains("not read"), "{out}");
        assert_eq!(o.status.code(), Some(1), "{out}");
    }
}

#[test]
fn configuration_above_the_repository_root_is_ignored() {
    let t = tempfile::tempdir().unwrap();
    let outer = t.path().join("outer");
    // Both would silence the finding and raise a warning to an error.
    let lints = "missing_wsa_cleanup = \"allow\"\nunchecked_wsa_startup = \"deny\"\n";
    write(&outer, "wsa-lint.toml", &format!("[lints]\n{lints}"));
    write(
        &outer,
        "Cargo.toml",
        &format!("{MANIFEST}\n[package.metadata.wsa-lint.lints]\n{lints}"),
    );
    let repo = outer.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write(
        &repo,
        "src/main.rs",
        &MAIN_TAIL.replace(
            "if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }",
            "unsafe { WSAStartup(0x202, &mut d) };",
        ),
    );
    let o = run_limited(
        wsa_lint()
            .current_dir(&repo)
            .args(["--message-format", "short"]),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    assert!(
        out.contains("warning[wsa_lint::unchecked_wsa_startup]"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
    // A `.git` file (a worktree or submodule) is a repository root too.
    std::fs::remove_dir(repo.join(".git")).unwrap();
    write(&repo, ".git", "gitdir: /nowhere\n");
    let o = run_limited(
        wsa_lint()
            .current_dir(&repo)
            .args(["--message-format", "short"]),
    );
    let again = String::from_utf8_lossy(&o.stdout);
    assert_eq!(again, out);
    // Without the repository root the outer files apply (the walk goes up as before).
    std::fs::remove_file(repo.join(".git")).unwrap();
    let o = run_limited(
        wsa_lint()
            .current_dir(&repo)
            .args(["--message-format", "short"]),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("missing_wsa_cleanup"), "{out}");
    assert!(
        out.contains("error[wsa_lint::unchecked_wsa_startup]"),
        "{out}"
    );
}

#[test]
fn configuration_above_the_workspace_root_is_ignored() {
    let t = tempfile::tempdir().unwrap();
    let outer = t.path().join("outer");
    write(
        &outer,
        "wsa-lint.toml",
        "[lints]\nmissing_wsa_cleanup = \"allow\"\n",
    );
    let ws = outer.join("ws");
    write(
        &ws,
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n",
    );
    let app = ws.join("app");
    write(&app, "Cargo.toml", MANIFEST);
    write(&app, "src/main.rs", MAIN_TAIL);
    for mut cmd in [wsa_lint(), cargo_wsa_lint()] {
        let o = run_limited(cmd.current_dir(&app).args(["--message-format", "short"]));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("error[wsa_lint::missing_wsa_cleanup]"),
            "{out}"
        );
        assert_eq!(o.status.code(), Some(1), "{out}");
    }
}

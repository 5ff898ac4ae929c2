//! Levels from configuration files, in-source suppression and `--fix`, through the real binary.

mod common;

use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn short(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut c = wsa_lint();
    c.current_dir(dir)
        .args(["--message-format", "short"])
        .args(extra);
    let o = run(&mut c);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const ACCEPT_CLOSE: &str = "use windows_sys::Win32::Networking::WinSock::*;\n\
fn serve(l: SOCKET) {\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    unsafe { closesocket(c) };\n\
}\n";

const LEAK: &str = "use windows_sys::Win32::Networking::WinSock::*;\n\
fn main() {\n\
    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n\
    if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }\n\
    if std::env::args().count() > 1 { return; }\n\
    unsafe { WSACleanup() };\n\
}\n";

#[test]
fn wsa_lint_toml_sets_levels_and_the_command_line_wins() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "a.rs", ACCEPT_CLOSE);
    let (code, out, _) = short(d, &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("warning[wsa_lint::closesocket_without_shutdown]"));

    write(
        d,
        "wsa-lint.toml",
        "[lints]\nclosesocket_without_shutdown = \"deny\"\n",
    );
    let (code, out, _) = short(d, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("error[wsa_lint::closesocket_without_shutdown]"),
        "{out}"
    );
    let o = run(wsa_lint().current_dir(d).arg("a.rs"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is set to deny in wsa-lint.toml:2"));

    // Command line over file.
    let (code, out, _) = short(d, &["-A", "closesocket_without_shutdown"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "");

    // Groups and `warnings` work in files too.
    write(d, "wsa-lint.toml", "[lints]\nsuspicious = \"allow\"\n");
    assert_eq!(short(d, &[]).1, "");
    write(d, "wsa-lint.toml", "[lints]\nwarnings = \"deny\"\n");
    assert_eq!(short(d, &[]).0, Some(1));
}

#[test]
fn cargo_metadata_sections_set_levels() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\"]\n\n[workspace.metadata.wsa-lint.lints]\nclosesocket_without_shutdown = \"deny\"\nmissing_wsa_cleanup = \"warn\"\n",
    );
    write(
        d,
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.wsa-lint.lints]\nmissing_wsa_cleanup = \"allow\"\n",
    );
    write(d, "app/src/main.rs", &format!("{LEAK}\nmod net;\n"));
    write(
        d,
        "app/src/net.rs",
        &ACCEPT_CLOSE.replace("use windows_sys", "pub use windows_sys"),
    );
    let o = run(cargo_wsa_lint()
        .arg("--manifest-path")
        .arg(d.join("app/Cargo.toml"))
        .args(["--message-format", "short"]));
    let out = String::from_utf8_lossy(&o.stdout);
    // Workspace says deny for closesocket; the package allows the leak (package over workspace).
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error[wsa_lint::closesocket_without_shutdown]"),
        "{out}"
    );
    assert!(!out.contains("missing_wsa_cleanup"), "{out}");
}

#[test]
fn bad_configuration_is_exit_2_naming_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "a.rs", ACCEPT_CLOSE);
    write(
        d,
        "wsa-lint.toml",
        "[lints]\nclosesocket_without_shutdown = \"deny\"\nmissing_wsa_clenaup = \"warn\"\n",
    );
    let (code, _, err) = short(d, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("wsa-lint.toml:3: unknown lint `missing_wsa_clenaup`; did you mean `missing_wsa_cleanup`?"), "{err}");

    write(
        d,
        "wsa-lint.toml",
        "[lints]\nclosesocket_without_shutdown = \"loud\"\n",
    );
    let (code, _, err) = short(d, &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("wsa-lint.toml:2: the level of `closesocket_without_shutdown` must be"),
        "{err}"
    );

    write(d, "wsa-lint.toml", "[lints\nx = 1\n");
    let (code, _, err) = short(d, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("wsa-lint.toml:1: malformed TOML"), "{err}");
}

#[test]
fn allow_comments_suppress_at_line_function_and_file_scope() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let two_closes = "use windows_sys::Win32::Networking::WinSock::*;\n\
fn a(l: SOCKET) {\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    unsafe { closesocket(c) }; // wsa-lint: allow(closesocket_without_shutdown)\n\
}\n\
// wsa-lint: allow(closesocket_without_shutdown)\n\
#[inline(never)]\n\
fn b(l: SOCKET) {\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    unsafe { closesocket(c) };\n\
}\n\
fn c(l: SOCKET) {\n\
    // wsa-lint: allow(suspicious)\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    unsafe { closesocket(c) };\n\
}\n\
fn d(l: SOCKET) {\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    // wsa-lint: allow(closesocket_without_shutdown)\n\
    unsafe { closesocket(c) };\n\
}\n\
fn e(l: SOCKET) {\n\
    let c = unsafe { accept(l, std::ptr::null_mut(), std::ptr::null_mut()) };\n\
    unsafe { closesocket(c) };\n\
}\n";
    write(d, "a.rs", two_closes);
    let (code, out, _) = short(d, &[]);
    assert_eq!(code, Some(0));
    // Only `e` is reported.
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("a.rs:24:10:"), "{out}");

    write(
        d,
        "b.rs",
        &format!("// wsa-lint: allow(all)\n\n{ACCEPT_CLOSE}"),
    );
    let (_, out, _) = short(d, &["b.rs"]);
    assert_eq!(out, "");
}

#[test]
fn unused_and_unknown_allows_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "a.rs",
        "// wsa-lint: allow(missing_wsa_cleanup)\nfn quiet() {}\nfn other() {} // wsa-lint: allow(no_such_lint)\n",
    );
    let (code, out, _) = short(d, &[]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("a.rs:3:15: warning: unknown lint `no_such_lint`"),
        "{out}"
    );
    assert!(!out.contains("unused"), "{out}");
    let (code, out, _) = short(d, &["--warn-unused-allows"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("a.rs:1:1: warning: unused `wsa-lint: allow(missing_wsa_cleanup)`"),
        "{out}"
    );
}

#[test]
fn fix_applies_machine_applicable_suggestions_atomically() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = "use windows_sys::Win32::Networking::WinSock::*;\n\
fn main() {\n\
    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n\
    if unsafe { WSAStartup(2.2 as u16, &mut d) } != 0 { return; }\n\
    let l = unsafe { socket(AF_INET as i32, SOCK_STREAM, IPPROTO_TCP) };\n\
    unsafe { WSACleanup() };\n\
}\n";
    write(d, "a.rs", src);
    let o = run(wsa_lint().current_dir(d).args(["--message-format", "json"]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\"suggestion_applicability\":\"MachineApplicable\""),
        "{out}"
    );
    assert!(
        out.contains("\"suggested_replacement\":\"0x0202\""),
        "{out}"
    );
    let (code, out, err) = short(d, &["--fix"]);
    assert!(err.contains("fixed 1 finding in 1 file"), "{err}");
    assert!(!out.contains("malformed_wsa_version"), "{out}");
    // What is not machine-applicable is still reported.
    assert!(out.contains("wsa_cleanup_with_open_sockets"), "{out}");
    assert_eq!(code, Some(0));
    let fixed = std::fs::read_to_string(d.join("a.rs")).unwrap();
    assert_eq!(fixed, src.replace("2.2 as u16", "0x0202"));
    // No temporary file is left behind, and a second run finds nothing to fix.
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let (_, out, err) = short(d, &["--fix"]);
    assert!(!err.contains("fixed"), "{err}");
    assert!(!out.contains("malformed_wsa_version"));
}

#[test]
fn a_finding_redundant_with_another_lint_returns_when_that_lint_is_allowed() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "a.rs",
        "use windows_sys::Win32::Networking::WinSock::*;\n\
pub fn with_winsock<F: FnOnce()>(body: F) {\n\
    unsafe {\n\
        let mut data: WSADATA = std::mem::zeroed();\n\
        let _ = WSAStartup(0x202, &mut data);\n\
        body();\n\
        WSACleanup();\n\
    }\n\
}\n",
    );
    // The unchecked startup is the cause: reported once, there.
    let (_, out, _) = short(d, &[]);
    assert!(
        out.contains("a.rs:5:9: warning[wsa_lint::unchecked_wsa_startup]"),
        "{out}"
    );
    assert!(!out.contains("unmatched_wsa_cleanup"), "{out}");
    // With that lint allowed, the cleanup that can follow a failed startup is reported itself.
    let (code, out, _) = short(d, &["-A", "unchecked_wsa_startup"]);
    assert!(!out.contains("unchecked_wsa_startup"), "{out}");
    assert!(
        out.contains("a.rs:7:1: error[wsa_lint::unmatched_wsa_cleanup]"),
        "{out}"
    );
    assert_eq!(code, Some(1));
}

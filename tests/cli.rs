//! The command line as users drive it: exit codes, formats, levels, bad input.

mod common;

use common::*;
use std::path::Path;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const LEAK: &str = "fixtures/missing_wsa_cleanup/question_mark_leaks.rs";
const CLEAN: &str = "fixtures/missing_wsa_cleanup/cleanup_on_every_path.rs";
const WARN_ONLY: &str =
    "fixtures/closesocket_without_shutdown/accepted_socket_closed_without_shutdown.rs";

#[test]
fn exit_status_follows_the_contract() {
    assert_eq!(run(wsa_lint().arg(CLEAN)).status.code(), Some(0));
    assert_eq!(run(wsa_lint().arg(LEAK)).status.code(), Some(1));
    assert_eq!(run(wsa_lint().arg(WARN_ONLY)).status.code(), Some(0));
    let o = run(wsa_lint().args(["-D", "warnings", WARN_ONLY]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error[wsa_lint::closesocket_without_shutdown]"));
    assert!(stderr(&o).contains("raised to an error by `-D warnings`"));
    // A later flag wins, as in rustc.
    let o = run(wsa_lint().args([
        "-D",
        "closesocket_without_shutdown",
        "-A",
        "closesocket_without_shutdown",
        WARN_ONLY,
    ]));
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = run(wsa_lint().args(["-A", "missing_wsa_cleanup", LEAK]));
    assert_eq!(o.status.code(), Some(0));
    let o = run(wsa_lint().args(["-W", "correctness", LEAK]));
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("warning[wsa_lint::missing_wsa_cleanup]"));
    assert!(stderr(&o).contains("set to warn on the command line"));
}

#[test]
fn usage_errors_exit_2() {
    let o = run(wsa_lint().args(["-D", "missing_wsa_cleanpu", CLEAN]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("unknown lint `missing_wsa_cleanpu`; did you mean `missing_wsa_cleanup`?"),
        "{}",
        stderr(&o)
    );
    let o = run(wsa_lint().args(["--message-format", "xml", CLEAN]));
    assert_eq!(o.status.code(), Some(2));
    let o = run(wsa_lint().arg("no/such/path.rs"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no/such/path.rs: no such file or directory"),
        "{}",
        stderr(&o)
    );
    // A missing path is reported, but the other paths are still linted.
    let o = run(wsa_lint().args(["no/such/path.rs", LEAK]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing_wsa_cleanup"));
    let o = run(wsa_lint().args(["--explain", "nope"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn list_and_explain() {
    let o = run(wsa_lint().arg("--list"));
    assert_eq!(o.status.code(), Some(0));
    for name in [
        "missing_wsa_cleanup",
        "unmatched_wsa_cleanup",
        "wsa_cleanup_in_dllmain",
        "wsa_startup_in_dllmain",
        "closesocket_without_shutdown",
        "removed_winsock1_api",
    ] {
        assert!(stdout(&o).contains(name), "--list lacks {name}");
        let e = run(wsa_lint().args(["--explain", name]));
        assert_eq!(e.status.code(), Some(0));
        let text = stdout(&e);
        for section in ["### What it does", "### Why is this bad", "### Example"] {
            assert!(text.contains(section), "{name} docs lack {section}");
        }
    }
    // `wsa_lint::` prefix and dashes are accepted.
    let e = run(wsa_lint().args(["--explain", "wsa_lint::missing-wsa-cleanup"]));
    assert_eq!(e.status.code(), Some(0));
}

#[test]
fn json_is_cargo_compatible() {
    let o = run(wsa_lint().args(["--message-format", "json", "fixtures"]));
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let mut messages = 0;
    for msg in cargo_metadata::Message::parse_stream(text.as_bytes()) {
        match msg.expect("every line parses as a cargo message") {
            cargo_metadata::Message::CompilerMessage(m) => {
                // An input diagnostic (an item of a fixture that does not parse) has no code.
                let Some(code) = m.message.code else {
                    assert!(m.message.message.contains("does not parse"), "{m:?}");
                    continue;
                };
                messages += 1;
                let code = code.code;
                assert!(code.starts_with("wsa_lint::"), "{code}");
                assert_eq!(m.message.spans.iter().filter(|s| s.is_primary).count(), 1);
                assert!(m.message.rendered.expect("rendered").contains(&code));
            }
            cargo_metadata::Message::BuildFinished(f) => assert!(!f.success),
            other => panic!("unexpected message {other:?}"),
        }
    }
    assert!(messages > 50, "only {messages} findings");
}

#[test]
fn short_format_is_one_line_per_finding() {
    let o = run(wsa_lint().args(["--message-format", "short", LEAK]));
    assert_eq!(
        stdout(&o),
        "fixtures/missing_wsa_cleanup/question_mark_leaks.rs:15:18: error[wsa_lint::missing_wsa_cleanup]: `WSAStartup` is not balanced by `WSACleanup` on every path\n"
    );
}

#[test]
fn output_is_deterministic_across_thread_counts() {
    let one = run(wsa_lint().args(["-j", "1", "--message-format", "json", "fixtures"]));
    let two = run(wsa_lint().args(["-j", "2", "--message-format", "json", "fixtures"]));
    let again = run(wsa_lint().args(["-j", "2", "--message-format", "json", "fixtures"]));
    assert_eq!(stdout(&one), stdout(&two));
    assert_eq!(stdout(&two), stdout(&again));
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let plain = run(wsa_lint().arg(LEAK));
    assert!(!stderr(&plain).contains('\x1b'));
    let colored = run(wsa_lint().args(["--color", "always", LEAK]));
    assert!(stderr(&colored).contains('\x1b'));
}

#[test]
fn one_file_of_a_crate_is_linted_with_its_crate_around_it() {
    let dir = "fixtures/missing_wsa_cleanup/caller_leaks_across_files";
    // main.rs alone: the obligation comes from net.rs, which is read for context.
    let o = run(wsa_lint().args(["--message-format", "short", &format!("{dir}/src/main.rs")]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(&format!(
            "{dir}/src/main.rs:14:5: error[wsa_lint::missing_wsa_cleanup]"
        )),
        "{}",
        stdout(&o)
    );
    // net.rs alone: the finding is in main.rs, which was not asked about.
    let o = run(wsa_lint().args(["--message-format", "short", &format!("{dir}/src/net.rs")]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

const LEAKY_MAIN: &str = "use windows_sys::Win32::Networking::WinSock::{WSAStartup, WSADATA};\nfn main() {\n    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n    unsafe { WSAStartup(0x202, &mut d) };\n}\n";

#[test]
fn bad_input_is_a_diagnostic_and_the_rest_is_still_linted() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "broken.rs", b"fn main( {\n");
    write(
        d,
        "broken_winsock.rs",
        b"fn main() { unsafe { WSACleanup() }; let = 1; }\n",
    );
    write(d, "latin1.rs", b"// caf\xe9\nfn main() {}\n");
    write(d, "empty.rs", b"");
    std::fs::create_dir_all(d.join("dir_named.rs")).unwrap();
    let deep = format!(
        "fn main() {{ let x = {}1{}; let y = {}1{}; }} fn g() {{ unsafe {{ WSACleanup() }}; }}\n",
        "(".repeat(60_000),
        ")".repeat(60_000),
        "{".repeat(30_000),
        "}".repeat(30_000)
    );
    write(d, "deep.rs", deep.as_bytes());
    let too_deep = format!(
        "fn main() {{ let x = {}1{}; }} fn g() {{ unsafe {{ WSACleanup() }}; }}\n",
        "[".repeat(100_001),
        "]".repeat(100_001)
    );
    write(d, "too_deep.rs", too_deep.as_bytes());
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop")).ok();
    std::os::unix::fs::symlink(d, d.join("sub_loop")).unwrap();
    write(d, "leak.rs", LEAKY_MAIN.as_bytes());
    std::os::unix::fs::symlink(d.join("gone.rs"), d.join("dangling.rs")).unwrap();
    let fifo = d.join("fifo.rs");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let o = run(wsa_lint()
        .args(["--message-format", "short"])
        .arg(d)
        .arg(&fifo));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    // A file without Winsock calls is only scanned for `mod` declarations, never parsed.
    assert!(!out.contains("broken.rs:"), "{out}");
    assert!(
        out.contains("broken_winsock.rs:1:42: error: this file does not parse as Rust"),
        "{out}"
    );
    assert!(
        out.contains("latin1.rs: error: file is not valid UTF-8"),
        "{out}"
    );
    assert!(out.contains("sub_loop: error: symbolic link loop"), "{out}");
    assert!(out.contains("loop: error: symbolic link loop"), "{out}");
    assert!(
        out.contains("leak.rs:4:14: error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    assert!(!out.contains("/deep.rs"), "deep nesting parses: {out}");
    assert!(
        out.contains(
            "too_deep.rs:1:100020: error: expressions are nested more than 100000 levels deep"
        ),
        "{out}"
    );
    assert!(
        out.contains("dangling.rs: error: no such file or directory"),
        "{out}"
    );
    assert!(out.contains("fifo.rs: error: not a regular file"), "{out}");
    assert!(!out.contains("empty.rs"), "{out}");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn nothing_lintable_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "broken.rs",
        b"fn main( { WSAStartup(0x202, &mut d) }\n",
    );
    let o = run(wsa_lint().arg(tmp.path()));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not parse"));
}

#[test]
fn spans_are_right_with_bom_crlf_tabs_and_wide_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "\u{feff}use windows_sys::Win32::Networking::WinSock::{WSAStartup, WSADATA};\r\nfn main() {\r\n\tlet s = \"日本語\"; let mut d: WSADATA = unsafe { std::mem::zeroed() }; unsafe { WSAStartup(0x202, &mut d) };\r\n}\r\n";
    write(tmp.path(), "crlf.rs", text.as_bytes());
    let o = run(wsa_lint()
        .args(["--message-format", "json"])
        .arg(tmp.path().join("crlf.rs")));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let span = &v["message"]["spans"][0];
    assert_eq!(span["line_start"], 3);
    let line = "\tlet s = \"日本語\"; let mut d: WSADATA = unsafe { std::mem::zeroed() }; unsafe { WSAStartup(0x202, &mut d) };";
    let col = line.find("WSAStartup").unwrap();
    assert_eq!(span["column_start"], line[..col].chars().count() + 1);
    let start = span["byte_start"].as_u64().unwrap() as usize;
    assert!(text[start..].starts_with("WSAStartup(0x202"));
}

#[test]
fn cargo_wsa_lint_reads_manifests_and_never_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let marker = d.join("build-ran");
    write(d, "Cargo.toml", b"[package]\nname = \"planted\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n\n[workspace]\n");
    write(
        d,
        "build.rs",
        format!(
            "fn main() {{ std::fs::write({:?}, \"x\").unwrap(); }}\n",
            marker.display()
        )
        .as_bytes(),
    );
    write(d, "src/main.rs", LEAKY_MAIN.as_bytes());
    // A proc-macro dependency whose build script and expansion would also leave the marker.
    let manifest = std::fs::read_to_string(d.join("Cargo.toml")).unwrap();
    std::fs::write(
        d.join("Cargo.toml"),
        manifest.replace(
            "[workspace]",
            "[dependencies]\nplanted-macro = { path = \"macro\" }\n\n[workspace]",
        ),
    )
    .unwrap();
    write(
        d,
        "macro/Cargo.toml",
        b"[package]\nname = \"planted-macro\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n\n[lib]\nproc-macro = true\n",
    );
    write(
        d,
        "macro/build.rs",
        format!(
            "fn main() {{ std::fs::write({:?}, \"x\").unwrap(); }}\n",
            marker.display()
        )
        .as_bytes(),
    );
    write(
        d,
        "macro/src/lib.rs",
        format!(
            "#[proc_macro]\npub fn planted(_: proc_macro::TokenStream) -> proc_macro::TokenStream {{ std::fs::write({:?}, \"x\").unwrap(); Default::default() }}\n",
            marker.display()
        )
        .as_bytes(),
    );
    let o = run(cargo_wsa_lint()
        .arg("--manifest-path")
        .arg(d.join("Cargo.toml"))
        .args(["--message-format", "short"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("src/main.rs:4:14: error[wsa_lint::missing_wsa_cleanup]"),
        "{}",
        stdout(&o)
    );
    assert!(!marker.exists(), "a build script or proc macro ran");
    assert!(!d.join("target").exists(), "something was built");
    assert!(!d.join("Cargo.lock").exists(), "a lock file was written");
}

#[test]
fn cargo_wsa_lint_selects_packages() {
    let manifest = "fixtures/crates/workspace/Cargo.toml";
    let o = run(cargo_wsa_lint().args([
        "--manifest-path",
        manifest,
        "-p",
        "ws-client",
        "--message-format",
        "short",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(cargo_wsa_lint().args([
        "--manifest-path",
        manifest,
        "-p",
        "ws-server",
        "--message-format",
        "short",
    ]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("server/src/main.rs"));
    let o = run(cargo_wsa_lint().args(["--manifest-path", manifest, "-p", "nope"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("package `nope` is not a member of this workspace"));
    let o = run(cargo_wsa_lint().args(["--manifest-path", "no/Cargo.toml"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`cargo metadata` failed"),
        "{}",
        stderr(&o)
    );
}

//! Hostile and large input through the real binary: huge files, many files, files that vanish
//! mid-run, unreadable directories, the whole benchmark corpus. Nothing may panic or hang, and
//! wsa-lint writes nothing.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const LEAK: &str = "use windows_sys::Win32::Networking::WinSock::{WSAStartup, WSADATA};\nfn main() {\n    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n    if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }\n}\n";

fn no_panic(o: &std::process::Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "status {:?}: {err}",
        o.status
    );
}

/// Every file in `dir` with its length and modification time.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let m = e.metadata().unwrap();
            (e.into_path(), m.len(), m.modified().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_fifty_megabyte_file_and_a_finding_beside_it() {
    let t = tempfile::tempdir().unwrap();
    let line = "pub fn generated_binding_0000(x: u32) -> u32 { x.wrapping_mul(2654435761) }\n";
    let big = line.repeat(50 * 1024 * 1024 / line.len());
    write(t.path(), "big.rs", &big);
    write(t.path(), "leak.rs", LEAK);
    let before = snapshot(t.path());
    let o = run(wsa_lint().args(["--message-format", "short"]).arg(t.path()));
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("leak.rs:4:17: error[wsa_lint::missing_wsa_cleanup]"));
    assert_eq!(
        before,
        snapshot(t.path()),
        "wsa-lint wrote into the linted tree"
    );
}

/// A large file's functions without Winsock are not parsed; one that code of another file
/// reaches (a caller there, or a callee there that reaches Winsock) is, and the findings
/// through it are the same as with the file parsed whole.
#[test]
fn functions_left_out_of_a_large_file_are_parsed_when_another_file_reaches_them() {
    let big = |special: &str| {
        let mut out = String::new();
        for i in 0..4000 {
            if i == 1234 {
                out.push_str(special);
                continue;
            }
            out.push_str(&format!(
                "pub fn helper_{i}() -> i32 {{\n    let z = {i}u32.wrapping_mul(3);\n    if z == 1 {{ return 2; }}\n    helper_{i}_inner()\n}}\nfn helper_{i}_inner() -> i32 {{ 0 }}\n"
            ));
        }
        assert!(out.len() > 300_000);
        out
    };
    let net = "use windows_sys::Win32::Networking::WinSock::*;\npub fn start() -> i32 {\n    let mut data: WSADATA = unsafe { std::mem::zeroed() };\n    unsafe { WSAStartup(0x202, &mut data) }\n}\n";
    // `main` (another file) calls a function of the large file that calls `net::start`.
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "src/main.rs", "mod net;\nmod big;\nfn main() {\n    if big::helper_1234() != 0 {\n        return;\n    }\n}\n");
    write(t.path(), "src/net.rs", net);
    write(
        t.path(),
        "src/big.rs",
        &big("pub fn helper_1234() -> i32 {\n    crate::net::start()\n}\n"),
    );
    let o = run(wsa_lint()
        .args(["--message-format", "short"])
        .arg(t.path().join("src/main.rs")));
    no_panic(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("main.rs:4:8: error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    // A function of the large file that calls another file's function reaching Winsock, and
    // that nothing calls, has findings of its own.
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "src/main.rs",
        "mod net;\nmod big;\nfn main() {}\n",
    );
    write(t.path(), "src/net.rs", net);
    let twice = "pub fn twice() {\n    crate::net::start();\n    if crate::net::start() != 0 {\n        return;\n    }\n}\n";
    write(t.path(), "src/big.rs", &big(twice));
    let o = run(wsa_lint()
        .args(["--message-format", "short"])
        .arg(t.path().join("src")));
    no_panic(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("big.rs:7406:5: error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
    assert!(
        out.contains("big.rs:7407:8: error[wsa_lint::missing_wsa_cleanup]"),
        "{out}"
    );
}

#[test]
fn a_hundred_thousand_small_files() {
    let t = tempfile::tempdir().unwrap();
    for d in 0..100 {
        let dir = t.path().join(format!("d{d}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..1000 {
            std::fs::write(dir.join(format!("f{f}.rs")), "fn f() -> u8 { 1 }\n").unwrap();
        }
    }
    write(t.path(), "d7/leak.rs", LEAK);
    let o = run(wsa_lint().args(["--message-format", "short"]).arg(t.path()));
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

#[test]
fn files_that_vanish_during_the_run() {
    let t = tempfile::tempdir().unwrap();
    for f in 0..20_000 {
        write(t.path(), &format!("f{f}.rs"), LEAK);
    }
    let child = wsa_lint()
        .args(["--message-format", "short"])
        .arg(t.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    for f in (0..20_000).step_by(2) {
        let _ = std::fs::remove_file(t.path().join(format!("f{f}.rs")));
    }
    let o = child.wait_with_output().unwrap();
    no_panic(&o);
    // Every file still there is reported; every vanished one is a finding or a clear message.
    let out = String::from_utf8_lossy(&o.stdout);
    for line in out.lines() {
        assert!(
            line.contains("missing_wsa_cleanup") || line.contains("no such file"),
            "{line}"
        );
    }
}

#[test]
fn unreadable_directories_are_reported() {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        // root reads everything; the permission check cannot be exercised.
        return;
    }
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "closed/x.rs", LEAK);
    write(t.path(), "leak.rs", LEAK);
    let closed = t.path().join("closed");
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let o = run(wsa_lint().args(["--message-format", "short"]).arg(t.path()));
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    no_panic(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("closed: error: permission denied"), "{out}");
    assert!(out.contains("leak.rs:4:17"), "{out}");
}

/// The pinned benchmark corpus (fetched with `cargo vendor`, nothing built): the generated
/// Windows bindings and every other crate produce no finding but rustix's real one.
#[test]
fn the_benchmark_corpus_has_only_its_known_finding() {
    let corpus = root().join("target/bench-corpus");
    if !corpus.is_dir() {
        let s =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["vendor", "-q", "--versioned-dirs", "--manifest-path"])
                .arg(root().join("benches/corpus/Cargo.toml"))
                .arg(&corpus)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
        assert!(s.success(), "cargo vendor failed");
    }
    let before = snapshot(&corpus);
    let o = run(wsa_lint().args(["--message-format", "short"]).arg(&corpus));
    no_panic(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("rustix-0.38.44/src/net/wsa.rs:27:46: warning[wsa_lint::wsagetlasterror_after_wsastartup]"), "{out}");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        before.len(),
        snapshot(&corpus).len(),
        "wsa-lint wrote into the corpus"
    );
}

//! `--fix` never destroys code: each attack of the hostile-input campaign, through the real
//! binary. A fix is written only where the edit is the user's own text, only to files the
//! user asked about, only while the file is still the one that was read, and never half.

mod common;

use common::{run, wsa_lint};
use std::path::Path;
use std::process::Output;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, text).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

fn fix(dir: &Path, args: &[&str]) -> Output {
    run(wsa_lint()
        .current_dir(dir)
        .args(["--fix", "--message-format", "short"])
        .args(args))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Names in `dir` that are not in `expected` (a leftover temporary file, say).
fn extra_files(dir: &Path, expected: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect();
    out.sort();
    out
}

const HEAD: &str = "use windows_sys::Win32::Networking::WinSock::*;\n";

fn program(version: &str) -> String {
    format!(
        "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         if unsafe {{ WSAStartup({version}, &mut d) }} != 0 {{ return; }}\n    \
         unsafe {{ WSACleanup() }};\n}}\n"
    )
}

#[test]
fn a_macro_argument_is_never_rewritten_through_the_macro_body() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = format!(
        "{HEAD}macro_rules! start {{ ($v:expr, $d:expr) => {{ WSAStartup($v as u16, $d) }} }}\n\
         fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         unsafe {{\n        if start!(2.2, &mut d) != 0 {{ return; }}\n        WSACleanup();\n    }}\n}}\n"
    );
    write(d, "main.rs", &src);
    let json = run(wsa_lint()
        .current_dir(d)
        .args(["--message-format", "json", "main.rs"]));
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.contains("malformed_wsa_version"), "{json}");
    assert!(!json.contains("MachineApplicable"), "{json}");
    // The finding points at the macro call, not at a range from the top of the file.
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let span = &v["message"]["spans"][0];
    assert_eq!(span["line_start"], 6, "{json}");
    assert_eq!(
        span["text"][0]["text"].as_str().unwrap().trim(),
        "if start!(2.2, &mut d) != 0 { return; }"
    );
    let o = fix(d, &["main.rs"]);
    let (out, err) = text(&o);
    assert_eq!(read(d, "main.rs"), src, "{err}");
    assert!(
        out.contains("malformed_wsa_version"),
        "still reported: {out}"
    );
    assert!(!err.contains("fixed"), "{err}");
}

#[test]
fn a_fragment_written_in_place_inside_a_macro_call_is_fixed() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = format!(
        "{HEAD}macro_rules! call {{ ($e:expr) => {{ $e }} }}\n\
         fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         unsafe {{\n        if call!(WSAStartup(2.2 as u16, &mut d)) != 0 {{ return; }}\n        WSACleanup();\n    }}\n}}\n"
    );
    write(d, "main.rs", &src);
    let o = fix(d, &["main.rs"]);
    let (_, err) = text(&o);
    assert!(err.contains("fixed 1 finding in 1 file"), "{err}");
    assert_eq!(read(d, "main.rs"), src.replace("2.2 as u16", "0x0202"));
}

#[test]
fn values_that_could_mean_several_versions_get_no_edit() {
    for version in [
        "2.257 as u16",
        "2.2e0 as u16",
        "2.20 as u16",
        "2.2 /* 2.2 */ as u16",
        "22.2 as u16",
    ] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let src = program(version);
        write(d, "main.rs", &src);
        let o = fix(d, &["main.rs"]);
        let (out, err) = text(&o);
        assert_eq!(read(d, "main.rs"), src, "{version}: {err}");
        assert!(out.contains("malformed_wsa_version"), "{version}: {out}");
    }
    // The unambiguous spellings are fixed, suffix or not.
    for (version, word) in [
        ("2.2 as u16", "0x0202"),
        ("1.1f32 as u16", "0x0101"),
        ("2.0_f64 as u16", "0x0002"),
    ] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        write(d, "main.rs", &program(version));
        let o = fix(d, &["main.rs"]);
        assert!(text(&o).1.contains("fixed 1 finding"), "{version}");
        assert_eq!(read(d, "main.rs"), program(word), "{version}");
    }
}

#[cfg(unix)]
#[test]
fn read_only_and_unwritable_files_are_reported_and_the_rest_is_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "ro.rs", &program("2.2 as u16"));
    write(d, "rw.rs", &program("2.2 as u16"));
    std::fs::set_permissions(d.join("ro.rs"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let leak = format!(
        "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         unsafe {{ WSAStartup(2.2 as u16, &mut d) }};\n}}\n"
    );
    write(d, "sub/leak.rs", &leak);
    // A directory nobody may write into: the temporary file cannot be made there.
    std::fs::set_permissions(d.join("sub"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let o = fix(d, &["ro.rs", "rw.rs", "sub/leak.rs"]);
    std::fs::set_permissions(d.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (out, err) = text(&o);
    assert_eq!(read(d, "ro.rs"), program("2.2 as u16"));
    assert_eq!(read(d, "rw.rs"), program("0x0202"));
    assert!(
        err.contains("`ro.rs` was not fixed: the file is read-only"),
        "{err}"
    );
    // Every finding that was not fixed is still printed, and decides the exit status.
    assert!(out.contains("ro.rs:4:"), "{out}");
    assert!(
        out.contains("sub/leak.rs:4:") && out.contains("missing_wsa_cleanup"),
        "{out}"
    );
    assert!(!out.contains("rw.rs"), "{out}");
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let mode = std::fs::metadata(d.join("ro.rs"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
    // When running as root the directory's mode does not stop the write; otherwise it must
    // be reported without stopping the run.
    if read(d, "sub/leak.rs") == leak {
        assert!(err.contains("`sub/leak.rs` was not fixed"), "{err}");
        assert!(err.contains("fixed 1 finding in 1 file"), "{err}");
    } else {
        assert!(err.contains("fixed 2 findings in 2 files"), "{err}");
    }
    assert!(extra_files(d, &["ro.rs", "rw.rs", "sub/leak.rs"]).is_empty());
}

#[cfg(unix)]
#[test]
fn a_fixed_file_keeps_its_mode_and_owner() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "main.rs", &program("2.2 as u16"));
    let p = d.join("main.rs");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    // As root, give the file another owner: the rewrite must keep it.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&p, Some(4321), Some(4321)).unwrap();
    }
    let before = std::fs::metadata(&p).unwrap();
    let o = fix(d, &["main.rs"]);
    assert!(text(&o).1.contains("fixed 1 finding"), "{:?}", text(&o));
    let after = std::fs::metadata(&p).unwrap();
    assert_eq!(read(d, "main.rs"), program("0x0202"));
    assert_eq!(after.permissions().mode() & 0o7777, 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    // A symlink inside the project stays a symlink; its target is edited.
    write(d, "real/target.rs", &program("2.2 as u16"));
    std::os::unix::fs::symlink("real/target.rs", d.join("link.rs")).unwrap();
    let o = fix(d, &["link.rs"]);
    assert!(text(&o).1.contains("fixed 1 finding"), "{:?}", text(&o));
    assert!(std::fs::symlink_metadata(d.join("link.rs"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read(d, "real/target.rs"), program("0x0202"));
}

#[test]
fn files_outside_the_requested_paths_are_never_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    let lib = format!(
        "{HEAD}pub fn start(d: &mut WSADATA) -> i32 {{ unsafe {{ WSAStartup(2.2 as u16, d) }} }}\n\
         pub fn stop() {{ unsafe {{ WSACleanup() }}; }}\n"
    );
    write(d, "src/lib.rs", &lib);
    write(d, "src/main.rs", &program("2.2 as u16"));
    let o = fix(d, &["src/main.rs"]);
    assert!(
        text(&o).1.contains("fixed 1 finding in 1 file"),
        "{:?}",
        text(&o)
    );
    assert_eq!(read(d, "src/lib.rs"), lib, "the library was only context");
    assert_eq!(read(d, "src/main.rs"), program("0x0202"));
}

/// Bytes this process has read so far (Linux's /proc accounting).
#[cfg(target_os = "linux")]
fn bytes_read(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(target_os = "linux")]
#[test]
fn a_file_changed_on_disk_after_it_was_read_is_not_overwritten() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Enough code after the finding that the analysis outlasts the edit below.
    let mut src = program("2.2 as u16");
    for i in 0..60_000 {
        src.push_str(&format!(
            "fn f{i}(x: u32) -> u32 {{ if x > {i} {{ x - 1 }} else {{ x + 1 }} }}\n"
        ));
    }
    write(d, "main.rs", &src);
    let child = wsa_lint()
        .current_dir(d)
        .args(["--fix", "--message-format", "short", "main.rs"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = std::time::Instant::now();
    while bytes_read(pid).unwrap_or(0) < src.len() as u64 {
        assert!(start.elapsed().as_secs() < 60, "the file was never read");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // Another editor saves the file while the analysis runs.
    let edited = src.replace("fn main() {", "fn main() { // edited elsewhere");
    std::fs::write(d.join("main.rs"), &edited).unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(read(d, "main.rs"), edited, "{err}");
    assert!(
        err.contains("`main.rs` was not fixed: the file changed on disk after it was read"),
        "{err}"
    );
    assert!(out.contains("malformed_wsa_version"), "{out}");
}

#[cfg(unix)]
#[test]
fn an_interrupt_never_leaves_a_temporary_or_half_written_file() {
    // On the build's own disk rather than /tmp, which may be memory, so that each file's
    // write and sync takes real time.
    let t = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = t.path();
    let n = 400;
    let names: Vec<String> = (0..n).map(|i| format!("f{i:03}.rs")).collect();
    let reset = || {
        for name in &names {
            write(d, name, &program("2.2 as u16"));
        }
    };
    let expected: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let timed = |args: &[&str]| {
        let start = std::time::Instant::now();
        run(wsa_lint().current_dir(d).args(args));
        start.elapsed()
    };
    // Where the writing happens: after the analysis a plain run does, before a fixing run ends.
    reset();
    let analysis = timed(&["--message-format", "short", "."]);
    let whole = timed(&["--fix", "--message-format", "short", "."]);
    let window = whole
        .saturating_sub(analysis)
        .max(std::time::Duration::from_millis(5));
    let mut interrupted_mid_fix = 0;
    for round in 0..24u32 {
        reset();
        let at = analysis + window.mul_f64(f64::from(round % 8 + 1) / 9.0);
        let mut child = wsa_lint()
            .current_dir(d)
            .args(["--fix", "--message-format", "short", "."])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let sig = if round % 2 == 0 { "INT" } else { "TERM" };
        let _ = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(
            extra_files(d, &expected).is_empty(),
            "left behind after SIG{sig} at {at:?}: {:?}",
            extra_files(d, &expected)
        );
        let mut fixed = 0;
        for name in &names {
            let now = read(d, name);
            assert!(
                now == program("2.2 as u16") || now == program("0x0202"),
                "{name} is neither the old file nor the fixed one: {now}"
            );
            fixed += usize::from(now == program("0x0202"));
        }
        if fixed > 0 && fixed < n {
            interrupted_mid_fix += 1;
            use std::os::unix::process::ExitStatusExt;
            assert!(status.signal().is_some(), "{status:?}");
            if interrupted_mid_fix >= 3 {
                break;
            }
        }
    }
    assert!(
        interrupted_mid_fix > 0,
        "no round stopped the run while it was writing files (analysis {analysis:?}, \
         with fixes {whole:?}); the test proves nothing"
    );
}

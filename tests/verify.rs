//! The runtime verifier, driven like a user would: the fixtures of
//! `fixtures/verify/` are built for Windows with Debian's rustc, run by the real
//! `wsa-lint verify` under Wine, and its report is checked against the markers
//! in each fixture:
//!
//! - `//~ confirmed: LINT`, `//~ not-exercised: LINT`, `//~ runtime-only: LINT`
//!   on the line the entry is reported at (every entry must be marked);
//! - `//@ calls: NAME=N ...`: how often those functions were observed;
//! - `//@ dll: HOST EXPORT...`: a DLL fixture, run by the host fixture HOST;
//! - `//@ args: ...`: extra `wsa-lint verify` options;
//! - `//@ not-observable: LINT=N`: static findings no run can confirm.
//!
//! Needs Wine and the Windows standard library for rustc (`.ci/run` installs
//! them). Without them these tests say so and pass, unless
//! `WSA_LINT_REQUIRE_WINE=1` (set by `.ci/run`) makes that a failure.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const RUSTC: &str = "/usr/bin/rustc";
const TARGET: &str = "x86_64-pc-windows-gnu";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("fixtures/verify")
}

fn out_dir() -> PathBuf {
    root().join("target/verify-fixtures")
}

/// Built fixtures, or `None` when this machine cannot run Windows programs.
fn toolchain() -> Option<&'static Path> {
    static READY: OnceLock<Option<PathBuf>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let has_std = Command::new(RUSTC)
                .args(["--print", "sysroot"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .is_some_and(|s| Path::new(&s).join("lib/rustlib").join(TARGET).is_dir());
            let has_wine = ["wine", "wine64"].iter().any(|w| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {w}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            if !(has_std && has_wine) {
                let msg = format!(
                    "runtime verifier tests need Wine and {RUSTC} with the {TARGET} standard library \
                     (wine: {has_wine}, std: {has_std}); `.ci/run` installs them"
                );
                if std::env::var_os("WSA_LINT_REQUIRE_WINE").is_some_and(|v| v == "1") {
                    panic!("{msg}");
                }
                eprintln!("skipping: {msg}");
                return None;
            }
            build_all();
            Some(out_dir())
        })
        .as_deref()
}

fn directives(text: &str, key: &str) -> Option<Vec<String>> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("//@ {key}:")))
        .map(|rest| rest.split_whitespace().map(String::from).collect())
}

fn cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/verify exists")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_stem()?.to_string_lossy().to_string();
            (p.extension()? == "rs" && name != "dll_host").then_some(name)
        })
        .collect();
    out.sort();
    out
}

fn compile(src: &Path, dir: &Path) {
    let out = Command::new(RUSTC)
        .args(["--edition", "2021", "--target", TARGET, "-C", "debuginfo=2"])
        .arg("--out-dir")
        .arg(dir)
        .arg(src)
        .output()
        .expect("rustc runs");
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each fixture in its own directory (a DLL beside its host), two at a time.
fn build_all() {
    let jobs: Vec<(PathBuf, PathBuf)> = cases()
        .into_iter()
        .flat_map(|name| {
            let src = fixtures().join(format!("{name}.rs"));
            let dir = out_dir().join(&name);
            let text = std::fs::read_to_string(&src).expect("fixture readable");
            let mut jobs = vec![(src, dir.clone())];
            if let Some(host) = directives(&text, "dll") {
                jobs.push((fixtures().join(format!("{}.rs", host[0])), dir));
            }
            jobs
        })
        .collect();
    for (_, dir) in &jobs {
        std::fs::create_dir_all(dir).expect("output directory");
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((src, dir)) = jobs.get(i) else {
                    return;
                };
                compile(src, dir);
            });
        }
    });
}

fn wsa_lint() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wsa-lint"));
    // The Wine prefix and the observing DLL are built once and shared by every case.
    c.env("WSA_LINT_CACHE_DIR", root().join("target/verify-cache"));
    c.current_dir(root());
    c
}

/// `wsa-lint verify` on one fixture, with extra options.
fn verify(name: &str, format: &str) -> Output {
    let built = toolchain().expect("toolchain checked by the caller");
    let src = fixtures().join(format!("{name}.rs"));
    let text = std::fs::read_to_string(&src).expect("fixture readable");
    let dir = built.join(name);
    let mut cmd = wsa_lint();
    cmd.args(["verify", "--message-format", format, "--source"])
        .arg(&src);
    if let Some(extra) = directives(&text, "args") {
        cmd.args(extra);
    }
    cmd.arg("--");
    match directives(&text, "dll") {
        Some(dll) => {
            cmd.arg(dir.join(format!("{}.exe", dll[0])));
            cmd.arg(format!("{name}.dll"));
            cmd.args(&dll[1..]);
        }
        None => {
            cmd.arg(dir.join(format!("{name}.exe")));
        }
    }
    cmd.output().expect("wsa-lint runs")
}

type Expected = BTreeSet<(u64, String, String)>;

fn markers(text: &str) -> Expected {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((_, m)) = line.split_once("//~ ") {
            let (status, lint) = m.split_once(": ").expect("`//~ STATUS: LINT`");
            out.insert((i as u64 + 1, status.to_string(), lint.trim().to_string()));
        }
    }
    out
}

fn check_case(name: &str) -> Result<(), String> {
    let src = fixtures().join(format!("{name}.rs"));
    let text = std::fs::read_to_string(&src).expect("fixture readable");
    let out = verify(name, "json");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = || format!("{name}:\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).map_err(|e| format!("bad JSON line {l:?}: {e}\n{}", ctx()))
        })
        .collect::<Result<_, _>>()?;
    let (summary, entries) = lines
        .split_last()
        .ok_or_else(|| format!("no output\n{}", ctx()))?;
    if summary["reason"] != "wsa-verify-summary" {
        return Err(format!("last line is not the summary\n{}", ctx()));
    }
    let mut seen = BTreeSet::new();
    let mut failing = false;
    for e in entries {
        if e["reason"] != "wsa-verify" || e["file"] != format!("{name}.rs") {
            return Err(format!("unexpected entry {e}\n{}", ctx()));
        }
        let status = e["status"].as_str().unwrap_or_default().to_string();
        let line = e["line"].as_u64().unwrap_or_default();
        seen.insert((
            line,
            status.clone(),
            e["lint"].as_str().unwrap_or_default().to_string(),
        ));
        failing |= status != "not-exercised" && e["level"] == "deny";
        // What was confirmed or seen happened at that line (or in a call made from it).
        let events = e["events"].as_array().cloned().unwrap_or_default();
        let here = format!("{name}.rs:{line}");
        if status != "not-exercised"
            && !events.iter().any(|ev| {
                ev["stack"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|l| l.as_str() == Some(&here)))
            })
        {
            return Err(format!("no event at {here} in {e}\n{}", ctx()));
        }
        if status == "not-exercised" && !events.is_empty() {
            return Err(format!("events for a finding that did not happen: {e}"));
        }
    }
    let expected = markers(&text);
    if seen != expected {
        return Err(format!(
            "entries differ from the markers\n  expected: {expected:?}\n  seen:     {seen:?}\n{}",
            ctx()
        ));
    }
    let want_code = i32::from(failing);
    if out.status.code() != Some(want_code) {
        return Err(format!(
            "exit {:?}, expected {want_code}\n{}",
            out.status.code(),
            ctx()
        ));
    }
    let calls = counts(&summary["calls"]);
    for want in directives(&text, "calls").unwrap_or_default() {
        let (f, n) = want.split_once('=').expect("NAME=N");
        let got = calls.get(f).copied().unwrap_or(0);
        if got.to_string() != n {
            return Err(format!("{f} observed {got} times, expected {n}\n{}", ctx()));
        }
    }
    let not_observable = counts(&summary["not_observable"]);
    let want: BTreeMap<String, u64> = directives(&text, "not-observable")
        .unwrap_or_default()
        .iter()
        .map(|w| {
            let (l, n) = w.split_once('=').expect("LINT=N");
            (l.to_string(), n.parse().expect("a count"))
        })
        .collect();
    if not_observable != want {
        return Err(format!(
            "not_observable {not_observable:?}, expected {want:?}\n{}",
            ctx()
        ));
    }
    let timed_out = directives(&text, "args").is_some_and(|a| a.iter().any(|x| x == "--timeout"));
    if summary["timed_out"] != timed_out || summary["log_complete"] != !timed_out {
        return Err(format!("unexpected end of run in {summary}\n{}", ctx()));
    }
    if !timed_out && summary["exit_code"] != 0 {
        return Err(format!("the fixture program failed: {summary}\n{}", ctx()));
    }
    Ok(())
}

/// A summary's `{"name": count}` object.
fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fixtures_match_their_markers() {
    if toolchain().is_none() {
        return;
    }
    let names = cases();
    assert!(names.len() >= 15, "fixtures are missing: {names:?}");
    // The first run creates the Wine prefix; the rest run two at a time.
    let mut failures = Vec::new();
    if let Err(e) = check_case(&names[0]) {
        failures.push(e);
    }
    let next = std::sync::atomic::AtomicUsize::new(1);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(name) = names.get(i) else {
                    return;
                };
                if let Err(e) = check_case(name) {
                    found.lock().unwrap().push(e);
                }
            });
        }
    });
    failures.extend(found.into_inner().unwrap());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn human_report_reads_like_rustc() {
    if toolchain().is_none() {
        return;
    }
    let out = verify("closesocket_without_shutdown", "human");
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "warning[closesocket_without_shutdown]: confirmed at run time: `closesocket` on a connected socket that was not shut down",
        "--> closesocket_without_shutdown.rs:32:9",
        "32 |         closesocket(client); //~ confirmed: closesocket_without_shutdown",
        "was connected and closed without shutdown(SD_SEND)",
        "related: connect(",
        "verify: 2 confirmed, 1 not exercised, 0 runtime only; the program exited with 0;",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Warn-level confirmations do not fail the run.
    assert_eq!(out.status.code(), Some(0), "{err}");

    // `--log` keeps the raw call log, one JSON object per call.
    let log = out_dir().join("closesocket_without_shutdown/calls.jsonl");
    let _ = std::fs::remove_file(&log);
    let built = toolchain().unwrap().join("closesocket_without_shutdown");
    let out = wsa_lint()
        .args([
            "verify",
            "--source",
            "fixtures/verify/closesocket_without_shutdown.rs",
            "--log",
        ])
        .arg(&log)
        .arg("--")
        .arg(built.join("closesocket_without_shutdown.exe"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("the log was kept");
    let calls: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("fn").is_some())
        .collect();
    assert_eq!(calls.len(), 14, "{text}");
    // Calls name their stack; each stack is written once, on a line of its own.
    let stacks: BTreeMap<u64, usize> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("fn").is_none() && v.get("stack").is_some())
        .map(|v| {
            (
                v["stack"].as_u64().unwrap(),
                v["frames"].as_array().unwrap().len(),
            )
        })
        .collect();
    for c in &calls {
        let frames = stacks.get(&c["stack"].as_u64().unwrap());
        assert!(frames.is_some_and(|n| *n > 0), "no stack for {c}");
    }
    assert!(stacks.len() <= calls.len());

    let out = verify("dll_cleanup_in_dllmain", "human");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[wsa_cleanup_in_dllmain]: confirmed at run time")
            && err.contains("inside DllMain"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
}

#[test]
fn bad_programs_are_usage_errors() {
    // These fail before anything runs.
    let missing = wsa_lint()
        .args([
            "verify",
            "--source",
            "fixtures/verify",
            "--",
            "no/such/program.exe",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file"));

    let not_pe = wsa_lint()
        .args(["verify", "--source", "fixtures/verify", "--", "README.md"])
        .output()
        .unwrap();
    assert_eq!(not_pe.status.code(), Some(2));
    let err = String::from_utf8_lossy(&not_pe.stderr);
    assert!(
        err.contains("README.md") && err.contains("not a Windows executable"),
        "{err}"
    );

    if let Some(built) = toolchain() {
        let dll = built.join("dll_init_pair/dll_init_pair.dll");
        let out = wsa_lint()
            .args(["verify", "--source", "fixtures/verify", "--"])
            .arg(&dll)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is a DLL: run it through a host program"),
            "{err}"
        );
    }

    let no_program = wsa_lint()
        .args(["verify", "--source", "."])
        .output()
        .unwrap();
    assert_eq!(no_program.status.code(), Some(2));

    let help = wsa_lint().args(["verify", "--help"]).output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: wsa-lint verify"));

    // `cargo wsa-lint verify` is the same command.
    let cargo = Command::new(env!("CARGO_BIN_EXE_cargo-wsa-lint"))
        .args(["wsa-lint", "verify", "--help"])
        .output()
        .unwrap();
    assert_eq!(cargo.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&cargo.stdout).contains("--source <PATH>"));
}

#[test]
fn damaged_executables_never_panic_the_import_reader() {
    let Some(built) = toolchain() else {
        return;
    };
    let exe = std::fs::read(built.join("use_after_close/use_after_close.exe")).unwrap();
    let clean = wsa_lint::verify::pe::ws2_imports(&exe).expect("a real executable");
    assert!(clean.names.iter().any(|n| n == "closesocket"), "{clean:?}");
    // Corrupt the headers and the import tables, a few bytes at a time (a fixed LCG: repeatable).
    let imports_at = clean.name_offsets[0];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..3000 {
        let mut data = exe.clone();
        for _ in 0..1 + round % 4 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pos = if seed % 2 == 0 {
                (seed >> 33) as usize % 0x400
            } else {
                imports_at.saturating_sub(0x800) + (seed >> 33) as usize % 0x1000
            };
            if let Some(b) = data.get_mut(pos) {
                *b = (seed >> 17) as u8;
            }
        }
        if round % 7 == 0 {
            data.truncate((seed >> 40) as usize % exe.len());
        }
        let _ = wsa_lint::verify::pe::redirect_ws2(&mut data);
    }
}

/// Copies a cargo fixture, vendors its dependencies with this toolchain's cargo, and builds it
/// for Windows with Debian's cargo and rustc 1.63, offline.
fn build_crate(name: &str) -> PathBuf {
    let src = fixtures().join("crates").join(name);
    let dir = out_dir().join("crates").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::copy(src.join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
    std::fs::copy(src.join("src/main.rs"), dir.join("src/main.rs")).unwrap();
    let vendor = Command::new(env!("CARGO"))
        .args(["vendor", "--quiet", "vendor"])
        .current_dir(&dir)
        .output()
        .expect("cargo vendor runs");
    assert!(
        vendor.status.success(),
        "{}",
        String::from_utf8_lossy(&vendor.stderr)
    );
    // Debian's older cargo resolves again from the vendored sources (it cannot read a newer lockfile).
    std::fs::remove_file(dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n",
    )
    .unwrap();
    let build = Command::new("/usr/bin/cargo")
        .args(["build", "--offline", "--target", TARGET])
        .env("RUSTC", RUSTC)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .current_dir(&dir)
        .output()
        .expect("Debian's cargo runs");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    dir
}

#[test]
fn a_cargo_built_windows_sys_program_is_verified() {
    if toolchain().is_none() {
        return;
    }
    let dir = build_crate("windows_sys_client");
    let exe = dir.join(format!("target/{TARGET}/debug/windows_sys_client.exe"));
    // The sources the program was built from (its debug info names them).
    let src = dir.join("src");
    let out = wsa_lint()
        .args(["verify", "--message-format", "json", "--source"])
        .arg(&src)
        .arg("--")
        .arg(&exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Expected = lines
        .iter()
        .filter(|v| v["reason"] == "wsa-verify")
        .map(|v| {
            assert_eq!(v["file"], "main.rs", "{v}");
            (
                v["line"].as_u64().unwrap(),
                v["status"].as_str().unwrap().to_string(),
                v["lint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let text = std::fs::read_to_string(src.join("main.rs")).unwrap();
    assert_eq!(seen, markers(&text), "{stdout}");
    // windows-sys imports ws2_32.dll through its own import library: it was observed.
    let summary = lines.last().unwrap();
    assert_eq!(summary["calls"]["WSAStartup"], 3, "{summary}");
    assert_eq!(summary["references_at_exit"], 1, "{summary}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

#[test]
fn options_dll_rustc_and_color() {
    let Some(built) = toolchain() else {
        return;
    };
    // --dll: the host runs from a directory without the DLL; the DLL named with --dll is
    // staged beside the host's copy, loaded by name and observed.
    let lonely = out_dir().join("lonely-host");
    std::fs::create_dir_all(&lonely).unwrap();
    let host = lonely.join("dll_host.exe");
    std::fs::copy(built.join("dll_cleanup_in_dllmain/dll_host.exe"), &host).unwrap();
    let dll = built.join("dll_cleanup_in_dllmain/dll_cleanup_in_dllmain.dll");
    let out = wsa_lint()
        .args(["verify", "--message-format", "json", "--source"])
        .arg(fixtures().join("dll_cleanup_in_dllmain.rs"))
        .arg("--dll")
        .arg(&dll)
        .arg("--")
        .arg(&host)
        .arg("dll_cleanup_in_dllmain.dll")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let confirmed: BTreeSet<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["status"] == "confirmed")
        .filter_map(|v| v["lint"].as_str().map(String::from))
        .collect();
    assert_eq!(
        confirmed,
        BTreeSet::from([
            "wsa_cleanup_in_dllmain".to_string(),
            "wsa_startup_in_dllmain".to_string()
        ]),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));

    // --rustc: a compiler that does not exist cannot build the observing DLL: exit 2, named.
    let cache = tempfile::tempdir().unwrap();
    let out = wsa_lint()
        .env("WSA_LINT_CACHE_DIR", cache.path())
        .args(["verify", "--source", "fixtures/verify/use_after_close.rs"])
        .args(["--rustc", "/no/such/rustc", "--"])
        .arg(built.join("use_after_close/use_after_close.exe"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot build the observing DLL") && err.contains("/no/such/rustc"),
        "{err}"
    );

    // --color always: the report is coloured even into a pipe.
    let out = wsa_lint()
        .args(["verify", "--color", "always", "--source"])
        .arg(fixtures().join("use_after_close.rs"))
        .arg("--")
        .arg(built.join("use_after_close/use_after_close.exe"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\u{1b}[") && err.contains("socket_use_after_close"),
        "{err}"
    );
}

/// A run of `wsa-lint verify` watched from outside: it must end within `limit` (it is killed
/// and the test fails otherwise), and its peak memory (`VmHWM`, KiB) is sampled while it runs.
#[cfg(target_os = "linux")]
fn run_bounded(mut cmd: Command, limit: std::time::Duration) -> (Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsa-lint starts");
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = pipe(Box::new(child.stdout.take().unwrap()));
    let err = pipe(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let mut peak = 0;
    let status = loop {
        // The high-water mark stays readable until the process is reaped.
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // Over time, or reading something whole that it should not (stopped at 1 GiB so that a
        // regression cannot take the machine's memory with it).
        if start.elapsed() > limit || peak > 1 << 20 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "wsa-lint verify did not finish within {limit:?} and 1 GiB (peak {peak} KiB); \
                 stderr:\n{}",
                String::from_utf8_lossy(&err.join().unwrap())
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, peak)
}

#[cfg(target_os = "linux")]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {path:?}"
    );
}

/// A file of `size` bytes that takes no disk space: `head` and then zeros.
#[cfg(target_os = "linux")]
fn sparse(path: &Path, head: &[u8], size: u64) {
    std::fs::write(path, head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(size)
        .unwrap();
}

const GIB: u64 = 1 << 30;
fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

#[test]
#[cfg(target_os = "linux")]
fn programs_that_are_not_programs_are_named() {
    // None of these needs Wine: they are refused before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("prog.exe");
    mkfifo(&fifo);
    let huge = dir.path().join("huge.exe");
    sparse(&huge, b"", 3 * GIB);
    for (program, want) in [
        (dir.path().to_path_buf(), "is a directory, not a program"),
        (fifo, "is a FIFO, not a program"),
        (huge, "not a Windows executable or DLL (no MZ header)"),
    ] {
        let mut cmd = wsa_lint();
        cmd.args([
            "verify",
            "--source",
            "fixtures/verify/use_after_close.rs",
            "--",
        ])
        .arg(&program);
        let (out, peak) = run_bounded(cmd, secs(60));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program:?}: {err}");
        assert!(
            err.contains(want) && err.contains(&*program.to_string_lossy()),
            "{program:?}: {err}"
        );
        // The 3 GB file is turned away by its first bytes, not read whole.
        assert!(peak < 512 << 10, "{program:?}: peak {peak} KiB");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn hostile_files_beside_the_program_are_not_read() {
    let Some(built) = toolchain() else {
        return;
    };
    let dir = tempfile::tempdir_in(out_dir()).unwrap();
    let exe = dir.path().join("use_after_close.exe");
    std::fs::copy(built.join("use_after_close/use_after_close.exe"), &exe).unwrap();
    let head = std::fs::read(&exe).unwrap()[..4096].to_vec();
    // Reading a FIFO blocks forever; /dev/zero never ends; 3 GB files are not to be read whole,
    // neither one that is not a DLL nor one that starts like one.
    mkfifo(&dir.path().join("evil.dll"));
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.dll")).unwrap();
    sparse(&dir.path().join("huge.dll"), b"", 3 * GIB);
    sparse(&dir.path().join("big.dll"), &head, 3 * GIB);
    let mut cmd = wsa_lint();
    cmd.args([
        "verify",
        "--source",
        "fixtures/verify/use_after_close.rs",
        "--",
    ])
    .arg(&exe);
    let (out, peak) = run_bounded(cmd, secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "evil.dll beside the program is not observed: it is a FIFO, not a DLL",
        "zero.dll beside the program is not observed: it is a character device, not a DLL",
        "big.dll beside the program is not observed: it is 3072 MiB, more than the 512 MiB",
        "error[socket_use_after_close]: confirmed at run time",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Not worth a word: a file called `.dll` that is not one.
    assert!(!err.contains("huge.dll"), "{err}");
    // The program itself still ran and was verified.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(peak < 512 << 10, "peak {peak} KiB:\n{err}");
}

#[test]
fn a_program_that_cannot_start_is_a_failure_to_run() {
    let Some(built) = toolchain() else {
        return;
    };
    let dir = tempfile::tempdir_in(out_dir()).unwrap();
    let exe = std::fs::read(built.join("use_after_close/use_after_close.exe")).unwrap();
    let run = |name: &str, data: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        let out = wsa_lint()
            .args([
                "verify",
                "--source",
                "fixtures/verify/use_after_close.rs",
                "--",
            ])
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Cut short: refused before it runs, with the reason.
    let (code, err) = run("truncated.exe", &exe[..4096]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot run `")
            && err.contains("truncated.exe")
            && err.contains("the file is truncated"),
        "{err}"
    );
    // Headers Wine refuses (a section alignment of 3): it runs nothing, which is not a clean run.
    let pe = u32::from_le_bytes(exe[0x3c..0x40].try_into().unwrap()) as usize;
    let mut bad = exe.clone();
    bad[pe + 24 + 32..pe + 24 + 36].copy_from_slice(&3u32.to_le_bytes());
    let (code, err) = run("misaligned.exe", &bad);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot run `") && err.contains("Wine could not start it"),
        "{err}"
    );
    assert!(
        !err.contains("verify: "),
        "a report for a run that did not happen: {err}"
    );
}

/// The processes whose command line contains `needle`, with their parent.
#[cfg(target_os = "linux")]
fn processes_naming(needle: &str) -> Vec<(u32, u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            cmd.contains(needle).then_some((pid, ppid, cmd))
        })
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn signals_end_the_program_and_remove_the_staging_directory() {
    let Some(built) = toolchain() else {
        return;
    };
    // The staging directory is found through the program's own command line, not by pointing
    // TMPDIR elsewhere: Wine keeps its server socket under TMPDIR, so another TMPDIR would start
    // a second wineserver on the prefix the other tests share.
    let cases = [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGINT, "SIGINT", 130),
    ];
    // Under load, Wine's launcher was seen to end (exit 0) right after starting the program,
    // before the signal was sent: such a run says nothing about signals and is tried again.
    // A case passes only on a run whose launcher was alive when the signal went out.
    let mut attempts = 0;
    let mut todo: Vec<_> = cases.iter().rev().collect();
    while let Some(case) = todo.pop() {
        let &(signal, name, code) = case;
        attempts += 1;
        assert!(
            attempts <= 6,
            "{name}: Wine's launcher ended before every signal"
        );
        let mut cmd = wsa_lint();
        cmd.args(["verify", "--timeout", "300", "--source"])
            .arg(fixtures().join("hang_then_cleanup.rs"))
            .arg("--")
            .arg(built.join("hang_then_cleanup/hang_then_cleanup.exe"));
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let staged = loop {
            let mine = processes_naming("wsa-lint-verify-")
                .into_iter()
                .find(|(_, ppid, cmd)| *ppid == child.id() && cmd.contains("hang_then_cleanup"));
            // Wine's loader starts as `wine64 PROGRAM` and becomes the program: wait for that.
            let exe = mine.and_then(|(_, _, cmd)| {
                let first = cmd.split_whitespace().next()?.to_string();
                first.contains("wsa-lint-verify-").then_some(first)
            });
            if let Some(exe) = exe {
                break PathBuf::from(exe).parent().unwrap().to_path_buf();
            }
            if start.elapsed() > secs(120) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!("the program never started under wsa-lint verify");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(staged.is_dir(), "{staged:?}");
        // Let it reach its sleep.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let marker = staged.file_name().unwrap().to_string_lossy().to_string();
        let launcher_alive = processes_naming(&marker)
            .iter()
            .any(|(_, ppid, _)| *ppid == child.id());
        if !launcher_alive || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{name}: Wine's launcher ended before the signal; trying again");
            todo.push(case);
            continue;
        }
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > secs(30) {
                let _ = child.kill();
                panic!("wsa-lint verify did not stop on {name}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(code), "{name}: {err}");
        assert!(err.contains(&format!("stopped by {name}")), "{err}");
        assert!(!staged.exists(), "{name}: {staged:?} is left behind");
        let marker = staged.file_name().unwrap().to_string_lossy().to_string();
        let left = processes_naming(&marker);
        assert!(left.is_empty(), "{name}: still running: {left:?}");
    }
}

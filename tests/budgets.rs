//! Bounded, and never silently incomplete: inputs built to exhaust the analysis finish, the
//! functions that hit a budget get a note, and what does not depend on them is still found.

mod common;

use common::wsa_lint;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary with a deadline, so that a regression fails the test instead of hanging it.
fn run_bounded(dir: &Path, args: &[&str]) -> Output {
    let child = wsa_lint()
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let done = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if start.elapsed() > Duration::from_secs(120) {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        !watch.join().unwrap(),
        "wsa-lint {args:?} ran past its deadline"
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const HEAD: &str = "use windows_sys::Win32::Networking::WinSock::*;\n";

/// A `main` that leaks, then `tail` after the startup.
fn leaking_main(tail: &str) -> String {
    format!(
        "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         if unsafe {{ WSAStartup(0x202, &mut d) }} != 0 {{ return; }}\n    {tail}\n}}\n"
    )
}

fn self_recursive_macro(fan_out: usize) -> String {
    let calls = vec!["m!($x)"; fan_out].join(", ");
    format!(
        "macro_rules! m {{ ($x:expr) => {{ ({calls}) }} }}\n{}",
        leaking_main("let _ = m!(1);")
    )
}

#[test]
fn a_self_recursive_macro_is_bounded_and_the_leak_still_found() {
    for fan_out in [2, 8, 16] {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("main.rs"), self_recursive_macro(fan_out)).unwrap();
        let o = run_bounded(t.path(), &["main.rs"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "fan-out {fan_out}: {err}");
        assert!(
            err.contains("missing_wsa_cleanup"),
            "fan-out {fan_out}: {err}"
        );
        if fan_out >= 8 {
            assert!(
                err.contains("note: analysis of `main` stopped: macro expansion in this file reached its budget"),
                "fan-out {fan_out}: {err}"
            );
            assert!(
                err.contains("; 1 function was not fully analysed"),
                "fan-out {fan_out}: {err}"
            );
        }
    }
}

#[test]
fn a_function_past_the_work_budget_gets_a_note_and_the_rest_is_still_reported() {
    let t = tempfile::tempdir().unwrap();
    let terms: Vec<String> = (0..6000).map(|i| format!("x{i} == 1")).collect();
    let mut src = format!(
        "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         unsafe {{ WSAStartup(0x202, &mut d) }};\n    let y = {};\n}}\n",
        terms.join(" || ")
    );
    // A second function, untouched by the first one's size.
    src.push_str(
        "fn other() {\n    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n    \
         if unsafe { WSAStartup(0x202, &mut d) } != 0 { return; }\n}\n",
    );
    std::fs::write(t.path().join("main.rs"), &src).unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    assert!(
        err.contains("note: analysis of `main` stopped:"),
        "the partial analysis is said: {err}"
    );
    assert!(err.contains("1 function was not fully analysed"), "{err}");
    // Found before the budget ran out: the ignored result in `main`.
    assert!(err.contains("unchecked_wsa_startup"), "{err}");
    // Not touched by it: the leak in `other`.
    assert!(err.contains("--> main.rs:9:"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");

    // The same note in machine-readable output, at note level and with no lint code.
    let o = run_bounded(t.path(), &["--message-format", "json", "main.rs"]);
    let notes: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["message"]["level"] == "note")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]["message"]["code"].is_null(), "{notes:?}");
    assert!(notes[0]["message"]["message"]
        .as_str()
        .unwrap()
        .starts_with("analysis of `main` stopped"));
}

#[test]
fn a_huge_thread_count_is_clamped() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("main.rs"), leaking_main("")).unwrap();
    let o = run_bounded(t.path(), &["-j", "100000000", "main.rs"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
}

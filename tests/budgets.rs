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

/// The notes of `stderr`: the functions named and why each was not fully analysed.
fn notes(err: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.starts_with("note: analysis of"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_loop_that_never_settles_gets_a_note_and_its_leak_is_still_reported() {
    // Each round releases one more of a caller's references than the one before: the paths
    // never repeat, so the rounds after the last one followed are said to be missing.
    let t = tempfile::tempdir().unwrap();
    let src = format!(
        "{HEAD}fn main() {{\n    \
         loop {{\n        if unsafe {{ WSACleanup() }} != 0 {{ break; }}\n    }}\n}}\n"
    );
    std::fs::write(t.path().join("main.rs"), src).unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    assert_eq!(
        notes(&err),
        ["note: analysis of `main` stopped: a loop's paths still changed after 8 rounds"],
        "{err}"
    );
    assert!(err.contains("unmatched_wsa_cleanup"), "{err}");
    assert!(err.contains("1 function was not fully analysed"), "{err}");

    // A startup held into the next round is a leak of that round, not one more reference
    // carried on: the loop settles.
    let src = format!(
        "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
         loop {{\n        if unsafe {{ WSAStartup(0x202, &mut d) }} != 0 {{ break; }}\n    }}\n}}\n"
    );
    std::fs::write(t.path().join("main.rs"), src).unwrap();
    let err = stderr(&run_bounded(t.path(), &["main.rs"]));
    assert!(notes(&err).is_empty(), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");

    // A loop whose paths repeat settles, and says nothing.
    let src = leaking_main("loop {\n        let s = unsafe { socket(2, 1, 0) };\n        if s == INVALID_SOCKET { break; }\n        unsafe { closesocket(s) };\n    }");
    std::fs::write(t.path().join("main.rs"), src).unwrap();
    let err = stderr(&run_bounded(t.path(), &["main.rs"]));
    assert!(notes(&err).is_empty(), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
}

#[test]
fn a_function_with_more_outcomes_than_callers_are_told_gets_a_note() {
    // The release half of an init/deinit pair, with a cleanup of its own in each arm: each
    // arm releases the caller's reference at another call, ten distinct ways to end.
    let t = tempfile::tempdir().unwrap();
    let mut arms = String::new();
    for k in 0..10 {
        arms.push_str(&format!("        {k} => unsafe {{ WSACleanup() }},\n"));
    }
    let src = format!(
        "{HEAD}pub fn stop(n: u32) -> i32 {{\n    match n {{\n{arms}        _ => 0,\n    }}\n}}\n"
    );
    std::fs::write(t.path().join("lib.rs"), src).unwrap();
    let o = run_bounded(t.path(), &["lib.rs"]);
    let err = stderr(&o);
    assert_eq!(
        notes(&err),
        ["note: analysis of `stop` stopped: it ends in more distinct ways than the 8 its callers are told"],
        "{err}"
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn a_recursion_that_never_settles_gets_a_note() {
    // Each round of the recursion's summary releases once more (through one more call of
    // itself) than the round before.
    let t = tempfile::tempdir().unwrap();
    let src = format!(
        "{HEAD}pub fn down(n: u32) {{\n    if n == 0 {{ return; }}\n    unsafe {{ WSACleanup() }};\n    down(n - 1)\n}}\n"
    );
    std::fs::write(t.path().join("lib.rs"), src).unwrap();
    let o = run_bounded(t.path(), &["lib.rs"]);
    let err = stderr(&o);
    assert_eq!(
        notes(&err),
        ["note: analysis of `down` stopped: what its recursion does still changed after 3 rounds"],
        "{err}"
    );
}

#[test]
fn glob_cycles_resolve_and_an_endless_reexport_chain_gets_a_note() {
    // Four modules that glob-import each other: a name none of them has is looked up in each
    // once, not along every path through the cycle (which grows exponentially).
    let t = tempfile::tempdir().unwrap();
    let mut src = HEAD.to_string();
    for m in ["a", "b", "c", "d"] {
        let uses: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .filter(|o| **o != m)
            .map(|o| format!("pub use super::{o}::*;"))
            .collect();
        src.push_str(&format!("mod {m} {{ {} }}\n", uses.join(" ")));
    }
    src.push_str(&leaking_main("a::stop();")[HEAD.len()..]);
    std::fs::write(t.path().join("main.rs"), &src).unwrap();
    let err = stderr(&run_bounded(t.path(), &["main.rs"]));
    assert!(notes(&err).is_empty(), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");

    // A chain of 300 re-exports is longer than one lookup may walk: the call is read as
    // unknown, and the note says so.
    let mut src = HEAD.to_string();
    for k in 0..300 {
        src.push_str(&format!(
            "mod m{k} {{ pub use super::m{}::stop; }}\n",
            k + 1
        ));
    }
    src.push_str("mod m300 { pub fn stop() {} }\n");
    src.push_str(&leaking_main("m0::stop();")[HEAD.len()..]);
    std::fs::write(t.path().join("main.rs"), &src).unwrap();
    let err = stderr(&run_bounded(t.path(), &["main.rs"]));
    assert_eq!(
        notes(&err),
        ["note: analysis of `main` stopped: resolving `m0::stop` took more than 256 steps through `use` re-exports and globs, so it is read as an unknown call"],
        "{err}"
    );
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
}

#[test]
fn wrappers_deeper_than_the_demand_rounds_get_a_note_and_no_guess() {
    // `f0::w0` starts Winsock and each `fK::wK` hands it up from the file before; `run`, at
    // the top, leaks it. Each round of reading the files that call crate functions reaches
    // one more level: with 12 levels the rounds end before `run`, and what rested on the
    // unread callers (`wK` handing the reference out of the crate) is not reported.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let levels = 12;
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"deep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let mods: String = (0..=levels).map(|k| format!("pub mod f{k};\n")).collect();
    std::fs::write(dir.join("src/lib.rs"), mods).unwrap();
    std::fs::write(
        dir.join("src/f0.rs"),
        format!("{HEAD}pub fn w0() -> i32 {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    unsafe {{ WSAStartup(0x202, &mut d) }}\n}}\n"),
    )
    .unwrap();
    for k in 1..levels {
        std::fs::write(
            dir.join(format!("src/f{k}.rs")),
            format!(
                "pub fn w{k}() -> i32 {{\n    crate::f{}::w{}()\n}}\n",
                k - 1,
                k - 1
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join(format!("src/f{levels}.rs")),
        format!(
            "pub fn run() {{\n    if crate::f{0}::w{0}() != 0 {{\n        return;\n    }}\n}}\n",
            levels - 1
        ),
    )
    .unwrap();
    let o = run_bounded(dir, &["."]);
    let err = stderr(&o);
    let notes = notes(&err);
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].contains("stopped: its callers are found through more than 8 rounds"),
        "{err}"
    );
    assert!(!err.contains("missing_wsa_cleanup"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");

    // Within the rounds, the whole chain is followed and the leak found where it is.
    std::fs::write(
        dir.join("src/f3.rs"),
        "pub fn run3() {\n    if crate::f2::w2() != 0 {\n        return;\n    }\n}\n",
    )
    .unwrap();
    let o = run_bounded(dir, &["."]);
    let err = stderr(&o);
    assert!(err.contains("--> src/f3.rs:2:8"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
}

#[test]
fn an_item_too_large_to_parse_is_skipped_and_said_when_it_could_matter() {
    // A 4.6 MB generated table beside the code: not parsed (its tree would take about 750 MB),
    // and nothing is said, since it names nothing Winsock. The leak in `main` is found.
    let t = tempfile::tempdir().unwrap();
    let entries: String = (0..1_200_000).map(|i| format!("{},", i % 251)).collect();
    let table = format!("pub static TABLE: [u8; 1200000] = [{entries}];\n");
    assert!(table.len() > 4 << 20, "{}", table.len());
    std::fs::write(
        t.path().join("main.rs"),
        format!("{}{table}", leaking_main("")),
    )
    .unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    assert!(notes(&err).is_empty(), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");

    // A 5 MB function that starts Winsock, made long by one statement that names nothing
    // Winsock (a generated ladder): parsed without that statement, so the leak is found, and
    // the note says what was left out.
    let ladder = |arm: &dyn Fn(usize) -> String| {
        let arms: String = (0..150_000)
            .map(|i| format!("    else if k == {i} {{ {} }}\n", arm(i)))
            .collect();
        format!(
            "{HEAD}fn main() {{\n    let mut d: WSADATA = unsafe {{ std::mem::zeroed() }};\n    \
             if unsafe {{ WSAStartup(0x202, &mut d) }} != 0 {{ return; }}\n    \
             let k = std::env::args().count();\n    let r = if k == 0 {{ 0 }}\n{arms}    else {{ 1 }};\n    println!(\"{{r}}\");\n}}\n"
        )
    };
    let big = ladder(&|i| (i * 3).to_string());
    assert!(big.len() > 4 << 20);
    std::fs::write(t.path().join("main.rs"), big).unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    let found = notes(&err);
    assert_eq!(found.len(), 1, "{err}");
    assert!(
        found[0].starts_with("note: analysis of `main` stopped: 4.")
            && found[0].contains("of its statements, which name nothing Winsock, were not parsed"),
        "{err}"
    );
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");

    // The same ladder calling Winsock in its arms cannot be left out: the function is not
    // parsed, and the note says so, with no guess about it.
    let big = ladder(&|_| "unsafe { WSAGetLastError() }".to_string());
    std::fs::write(t.path().join("main.rs"), big).unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    let found = notes(&err);
    assert_eq!(found.len(), 1, "{err}");
    assert!(
        found[0].starts_with("note: analysis of `main` stopped: it is ")
            && found[0].contains("items over 4 MB are not parsed"),
        "{err}"
    );
    assert!(!err.contains("missing_wsa_cleanup"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn a_file_too_large_to_parse_whole_expands_each_parts_own_macros() {
    // Over 4 MB, a file that defines `macro_rules!` is parsed a part at a time too (whole, it
    // took 1.4 GB and 10 s at 7 MB). A macro used in the part that defines it expands: the
    // leak inside it is found.
    let filler: String = (0..90_000)
        .map(|i| format!("pub fn filler_{i}(x: u32) -> u32 {{ if x > {i} {{ x - 1 }} else {{ x + {i} }} }}\n"))
        .collect();
    let mac = "macro_rules! start { ($d:expr) => { unsafe { WSAStartup(0x202, $d) } }; }\n";
    let main = "fn main() {\n    let mut d: WSADATA = unsafe { std::mem::zeroed() };\n    if start!(&mut d) != 0 { return; }\n}\n";
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("main.rs"),
        format!("{HEAD}{mac}{main}{filler}"),
    )
    .unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    assert!(notes(&err).is_empty(), "{err}");
    assert!(err.contains("missing_wsa_cleanup"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");

    // Used megabytes after its definition, in another part: not expanded there, and said.
    std::fs::write(
        t.path().join("main.rs"),
        format!("{HEAD}{mac}{filler}{main}"),
    )
    .unwrap();
    let o = run_bounded(t.path(), &["main.rs"]);
    let err = stderr(&o);
    assert_eq!(
        notes(&err),
        ["note: analysis of `main` stopped: `start!` is defined in another part of this large file (a file over 4 MB is parsed a part at a time), so its call here was read as an unknown macro"],
        "{err}"
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
}

//! UI tests: every fixture case is linted by the real binary; the findings must
//! equal its `//~` markers, and the full human and JSON output must equal the
//! checked-in `<case>.stderr` / `<case>.json` (`WSA_BLESS=1` rewrites them).

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Single-file cases (`fixtures/<lint>/<case>.rs`) and crate cases (`fixtures/<lint>/<case>/`).
fn cases() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let fixtures = root().join("fixtures");
    for lint in std::fs::read_dir(&fixtures).expect("fixtures/ exists") {
        let lint = lint.expect("readable").path();
        let name = lint.file_name().unwrap().to_string_lossy().to_string();
        if !lint.is_dir() || name == "crates" || name == "verify" {
            continue;
        }
        for case in std::fs::read_dir(&lint).expect("readable") {
            let case = case.expect("readable").path();
            if case.is_dir() || case.extension().is_some_and(|x| x == "rs") {
                out.push(case);
            }
        }
    }
    out.sort();
    out
}

fn snapshot_path(case: &Path, ext: &str) -> PathBuf {
    let mut p = case.to_path_buf();
    if case.is_dir() {
        p.set_file_name(format!(
            "{}.{ext}",
            case.file_name().unwrap().to_string_lossy()
        ));
    } else {
        p.set_extension(ext);
    }
    p
}

/// Compares or (with WSA_BLESS=1) rewrites a snapshot; returns a failure message.
fn check_snapshot(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("WSA_BLESS").is_some() {
        std::fs::write(path, actual).expect("snapshot is writable");
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    Some(format!(
        "{} differs (run with WSA_BLESS=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    ))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn check_case(
    case_arg: &str,
    files: &[PathBuf],
    snap_base: &Path,
    cargo: Option<&Path>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mk = |fmt: &str| {
        let mut c = match cargo {
            Some(manifest) => {
                let mut c = cargo_wsa_lint();
                c.arg("--manifest-path").arg(manifest).arg("--workspace");
                c
            }
            None => {
                let mut c = wsa_lint();
                c.arg(case_arg);
                c
            }
        };
        c.args(["--color", "never", "--message-format", fmt]);
        run(&mut c)
    };
    let human = mk("human");
    let json = mk("json");
    let human_text = normalize(&String::from_utf8_lossy(&human.stderr));
    let json_text = normalize(&String::from_utf8_lossy(&json.stdout));

    let want = markers(files);
    let got = findings(&json_text);
    if want != got {
        failures.push(format!(
            "{case_arg}: findings differ from //~ markers\n  markers:  {want:?}\n  findings: {got:?}"
        ));
    }
    let denied = json_text.lines().any(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["message"]["level"] == "error" && v["message"]["code"].is_object()
    });
    let want_code = if denied { 1 } else { 0 };
    for (fmt, out) in [("human", &human), ("json", &json)] {
        if out.status.code() != Some(want_code) {
            failures.push(format!(
                "{case_arg} ({fmt}): exit code {:?}, expected {want_code}; stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    if !json.stderr.is_empty() {
        failures.push(format!(
            "{case_arg}: json run wrote to stderr: {}",
            String::from_utf8_lossy(&json.stderr)
        ));
    }
    failures.extend(check_snapshot(
        &snapshot_path(snap_base, "stderr"),
        &human_text,
    ));
    failures.extend(check_snapshot(
        &snapshot_path(snap_base, "json"),
        &json_text,
    ));
    failures
}

#[test]
fn every_fixture_matches_its_markers_and_snapshots() {
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() > 50, "fixtures are missing");
    for case in &cases {
        failures.extend(check_case(&rel(case), &rs_files(case), case, None));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fixture_crates_through_cargo_wsa_lint() {
    let mut failures = Vec::new();
    let crates = root().join("fixtures/crates");
    for entry in std::fs::read_dir(&crates).expect("fixtures/crates exists") {
        let dir = entry.expect("readable").path();
        if !dir.is_dir() {
            continue;
        }
        let manifest = dir.join("Cargo.toml");
        failures.extend(check_case(
            &rel(&dir),
            &rs_files(&dir),
            &dir,
            Some(&manifest),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

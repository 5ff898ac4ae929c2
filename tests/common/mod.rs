//! Helpers shared by the integration tests: run the real binaries, read markers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn wsa_lint() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wsa-lint"));
    c.current_dir(root());
    c.env_remove("NO_COLOR");
    c
}

/// `cargo wsa-lint` through the real cargo, with our binary first on PATH.
pub fn cargo_wsa_lint() -> Command {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cargo-wsa-lint"))
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir];
    paths.extend(std::env::split_paths(&path));
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.arg("wsa-lint");
    c.current_dir(root());
    c.env("PATH", std::env::join_paths(paths).expect("valid PATH"));
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

/// Replaces the absolute checkout path so snapshots do not depend on where the repo lives.
pub fn normalize(s: &str) -> String {
    let root = root();
    let root = root.canonicalize().unwrap_or(root);
    s.replace(&root.display().to_string(), "$ROOT")
}

/// `(file, line, lint)` for every `//~ lint` marker in the given files (paths relative to the repo root).
pub fn markers(files: &[PathBuf]) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("fixture is readable");
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        for (i, line) in text.lines().enumerate() {
            if let Some(pos) = line.find("//~") {
                for name in line[pos + 3..].split_whitespace() {
                    if name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        out.push((rel.clone(), i + 1, name.to_string()));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// `(file, line, lint)` of the primary span of every finding in JSON output; panics on a line that is not JSON.
pub fn findings(json: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {line}"));
        if v["reason"] != "compiler-message" {
            continue;
        }
        let m = &v["message"];
        let Some(code) = m["code"]["code"].as_str() else {
            continue;
        };
        let name = code
            .strip_prefix("wsa_lint::")
            .unwrap_or_else(|| panic!("code without the wsa_lint:: prefix: {code}"));
        let primary: Vec<_> = m["spans"]
            .as_array()
            .expect("spans is an array")
            .iter()
            .filter(|s| s["is_primary"] == true)
            .collect();
        assert_eq!(primary.len(), 1, "exactly one primary span: {line}");
        out.push((
            primary[0]["file_name"]
                .as_str()
                .expect("file_name")
                .to_string(),
            primary[0]["line_start"].as_u64().expect("line_start") as usize,
            name.to_string(),
        ));
    }
    out.sort();
    out
}

pub fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.expect("fixture tree is readable");
        if e.path().extension().is_some_and(|x| x == "rs") {
            out.push(e.path().to_path_buf());
        }
    }
    out
}

/// Validates a SARIF document against the published 2.1.0 schema with Python's jsonschema.
pub fn validate_sarif(doc: &str) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), doc).unwrap();
    let schema = root().join("tests/data/sarif-2.1.0-rtm.5.json");
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft4Validator(schema).validate(json.load(open(sys.argv[2])))\n",
        )
        .arg(&schema)
        .arg(tmp.path())
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "SARIF does not validate (python3 -m pip install jsonschema if it is missing):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

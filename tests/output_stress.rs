//! Output under stress, through the real binary: a reader that goes away, source lines of
//! tens of megabytes, file names that are not plain URIs.

mod common;

use common::*;
use std::process::Stdio;

const LEAK: &str = "fixtures/missing_wsa_cleanup/question_mark_leaks.rs";
const FORMATS: &[&str] = &["human", "short", "json", "sarif", "github"];

/// The stream a format writes its findings to: human on stderr, the others on stdout.
fn on_stderr(format: &str) -> bool {
    format == "human"
}

#[test]
fn a_closed_pipe_keeps_the_exit_status_of_the_findings() {
    for format in FORMATS {
        let mut cmd = wsa_lint();
        cmd.args(["--message-format", format, LEAK]);
        // Both streams are pipes whose read ends are closed before the process writes:
        // every write of the findings meets EPIPE.
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the binary starts");
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().expect("the binary ends");
        assert_eq!(
            status.code(),
            Some(1),
            "--message-format {format}: {status}"
        );
    }
}

#[test]
fn a_closed_output_stream_alone_keeps_the_exit_status() {
    for format in FORMATS {
        let mut cmd = wsa_lint();
        cmd.args(["--message-format", format, LEAK]);
        if on_stderr(format) {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("the binary starts");
            drop(child.stderr.take());
            let status = child.wait().expect("the binary ends");
            assert_eq!(
                status.code(),
                Some(1),
                "--message-format {format}: {status}"
            );
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("the binary starts");
            drop(child.stdout.take());
            // A reader that stops reading is not an error worth a message.
            let out = child.wait_with_output().expect("the binary ends");
            assert_eq!(out.status.code(), Some(1), "--message-format {format}");
            assert!(
                out.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn sarif_says_its_column_kind_and_encodes_file_names_as_uri_references() {
    let t = tempfile::tempdir().expect("a temporary directory");
    let body = "use windows_sys::Win32::Networking::WinSock::*;\n\
                fn main() { unsafe { WSACancelBlockingCall() }; }\n";
    let names = [
        ("colon:x.rs", "colon%3Ax.rs"),
        ("a b#1?%é.rs", "a%20b%231%3F%25%C3%A9.rs"),
    ];
    std::fs::create_dir(t.path().join("sub:dir")).expect("a subdirectory");
    for (name, _) in names {
        std::fs::write(t.path().join(name), body).expect("the file is writable");
    }
    std::fs::write(t.path().join("sub:dir/é:1.rs"), body).expect("the file is writable");
    let o = run(wsa_lint()
        .current_dir(t.path())
        .args(["--message-format", "sarif", "."]));
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).expect("SARIF is UTF-8");
    validate_sarif(&text);
    let v: serde_json::Value = serde_json::from_str(&text).expect("SARIF is JSON");
    let run0 = &v["runs"][0];
    // Our columns count characters (`source::LineCol`): code points, not UTF-16 units.
    assert_eq!(run0["columnKind"], "unicodeCodePoints");
    let mut uris: Vec<&str> = run0["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("a URI")
        })
        .collect();
    uris.sort();
    let mut expected: Vec<&str> = names.iter().map(|(_, uri)| *uri).collect();
    expected.push("sub%3Adir/%C3%A9%3A1.rs");
    expected.sort();
    assert_eq!(uris, expected);
}

/// A file whose second line is `pad` bytes of comment followed by a leaking `WSAStartup` and a
/// removed Winsock 1 call: three findings on one line of megabytes.
fn long_line_crate(pad: usize) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("a temporary directory");
    let mut text = String::with_capacity(pad + 200);
    text.push_str("use windows_sys::Win32::Networking::WinSock::*;\n/*");
    text.extend(std::iter::repeat_n('x', pad));
    text.push_str("*/ fn main() { let mut d = unsafe { std::mem::zeroed() }; ");
    text.push_str("unsafe { WSAStartup(0x202, &mut d); WSACancelBlockingCall(); } }\n");
    std::fs::write(t.path().join("long.rs"), text).expect("the file is writable");
    t
}

const SMALL: usize = 64 * 1024;

#[test]
fn a_finding_on_a_50_mb_line_is_shown_cut_around_its_columns() {
    let t = long_line_crate(50 * 1024 * 1024);
    let o = run(wsa_lint()
        .current_dir(t.path())
        .args(["--color", "never", "long.rs"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stderr.len() < SMALL, "{} bytes of stderr", o.stderr.len());
    let err = String::from_utf8(o.stderr).expect("UTF-8 output");
    assert!(
        err.contains("error[wsa_lint::missing_wsa_cleanup]"),
        "the file was analysed: {err}"
    );
    assert!(
        err.contains("error[wsa_lint::removed_winsock1_api]"),
        "{err}"
    );
    // The header keeps the real column: 2 for `/*`, then the padding, then `*/ fn main() ...`.
    let col = 2
        + 50 * 1024 * 1024
        + "*/ fn main() { let mut d = unsafe { std::mem::zeroed() }; unsafe { ".len()
        + 1;
    assert!(err.contains(&format!("--> long.rs:2:{col}\n")), "{err}");
    // The caret still sits under `WSAStartup` in the cut line.
    let lines: Vec<&str> = err.lines().collect();
    let source = lines
        .iter()
        .position(|l| l.starts_with("2 | "))
        .expect("the snippet shows line 2");
    let shown = lines[source];
    assert!(shown.starts_with("2 | ..."), "{shown}");
    assert!(shown.len() < 300, "{shown}");
    let caret = lines[source + 1].find('^').expect("a caret line");
    assert_eq!(shown.find("WSAStartup"), Some(caret), "{err}");
    assert_eq!(
        lines[source + 1][caret..].find(' '),
        Some("WSAStartup(0x202, &mut d)".len()),
        "{err}"
    );

    let o = run(wsa_lint()
        .current_dir(t.path())
        .args(["--message-format", "json", "long.rs"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.len() < SMALL, "{} bytes of JSON", o.stdout.len());
    let out = String::from_utf8(o.stdout).expect("UTF-8 output");
    let found = findings(&out);
    assert!(
        found.contains(&("long.rs".to_string(), 2, "missing_wsa_cleanup".to_string())),
        "{found:?}"
    );
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let Some(spans) = v["message"]["spans"].as_array() else {
            continue;
        };
        for span in spans {
            for t in span["text"].as_array().expect("span text lines") {
                let text = t["text"].as_str().expect("a line");
                let chars: Vec<char> = text.chars().collect();
                let (a, b) = (
                    t["highlight_start"].as_u64().expect("a column") as usize,
                    t["highlight_end"].as_u64().expect("a column") as usize,
                );
                // The highlight columns count in the cut text the span line holds.
                let highlighted: String = chars[a - 1..b - 1].iter().collect();
                assert!(
                    ["WSAStartup(0x202, &mut d)", "}", "WSACancelBlockingCall()"]
                        .contains(&highlighted.as_str()),
                    "{highlighted:?} in {text}"
                );
            }
        }
    }
}

#[test]
fn the_line_formats_stay_small_on_a_long_line() {
    let t = long_line_crate(4 * 1024 * 1024);
    for format in ["short", "sarif", "github"] {
        let o = run(wsa_lint()
            .current_dir(t.path())
            .args(["--message-format", format, "long.rs"]));
        assert_eq!(o.status.code(), Some(1), "{format}");
        assert!(o.stdout.len() < SMALL, "{format}: {} bytes", o.stdout.len());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("missing_wsa_cleanup"), "{format}: {out}");
    }
}

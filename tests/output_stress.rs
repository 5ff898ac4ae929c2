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

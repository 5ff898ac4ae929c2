//! Runs tests/lsp/test_lsp.py: a real LSP client (pytest-lsp, installed by .ci/run) drives
//! `wsa-lint lsp` over stdio.

#[test]
fn language_server_with_a_real_client() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("python3")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            "tests/lsp/pytest.ini",
            "tests/lsp/test_lsp.py",
        ])
        .current_dir(root)
        .env("WSA_LINT_BIN", env!("CARGO_BIN_EXE_wsa-lint"))
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "pytest-lsp tests failed (python3 -m pip install pytest-lsp if missing):\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

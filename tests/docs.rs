//! `docs/lints.md` is generated from the lint declarations; this fails when it is stale.

#[test]
fn lints_page_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lints.md");
    let want = wsa_lint::docs::lints_markdown(wsa_lint::lints::ALL);
    if std::env::var_os("WSA_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/lints.md is stale: run `WSA_BLESS=1 cargo test --test docs`"
    );
}

//! `cargo wsa-lint`: Cargo runs this as `cargo-wsa-lint wsa-lint ARGS`.

fn main() -> std::process::ExitCode {
    wsa_lint::cli::main_cargo(wsa_lint::lints::ALL)
}

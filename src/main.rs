//! `wsa-lint`: the binary hands the lint catalog to the command line.

fn main() -> std::process::ExitCode {
    wsa_lint::cli::main_plain(wsa_lint::lints::ALL)
}

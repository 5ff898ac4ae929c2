//! The command line: arguments, configuration of levels, running, rendering,
//! exit status. Shared by `wsa-lint` and `cargo wsa-lint`; the lint catalog
//! is handed in by the binary.

use crate::diag::Level;
use crate::discover::{self, CargoSelection};
use crate::driver;
use crate::levels::{build_levels, normalize_lint_name, unknown_lint};
use crate::lint::LintDef;
use crate::render::{self, Color, Format, Report};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use codespan_reporting::term::termcolor::BufferedStandardStream;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// rustc-style diagnostics on stderr
    Human,
    /// one line per finding on stdout: `file:line:col: level[code]: message`
    Short,
    /// cargo-style `compiler-message` JSON lines on stdout
    Json,
    /// SARIF 2.1.0 on stdout (code scanning)
    Sarif,
    /// GitHub Actions workflow commands (`::error file=..`) on stdout
    Github,
}

/// Options shared by `wsa-lint` and `cargo wsa-lint`.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Output format
    #[arg(long, value_enum, default_value = "human", value_name = "FMT")]
    pub message_format: MessageFormat,

    /// When to use colour in human output
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: Color,

    /// Set lint LINT (or group: correctness, suspicious, pedantic, all) to allow
    #[arg(short = 'A', long = "allow", value_name = "LINT", action = ArgAction::Append)]
    pub allow: Vec<String>,

    /// Set lint LINT (or group) to warn
    #[arg(short = 'W', long = "warn", value_name = "LINT", action = ArgAction::Append)]
    pub warn: Vec<String>,

    /// Set lint LINT (or group) to deny; `-D warnings` makes every warning an error
    #[arg(short = 'D', long = "deny", value_name = "LINT", action = ArgAction::Append)]
    pub deny: Vec<String>,

    /// Print the documentation of LINT and exit
    #[arg(long, value_name = "LINT")]
    pub explain: Option<String>,

    /// List all lints with their default levels and exit
    #[arg(long)]
    pub list: bool,

    /// Number of worker threads (default: number of CPUs; at most 4 per CPU, and 256)
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Report `// wsa-lint: allow(..)` comments that suppress nothing
    #[arg(long)]
    pub warn_unused_allows: bool,

    /// Apply machine-applicable suggestions to the files (each written atomically), then report what is left
    #[arg(long)]
    pub fix: bool,
}

/// Finds Winsock misuse in Rust source code, without building or running it.
///
/// Exit status: 0 when no deny-level finding, 1 when at least one, 2 on usage
/// errors, unreadable input when nothing could be linted, or internal errors.
#[derive(Debug, Parser)]
#[command(
    name = "wsa-lint",
    version,
    about,
    long_about,
    after_help = "Also:\n  \
        wsa-lint verify [OPTIONS] -- PROGRAM   runs a Windows program and confirms the findings\n  \
        wsa-lint lsp                           the language server, over stdio"
)]
pub struct Cli {
    /// Files and directories to lint (default: `.`); a crate's other files are read as needed
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

/// Lints the current Cargo package or workspace (found through `cargo metadata`; nothing is built).
///
/// Exit status: 0 when no deny-level finding, 1 when at least one, 2 on usage
/// errors or internal errors.
#[derive(Debug, Parser)]
#[command(
    name = "cargo wsa-lint",
    bin_name = "cargo wsa-lint",
    version,
    about,
    long_about
)]
pub struct CargoCli {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Package to lint (repeatable)
    #[arg(short = 'p', long = "package", value_name = "SPEC", action = ArgAction::Append)]
    pub packages: Vec<String>,

    /// Lint every member of the workspace
    #[arg(long)]
    pub workspace: bool,

    #[command(flatten)]
    pub common: Common,
}

pub fn main_plain(lints: &[&LintDef]) -> ExitCode {
    // `wsa-lint lsp`: the language server (a path named `lsp` can be given as `./lsp`).
    if std::env::args_os().nth(1).is_some_and(|a| a == "lsp") {
        return match crate::lsp::serve(lints) {
            Ok(code) => code,
            Err(e) => error(&format!("language server: {e:#}")),
        };
    }
    // `wsa-lint verify .. -- PROGRAM`: the runtime verifier.
    if std::env::args_os().nth(1).is_some_and(|a| a == "verify") {
        return crate::verify::main(lints, std::env::args_os().skip(1).collect());
    }
    let cmd = Cli::command();
    let matches = cmd.get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let order = level_order(&matches);
    let paths = driver::default_paths(cli.paths.clone());
    let config_start = paths[0].clone();
    run_common(&cli.common, &order, lints, &config_start, |prefetch| {
        Ok(discover::from_paths_prefetching(&paths, Some(prefetch)))
    })
}

pub fn main_cargo(lints: &[&LintDef]) -> ExitCode {
    // `cargo wsa-lint ARGS` runs `cargo-wsa-lint wsa-lint ARGS`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "wsa-lint") {
        args.remove(1);
    }
    if args.get(1).is_some_and(|a| a == "verify") {
        return crate::verify::main(lints, args.into_iter().skip(1).collect());
    }
    let matches = CargoCli::command().get_matches_from(args);
    let cli = match CargoCli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let order = level_order(&matches);
    let sel = CargoSelection {
        manifest_path: cli.manifest_path.clone(),
        packages: cli.packages.clone(),
        workspace: cli.workspace,
    };
    let config_start = cli
        .manifest_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    run_common(&cli.common, &order, lints, &config_start, |_| {
        discover::from_cargo(&sel).map_err(|e| e.to_string())
    })
}

/// `-A/-W/-D` in command-line order: a later flag wins, as in rustc.
fn level_order(m: &clap::ArgMatches) -> Vec<(usize, Level, String)> {
    let mut out = Vec::new();
    for (id, level) in [
        ("allow", Level::Allow),
        ("warn", Level::Warn),
        ("deny", Level::Deny),
    ] {
        if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
            for (i, v) in idx.zip(vals) {
                out.push((i, level, v.clone()));
            }
        }
    }
    out.sort_by_key(|(i, _, _)| *i);
    out
}

fn error(msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    ExitCode::from(2)
}

fn run_common(
    common: &Common,
    order: &[(usize, Level, String)],
    lints: &[&LintDef],
    config_start: &std::path::Path,
    discover: impl FnOnce(discover::Prefetch<'_>) -> Result<discover::Discovered, String> + Send,
) -> ExitCode {
    if common.list {
        return print_stdout(&list(lints));
    }
    if let Some(name) = &common.explain {
        let name = normalize_lint_name(name);
        return match lints.iter().find(|d| d.lint.name == name) {
            Some(def) => print_stdout(&explain(def)),
            None => error(&unknown_lint(&name, lints)),
        };
    }
    let config = match crate::config::discover(config_start) {
        Ok(c) => c,
        Err(e) => return error(&e.to_string()),
    };
    let levels = match build_levels(&config, order, lints) {
        Ok(l) => l,
        Err(e) => return error(&e),
    };
    // Deeply nested input recurses in the parser and the analysis: give workers room.
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(1 << 30);
    if let Some(n) = common.threads {
        pool = pool.num_threads(clamp_threads(n));
    }
    let pool = match pool.build() {
        Ok(p) => p,
        Err(e) => return error(&format!("cannot start worker threads: {e}")),
    };
    // Discovery runs on the pool: files found by the walk are read by the other workers
    // while the walk goes on.
    let prefetched = driver::Prefetched::default();
    let discovered = match pool.install(|| discover(&|p| prefetched.prefetch(p))) {
        Ok(d) => d,
        Err(e) => return error(&e),
    };
    let missing_path = discovered.missing_arg;
    let opts = driver::RunOptions {
        warn_unused_allows: common.warn_unused_allows,
    };
    let mut out = pool.install(|| driver::run_with(prefetched, discovered, lints, &levels, &opts));
    if common.fix {
        let fixed = pool.install(|| crate::fix::apply(&out.db, &out.diags, &out.linted));
        let mut err = std::io::stderr().lock();
        for (path, why) in &fixed.not_fixed {
            let _ = writeln!(err, "warning: `{path}` was not fixed: {why}");
        }
        if !fixed.diags.is_empty() {
            let _ = writeln!(
                err,
                "wsa-lint: fixed {} finding{} in {} file{}",
                fixed.diags.len(),
                if fixed.diags.len() == 1 { "" } else { "s" },
                fixed.files,
                if fixed.files == 1 { "" } else { "s" },
            );
        }
        drop(err);
        if let Some(sig) = fixed.interrupted {
            crate::fix::reraise(sig);
        }
        out.diags.retain(|d| !fixed.diags.contains(d));
    }
    let rules = rules(lints);
    let report = Report {
        db: &out.db,
        diags: &out.diags,
        problems: &out.problems,
        rules: &rules,
    };
    let format = match common.message_format {
        MessageFormat::Human => Format::Human,
        MessageFormat::Short => Format::Short,
        MessageFormat::Json => Format::Json,
        MessageFormat::Sarif => Format::Sarif,
        MessageFormat::Github => Format::Github,
    };
    let written = match format {
        Format::Human => {
            // Buffered: codespan writes a snippet in many small pieces.
            let mut w = BufferedStandardStream::stderr(common.color.choice_for_stderr());
            render::human::human(&report, &mut w).and_then(|_| w.flush())
        }
        Format::Short => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            render::human::short(&report, &mut w).and_then(|_| w.flush())
        }
        Format::Json => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            render::json::json(&report, &mut w).and_then(|_| w.flush())
        }
        Format::Sarif => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            render::sarif::sarif(&report, &mut w).and_then(|_| w.flush())
        }
        Format::Github => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            render::github::github(&report, &mut w).and_then(|_| w.flush())
        }
    };
    // A reader that went away (`wsa-lint | head`, a closed stderr) ends the output, not the
    // findings: like ripgrep, stop writing quietly and keep the status the findings decide, so
    // a CI step piping the output cannot turn a deny-level finding into success. (Rust starts
    // with SIGPIPE ignored, so a closed pipe is this `BrokenPipe` error, not a silent death.)
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return error(&format!("cannot write output: {e}"));
        }
    }
    let denied = out
        .diags
        .iter()
        .any(|d| d.lint.is_some() && d.severity == crate::diag::Severity::Error);
    let nothing_linted =
        out.linted_files == 0 && (!out.problems.is_empty() || !out.diags.is_empty());
    let code = if out.internal_error || nothing_linted || missing_path {
        ExitCode::from(2)
    } else if denied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends now: the OS takes back the run's memory at once, where dropping it
    // would free every file's entry one by one.
    std::mem::forget(out);
    code
}

/// The catalog as SARIF rules.
fn rules(lints: &[&LintDef]) -> Vec<render::Rule> {
    lints
        .iter()
        .map(|d| {
            let docs = crate::docs::unindent(d.lint.docs);
            let what = docs
                .split("### ")
                .find_map(|s| s.strip_prefix("What it does"))
                .unwrap_or("")
                .trim()
                .replace('\n', " ");
            render::Rule {
                name: d.lint.name,
                summary: d.lint.summary,
                what_it_does: what,
                docs,
                help_uri: format!(
                    "{}/blob/main/docs/lints.md#{}",
                    env!("CARGO_PKG_HOMEPAGE"),
                    d.lint.name
                ),
                default_level: d.lint.default_level,
                group: d.lint.group.as_str(),
            }
        })
        .collect()
}

fn print_stdout(s: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => error(&format!("cannot write output: {e}")),
    }
}

pub fn list(lints: &[&LintDef]) -> String {
    let width = lints.iter().map(|d| d.lint.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for d in lints {
        s.push_str(&format!(
            "{:width$}  {:5}  {:11}  {}\n",
            d.lint.name,
            d.lint.default_level.as_str(),
            d.lint.group.as_str(),
            d.lint.summary,
        ));
    }
    s
}

pub fn explain(def: &LintDef) -> String {
    format!(
        "# `{}`\n\nDefault level: {} (group `{}`). {}\n\n{}",
        def.lint.name,
        def.lint.default_level.as_str(),
        def.lint.group.as_str(),
        def.lint.summary,
        crate::docs::unindent(def.lint.docs)
    )
}

/// Worker threads for `-j N`. Each worker reserves a large stack, so a huge `N` would only
/// exhaust address space: more than a few threads per CPU never helps.
fn clamp_threads(n: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    n.clamp(1, (cpus * 4).clamp(4, 256))
}

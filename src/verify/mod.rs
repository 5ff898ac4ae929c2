//! `wsa-lint verify`: run a Windows program with its Winsock calls observed and set
//! what it did beside what the static analysis says it can do.
//!
//! The pipeline: `launch::stage` copies the program (and the DLLs beside it that
//! use Winsock) with their ws2_32.dll import renamed to the observing DLL, built
//! by `proxy` from `verify/proxy/wslint.rs`; `launch::run` runs the copy
//! (under Wine off Windows); `events` reads the call log; `symbolize` turns
//! return addresses into source lines; `twins` finds the runtime mistakes;
//! `report` matches them with the static findings. See docs/verify.md.

pub mod events;
pub mod launch;
pub mod pe;
pub mod proxy;
pub mod report;
pub mod signals;
pub mod symbolize;
pub mod twins;

use crate::lint::LintDef;
use crate::render::Color;
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// rustc-style report on stderr
    Human,
    /// one `wsa-verify` object per finding, then a `wsa-verify-summary`, on stdout
    Json,
}

/// Runs a Windows program with its Winsock calls observed (natively on Windows,
/// under Wine elsewhere) and matches what it did with the static findings of its
/// sources: each is confirmed, not exercised, or seen at run time only.
///
/// Exit status: 0 when nothing at deny level was confirmed or seen at run time
/// only; 1 when something was; 2 on usage errors or when the program could not
/// be run (or never started); 130 or 143 when stopped by SIGINT or SIGTERM, which
/// also end the program and remove its staging directory.
#[derive(Debug, Parser)]
#[command(
    name = "wsa-lint verify",
    bin_name = "wsa-lint verify",
    version,
    long_about
)]
pub struct VerifyCli {
    /// Sources of the program, linted and matched with the run (default: `.`)
    #[arg(long = "source", value_name = "PATH")]
    pub sources: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value = "human", value_name = "FMT")]
    pub message_format: VerifyFormat,

    /// When to use colour in human output
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: Color,

    /// Also observe this DLL (DLLs beside PROGRAM that import ws2_32.dll are observed anyway)
    #[arg(long = "dll", value_name = "PATH")]
    pub dlls: Vec<PathBuf>,

    /// Stop the program after this many seconds (a DllMain deadlock hangs forever on Windows)
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,

    /// Keep the raw call log (one JSON object per observed call) at PATH
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,

    /// Rust compiler that builds the observing DLL for x86_64-pc-windows-gnu (default:
    /// WSA_LINT_RUSTC, else /usr/bin/rustc off Windows, else rustc)
    #[arg(long, value_name = "PATH")]
    pub rustc: Option<PathBuf>,

    /// The Windows program and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<OsString>,
}

fn error(msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    ExitCode::from(2)
}

/// `wsa-lint verify ARGS` (and `cargo wsa-lint verify ARGS`).
pub fn main(lints: &[&LintDef], args: Vec<OsString>) -> ExitCode {
    let cli = match VerifyCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match verify(lints, &cli) {
        Ok(code) => code,
        Err(e) => error(&format!("{e:#}")),
    }
}

fn verify(lints: &[&LintDef], cli: &VerifyCli) -> Result<ExitCode> {
    let program = PathBuf::from(&cli.command[0]);
    // Before any work: a directory or FIFO given as the program is a usage error, said as such.
    launch::check_regular(&program).map_err(|e| {
        anyhow::anyhow!(
            "cannot run `{}`: {}",
            program.display(),
            e.describe("program")
        )
    })?;
    // From here on a run can leave a staging directory and processes behind: a SIGINT or
    // SIGTERM ends those first.
    signals::install().context("cannot install the signal handlers")?;
    let sources = crate::driver::default_paths(cli.sources.clone());
    let roots: Vec<PathBuf> = sources
        .iter()
        .map(|s| {
            let c = report::canonical(s);
            if c.is_file() {
                c.parent().map(Path::to_path_buf).unwrap_or(c)
            } else {
                c
            }
        })
        .collect();

    // The static half first: a usage problem should not cost a run.
    let config = crate::config::discover(&sources[0]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let levels =
        crate::levels::build_levels(&config, &[], lints).map_err(|e| anyhow::anyhow!(e))?;
    let discovered = crate::discover::from_paths(&sources);
    if discovered.missing_arg {
        anyhow::bail!("a --source path does not exist");
    }
    let statics = crate::driver::run(discovered, lints, &levels, &Default::default());
    for p in &statics.problems {
        let _ = writeln!(std::io::stderr(), "warning: {}: {}", p.path, p.message);
    }

    let staged = launch::stage(&program, &cli.dlls)?;
    if staged.observed.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "warning: `{}` does not import ws2_32.dll (nor do DLLs beside it): no Winsock call can be observed",
            program.display()
        );
    }
    for why in &staged.skipped {
        let _ = writeln!(std::io::stderr(), "warning: {why}");
    }
    let mut sym = symbolize::Symbolizer::new(staged.modules.clone());
    for module in &staged.observed {
        if !sym.has_line_info(&module.to_string_lossy()) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: `{}` has no DWARF line information, so its calls cannot be traced to \
                 source lines\n  = help: build it for x86_64-pc-windows-gnu with debug info \
                 (the default for debug builds); PDB files are not read",
                module.display()
            );
        }
    }
    let proxy = proxy::ensure(cli.rustc.as_deref(), &staged.imported)?;
    std::fs::copy(&proxy, staged.dir.path().join(pe::PROXY_NAME))
        .context("cannot stage the observing DLL")?;
    let log_path = staged.dir.path().join("calls.jsonl");
    let json = cli.message_format == VerifyFormat::Json;
    let exit = launch::run(&launch::RunRequest {
        staged: &staged,
        args: &cli.command[1..],
        log: &log_path,
        timeout: Duration::from_secs(cli.timeout.max(1)),
        stdout_to_stderr: json,
    })?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if let Some(keep) = &cli.log {
        crate::fix::write_atomically(keep, text.as_bytes(), None)
            .with_context(|| format!("cannot write the call log to {}", keep.display()))?;
    }
    let log = events::parse(&text);
    if let (Some(why), false) = (&exit.start_failure, log.started) {
        anyhow::bail!(
            "cannot run `{}`: Wine could not start it (exit {}): {why}",
            program.display(),
            exit.code.map_or("unknown".to_string(), |c| c.to_string()),
        );
    }
    if !log.started && !staged.observed.is_empty() {
        anyhow::bail!(
            "cannot run `{}` observed: it wrote no call log (exit {}), so it did not start, or \
             the observing DLL was not loaded, or could not write {}{}",
            program.display(),
            exit.code.map_or("unknown".to_string(), |c| c.to_string()),
            launch::windows_path(&log_path),
            if cfg!(windows) {
                ""
            } else {
                " (the Wine prefix must map drive Z: to /, as new prefixes do)"
            }
        );
    }

    let observed = observe(&log, &mut sym, &roots);
    let ended = log.exited && !exit.timed_out;
    let outcome = twins::check(&observed, ended);
    if !observed.is_empty() && !observed.iter().any(|o| o.user.iter().any(|u| *u)) {
        let _ = writeln!(
            std::io::stderr(),
            "warning: none of the {} observed calls was made from the --source files ({})\n  \
             = help: point --source at the program's sources",
            observed.len(),
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let level_of = |lint: &str| -> crate::diag::Level {
        match lints.iter().find(|d| d.lint.name == lint) {
            Some(def) => levels.effective(levels.level_of(def).0),
            None => crate::diag::Level::Allow,
        }
    };
    let entries = report::reconcile(&statics.db, &statics.diags, &observed, &outcome, &level_of);
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for o in &observed {
        *calls.entry(o.event.func.clone()).or_default() += 1;
    }
    let mut not_observable: BTreeMap<String, usize> = BTreeMap::new();
    for lint in statics.diags.iter().filter_map(|d| d.lint) {
        if !twins::OBSERVABLE.contains(&lint) {
            *not_observable.entry(lint.to_string()).or_default() += 1;
        }
    }
    let facts = report::RunFacts {
        not_observable,
        exit_code: exit.code,
        timed_out: exit.timed_out,
        log_complete: log.exited && log.damaged == 0,
        calls,
        observed_modules: staged
            .observed
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    };
    let written = if json {
        let mut out = std::io::stdout().lock();
        out.write_all(report::json_lines(&entries, &outcome, &observed, &roots, &facts).as_bytes())
            .and_then(|_| out.flush())
    } else {
        let choice = match cli.color {
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
            Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
            Color::Auto => ColorChoice::Never,
        };
        let mut w = StandardStream::stderr(choice);
        report::human(&mut w, &entries, &outcome, &observed, &roots, &facts)
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("cannot write the report");
        }
        _ => {}
    }
    let failing = entries.iter().any(|e| {
        e.deny
            && matches!(
                e.status,
                report::Status::Confirmed | report::Status::RuntimeOnly
            )
    });
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Events with their source frames (files made canonical once each), each frame marked as
/// linted code or not.
fn observe(
    log: &events::Log,
    sym: &mut symbolize::Symbolizer,
    roots: &[PathBuf],
) -> Vec<twins::Observed> {
    let mut frames_cache: HashMap<(String, u64), Vec<(symbolize::Loc, bool)>> = HashMap::new();
    let mut files: HashMap<PathBuf, (PathBuf, bool)> = HashMap::new();
    log.events
        .iter()
        .map(|e| {
            let (mut locs, mut user) = (Vec::new(), Vec::new());
            for (module, rva) in &e.frames {
                let found = frames_cache
                    .entry((module.clone(), *rva))
                    .or_insert_with(|| {
                        sym.locate(module, *rva)
                            .into_iter()
                            .map(|mut l| {
                                let (file, ours) =
                                    files.entry(l.file.clone()).or_insert_with(|| {
                                        let c = report::canonical(&l.file);
                                        let ours =
                                            c.is_file() && roots.iter().any(|r| c.starts_with(r));
                                        (c, ours)
                                    });
                                l.file = file.clone();
                                (l, *ours)
                            })
                            .collect()
                    });
                for (l, ours) in found.iter() {
                    locs.push(l.clone());
                    user.push(*ours);
                }
            }
            twins::Observed {
                event: e.clone(),
                locs,
                user,
            }
        })
        .collect()
}

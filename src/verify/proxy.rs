//! Building the observing DLL (`verify/proxy/wslint.rs`) for the program's machine.
//!
//! The DLL is compiled on first use with a Rust compiler that can target
//! `x86_64-pc-windows-gnu` and cached by the hash of its source, its export list
//! and the compiler's version. Its exports are every ws2_32 function the
//! program can import: the observed ones map to the wrappers, the rest are PE
//! forwarders to the real ws2_32.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = include_str!("../../verify/proxy/wslint.rs");
/// ws2_32.dll's exports on current Windows (the names of MinGW's import library).
const EXPORTS: &str = include_str!("../../verify/proxy/ws2_32.exports");
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// The functions the proxy observes: the entries of its `hooks!` table
/// (`    name: wsl_name, real_name(args);`).
pub fn observed() -> Vec<&'static str> {
    SOURCE
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.trim_start().split_once(": wsl_")?;
            rest.starts_with(name).then_some(name)
        })
        .collect()
}

/// The `.def` that exports every name, observed ones from our wrappers.
pub fn def_file(extra: &BTreeSet<String>) -> String {
    let observed: BTreeSet<&str> = observed().into_iter().collect();
    let mut names: BTreeSet<&str> = EXPORTS.split_whitespace().collect();
    names.extend(extra.iter().map(String::as_str));
    let mut def = String::from("EXPORTS\n");
    for n in names {
        if observed.contains(n) {
            def.push_str(&format!("{n} = wsl_{n}\n"));
        } else {
            def.push_str(&format!("{n} = ws2_32.{n}\n"));
        }
    }
    def
}

/// Where wsa-lint keeps built proxies and the Wine prefix.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WSA_LINT_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let base = if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
    };
    base.unwrap_or_else(std::env::temp_dir).join("wsa-lint")
}

/// Compilers to try, most specific first. Debian's `/usr/bin/rustc` is the
/// one that has the Windows standard library there (`libstd-rust-dev-windows`).
fn rustc_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = std::env::var_os("WSA_LINT_RUSTC") {
        return vec![PathBuf::from(p)];
    }
    let mut c = Vec::new();
    if !cfg!(windows) {
        c.push(PathBuf::from("/usr/bin/rustc"));
    }
    c.push(PathBuf::from("rustc"));
    c
}

fn version_of(rustc: &Path) -> Option<String> {
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The observing DLL for a program importing `imported` from ws2_32, built if needed.
pub fn ensure(rustc: Option<&Path>, imported: &BTreeSet<String>) -> Result<PathBuf> {
    let def = def_file(imported);
    let mut failures = Vec::new();
    for candidate in rustc_candidates(rustc) {
        let Some(version) = version_of(&candidate) else {
            failures.push(format!(
                "{}: not found or not runnable",
                candidate.display()
            ));
            continue;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (SOURCE, &def, &version).hash(&mut h);
        let dir = cache_dir().join(format!("proxy-{:016x}", h.finish()));
        let dll = dir.join(super::pe::PROXY_NAME);
        if dll.is_file() {
            return Ok(dll);
        }
        match build(&candidate, &def, &dir) {
            Ok(()) => return Ok(dll),
            Err(e) => failures.push(format!("{}: {e:#}", candidate.display())),
        }
    }
    bail!(
        "cannot build the observing DLL for {TARGET}:\n  {}\n\
         help: it needs a Rust compiler with the {TARGET} standard library: on Debian \
         `apt-get install rustc libstd-rust-dev-windows gcc-mingw-w64-x86-64-posix` \
         (then /usr/bin/rustc is used), elsewhere `rustup target add {TARGET}`; \
         `--rustc PATH` or WSA_LINT_RUSTC picks the compiler",
        failures.join("\n  ")
    )
}

/// Compiles into a private directory, then moves the finished DLL into place,
/// so a concurrent or interrupted build never leaves a half-written DLL behind.
fn build(rustc: &Path, def: &str, dir: &Path) -> Result<()> {
    let parent = dir.parent().context("cache directory has no parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let work = tempfile::Builder::new()
        .prefix(".proxy-build-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a build directory in {}", parent.display()))?;
    // Removed on SIGINT/SIGTERM too, when the guard's drop does not run.
    let _on_signal = super::signals::watch_dir(work.path());
    let src = work.path().join("wslint.rs");
    let def_path = work.path().join("wslint.def");
    std::fs::write(&src, SOURCE)?;
    std::fs::write(&def_path, def)?;
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--target",
            TARGET,
            "--crate-type",
            "cdylib",
        ])
        .args([
            "-C",
            "opt-level=1",
            "-C",
            "panic=abort",
            "-C",
            "strip=debuginfo",
        ])
        .arg("-C")
        .arg(format!("link-arg={}", def_path.display()))
        .arg("-o")
        .arg(work.path().join(super::pe::PROXY_NAME))
        .arg(&src)
        .current_dir(work.path())
        .output()
        .context("cannot run the compiler")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("compilation failed");
        bail!("{first}");
    }
    match std::fs::rename(work.path(), dir) {
        Ok(()) => {
            // The directory is in place now; do not let the guard delete it.
            let _ = work.keep();
            Ok(())
        }
        // Someone else finished the same build first.
        Err(_) if dir.join(super::pe::PROXY_NAME).is_file() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot move the build to {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_functions_are_read_from_the_proxy_source() {
        let o = observed();
        for f in [
            "WSAStartup",
            "WSACleanup",
            "closesocket",
            "shutdown",
            "send",
        ] {
            assert!(o.contains(&f), "{f} not observed: {o:?}");
        }
        assert!(!o.contains(&"WSAHtons"));
    }

    #[test]
    fn def_forwards_what_is_not_observed() {
        let extra: BTreeSet<String> = ["SomeFutureExport".to_string()].into();
        let def = def_file(&extra);
        assert!(def.contains("\nWSAStartup = wsl_WSAStartup\n"));
        assert!(def.contains("\nWSAHtons = ws2_32.WSAHtons\n"));
        assert!(def.contains("\nSomeFutureExport = ws2_32.SomeFutureExport\n"));
    }
}

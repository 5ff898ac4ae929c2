//! Staging the observed copy of a program and running it: natively on Windows,
//! under Wine elsewhere.

use super::pe;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The program's observed copy, its observed DLLs and the observing DLL, in a private directory.
pub struct Staged {
    pub dir: tempfile::TempDir,
    pub program: PathBuf,
    /// Lower-cased file name of each staged module -> its staged path (for debug info).
    pub modules: HashMap<String, PathBuf>,
    /// Every ws2_32 function the staged modules import.
    pub imported: BTreeSet<String>,
    /// Modules whose Winsock calls are observed, as the user named them.
    pub observed: Vec<PathBuf>,
    /// Where the program came from: its DLLs are found there.
    pub origin_dir: PathBuf,
    /// DLLs beside the program that use Winsock but cannot be observed, and why.
    pub skipped: Vec<String>,
}

/// `data`: the module's bytes, already read by the caller.
fn stage_module(src: &Path, mut data: Vec<u8>, dir: &Path, staged: &mut Staged) -> Result<()> {
    let imports = pe::redirect_ws2(&mut data).with_context(|| format!("{}", src.display()))?;
    let name = src
        .file_name()
        .with_context(|| format!("{} has no file name", src.display()))?;
    let dest = dir.join(name);
    std::fs::write(&dest, &data).with_context(|| format!("cannot write {}", dest.display()))?;
    staged
        .modules
        .insert(name.to_string_lossy().to_ascii_lowercase(), dest.clone());
    staged.imported.extend(imports.names.iter().cloned());
    if imports.imports_winsock() {
        staged.observed.push(src.to_path_buf());
    }
    Ok(())
}

fn read_module(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Copies the program and the DLLs beside it (and `extra_dlls`) that import ws2_32, with those
/// imports renamed to the observing DLL.
pub fn stage(program: &Path, extra_dlls: &[PathBuf]) -> Result<Staged> {
    let dir = tempfile::Builder::new()
        .prefix("wsa-lint-verify-")
        .tempdir()
        .context("cannot create a staging directory")?;
    let program_abs = std::path::absolute(program)
        .with_context(|| format!("cannot resolve {}", program.display()))?;
    let origin_dir = program_abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut staged = Staged {
        program: dir.path().join(program_abs.file_name().unwrap_or_default()),
        dir,
        modules: HashMap::new(),
        imported: BTreeSet::new(),
        observed: Vec::new(),
        origin_dir: origin_dir.clone(),
        skipped: Vec::new(),
    };
    let dir_path = staged.dir.path().to_path_buf();
    let data = std::fs::read(&program_abs)
        .with_context(|| format!("cannot read {}", program.display()))?;
    if pe::is_dll(&data) {
        bail!(
            "{} is a DLL: run it through a host program that loads it, with the DLL beside the \
             host or named with --dll (see docs/verify.md)",
            program.display()
        );
    }
    stage_module(&program_abs, data, &dir_path, &mut staged)?;
    for dll in extra_dlls {
        stage_module(dll, read_module(dll)?, &dir_path, &mut staged)?;
    }
    // DLLs beside the program that use Winsock: the ones a host loads by name.
    if let Ok(entries) = std::fs::read_dir(&origin_dir) {
        let mut siblings: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x.eq_ignore_ascii_case("dll"))
                    // A copy of the observing DLL itself is not the program's.
                    && p.file_name().is_some_and(|n| !n.eq_ignore_ascii_case(pe::PROXY_NAME))
                    && p.file_name().is_some_and(|n| {
                        !staged
                            .modules
                            .contains_key(&n.to_string_lossy().to_ascii_lowercase())
                    })
            })
            .collect();
        siblings.sort();
        for dll in siblings {
            let Ok(data) = std::fs::read(&dll) else {
                continue;
            };
            match pe::ws2_imports(&data) {
                Ok(i) if i.imports_winsock() && i.ordinals.is_empty() => {
                    stage_module(&dll, data, &dir_path, &mut staged)?;
                }
                Ok(i) if i.imports_winsock() => staged.skipped.push(format!(
                    "{}: it imports ws2_32.dll functions by ordinal, so its calls are not observed",
                    dll.display()
                )),
                _ => {}
            }
        }
    }
    Ok(staged)
}

/// How the program ended.
#[derive(Debug)]
pub struct Exit {
    pub code: Option<i32>,
    pub timed_out: bool,
}

/// `path` as the program will see it: itself on Windows, on Wine's `Z:` drive elsewhere.
pub fn windows_path(path: &Path) -> String {
    if cfg!(windows) {
        return path.display().to_string();
    }
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Wine launcher: `WSA_LINT_WINE`, else `wine`, else `wine64`.
pub fn wine() -> Result<PathBuf> {
    if let Some(w) = std::env::var_os("WSA_LINT_WINE") {
        return Ok(PathBuf::from(w));
    }
    find_in_path("wine")
        .or_else(|| find_in_path("wine64"))
        .context(
            "Windows programs run under Wine here, and neither `wine` nor `wine64` is on PATH\n\
         help: on Debian `apt-get install wine64 wine`; WSA_LINT_WINE names another launcher",
        )
}

/// The Wine environment: a private prefix (created once, quietly), no debug chatter,
/// no Mono/Gecko installer prompts.
fn wine_env() -> Vec<(OsString, OsString)> {
    let mut env = Vec::new();
    if std::env::var_os("WINEPREFIX").is_none() {
        env.push((
            "WINEPREFIX".into(),
            super::proxy::cache_dir()
                .join("wine-prefix")
                .into_os_string(),
        ));
    }
    if std::env::var_os("WINEDEBUG").is_none() {
        env.push(("WINEDEBUG".into(), "-all".into()));
    }
    if std::env::var_os("WINEDLLOVERRIDES").is_none() {
        env.push(("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()));
    }
    env
}

fn prefix_of(env: &[(OsString, OsString)]) -> PathBuf {
    env.iter()
        .find(|(k, _)| k == "WINEPREFIX")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| std::env::var_os("WINEPREFIX").map(PathBuf::from))
        .unwrap_or_default()
}

/// Creates the Wine prefix if it does not exist yet; one creator at a time.
fn ensure_prefix(wine: &Path, env: &[(OsString, OsString)]) -> Result<()> {
    let prefix = prefix_of(env);
    if prefix.join("system.reg").is_file() {
        return Ok(());
    }
    let parent = prefix.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let lock = parent.join(".wine-prefix.lock");
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if prefix.join("system.reg").is_file() {
                    return Ok(());
                }
                if start.elapsed() > Duration::from_secs(180) {
                    bail!(
                        "timed out waiting for {} (remove it if no wsa-lint is running)",
                        lock.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", lock.display())),
        }
    }
    let out = Command::new(wine)
        .args(["wineboot", "--init"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output();
    let _ = std::fs::remove_file(&lock);
    let out = out.with_context(|| format!("cannot run {}", wine.display()))?;
    if !out.status.success() || !prefix.join("system.reg").is_file() {
        bail!(
            "cannot create the Wine prefix {}: {}",
            prefix.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub struct RunRequest<'a> {
    pub staged: &'a Staged,
    pub args: &'a [OsString],
    pub log: &'a Path,
    pub timeout: Duration,
    /// Send the program's standard output to our standard error (JSON output owns stdout).
    pub stdout_to_stderr: bool,
}

pub fn run(req: &RunRequest<'_>) -> Result<Exit> {
    let staged = req.staged;
    let mut env: Vec<(OsString, OsString)> =
        vec![("WSA_LINT_VERIFY_LOG".into(), windows_path(req.log).into())];
    let mut cmd;
    let wine_setup = if cfg!(windows) {
        cmd = Command::new(&staged.program);
        // The program's own DLLs stay where they were: put that directory on the search path.
        let mut paths = vec![staged.origin_dir.clone()];
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        env.push(("PATH".into(), std::env::join_paths(paths)?));
        None
    } else {
        let wine = wine()?;
        let wenv = wine_env();
        ensure_prefix(&wine, &wenv)?;
        env.extend(wenv.iter().cloned());
        env.push(("WINEPATH".into(), windows_path(&staged.origin_dir).into()));
        cmd = Command::new(&wine);
        cmd.arg(&staged.program);
        Some((wine, wenv))
    };
    cmd.args(req.args).envs(env.iter().map(|(k, v)| (k, v)));
    if req.stdout_to_stderr {
        cmd.stdout(Stdio::from(std::io::stderr()));
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", staged.program.display()))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Exit {
                code: status.code(),
                timed_out: false,
            });
        }
        if start.elapsed() >= req.timeout {
            let _ = child.kill();
            let _ = child.wait();
            if let Some((wine, wenv)) = &wine_setup {
                // The Windows process lives in the wineserver, not in the launcher we killed.
                let server = wine.with_file_name("wineserver");
                let server = if server.is_file() {
                    server
                } else {
                    PathBuf::from("wineserver")
                };
                let _ = Command::new(server)
                    .arg("-k")
                    .envs(wenv.iter().map(|(k, v)| (k, v)))
                    .status();
            }
            return Ok(Exit {
                code: None,
                timed_out: true,
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

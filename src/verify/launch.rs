//! Staging the observed copy of a program and running it: natively on Windows,
//! under Wine elsewhere.

use super::{pe, signals};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The largest module (program or DLL) wsa-lint reads. Real programs with full debug info
/// are tens of MiB; the staged copy is held in memory while its import is renamed, so a
/// bigger file is refused (the program) or left unobserved with a warning (a DLL).
pub const MAX_MODULE_SIZE: u64 = 512 << 20;

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
    /// Removes `dir` if wsa-lint is stopped by a signal (the `TempDir` is not dropped then).
    _on_signal: signals::DirGuard,
}

/// Why a file cannot be read as a module.
#[derive(Debug)]
pub enum ModuleError {
    Missing,
    /// Not a regular file: "a directory", "a FIFO", ...
    NotAFile(&'static str),
    TooLarge(u64),
    Pe(pe::PeError),
    Io(std::io::Error),
}

impl ModuleError {
    /// The reason, for a module that is a `what` ("program", "DLL").
    pub fn describe(&self, what: &str) -> String {
        match self {
            ModuleError::Missing => "no such file".to_string(),
            ModuleError::NotAFile(kind) => format!("it is {kind}, not a {what}"),
            ModuleError::TooLarge(size) => format!(
                "it is {} MiB, more than the {} MiB wsa-lint reads of a {what}",
                size >> 20,
                MAX_MODULE_SIZE >> 20
            ),
            ModuleError::Pe(e) => e.to_string(),
            ModuleError::Io(e) => format!("cannot read it: {e}"),
        }
    }
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("module"))
    }
}

impl std::error::Error for ModuleError {}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let ty = meta.file_type();
    if ty.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO";
        }
        if ty.is_socket() {
            return "a socket";
        }
        if ty.is_char_device() {
            return "a character device";
        }
        if ty.is_block_device() {
            return "a block device";
        }
    }
    "not a regular file"
}

/// Is `path` (after symlinks) a regular file? Cheap: for a usage check before any work.
pub fn check_regular(path: &Path) -> Result<(), ModuleError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModuleError::Missing,
        _ => ModuleError::Io(e),
    })?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(ModuleError::NotAFile(kind_of(&meta)))
    }
}

/// Fills `buf` from `file` as far as it goes; returns how many bytes it read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads a module, reading no more than it must: only a regular file (a FIFO would block, a
/// device never end), only after its first bytes show a PE signature (a large file that is
/// not a module is not read), and only up to `MAX_MODULE_SIZE`.
pub fn read_module(path: &Path) -> Result<Vec<u8>, ModuleError> {
    check_regular(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // The path may have been swapped for a FIFO since it was checked: opening a FIFO blocks
    // until a writer comes, unless non-blocking (which regular files ignore).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path).map_err(ModuleError::Io)?;
    // Ask the open file, not the path: this is what is read.
    let meta = file.metadata().map_err(ModuleError::Io)?;
    if !meta.is_file() {
        return Err(ModuleError::NotAFile(kind_of(&meta)));
    }
    let mut data = vec![0; pe::SIGNATURE_WINDOW.min(meta.len() as usize)];
    let n = read_full(&mut file, &mut data).map_err(ModuleError::Io)?;
    data.truncate(n);
    pe::check_signature(&data).map_err(ModuleError::Pe)?;
    if meta.len() > MAX_MODULE_SIZE {
        return Err(ModuleError::TooLarge(meta.len()));
    }
    // One byte more than the cap tells a file that grew past it since it was measured.
    (&mut file)
        .take(MAX_MODULE_SIZE + 1 - data.len() as u64)
        .read_to_end(&mut data)
        .map_err(ModuleError::Io)?;
    if data.len() as u64 > MAX_MODULE_SIZE {
        return Err(ModuleError::TooLarge(data.len() as u64));
    }
    Ok(data)
}

/// `data`: the module's bytes, already read by the caller.
fn stage_module(src: &Path, mut data: Vec<u8>, dir: &Path, staged: &mut Staged) -> Result<()> {
    let imports = pe::redirect_ws2(&mut data)?;
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

/// Copies the program and the DLLs beside it (and `extra_dlls`) that import ws2_32, with those
/// imports renamed to the observing DLL.
pub fn stage(program: &Path, extra_dlls: &[PathBuf]) -> Result<Staged> {
    let dir = tempfile::Builder::new()
        .prefix("wsa-lint-verify-")
        .tempdir()
        .context("cannot create a staging directory")?;
    let dir_path = dir.path().to_path_buf();
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
        _on_signal: signals::watch_dir(&dir_path),
    };
    let data = read_module(&program_abs).map_err(|e| {
        anyhow::anyhow!(
            "cannot run `{}`: {}",
            program.display(),
            e.describe("program")
        )
    })?;
    if pe::is_dll(&data) {
        bail!(
            "{} is a DLL: run it through a host program that loads it, with the DLL beside the \
             host or named with --dll (see docs/verify.md)",
            program.display()
        );
    }
    stage_module(&program_abs, data, &dir_path, &mut staged)
        .with_context(|| format!("cannot run `{}`", program.display()))?;
    for dll in extra_dlls {
        let data = read_module(dll).map_err(|e| {
            anyhow::anyhow!("cannot observe `{}`: {}", dll.display(), e.describe("DLL"))
        })?;
        stage_module(dll, data, &dir_path, &mut staged)
            .with_context(|| format!("cannot observe `{}`", dll.display()))?;
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
            let data = match read_module(&dll) {
                Ok(data) => data,
                // Plenty of files are called `*.dll` without being one: not worth a word.
                Err(ModuleError::Pe(_) | ModuleError::Missing) => continue,
                Err(e) => {
                    staged.skipped.push(format!(
                        "{} beside the program is not observed: {}",
                        dll.display(),
                        e.describe("DLL")
                    ));
                    continue;
                }
            };
            match pe::ws2_imports(&data) {
                Ok(i) if i.imports_winsock() && i.ordinals.is_empty() => {
                    stage_module(&dll, data, &dir_path, &mut staged)
                        .with_context(|| format!("{}", dll.display()))?;
                }
                Ok(i) if i.imports_winsock() => staged.skipped.push(format!(
                    "{}: it imports ws2_32.dll functions by ordinal, so its calls are not observed",
                    dll.display()
                )),
                Err(e @ pe::PeError::Truncated(_)) => staged.skipped.push(format!(
                    "{} beside the program is not observed: {e}",
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
    /// What Wine said when it could not start the program at all ("Bad EXE format", ...).
    pub start_failure: Option<String>,
}

/// Is this line of Wine's output Wine saying it could not start the program? (Wine then
/// exits with an ordinary exit code, so the code alone does not tell.) The launcher writes
/// `wine: ...` lines to standard error; when it hands the file to `start.exe`, that one
/// writes its `ShellExecuteEx failed: ...` to standard output.
pub fn wine_start_failure(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with("ShellExecuteEx failed:")
        || line.starts_with("Application could not be started")
    {
        return true;
    }
    let Some(rest) = line.strip_prefix("wine: ") else {
        return false;
    };
    [
        "failed to start",
        "Bad EXE format",
        "could not load",
        "cannot find",
        "could not exec",
    ]
    .iter()
    .any(|p| rest.starts_with(p))
}

type Found = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Copies one of the program's output streams to ours (`to_stderr`: to standard error) as it
/// comes, and keeps the lines in which Wine says it could not start the program. Sends on
/// `done` at the end of the stream.
fn forward(mut from: impl Read, to_stderr: bool, found: Found, done: std::sync::mpsc::Sender<()>) {
    use std::io::Write;
    let mut buf = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        // A closed standard output of ours must not stop the program: keep draining.
        let _ = if to_stderr {
            std::io::stderr().write_all(chunk)
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(chunk).and_then(|_| out.flush())
        };
        for &b in chunk {
            if b == b'\n' {
                let text = String::from_utf8_lossy(&line);
                if wine_start_failure(&text) {
                    let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
                    if f.len() < 4 {
                        f.push(text.trim().to_string());
                    }
                }
                line.clear();
            } else if line.len() < 4096 {
                // Only the start of a line matters; a line without end must not grow forever.
                line.push(b);
            }
        }
    }
    let _ = done.send(());
}

/// The most telling of Wine's lines: start.exe's reason first, then the launcher's.
fn start_failure(mut lines: Vec<String>) -> Option<String> {
    lines.sort_by_key(|l| {
        if l.starts_with("ShellExecuteEx failed:") {
            0
        } else if l.starts_with("wine: ") {
            1
        } else {
            2
        }
    });
    lines.into_iter().next()
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
    // `system.reg` appears while wineboot is still setting the prefix up (drive mappings
    // among it): only the marker written after wineboot finished says the prefix is usable.
    let ready = prefix.join(".wsa-lint-ready");
    if ready.is_file() {
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
                if ready.is_file() {
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
    // A stale lock would make every later run wait for a creator that is gone: on a signal,
    // end wineboot and remove the lock.
    let lock_guard = signals::watch_dir(&lock);
    let out = Command::new(wine)
        .args(["wineboot", "--init"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|child| {
            let _ends = signals::watch_child(child.id(), None);
            child.wait_with_output()
        });
    signals::wait_if_stopping();
    // The marker is written before the lock goes, so a waiter never becomes a second creator.
    let made = out
        .with_context(|| format!("cannot run {}", wine.display()))
        .and_then(|out| {
            if !out.status.success() || !prefix.join("system.reg").is_file() {
                bail!(
                    "cannot create the Wine prefix {}: {}",
                    prefix.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            std::fs::write(&ready, b"")
                .with_context(|| format!("cannot mark {} as ready", prefix.display()))
        });
    let _ = std::fs::remove_file(&lock);
    drop(lock_guard);
    made
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
    if req.stdout_to_stderr && wine_setup.is_none() {
        cmd.stdout(Stdio::from(std::io::stderr()));
    }
    // Under Wine, its output tells a program that never started from one that ran.
    if wine_setup.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", staged.program.display()))?;
    let _on_signal = signals::watch_child(child.id(), Some(staged.dir.path()));
    let found: Found = Default::default();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut streams = 0;
    if let Some(out) = child.stdout.take() {
        let (found, done) = (found.clone(), done_tx.clone());
        let to_stderr = req.stdout_to_stderr;
        std::thread::spawn(move || forward(out, to_stderr, found, done));
        streams += 1;
    }
    if let Some(err) = child.stderr.take() {
        let (found, done) = (found.clone(), done_tx.clone());
        std::thread::spawn(move || forward(err, true, found, done));
        streams += 1;
    }
    drop(done_tx);
    let start = Instant::now();
    let ended = |code: Option<i32>, timed_out: bool| {
        // Wine's service processes inherit the pipes and may keep them open long after the
        // program ended: wait for their end only briefly. What Wine says about a failed start
        // it writes before the program's process exits.
        let until = Instant::now() + Duration::from_millis(500);
        for _ in 0..streams {
            let left = until.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        let lines = std::mem::take(&mut *found.lock().unwrap_or_else(|e| e.into_inner()));
        Exit {
            code,
            timed_out,
            start_failure: start_failure(lines),
        }
    };
    loop {
        // A signal is being handled: the watcher ends the program and the process.
        signals::wait_if_stopping();
        if let Some(status) = child.try_wait()? {
            signals::wait_if_stopping();
            return Ok(ended(status.code(), false));
        }
        if start.elapsed() >= req.timeout {
            signals::kill_tree(child.id(), Some(staged.dir.path()));
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
            return Ok(ended(None, true));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wine_saying_it_cannot_start_is_told_from_program_output() {
        for line in [
            "wine: failed to start L\"Z:\\\\tmp\\\\x.exe\"",
            "wine: Bad EXE format for Z:\\tmp\\x.exe.",
            "ShellExecuteEx failed: File not found.",
            "Application could not be started, or no application associated with the specified file.",
        ] {
            assert!(wine_start_failure(line), "{line}");
        }
        for line in [
            "wine: Unhandled page fault on read access to 0000000000000000",
            "fetch: Err(10061)",
            "the wine: failed to start is quoted here",
        ] {
            assert!(!wine_start_failure(line), "{line}");
        }
        assert_eq!(
            start_failure(vec![
                "wine: failed to start L\"x\"".into(),
                "ShellExecuteEx failed: Bad EXE format for x.".into(),
            ])
            .as_deref(),
            Some("ShellExecuteEx failed: Bad EXE format for x.")
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let e = read_module(dir.path()).expect_err("a directory");
        assert_eq!(e.describe("program"), "it is a directory, not a program");
        let e = read_module(&dir.path().join("none.exe")).expect_err("missing");
        assert!(matches!(e, ModuleError::Missing));
        #[cfg(unix)]
        {
            let e = read_module(Path::new("/dev/zero")).expect_err("a device");
            assert_eq!(e.describe("DLL"), "it is a character device, not a DLL");
        }
        let not_pe = dir.path().join("notes.dll");
        std::fs::write(&not_pe, b"MZ but nothing more").expect("written");
        assert!(matches!(read_module(&not_pe), Err(ModuleError::Pe(_))));
    }
}

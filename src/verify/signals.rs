//! Ending a run cleanly when wsa-lint itself is told to stop (SIGINT, SIGTERM).
//!
//! A signal handler may do almost nothing, so it only writes the signal's number to a pipe; a
//! watcher thread reads it and does the work: it ends the program's processes, removes the
//! staging directories still registered, and exits with 128 + the signal's number (130 for
//! SIGINT, 143 for SIGTERM), the shells' convention. Without this the default action would
//! kill wsa-lint alone: the program would run on, and `TempDir`'s drop would never run.
//!
//! What to clean up is registered by the code that creates it (`watch_dir`, `watch_child`)
//! and unregistered when the guard is dropped. Off Unix this is all a no-op.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

struct Watched {
    dirs: Vec<(u64, PathBuf)>,
    /// A process to end, and the staging directory whose name is in its processes' command
    /// lines (the program's), if any.
    children: Vec<(u64, u32, Option<PathBuf>)>,
    next: u64,
}

static WATCHED: Mutex<Watched> = Mutex::new(Watched {
    dirs: Vec::new(),
    children: Vec::new(),
    next: 0,
});

/// Set once a signal is being handled: the main thread must not report a run we ended.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn watched() -> std::sync::MutexGuard<'static, Watched> {
    // A panic elsewhere while holding the lock leaves the lists intact: keep using them.
    WATCHED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the directory on a signal, until dropped.
pub struct DirGuard(u64);

impl Drop for DirGuard {
    fn drop(&mut self) {
        watched().dirs.retain(|(id, _)| *id != self.0);
    }
}

/// Ends the process (and what it started) on a signal, until dropped.
pub struct ChildGuard(u64);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        watched().children.retain(|(id, _, _)| *id != self.0);
    }
}

/// `dir` may also be a plain file (a lock file).
pub fn watch_dir(dir: &Path) -> DirGuard {
    let mut w = watched();
    w.next += 1;
    let id = w.next;
    w.dirs.push((id, dir.to_path_buf()));
    DirGuard(id)
}

/// `staging`: the directory the program runs from; a process whose command line names it was
/// started for this run even when it is no longer a descendant (Wine double-forks).
pub fn watch_child(pid: u32, staging: Option<&Path>) -> ChildGuard {
    let mut w = watched();
    w.next += 1;
    let id = w.next;
    w.children.push((id, pid, staging.map(Path::to_path_buf)));
    ChildGuard(id)
}

/// True once a signal is being handled.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Parks the calling thread for good while a signal is handled: the watcher exits the process.
pub fn wait_if_stopping() {
    while stopping() {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Installs the handlers for SIGINT and SIGTERM (once; later calls do nothing).
pub fn install() -> std::io::Result<()> {
    imp::install()
}

/// Ends `pid` and every process it started: its descendants, and processes whose command
/// line names `staging` (Windows processes the program started, which Wine detaches).
pub fn kill_tree(pid: u32, staging: Option<&Path>) {
    imp::kill_tree(pid, staging)
}

/// The watcher's work after a signal: end the programs, remove the directories, exit.
#[cfg_attr(not(unix), allow(dead_code))]
fn stop(signo: i32) -> ! {
    STOPPING.store(true, Ordering::SeqCst);
    let (children, dirs) = {
        let w = watched();
        (w.children.clone(), w.dirs.clone())
    };
    for (_, pid, staging) in &children {
        kill_tree(*pid, staging.as_deref());
    }
    for (_, dir) in &dirs {
        // The main thread may still be writing into it: try again briefly.
        for _ in 0..20 {
            let removed = if dir.is_dir() {
                std::fs::remove_dir_all(dir)
            } else {
                std::fs::remove_file(dir)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                _ => break,
            }
        }
    }
    let name = match signo {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    };
    eprintln!(
        "error: wsa-lint verify was stopped by {name}{}",
        if children.is_empty() {
            ""
        } else {
            "; the program was ended"
        }
    );
    std::process::exit(128 + signo)
}

#[cfg(unix)]
mod imp {
    use std::path::Path;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The pipe's write end, for the handler.
    static PIPE_W: AtomicI32 = AtomicI32::new(-1);
    static INSTALLED: std::sync::Once = std::sync::Once::new();

    extern "C" fn on_signal(signo: libc::c_int) {
        // Only async-signal-safe calls here; `write` may set errno, which the interrupted
        // code may be about to read, so it is put back.
        #[cfg(target_os = "linux")]
        let saved = unsafe { *libc::__errno_location() };
        let fd = PIPE_W.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = signo as u8;
            unsafe {
                libc::write(fd, (&byte as *const u8).cast(), 1);
            }
        }
        #[cfg(target_os = "linux")]
        unsafe {
            *libc::__errno_location() = saved;
        }
    }

    pub fn install() -> std::io::Result<()> {
        let mut result = Ok(());
        INSTALLED.call_once(|| result = install_once());
        result
    }

    fn install_once() -> std::io::Result<()> {
        let mut fds = [0 as libc::c_int; 2];
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Neither end may leak into the program: it would hold the pipe open.
        for fd in fds {
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        let [read_end, write_end] = fds;
        PIPE_W.store(write_end, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("wsa-lint-signals".into())
            .spawn(move || loop {
                let mut byte = 0u8;
                let n = unsafe { libc::read(read_end, (&mut byte as *mut u8).cast(), 1) };
                if n == 1 {
                    super::stop(i32::from(byte));
                }
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return;
            })?;
        for signo in [libc::SIGINT, libc::SIGTERM] {
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                // Restart interrupted system calls: the main thread carries on until the
                // watcher exits the process.
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signo, &action, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }

    pub fn kill_tree(pid: u32, staging: Option<&Path>) {
        let me = std::process::id();
        let marker = staging
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty());
        // Descendants are found before anything is killed: a killed parent's children are
        // handed to init, and their parent link to the program is lost. Processes can fork
        // while they are being killed, so look again until none is left.
        let mut doomed: Vec<u32> = vec![pid];
        for round in 0..10 {
            let procs = processes();
            let mut i = 0;
            while i < doomed.len() {
                let parent = doomed[i];
                for p in &procs {
                    if p.ppid == parent && !doomed.contains(&p.pid) {
                        doomed.push(p.pid);
                    }
                }
                i += 1;
            }
            if let Some(m) = &marker {
                for p in &procs {
                    if p.cmdline.contains(m.as_str()) && !doomed.contains(&p.pid) {
                        doomed.push(p.pid);
                    }
                }
            }
            let alive: Vec<u32> = doomed
                .iter()
                .copied()
                .filter(|&p| {
                    // A wineserver the program started (before it detached) serves every run
                    // in the prefix; it ends by itself once its last process is gone.
                    p != me
                        && procs
                            .iter()
                            .any(|q| q.pid == p && !q.zombie && !q.is_wineserver())
                })
                .collect();
            if round == 0 {
                // Without /proc nothing is listed: the program itself is still ended.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            } else if alive.is_empty() {
                return;
            }
            for p in alive {
                unsafe {
                    libc::kill(p as libc::pid_t, libc::SIGKILL);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    struct Proc {
        pid: u32,
        ppid: u32,
        zombie: bool,
        cmdline: String,
    }

    impl Proc {
        fn is_wineserver(&self) -> bool {
            let first = self.cmdline.split('\0').next().unwrap_or_default();
            let name = first.rsplit('/').next().unwrap_or_default();
            name.starts_with("wineserver")
        }
    }

    /// The processes in /proc (empty where there is no /proc: then only `pid` itself is killed).
    fn processes() -> Vec<Proc> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
                let rest = &stat[stat.rfind(')')? + 1..];
                let mut fields = rest.split_whitespace();
                let state = fields.next()?;
                let ppid = fields.next()?.parse().ok()?;
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                Some(Proc {
                    pid,
                    ppid,
                    zombie: state == "Z" || state == "X",
                    cmdline: String::from_utf8_lossy(&cmdline).into_owned(),
                })
            })
            .collect()
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    pub fn install() -> std::io::Result<()> {
        Ok(())
    }

    pub fn kill_tree(_pid: u32, _staging: Option<&Path>) {}
}

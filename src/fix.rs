//! Suggestions made safe, and `--fix`, which applies the machine-applicable ones.
//!
//! The engine's `vet` has already kept a suggestion machine-applicable only where its span is
//! the user's own text and reads what the lint computed it from. `apply` checks that again
//! against the text it edits, then writes each file only when the
//! edited text still parses, differs from the file only inside the replaced spans, and the file
//! on disk is still the one that was analysed. Each file is written to a temporary file beside
//! it, given the original's mode and owner, and renamed over the original, so a file is never
//! left half-written; SIGINT and SIGTERM wait until the file being written is in place.

use crate::diag::{Applicability, Diagnostic};
use crate::source::{FileId, SourceDb};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

pub struct Fixed {
    /// The findings whose suggestions were applied.
    pub diags: Vec<Diagnostic>,
    pub files: usize,
    /// Files that had edits but were left as they are: (shown path, why).
    pub not_fixed: Vec<(String, String)>,
    /// SIGINT or SIGTERM arrived while files were written: the signal number. The files
    /// written so far are complete; no others were touched.
    pub interrupted: Option<i32>,
}

struct Edit {
    lo: usize,
    hi: usize,
    replacement: String,
    original: String,
    diag: usize,
}

/// Applies the machine-applicable suggestions of `diags` to the files in `writable` (the files
/// the user asked to lint). Run it on a large stack: the edited text is parsed.
pub fn apply(db: &SourceDb, diags: &[Diagnostic], writable: &BTreeSet<FileId>) -> Fixed {
    let mut by_file: BTreeMap<FileId, Vec<Edit>> = BTreeMap::new();
    for (i, d) in diags.iter().enumerate() {
        for s in &d.suggestions {
            let (Applicability::MachineApplicable, Some(original)) = (s.applicability, &s.original)
            else {
                continue;
            };
            if s.span.from_expansion || !writable.contains(&s.span.file) {
                continue;
            }
            by_file.entry(s.span.file).or_default().push(Edit {
                lo: s.span.lo as usize,
                hi: s.span.hi as usize,
                replacement: s.replacement.clone(),
                original: original.clone(),
                diag: i,
            });
        }
    }
    let mut fixed = Fixed {
        diags: Vec::new(),
        files: 0,
        not_fixed: Vec::new(),
        interrupted: None,
    };
    let mut applied = Vec::new();
    let signals = SignalGuard::install();
    for (file, mut edits) in by_file {
        if let Some(sig) = signals.received() {
            fixed.interrupted = Some(sig);
            break;
        }
        let src = db.get(file);
        edits.sort_by_key(|e| (e.lo, e.hi));
        let (text, used) = match edited(&src.text, &edits) {
            Ok(Some(e)) => e,
            // Every edit was overlapped by another or no longer matches: nothing to write.
            Ok(None) => continue,
            Err(why) => {
                fixed.not_fixed.push((src.display.clone(), why.into()));
                continue;
            }
        };
        match write_checked(&src.path, &src.text, &text) {
            Ok(()) => {
                fixed.files += 1;
                applied.extend(used);
            }
            Err(why) => fixed.not_fixed.push((src.display.clone(), why)),
        }
    }
    if fixed.interrupted.is_none() {
        fixed.interrupted = signals.received();
    }
    drop(signals);
    applied.sort_unstable();
    applied.dedup();
    fixed.diags = applied.into_iter().map(|i| diags[i].clone()).collect();
    fixed
}

/// The text with every edit that still matches applied, and the findings they came from; `None`
/// when no edit applies, an error when the result would not be a valid file that differs only
/// where edited.
fn edited(text: &str, edits: &[Edit]) -> Result<Option<(String, Vec<usize>)>, &'static str> {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0usize;
    let mut used = Vec::new();
    let mut placed = Vec::new();
    for e in edits {
        // Overlapping edits: keep the first; the rest stay findings.
        if e.lo < pos {
            continue;
        }
        let Some(now) = text.get(e.lo..e.hi) else {
            continue;
        };
        if !crate::diag::same_text(&e.original, now) {
            continue;
        }
        out.push_str(&text[pos..e.lo]);
        let at = out.len();
        out.push_str(&e.replacement);
        placed.push((e.lo, e.hi, at, at + e.replacement.len()));
        pos = e.hi;
        used.push(e.diag);
    }
    if used.is_empty() {
        return Ok(None);
    }
    out.push_str(&text[pos..]);
    if !differs_only_inside(text, &out, &placed) {
        return Err("the edits would change text outside the replaced spans");
    }
    if crate::parse::parses(text) && !crate::parse::parses(&out) {
        return Err("the edited file would not parse");
    }
    Ok(Some((out, used)))
}

/// Every byte outside the replaced spans is unchanged and in place. `placed`: for each edit,
/// its range in the old text and in the new one, in order.
fn differs_only_inside(old: &str, new: &str, placed: &[(usize, usize, usize, usize)]) -> bool {
    let (mut o, mut n) = (0usize, 0usize);
    for &(lo, hi, at, end) in placed {
        if old.get(o..lo) != new.get(n..at) {
            return false;
        }
        o = hi;
        n = end;
    }
    old.get(o..) == new.get(n..)
}

/// Writes `new` over `path` if the file still holds `analysed`, keeping its mode and owner.
fn write_checked(path: &Path, analysed: &str, new: &str) -> Result<(), String> {
    // A symlink inside the project is edited where it points, and stays a symlink.
    let target = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve the file: {e}"))?;
    let meta = std::fs::metadata(&target).map_err(|e| format!("cannot read its metadata: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.permissions().readonly() {
        return Err("the file is read-only".into());
    }
    let on_disk = std::fs::read(&target).map_err(|e| format!("cannot read it again: {e}"))?;
    if on_disk != analysed.as_bytes() {
        return Err("the file changed on disk after it was read".into());
    }
    write_atomically(&target, new.as_bytes(), Some(&meta))
        .map_err(|e| format!("cannot write it: {e}"))
}

/// Writes `data` to `path` through a temporary file in the same directory, so readers see the
/// old file or the new one, never a part. `like`: the file whose mode and owner the new one
/// keeps.
pub(crate) fn write_atomically(
    path: &Path,
    data: &[u8],
    like: Option<&std::fs::Metadata>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    if let Some(like) = like {
        keep_owner(tmp.as_file(), like)?;
        tmp.as_file().set_permissions(like.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn keep_owner(file: &std::fs::File, like: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    let now = file.metadata()?;
    if (now.uid(), now.gid()) == (like.uid(), like.gid()) {
        return Ok(());
    }
    // SAFETY: fchown on a descriptor this function borrows; no memory is involved.
    if unsafe { libc::fchown(file.as_raw_fd(), like.uid(), like.gid()) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            e.kind(),
            format!("cannot give the new file the original's owner ({e})"),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn keep_owner(_: &std::fs::File, _: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// The signal that arrived while files were being written (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// While alive, SIGINT and SIGTERM only set a flag, so that a temporary file is always renamed
/// into place (or removed) before the process ends. Dropping it restores the previous handlers.
struct SignalGuard {
    #[cfg(unix)]
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

#[cfg(unix)]
extern "C" fn note_signal(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
}

impl SignalGuard {
    #[cfg(unix)]
    fn install() -> SignalGuard {
        RECEIVED.store(0, Ordering::SeqCst);
        let mut previous = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
            // is async-signal-safe.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut old) == 0 {
                    previous.push((sig, old));
                }
            }
        }
        SignalGuard { previous }
    }

    #[cfg(not(unix))]
    fn install() -> SignalGuard {
        SignalGuard {}
    }

    fn received(&self) -> Option<i32> {
        match RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        for (sig, old) in &self.previous {
            // SAFETY: restores the disposition saved by `install`.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

/// Ends the process the way the signal would have, once the files are safe.
pub fn reraise(sig: i32) -> ! {
    #[cfg(unix)]
    // SAFETY: resets the default action and raises the signal again, which ends the process.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(lo: usize, hi: usize, original: &str, replacement: &str) -> Edit {
        Edit {
            lo,
            hi,
            replacement: replacement.into(),
            original: original.into(),
            diag: 0,
        }
    }

    #[test]
    fn an_edit_applies_only_to_the_text_it_was_computed_from() {
        let text = "fn f() { g(2.2 as u16); }";
        let ok = edited(text, &[edit(11, 21, "2.2 as u16", "0x0202")])
            .unwrap()
            .unwrap();
        assert_eq!(ok.0, "fn f() { g(0x0202); }");
        // Shifted by one byte: the span no longer holds the cast.
        assert_eq!(
            edited(text, &[edit(10, 20, "2.2 as u16", "0x0202")]),
            Ok(None)
        );
        // A comment inside is not whitespace.
        let commented = "fn f() { g(2.2 /* v */ as u16); }";
        assert_eq!(
            edited(commented, &[edit(11, 29, "2.2 as u16", "0x0202")]),
            Ok(None)
        );
        let spaced = "fn f() { g(2.2\n    as u16); }";
        assert!(matches!(
            edited(spaced, &[edit(11, 25, "2.2 as u16", "0x0202")]),
            Ok(Some(_))
        ));
    }

    #[test]
    fn an_edit_that_breaks_the_file_is_not_applied() {
        let text = "fn f() { g(2.2 as u16); }";
        assert_eq!(
            edited(text, &[edit(11, 21, "2.2 as u16", "0x0202 {")]),
            Err("the edited file would not parse")
        );
    }

    #[test]
    fn only_inside_catches_a_change_outside() {
        assert!(differs_only_inside("abcdef", "abXYef", &[(2, 4, 2, 4)]));
        assert!(!differs_only_inside("abcdef", "zbXYef", &[(2, 4, 2, 4)]));
        assert!(!differs_only_inside("abcdef", "abXYeg", &[(2, 4, 2, 4)]));
    }
}

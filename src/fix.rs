//! `--fix`: applies machine-applicable suggestions to the files they point
//! into. Each file is written to a temporary file beside it and renamed over
//! the original, so a file is never left half-written.

use crate::diag::{Applicability, Diagnostic};
use crate::source::{FileId, SourceDb};
use std::collections::BTreeMap;
use std::io::Write;

pub struct Fixed {
    /// The findings whose suggestions were applied.
    pub diags: Vec<Diagnostic>,
    pub files: usize,
}

pub fn apply(db: &SourceDb, diags: &[Diagnostic]) -> Result<Fixed, String> {
    let mut by_file: BTreeMap<FileId, Vec<(u32, u32, String, usize)>> = BTreeMap::new();
    for (i, d) in diags.iter().enumerate() {
        let edits: Vec<_> = d
            .suggestions
            .iter()
            .filter(|s| s.applicability == Applicability::MachineApplicable)
            .collect();
        for s in edits {
            by_file.entry(s.span.file).or_default().push((
                s.span.lo,
                s.span.hi,
                s.replacement.clone(),
                i,
            ));
        }
    }
    let mut applied = Vec::new();
    let mut files = 0;
    for (file, mut edits) in by_file {
        let src = db.get(file);
        edits.sort_by_key(|e| (e.0, e.1));
        let mut text = String::with_capacity(src.text.len());
        let mut pos = 0usize;
        let mut used = Vec::new();
        for (lo, hi, rep, i) in edits {
            let (lo, hi) = (lo as usize, hi as usize);
            // Overlapping edits: keep the first; the rest stay findings.
            if lo < pos
                || hi > src.text.len()
                || !src.text.is_char_boundary(lo)
                || !src.text.is_char_boundary(hi)
            {
                continue;
            }
            text.push_str(&src.text[pos..lo]);
            text.push_str(&rep);
            pos = hi;
            used.push(i);
        }
        text.push_str(&src.text[pos..]);
        if used.is_empty() {
            continue;
        }
        std::fs::metadata(&src.path)
            .and_then(|m| write_atomically(&src.path, text.as_bytes(), Some(m.permissions())))
            .map_err(|e| format!("cannot write {}: {e}", src.display))?;
        files += 1;
        applied.extend(used);
    }
    applied.sort_unstable();
    applied.dedup();
    Ok(Fixed {
        diags: applied.into_iter().map(|i| diags[i].clone()).collect(),
        files,
    })
}

/// Writes `data` to `path` through a temporary file in the same directory, so readers see the
/// old file or the new one, never a part. `perms`: the permissions the new file gets.
pub(crate) fn write_atomically(
    path: &std::path::Path,
    data: &[u8],
    perms: Option<std::fs::Permissions>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    if let Some(perms) = perms {
        std::fs::set_permissions(tmp.path(), perms)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

//! Source text store: file ids, byte spans and line/column lookup.
//!
//! Takes file paths and texts, hands out `FileId`s and `Span`s (byte offsets).
//! Knows nothing of syntax or Winsock; every later phase speaks in these spans.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub lo: u32,
    pub hi: u32,
    /// The text comes from a macro expansion (a `macro_rules!` body, or a fragment joined
    /// with one), not written by the user at this place: an edit here is never mechanical.
    pub from_expansion: bool,
    /// Which piece of a macro expansion this is, 0 outside one. Pieces of an expansion are
    /// shown at the macro call, so this keeps their identities apart: phases after lowering
    /// tell call sites and values apart by span.
    pub site: u32,
}

impl Span {
    pub fn new(file: FileId, lo: usize, hi: usize) -> Span {
        Span {
            file,
            lo: lo as u32,
            hi: hi.max(lo) as u32,
            from_expansion: false,
            site: 0,
        }
    }

    /// The same range, marked as produced by a macro expansion.
    pub fn in_expansion(self) -> Span {
        Span {
            from_expansion: true,
            ..self
        }
    }
}

/// One file's text with its line index.
#[derive(Debug)]
pub struct SourceFile {
    pub id: FileId,
    /// Absolute (or as-given) path used to read the file.
    pub path: PathBuf,
    /// Path shown to users: relative to the working directory when possible.
    pub display: String,
    pub text: String,
    line_starts: Vec<u32>,
}

/// A 1-based line and a 1-based column counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl SourceFile {
    pub fn new(id: FileId, path: PathBuf, display: String, text: String) -> SourceFile {
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i as u32 + 1);
            }
        }
        SourceFile {
            id,
            path,
            display,
            text,
            line_starts,
        }
    }

    /// Line and character column of a byte offset (clamped into the text).
    pub fn line_col(&self, byte: u32) -> LineCol {
        let byte = (byte as usize).min(self.text.len());
        let line = match self.line_starts.binary_search(&(byte as u32)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let mut end = byte;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count() + 1;
        LineCol {
            line: line + 1,
            col,
        }
    }

    /// Byte offset of a 1-based line and 0-based char column, as proc-macro2 reports them.
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start as usize..];
        let within = rest
            .char_indices()
            .nth(char_col)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        start as usize + within
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn slice(&self, span: Span) -> &str {
        let lo = (span.lo as usize).min(self.text.len());
        let hi = (span.hi as usize).clamp(lo, self.text.len());
        self.text.get(lo..hi).unwrap_or("")
    }
}

/// A map keyed by paths, hashed as their bytes with a fast hasher. A run looks files up by path
/// tens of thousands of times; `Path`'s own `Hash` walks the components, and SipHash's
/// resistance to chosen keys buys nothing for paths from a directory walk.
pub type PathMap<V> = rustc_hash::FxHashMap<std::ffi::OsString, V>;

/// All files of one run, indexed by `FileId`. Shared by worker threads.
#[derive(Debug, Default)]
pub struct SourceDb {
    inner: std::sync::RwLock<DbInner>,
}

#[derive(Debug, Default)]
struct DbInner {
    files: Vec<std::sync::Arc<SourceFile>>,
    by_path: PathMap<FileId>,
}

impl SourceDb {
    /// Adds a file, or returns the id it already has (the same file can belong to several crates).
    /// A file that was only scanned keeps an empty text; adding it again with its text fills it in.
    pub fn add(&self, path: PathBuf, display: String, text: String) -> FileId {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = inner.by_path.get(path.as_os_str()) {
            if inner.files[id.0 as usize].text.is_empty() && !text.is_empty() {
                inner.files[id.0 as usize] =
                    std::sync::Arc::new(SourceFile::new(id, path, display, text));
            }
            return id;
        }
        let id = FileId(inner.files.len() as u32);
        inner.by_path.insert(path.as_os_str().to_owned(), id);
        inner.files.push(std::sync::Arc::new(SourceFile::new(
            id, path, display, text,
        )));
        id
    }

    pub fn get(&self, id: FileId) -> std::sync::Arc<SourceFile> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.files[id.0 as usize].clone()
    }

    pub fn id_of(&self, path: &std::path::Path) -> Option<FileId> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.by_path.get(path.as_os_str()).copied()
    }

    pub fn all(&self) -> Vec<std::sync::Arc<SourceFile>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .files
            .clone()
    }
}

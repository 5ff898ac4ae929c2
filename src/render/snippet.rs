//! Source lines as the renderers show them: whole when short, cut around the labelled columns
//! when long.
//!
//! A finding on a line of megabytes (minified or generated code) must not copy that line into
//! the output. Like rustc, a line longer than [`MAX_LINE_CHARS`] is shown as windows around the
//! columns its labels point at, with `...` where text was cut. [`SnippetFiles`] hands
//! codespan-reporting such a view of one diagnostic: a synthesized text holding only the lines
//! the diagnostic can show, with the label offsets moved into it, while the line and column
//! numbers it reports stay those of the real file. [`TrimmedLine`] is the cut line itself,
//! shared with the JSON renderer's `spans[].text`.

use crate::source::{FileId, SourceFile, Span};
use codespan_reporting::files::{Error as FilesError, Files};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Longest line, in characters, that is shown whole. rustc cuts at the terminal width; our
/// output mostly goes to logs and editors, so a fixed width keeps it the same everywhere.
pub const MAX_LINE_CHARS: usize = 200;

/// Marks where text of a long line was left out.
const ELLIPSIS: &str = "...";

/// Fewest characters kept on each side of a labelled column, however many labels share a line.
const MIN_CONTEXT: usize = 8;

/// One line as shown: the kept pieces of the original, `...` between them.
#[derive(Debug)]
pub struct TrimmedLine {
    /// The text shown, without the line terminator.
    pub text: String,
    /// Kept pieces, in order.
    pieces: Vec<Piece>,
    /// Length in bytes of the original line (without terminator).
    len: usize,
    /// Length in characters of the original line.
    chars: usize,
}

#[derive(Debug)]
struct Piece {
    /// Byte range in the original line.
    orig: Range<usize>,
    /// Where the piece starts in `text`.
    at: usize,
    /// Character column (0-based) of `orig.start` in the original line.
    col: usize,
}

impl Piece {
    fn end(&self) -> usize {
        self.at + self.orig.len()
    }
}

impl TrimmedLine {
    /// `line` is one line without its terminator; `marks` are byte ranges in it that must stay
    /// visible (a label's columns). Lines up to [`MAX_LINE_CHARS`] come back whole.
    pub fn new(line: &str, marks: &[Range<usize>]) -> TrimmedLine {
        TrimmedLine::with_limit(line, marks, MAX_LINE_CHARS)
    }

    fn with_limit(line: &str, marks: &[Range<usize>], limit: usize) -> TrimmedLine {
        // Bytes bound characters from above, so most lines are decided without counting.
        if line.len() <= limit || line.chars().nth(limit).is_none() {
            return TrimmedLine {
                text: line.to_string(),
                pieces: vec![Piece {
                    orig: 0..line.len(),
                    at: 0,
                    col: 0,
                }],
                len: line.len(),
                chars: line.chars().count(),
            };
        }
        let mut text = String::new();
        let mut pieces: Vec<Piece> = Vec::new();
        let (mut prev_end, mut prev_col) = (0, 0);
        for r in windows(line, marks, limit) {
            if r.start > 0 {
                text.push_str(ELLIPSIS);
            }
            // Counting the skipped text is the one pass over a long line; it keeps the
            // columns the header reports those of the real file.
            let col = prev_col + line[prev_end..r.start].chars().count();
            let at = text.len();
            text.push_str(&line[r.clone()]);
            prev_col = col + line[r.clone()].chars().count();
            prev_end = r.end;
            pieces.push(Piece { orig: r, at, col });
        }
        if prev_end < line.len() {
            text.push_str(ELLIPSIS);
        }
        TrimmedLine {
            text,
            pieces,
            len: line.len(),
            chars: prev_col + line[prev_end..].chars().count(),
        }
    }

    /// Where byte `b` of the original line is in `text`. A byte past the line's end (in its
    /// terminator) stays that far past the end; a byte in cut text lands on the `...` for it.
    pub fn map(&self, b: usize) -> usize {
        if b >= self.len {
            return self.text.len() + (b - self.len);
        }
        for p in &self.pieces {
            if b < p.orig.start {
                return p.at.saturating_sub(ELLIPSIS.len());
            }
            if b <= p.orig.end {
                return p.at + (b - p.orig.start);
            }
        }
        self.pieces.last().map_or(0, Piece::end)
    }

    /// The original 0-based character column of offset `x` in `text` (or past it, in the
    /// terminator).
    pub fn column(&self, x: usize) -> usize {
        if x >= self.text.len() {
            return self.chars + (x - self.text.len());
        }
        for p in &self.pieces {
            if x < p.at {
                return p.col;
            }
            if x <= p.end() {
                return p.col + self.text.get(p.at..x).map_or(0, |s| s.chars().count());
            }
        }
        self.chars
    }

    /// The 0-based character column of byte `b` of the original line in the shown `text`.
    pub fn shown_column(&self, b: usize) -> usize {
        let x = self.map(b);
        match self.text.get(..x.min(self.text.len())) {
            Some(s) => s.chars().count() + x.saturating_sub(self.text.len()),
            None => 0,
        }
    }
}

/// The byte ranges of `line` to keep: a window around each mark, merged where they meet.
fn windows(line: &str, marks: &[Range<usize>], limit: usize) -> Vec<Range<usize>> {
    let mut cores: Vec<Range<usize>> = Vec::new();
    for m in marks {
        let s = floor_boundary(line, m.start);
        let e = ceil_boundary(line, m.end.max(s));
        if line[s..e].chars().nth(limit / 2).is_some() {
            // A label wider than half the budget: keep both of its ends.
            cores.push(s..forward(line, s, limit / 4).0);
            cores.push(back(line, e, limit / 4).0..e);
        } else {
            cores.push(s..e);
        }
    }
    if cores.is_empty() {
        // Nothing labelled on this line (a line a multi-line label passes through): its start.
        let start = 0..forward(line, 0, limit).0;
        return vec![start];
    }
    let used: usize = cores.iter().map(|r| line[r.clone()].chars().count()).sum();
    let context = (limit.saturating_sub(used) / (2 * cores.len())).max(MIN_CONTEXT);
    let mut out: Vec<Range<usize>> = cores
        .iter()
        .map(|r| {
            // Context a side cannot use (the line starts or ends there) goes to the other.
            let (start, moved) = back(line, r.start, context);
            let (end, moved_right) = forward(line, r.end, 2 * context - moved);
            let (start, _) = back(
                line,
                start,
                (2 * context).saturating_sub(moved + moved_right),
            );
            start..end
        })
        .collect();
    out.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            // A gap no wider than `...` is not worth cutting.
            Some(last) if r.start <= last.end + ELLIPSIS.len() => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The offset `n` characters after `at` (or the end), and how many characters that was.
fn forward(s: &str, at: usize, n: usize) -> (usize, usize) {
    match s[at..].char_indices().nth(n) {
        Some((i, _)) => (at + i, n),
        None => (s.len(), s[at..].chars().count()),
    }
}

/// The offset `n` characters before `at` (or the start), and how many characters that was.
fn back(s: &str, at: usize, n: usize) -> (usize, usize) {
    if n == 0 {
        return (at, 0);
    }
    match s[..at].char_indices().rev().nth(n - 1) {
        Some((i, _)) => (i, n),
        None => (0, s[..at].chars().count()),
    }
}

/// The 0-based line holding byte `b`: a binary search over line starts.
pub fn line_of(f: &SourceFile, b: usize) -> usize {
    let (mut lo, mut hi) = (0, f.line_count());
    // Invariant: line `lo` starts at or before `b`; lines from `hi` on start after it.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if f.offset_of(mid + 1, 0) <= b {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Byte range of 0-based line `index`, terminator included.
pub fn line_bounds(f: &SourceFile, index: usize) -> Range<usize> {
    let start = f.offset_of(index + 1, 0);
    let end = if index + 1 < f.line_count() {
        f.offset_of(index + 2, 0)
    } else {
        f.text.len()
    };
    start..end.max(start)
}

/// Splits a line into its text and its terminator (`\n`, `\r\n` or nothing).
pub fn split_terminator(line: &str) -> (&str, &str) {
    let content = line.trim_end_matches(['\n', '\r']);
    (content, &line[content.len()..])
}

/// Marks (byte ranges within the line) by 0-based line index, for the lines a view shows.
type LineMarks = BTreeMap<usize, Vec<Range<usize>>>;

/// codespan-reporting's view of the lines one diagnostic shows.
#[derive(Default)]
pub struct SnippetFiles {
    files: Vec<ViewFile>,
}

struct ViewFile {
    file: FileId,
    name: String,
    line_count: usize,
    text: String,
    /// Shown lines by 0-based line index, in order.
    lines: Vec<ViewLine>,
}

struct ViewLine {
    index: usize,
    /// Byte offset of the line in the real file.
    orig_start: usize,
    /// Byte range in the view's text, terminator included.
    range: Range<usize>,
    trimmed: TrimmedLine,
}

impl SnippetFiles {
    /// A view of the lines `spans` touch, as codespan will ask for them: each span's first and
    /// last line, the lines a multi-line span shows as context (`config`), and the line after
    /// each, which codespan prints when it is the only one between two shown lines.
    pub fn new(
        files: &[Arc<SourceFile>],
        spans: impl IntoIterator<Item = Span>,
        config: &codespan_reporting::term::Config,
    ) -> SnippetFiles {
        let mut wanted: Vec<(&SourceFile, LineMarks)> = Vec::new();
        for span in spans {
            let Some(f) = files.get(span.file.0 as usize) else {
                continue;
            };
            let k = match wanted.iter().position(|(w, _)| w.id == f.id) {
                Some(k) => k,
                None => {
                    wanted.push((f, BTreeMap::new()));
                    wanted.len() - 1
                }
            };
            let lines = &mut wanted[k].1;
            let lo = (span.lo as usize).min(f.text.len());
            let hi = (span.hi as usize).clamp(lo, f.text.len());
            let (sl, el) = (line_of(f, lo), line_of(f, hi));
            let start_of = |l: usize| f.offset_of(l + 1, 0);
            if sl == el {
                let s = start_of(sl);
                lines.entry(sl).or_default().push(lo - s..hi - s);
            } else {
                let (s, e) = (start_of(sl), start_of(el));
                lines.entry(sl).or_default().push(lo - s..lo - s);
                lines.entry(el).or_default().push(hi - e..hi - e);
                let context = (sl + 1..=el.min(sl + config.start_context_lines))
                    .chain(el.saturating_sub(config.end_context_lines).max(sl + 1)..el);
                for l in context {
                    lines.entry(l).or_default();
                }
            }
        }
        let mut out = SnippetFiles::default();
        for (f, mut lines) in wanted {
            let next: Vec<usize> = lines
                .keys()
                .map(|l| l + 1)
                .filter(|&l| l < f.line_count())
                .collect();
            for l in next {
                lines.entry(l).or_default();
            }
            let mut text = String::new();
            let mut shown = Vec::with_capacity(lines.len());
            for (index, marks) in lines {
                let bounds = line_bounds(f, index);
                let (content, terminator) = split_terminator(&f.text[bounds.clone()]);
                let trimmed = TrimmedLine::new(content, &marks);
                let start = text.len();
                text.push_str(&trimmed.text);
                text.push_str(terminator);
                shown.push(ViewLine {
                    index,
                    orig_start: bounds.start,
                    range: start..text.len(),
                    trimmed,
                });
            }
            out.files.push(ViewFile {
                file: f.id,
                name: f.display.clone(),
                line_count: f.line_count(),
                text,
                lines: shown,
            });
        }
        out
    }

    /// The view's file id and byte range for a span of the real file; `None` when the span's
    /// file is not in the view.
    pub fn range_of(&self, span: Span, files: &[Arc<SourceFile>]) -> Option<(usize, Range<usize>)> {
        let id = self.files.iter().position(|v| v.file == span.file)?;
        let f = files.get(span.file.0 as usize)?;
        let view = &self.files[id];
        let lo = (span.lo as usize).min(f.text.len());
        let hi = (span.hi as usize).clamp(lo, f.text.len());
        let at = |b: usize| {
            let line = view.line(line_of(f, b))?;
            Some(line.range.start + line.trimmed.map(b - line.orig_start))
        };
        Some((id, at(lo)?..at(hi)?))
    }

    fn get(&self, id: usize) -> Result<&ViewFile, FilesError> {
        self.files.get(id).ok_or(FilesError::FileMissing)
    }
}

impl ViewFile {
    fn line(&self, index: usize) -> Option<&ViewLine> {
        self.lines
            .binary_search_by_key(&index, |l| l.index)
            .ok()
            .map(|k| &self.lines[k])
    }
}

impl<'a> Files<'a> for SnippetFiles {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.name)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.text)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        let v = self.get(id)?;
        // The last shown line starting at or before the offset: offsets only ever come from
        // `range_of`, so that is the line they were mapped into.
        let k = v.lines.partition_point(|l| l.range.start <= byte_index);
        Ok(v.lines.get(k.saturating_sub(1)).map_or(0, |l| l.index))
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let v = self.get(id)?;
        if line_index >= v.line_count {
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: v.line_count.saturating_sub(1),
            });
        }
        // A line not in the view is one codespan passes over without printing it.
        Ok(v.line(line_index).map_or(0..0, |l| l.range.clone()))
    }

    fn column_number(
        &'a self,
        id: usize,
        line_index: usize,
        byte_index: usize,
    ) -> Result<usize, FilesError> {
        let v = self.get(id)?;
        Ok(v.line(line_index).map_or(1, |l| {
            l.trimmed.column(byte_index.saturating_sub(l.range.start)) + 1
        }))
    }
}

#[cfg(test)]
// A one-element list of marks is a line with one label, not a mistaken whole range.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_stay_whole() {
        let t = TrimmedLine::new("let x = 1;", &[4..5]);
        assert_eq!(t.text, "let x = 1;");
        assert_eq!(t.map(4), 4);
        assert_eq!(t.column(4), 4);
        assert_eq!(t.shown_column(10), 10);
    }

    #[test]
    fn a_long_line_is_cut_around_its_label() {
        let line = format!("{}CALL(){}", "a".repeat(1000), "b".repeat(1000));
        let t = TrimmedLine::with_limit(&line, &[1000..1006], 40);
        assert!(
            t.text.starts_with("...a") && t.text.ends_with("b..."),
            "{}",
            t.text
        );
        assert!(t.text.len() < 60, "{}", t.text);
        let at = t.map(1000);
        assert_eq!(&t.text[at..t.map(1006)], "CALL()");
        assert_eq!(t.column(at), 1000);
        assert_eq!(t.column(t.map(1006)), 1006);
    }

    #[test]
    fn context_a_line_start_cannot_use_goes_right() {
        let line = format!("CALL(){}", "b".repeat(1000));
        let t = TrimmedLine::with_limit(&line, &[0..6], 40);
        assert!(t.text.starts_with("CALL()b"), "{}", t.text);
        assert_eq!(t.text.chars().count(), 40 + ELLIPSIS.len());
    }

    #[test]
    fn far_apart_labels_get_a_window_each_and_a_wide_label_keeps_both_ends() {
        let line = format!("X{}Y{}", "-".repeat(5000), "-".repeat(5000));
        let t = TrimmedLine::with_limit(&line, &[0..1, 5001..5002], 40);
        assert_eq!(t.text.matches("...").count(), 2, "{}", t.text);
        assert_eq!(&t.text[t.map(5001)..t.map(5002)], "Y");
        let wide = TrimmedLine::with_limit(&line, &[0..10002], 40);
        assert!(wide.text.contains("X") && wide.text.contains("..."));
        assert!(wide.text.len() < 60, "{}", wide.text);
        assert_eq!(wide.column(wide.map(10002)), 10002);
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let line = format!("{}é{}", "é".repeat(300), "ü".repeat(300));
        let t = TrimmedLine::with_limit(&line, &[600..602], 20);
        assert_eq!(&t.text[t.map(600)..t.map(602)], "é");
        assert_eq!(t.column(t.map(600)), 300);
        assert_eq!(t.chars, 601);
    }

    /// Renders labels (primary first) over `text` through a view and, unchanged, through
    /// codespan's own `SimpleFile`.
    fn both(text: &str, spans: &[Range<usize>]) -> (String, String) {
        use codespan_reporting::diagnostic::{Diagnostic, Label};
        use codespan_reporting::term::{self, termcolor::NoColor};
        let db = crate::source::SourceDb::default();
        let id = db.add("t.rs".into(), "t.rs".into(), text.to_string());
        let files = db.all();
        let config = term::Config::default();
        let spans: Vec<Span> = spans
            .iter()
            .map(|r| Span::new(id, r.start, r.end))
            .collect();
        let view = SnippetFiles::new(&files, spans.iter().copied(), &config);
        let labels = |f: &dyn Fn(Span) -> (usize, Range<usize>)| -> Vec<Label<usize>> {
            spans
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let (id, r) = f(*s);
                    let l = if k == 0 {
                        Label::primary(id, r)
                    } else {
                        Label::secondary(id, r)
                    };
                    l.with_message(format!("label {k}"))
                })
                .collect()
        };
        let mut a = NoColor::new(Vec::new());
        let d = Diagnostic::error()
            .with_message("m")
            .with_labels(labels(&|s| view.range_of(s, &files).expect("in the view")));
        term::emit(&mut a, &config, &view, &d).expect("renders");
        let mut simple = codespan_reporting::files::SimpleFiles::new();
        let whole = simple.add("t.rs", text);
        let d = Diagnostic::error()
            .with_message("m")
            .with_labels(labels(&|s| (whole, s.lo as usize..s.hi as usize)));
        let mut b = NoColor::new(Vec::new());
        term::emit(&mut b, &config, &simple, &d).expect("renders");
        let s = |v: NoColor<Vec<u8>>| String::from_utf8(v.into_inner()).expect("UTF-8");
        (s(a), s(b))
    }

    #[test]
    fn a_view_of_short_lines_renders_as_the_whole_file_does() {
        let text: String = (1..=40).map(|i| format!("line {i} é\r\n")).collect();
        let at =
            |line: usize, col: usize| text.match_indices("line ").nth(line - 1).unwrap().0 + col;
        let cases: Vec<Vec<Range<usize>>> = vec![
            vec![at(3, 0)..at(3, 4)],
            // A gap of one line is printed, a wider one is a break.
            vec![at(5, 0)..at(5, 4), at(7, 1)..at(7, 2), at(20, 0)..at(20, 3)],
            // Multi-line labels: context lines after the start and before the end.
            vec![at(2, 2)..at(30, 3), at(10, 0)..at(10, 1)],
            vec![at(38, 0)..text.len(), at(1, 0)..at(1, 0)],
        ];
        for spans in cases {
            let (view, whole) = both(&text, &spans);
            assert_eq!(view, whole, "{spans:?}");
        }
    }

    #[test]
    fn a_view_of_long_lines_keeps_line_numbers_and_stays_small() {
        let long = "y".repeat(100_000);
        let text: String = (1..=12).map(|i| format!("{i}:{long}\n")).collect();
        let start = |n: usize| {
            text[..]
                .match_indices('\n')
                .nth(n - 2)
                .map_or(0, |(i, _)| i + 1)
        };
        let spans = vec![
            start(2) + 50_000..start(9) + 70_000,
            start(4) + 99_000..start(4) + 99_001,
        ];
        let (view, _) = both(&text, &spans);
        assert!(view.len() < 8 * 1024, "{} bytes", view.len());
        for n in ["2 ", "3 ", "4 ", "5 ", "8 ", "9 "] {
            assert!(view.lines().any(|l| l.starts_with(n)), "line {n}: {view}");
        }
        assert!(view.contains("t.rs:2:50001"), "{view}");
    }
}

//! The vocabulary lints are written in: `Lint` (name, level, docs),
//! `LintDef` (a lint and its check), `LintCx` (facts in, diagnostics out) and
//! `declare_lint!`, which keeps each lint's documentation in its declaration.

use crate::diag::{Applicability, Diagnostic, Label, Level, Note, NoteKind, Severity, Suggestion};
use crate::facts::CrateFacts;
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Code that is wrong: deny by default.
    Correctness,
    /// Code that is very likely wrong or fragile: warn by default.
    Suspicious,
    /// Stricter checks some projects want.
    Pedantic,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Correctness => "correctness",
            Group::Suspicious => "suspicious",
            Group::Pedantic => "pedantic",
        }
    }
}

#[derive(Debug)]
pub struct Lint {
    pub name: &'static str,
    pub group: Group,
    pub default_level: Level,
    /// One line, for `--list` and tables.
    pub summary: &'static str,
    /// Markdown: What it does / Why is this bad / Example, from the `///` lines of the declaration.
    pub docs: &'static str,
}

pub struct LintDef {
    pub lint: &'static Lint,
    pub check: fn(&mut LintCx<'_>),
    /// Lints whose finding at this finding's cause (`Emission::caused_by`) makes this one
    /// redundant: the engine drops it then, and reports it when those lints are allowed.
    pub yields_to: &'static [&'static str],
}

/// Declares a lint: `///` documentation, then `pub NAME = "name", group, Level, "summary"`.
#[macro_export]
macro_rules! declare_lint {
    ($(#[doc = $doc:expr])* $vis:vis $NAME:ident = $name:literal, $group:ident, $level:ident, $summary:literal) => {
        $vis static $NAME: $crate::lint::Lint = $crate::lint::Lint {
            name: $name,
            group: $crate::lint::Group::$group,
            default_level: $crate::diag::Level::$level,
            summary: $summary,
            docs: concat!($($doc, "\n"),*),
        };
    };
}

/// What a lint's check reads and writes.
pub struct LintCx<'a> {
    pub facts: &'a CrateFacts,
    out: Vec<Diagnostic>,
    /// Beside each finding of `out`: the site it follows from.
    causes: Vec<Option<Span>>,
}

impl<'a> LintCx<'a> {
    pub fn new(facts: &'a CrateFacts) -> LintCx<'a> {
        LintCx {
            facts,
            out: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// Starts a finding of `lint` with its primary span and label.
    pub fn emit(
        &mut self,
        lint: &'static Lint,
        primary: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Emission<'_> {
        self.out.push(Diagnostic {
            lint: Some(lint.name),
            severity: match lint.default_level {
                Level::Deny => Severity::Error,
                _ => Severity::Warning,
            },
            message: message.into(),
            labels: vec![Label {
                span: primary,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
            suggestions: Vec::new(),
        });
        self.causes.push(None);
        Emission {
            diag: self.out.last_mut().expect("pushed above"),
            cause: self.causes.last_mut().expect("pushed above"),
        }
    }

    /// The findings, each with the site it follows from (if the lint said).
    pub fn finish(self) -> Vec<(Diagnostic, Option<Span>)> {
        self.out.into_iter().zip(self.causes).collect()
    }
}

/// Adds the rest of a finding's story.
pub struct Emission<'d> {
    diag: &'d mut Diagnostic,
    cause: &'d mut Option<Span>,
}

impl Emission<'_> {
    /// A secondary label: part of the path, the chain, the origin.
    pub fn label(self, span: Span, message: impl Into<String>) -> Self {
        // The primary span is not labelled twice.
        if span != self.diag.labels[0].span {
            self.diag.labels.push(Label {
                span,
                message: message.into(),
                primary: false,
            });
        }
        self
    }

    /// The site this finding follows from, which a lint of `LintDef::yields_to` may report
    /// itself.
    pub fn caused_by(self, site: Span) -> Self {
        *self.cause = Some(site);
        self
    }

    pub fn note(self, message: impl Into<String>) -> Self {
        self.diag.notes.push(Note {
            kind: NoteKind::Note,
            message: message.into(),
            span: None,
        });
        self
    }

    /// A replacement for `span` that a person should review.
    pub fn suggest(
        self,
        span: Span,
        message: impl Into<String>,
        replacement: impl Into<String>,
    ) -> Self {
        self.suggestion(span, message, replacement, None)
    }

    /// A replacement `--fix` may apply: `original` is the text the lint read at `span` and
    /// computed `replacement` from. The engine keeps it machine-applicable only where the span
    /// is the user's own text and still reads `original` (see `engine::check`).
    pub fn fix(
        self,
        span: Span,
        original: impl Into<String>,
        message: impl Into<String>,
        replacement: impl Into<String>,
    ) -> Self {
        self.suggestion(span, message, replacement, Some(original.into()))
    }

    /// A suggestion is machine-applicable exactly when it says what text it replaces.
    fn suggestion(
        self,
        span: Span,
        message: impl Into<String>,
        replacement: impl Into<String>,
        original: Option<String>,
    ) -> Self {
        self.diag.suggestions.push(Suggestion {
            message: message.into(),
            span,
            replacement: replacement.into(),
            applicability: if original.is_some() {
                Applicability::MachineApplicable
            } else {
                Applicability::MaybeIncorrect
            },
            original,
        });
        self
    }

    pub fn help(self, message: impl Into<String>) -> Self {
        self.diag.notes.push(Note {
            kind: NoteKind::Help,
            message: message.into(),
            span: None,
        });
        self
    }
}

/// A group name: `Some(None)` for `all`, `Some(Some(g))` for a group, `None` for anything else.
pub fn group_of(name: &str) -> Option<Option<Group>> {
    match name {
        "all" => Some(None),
        "correctness" => Some(Some(Group::Correctness)),
        "suspicious" => Some(Some(Group::Suspicious)),
        "pedantic" => Some(Some(Group::Pedantic)),
        _ => None,
    }
}

/// Is the lint named by `name` (the lint itself, its group, or `all`)?
pub fn names_lint(name: &str, def: &LintDef) -> bool {
    name == def.lint.name || group_of(name).is_some_and(|g| g.is_none_or(|g| g == def.lint.group))
}

pub fn is_known_name(name: &str, lints: &[&LintDef]) -> bool {
    group_of(name).is_some() || lints.iter().any(|d| d.lint.name == name)
}

/// Reports a Winsock function reachable from `DllMain` (shared by the DllMain lints):
/// primary at the call inside DllMain, a label on each further call of the chain.
pub fn emit_dllmain_chains(
    cx: &mut LintCx<'_>,
    lint: &'static Lint,
    effect: crate::winsock::Effect,
    why: &str,
    help: &str,
) {
    let facts = cx.facts;
    for f in facts.dll_entry.iter().filter(|f| f.api.effect == effect) {
        let target = f.api.name;
        let Some(&(first, _)) = f.chain.first() else {
            continue;
        };
        let label = if f.chain.len() == 1 {
            "called inside `DllMain`, under the loader lock".to_string()
        } else {
            format!("this call inside `DllMain` reaches `{target}`")
        };
        let mut e = cx.emit(
            lint,
            first,
            format!("`{target}` called from `DllMain`"),
            label,
        );
        for (i, (span, in_unit)) in f.chain.iter().enumerate().skip(1) {
            let what = if i + 1 == f.chain.len() {
                format!("`{target}`")
            } else {
                f.chain[i + 1].1.clone()
            };
            // A capped chain leaves calls out before its last: this call leads to them.
            let label = if i + 2 == f.chain.len() && f.omitted > 0 {
                format!(
                    "{in_unit} calls on towards `{target}` here ({} calls between are not shown)",
                    f.omitted
                )
            } else {
                format!("{in_unit} calls {what} here")
            };
            e = e.label(*span, label);
        }
        e.note(format!("`DllMain` runs under the loader lock; {why}"))
            .help(help);
    }
}

/// Per site, the least of the items a query found there: facts hold one entry per distinct
/// view of the paths reaching a call, and a finding is reported once per site.
pub fn per_site<T: Ord>(items: impl IntoIterator<Item = (Span, T)>) -> Vec<(Span, T)> {
    let mut best: std::collections::BTreeMap<Span, T> = std::collections::BTreeMap::new();
    for (span, t) in items {
        match best.entry(span) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(t);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if t < *o.get() {
                    o.insert(t);
                }
            }
        }
    }
    best.into_iter().collect()
}

/// The facts a finding may rest on: those of paths that did not pass, since their last own
/// `WSAStartup` or `WSACleanup`, a macro the analysis does not model. Such a macro may have
/// ended the path (a hidden `return`, a panic) or tested the startup's result, so a finding
/// seen only on those paths rests on the macro having fallen through, and is not reported.
/// The same finding on another path is.
pub fn known_paths<'f, F: crate::facts::OnPath + 'f>(
    facts: impl IntoIterator<Item = &'f F>,
) -> impl Iterator<Item = &'f F> {
    facts.into_iter().filter(|f| f.hidden_by().is_none())
}

/// The label of one call in a chain of calls (a leak through `init()`, a cleanup through a
/// helper): what the call does, in the words every lint uses.
pub fn chain_label(link: &crate::facts::events::Link) -> String {
    use crate::facts::events::Step;
    let unit = &link.unit;
    let what = match link.step {
        Step::Takes => format!("{unit} takes the reference here"),
        Step::HandsOn => format!("{unit} gets the reference here and hands it on"),
        Step::Calls => format!("{unit} is called here"),
    };
    match link.omitted {
        0 => what,
        n => format!("{what} ({n} calls between are not shown)"),
    }
}

//! An in-memory entry to the whole pipeline, for the fuzzer and its regression tests.
//!
//! Takes arbitrary bytes as the text of one crate root, and runs everything a user's file
//! goes through: the prefilter and `mod` scanner, parsing and lowering, name resolution,
//! the analysis, every lint, and the human and JSON renderers.

use crate::engine::Levels;
use crate::lint::LintDef;
use crate::render::Report;
use crate::source::SourceDb;

pub fn run_bytes(data: &[u8], lints: &[&LintDef]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::scan::needs_parse(data);
    let _ = crate::scan::worth_parsing(data);
    let db = SourceDb::default();
    let id = db.add("fuzz.rs".into(), "fuzz.rs".into(), text.to_string());
    let _ = crate::scan::mod_items(text, id);
    let src = db.get(id);
    let mut diags = Vec::new();
    match crate::parse::parse(id, &src.text) {
        Err(d) => diags.push(d),
        Ok(ir) => {
            diags.extend(ir.syntax_errors.iter().cloned());
            let model = crate::resolve::CrateModel::build("fuzz".into(), ir.items, &mut |_| None);
            let facts = crate::facts::analyze(&model);
            diags.extend(crate::engine::check(lints, &facts, &Levels::default(), &db));
        }
    }
    let report = Report {
        db: &db,
        diags: &diags,
        problems: &[],
        rules: &[],
    };
    let mut sink = codespan_reporting::term::termcolor::NoColor::new(Vec::new());
    let _ = crate::render::human::human(&report, &mut sink);
    let _ = crate::render::json::json(&report, &mut Vec::new());
    let _ = crate::render::sarif::sarif(&report, &mut Vec::new());
    let _ = crate::render::github::github(&report, &mut Vec::new());
}

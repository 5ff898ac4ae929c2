//! The whole pipeline from bytes to rendered diagnostics: scan, parse, lower, resolve,
//! analyze, lint, render (human and JSON). Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wsa_lint::fuzzing::run_bytes(data, wsa_lint::lints::ALL);
});

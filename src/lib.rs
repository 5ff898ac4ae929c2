//! wsa-lint: finds Winsock misuse in Rust source without building it.
//!
//! The pipeline, one module per phase, each using only those above it:
//! `source` -> `diag` -> `winsock` -> `ir` -> `lower`/`parse` -> `resolve`
//! -> `facts` -> `lint` -> `engine` -> `render`. `winsock`, the table of
//! Winsock knowledge, uses nothing; `scan` and `lower` read it. The full order is the layers
//! block of docs/architecture.md, which `tests/tidy.rs` enforces. `lints` (in
//! `../lints/`) is the catalog; only the binary hands it to the engine. `verify` is the runtime
//! verifier: it runs a Windows program and matches what it did with the findings.

pub mod cfg;
pub mod cli;
pub mod config;
pub mod diag;
pub mod discover;
pub mod docs;
pub mod driver;
pub mod engine;
pub mod facts;
pub mod fix;
pub mod ir;
pub mod levels;
pub mod lint;
pub mod load;
pub mod lower;
pub mod lsp;
pub mod parse;
pub mod render;
pub mod resolve;
pub mod scan;
pub mod source;
pub mod suppress;
pub mod verify;
pub mod winsock;

#[doc(hidden)]
pub mod fuzzing;

#[path = "../lints/mod.rs"]
pub mod lints;

//! Benchmark floor: read and `syn::parse_file` every `.rs` file under a directory, in parallel,
//! and nothing else. wsa-lint is measured against this (it should be far below it).
//!
//! `cargo run --release --example parse_floor -- DIR [THREADS]`

use rayon::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: parse_floor DIR [THREADS]");
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    let files: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(1 << 30)
        .build()
        .expect("thread pool");
    let ok = pool.install(|| {
        files
            .par_iter()
            .filter(|p| {
                std::fs::read_to_string(p)
                    .ok()
                    .is_some_and(|t| syn::parse_file(&t).is_ok())
            })
            .count()
    });
    println!("{ok} of {} files parsed", files.len());
}

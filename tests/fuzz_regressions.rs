//! Inputs the fuzzer (fuzz/fuzz_targets/pipeline.rs) or the mutation test (tests/mutation.rs)
//! once failed on, plus a few hand-made hostile inputs, replayed through the same in-memory
//! pipeline. Each must simply not panic. The mutation test replays them too, but only after its
//! setup and under its own harness; this stays the quick check to run after a fix.

use std::path::Path;

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mutation-regressions/pipeline");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tests/data/mutation-regressions/pipeline exists") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        wsa_lint::fuzzing::run_bytes(&data, wsa_lint::lints::ALL);
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}

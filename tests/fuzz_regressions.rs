//! Inputs the fuzzer (fuzz/fuzz_targets/pipeline.rs) once crashed on, replayed through the same
//! in-memory pipeline, plus a few hand-made hostile inputs. Each must simply not panic.

use std::path::Path;

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
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

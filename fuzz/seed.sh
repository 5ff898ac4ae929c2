#!/usr/bin/env bash
# Seeds the fuzzer's corpus with every fixture, then runs it:
#   bash fuzz/seed.sh && cargo +nightly fuzz run pipeline -- -max_total_time=600 -max_len=8192
# A crash found is minimized into tests/data/mutation-regressions/pipeline/ (see the README
# there) and replayed by tests/fuzz_regressions.rs and tests/mutation.rs on every test run.
# Without nightly, tests/mutation.rs searches on stable:
#   WSA_LINT_MUTATION_SECS=600 cargo test --test mutation pipeline_mutations
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fuzz/corpus/pipeline
find fixtures -name '*.rs' | while read -r f; do
  cp "$f" "fuzz/corpus/pipeline/$(echo "$f" | tr / _)"
done

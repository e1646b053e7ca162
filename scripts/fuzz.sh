#!/usr/bin/env bash
# Fuzzes what the element reads from users, with cargo-fuzz (libFuzzer, AddressSanitizer):
#   scripts/fuzz.sh manifest  [SECONDS]   manifest.json of a models folder
#   scripts/fuzz.sh reference [SECONDS]   a reference photo (or background plate)
# SECONDS defaults to 600. Seeds: fuzz/seeds/TARGET; the growing corpus: fuzz/corpus/TARGET;
# a crash is written to fuzz/artifacts/TARGET/ and fails the run: copy it into
# fuzz/regressions/TARGET/ (tests/fuzz_inputs.rs replays those on every test run), then fix it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET="${1:?usage: scripts/fuzz.sh manifest|reference [SECONDS]}"
SECONDS_TO_RUN="${2:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p "fuzz/corpus/$TARGET"
# cargo-fuzz passes nightly flags (-Z sanitizer=address); the stable toolchain accepts them
# when told it is bootstrapping.
export RUSTC_BOOTSTRAP=1
exec cargo fuzz run --fuzz-dir fuzz "$TARGET" "fuzz/corpus/$TARGET" "fuzz/seeds/$TARGET" -- \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

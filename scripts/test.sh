#!/usr/bin/env bash
# The test suite: formatting, lints, every test of the workspace (engines included).
# Usage: scripts/test.sh            (engines that are missing are skipped loudly)
#        SIGIL_REQUIRE_ENGINES=1 scripts/test.sh   (missing engines fail the run; CI)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x scripts/install-engines.sh ] && { [ "${SIGIL_REQUIRE_ENGINES:-0}" = 1 ] || [ "${SIGIL_INSTALL_ENGINES:-0}" = 1 ]; }; then
  scripts/install-engines.sh
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
if [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  scripts/fuzz-smoke.sh
fi
# One closing line for the whole run, counted from cargo test's per-binary results.
{ grep -E '^test result:' target/test-output.txt || true; } |
  awk '{p += $4; f += $6; s += $8} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, s}'

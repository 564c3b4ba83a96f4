#!/usr/bin/env bash
# Short, bounded fuzzing of the loader, the condition parser, the fast YAML reader and the
# matcher's JSON reader (libFuzzer via cargo-fuzz).
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-${SIGIL_FUZZ_SECONDS:-30}}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi
cd fuzz
cargo fuzz build -O
# Seed corpora from the project's own rules and fixtures (copied into fuzz/corpus, ignored by git).
mkdir -p corpus/load corpus/condition corpus/yaml_fast corpus/json_event
find ../rules ../testdata -name '*.yml' -exec cp {} corpus/load/ \; 2>/dev/null || true
find ../rules ../testdata -name "*.yml" -exec cp {} corpus/yaml_fast/ \; 2>/dev/null || true
grep -rh "condition:" ../rules ../testdata 2>/dev/null | sed 's/^ *condition: *//' | head -200 |
  while IFS= read -r c; do printf '%s' "$c" > "corpus/condition/$(printf '%s' "$c" | md5sum | cut -c1-16)"; done
# JSON seeds: a few layouts of event the matcher reads (nested, arrays, escapes, numbers).
printf '%s' '{"Event": {"System": {"EventID": 4688, "Channel": "Security"}, "EventData": {"CommandLine": "C:\\Windows\\cmd.exe /c \"x\""}}}' > corpus/json_event/nested
printf '%s' '{"eventSource": "sts.amazonaws.com", "requestParameters": {"layers": ["a", {"b": null}], "n": -12, "f": 1.5e3, "u": "\u00e9\ud83d\ude00"}}' > corpus/json_event/arrays
printf '%s' '{"a.b": 1, "a": {"b": 2}, "a": true}' > corpus/json_event/unusual
for t in load condition yaml_fast json_event; do
  echo "== fuzzing $t for ${secs}s"
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=8192 -print_final_stats=1 2>&1 | tail -15
done

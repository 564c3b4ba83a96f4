#!/usr/bin/env bash
# Matcher throughput table: sigil vs rsigma-eval vs sigma-rust, one thread, JSON parsing
# included (see crates/sigil-match/benches/match.rs for the workloads).
#   SIGIL_BENCH_EVENTS   events per engine and workload (default 200000)
#   SIGIL_BENCH_ROUNDS   rounds; each engine once per round, medians reported (default 3)
#   SIGIL_BENCH_MAX_SECS time cap per engine and workload (default 60; a slower engine is
#                        measured over the events it got through)
# Needs ../shared/corpus next to the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export SIGIL_BENCH_TABLE=1
export RAYON_NUM_THREADS=1
exec taskset -c 0 cargo bench -q -p sigil-match --bench match 2>&1 | grep -v '^\s*$'

#!/usr/bin/env bash
# Times `sigil check` over SigmaHQ rules/ against `sigma check` (pip sigma-cli, pySigma's
# built-in validators) and rsigma's linter (`rsigma rule lint`), in the same run, and prints
# the median wall time of each and the ratios.
#
# Usage: scripts/bench-check.sh [RULES_DIR]      (default ../shared/corpus/sigmahq/rules)
#   RUNS=7 scripts/bench-check.sh                 (timed runs per tool; sigil and rsigma alternate)
#   BENCH_WORK=/tmp/x scripts/bench-check.sh       (where the throwaway venv and rsigma go)
#
# Notes on fairness, printed again with the results:
# * sigma-cli's ATT&CK tag validator (`attacktag`) downloads MITRE data at run time and
#   crashes offline, and so does `d3_fendtag` (D3FEND data): both are excluded with -x.
#   pySigma-validators-sigmahq is not installed: its validators download SigmaHQ data at
#   run time too. sigma-cli therefore runs 29 validators; sigil runs all of its own
#   (bundled ATT&CK and SigmaHQ log source data, no network).
# * rsigma is built from crates.io (pinned version, default features: 0.23.0 does not
#   compile with --no-default-features) into a throwaway root; if it does not build, its
#   row says so. The first build takes a long time on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RULES=${1:-../shared/corpus/sigmahq/rules}
RUNS=${RUNS:-5}
WORK=${BENCH_WORK:-/tmp/sigil-bench}
SIGMA_CLI_VERSION=3.1.0
RSIGMA_VERSION=0.23.0
TARGET=${CARGO_TARGET_DIR:-target}

[ -d "$RULES" ] || { echo "bench-check: no rules directory at $RULES" >&2; exit 2; }
mkdir -p "$WORK"

echo "== building sigil (release)" >&2
cargo build --release -q -p sigil-cli
SIGIL="$TARGET/release/sigil"

SIGMA=""
if [ ! -x "$WORK/venv/bin/sigma" ]; then
  echo "== installing sigma-cli $SIGMA_CLI_VERSION into a throwaway venv ($WORK/venv)" >&2
  python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q "sigma-cli==$SIGMA_CLI_VERSION" >&2 || true
fi
[ -x "$WORK/venv/bin/sigma" ] && SIGMA="$WORK/venv/bin/sigma"

RSIGMA=""
if [ ! -x "$WORK/rsigma/bin/rsigma" ]; then
  echo "== building rsigma $RSIGMA_VERSION into $WORK/rsigma (a few minutes)" >&2
  CARGO_TARGET_DIR="$WORK/rsigma-target" cargo install -q rsigma --version "$RSIGMA_VERSION" \
    --locked --root "$WORK/rsigma" >&2 || echo "rsigma did not build" >&2
fi
[ -x "$WORK/rsigma/bin/rsigma" ] && RSIGMA="$WORK/rsigma/bin/rsigma"

NFILES=$(find "$RULES" -name '*.yml' | wc -l)
python3 - "$RUNS" "$NFILES" "$RULES" "$SIGIL" "$SIGMA" "$RSIGMA" <<'PY'
import statistics, subprocess, sys, time

runs, nfiles, rules, sigil, sigma, rsigma = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
# sigil and rsigma alternate run by run (each round runs both once), so a slow phase of this
# (virtual) machine weighs on both alike. sigma-cli is warmed up and timed after them: a
# Python process of a few hundred MB leaves the kernel reclaiming memory and the caches
# cold, which slowed the next tool's run by 20-100% when it ran among the rounds.
fast = [("sigil check", [sigil, "check", "--no-config", "--color", "never", rules])]
if rsigma:
    fast.append(("rsigma rule lint", [rsigma, "rule", "lint", "--color", "never", rules]))
slow = []
if sigma:
    slow.append(("sigma check (sigma-cli)", [sigma, "check", "-x", "attacktag", "-x", "d3_fendtag", rules]))

def once(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t, p.returncode, p.stderr.decode(errors="replace")

def warm_up(name, cmd):
    _, rc, err = once(cmd)  # page cache, Python bytecode
    if rc not in (0, 1):
        print(f"{name}: exit code {rc}; stderr tail:\n{err[-800:]}", file=sys.stderr)

results = {name: [] for name, _ in fast}
for name, cmd in fast:
    warm_up(name, cmd)
for _ in range(runs):
    for name, cmd in fast:
        results[name].append(once(cmd)[0])
for name, cmd in slow:
    warm_up(name, cmd)
    results[name] = [once(cmd)[0] for _ in range(runs)]

base = statistics.median(results["sigil check"])
print(f"\n{nfiles} rule files under {rules}, {runs} timed runs each after a warm-up (sigil and rsigma alternating), wall time\n")
print("| tool | median (s) | min (s) | sigil is faster by |")
print("|---|---:|---:|---:|")
for name, ts in results.items():
    med = statistics.median(ts)
    ratio = "1x" if name == "sigil check" else f"{med / base:.1f}x"
    print(f"| {name} | {med:.3f} | {min(ts):.3f} | {ratio} |")
if not sigma:
    print("| sigma check (sigma-cli) | not installed | | |")
if not rsigma:
    print("| rsigma rule lint | did not build | | |")
print("\nsigma-cli runs with -x attacktag -x d3_fendtag (they download MITRE data at run time and")
print("crash offline) and without pySigma-validators-sigmahq (downloads SigmaHQ data).")
PY

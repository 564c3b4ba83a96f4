#!/usr/bin/env bash
# Time `sigil convert` against sigma-cli over the SigmaHQ rules, in one run, side by side.
#
#   scripts/bench-convert.sh [RULES_DIR]
#
# For each target (lucene, sqlite) it runs, interleaved so both see the same machine load,
#   sigil convert -t TARGET RULES
#   sigma convert -t TARGET --without-pipeline -s RULES
# several times, then prints the median and minimum wall time, the median CPU time, the
# peak resident memory (/usr/bin/time %M) and the ratio of the medians (and of the
# minima), as a Markdown table. On a shared machine the minima are the less noisy pair.
#
# sigma-cli (with pysigma-backend-elasticsearch for lucene and pysigma-backend-sqlite for
# sqlite) is taken from PATH if present, else installed with pip into a throwaway venv
# ($SIGIL_BENCH_VENV, default ${TMPDIR:-/tmp}/sigil-bench-venv).
#
# Environment: SIGIL_RUNS (default 11), SIGMA_RUNS (default 3), TARGETS (default
# "lucene sqlite"), SIGIL (a prebuilt binary; default: cargo build --release).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rules="${1:-$root/../shared/corpus/sigmahq/rules}"
sigil_runs="${SIGIL_RUNS:-11}"
sigma_runs="${SIGMA_RUNS:-3}"
targets="${TARGETS:-lucene sqlite}"

if [[ ! -d "$rules" ]]; then
    echo "bench-convert: no rules directory at $rules (the SigmaHQ corpus lives in ../shared/corpus)" >&2
    exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "bench-convert: /usr/bin/time is needed for peak memory (apt-get install time)" >&2
    exit 2
fi

# --- sigil -------------------------------------------------------------------------------
if [[ -z "${SIGIL:-}" ]]; then
    (cd "$root" && cargo build --release -q -p sigil-cli)
    SIGIL="${CARGO_TARGET_DIR:-$root/target}/release/sigil"
fi

# --- sigma-cli ---------------------------------------------------------------------------
sigma="$(command -v sigma || true)"
if [[ -n "$sigma" ]] && ! "$sigma" list targets 2>/dev/null | grep -q sqlite; then
    sigma=""  # on PATH but without the backends we need
fi
if [[ -z "$sigma" ]]; then
    venv="${SIGIL_BENCH_VENV:-${TMPDIR:-/tmp}/sigil-bench-venv}"
    if [[ ! -x "$venv/bin/sigma" ]]; then
        echo "bench-convert: installing sigma-cli into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q sigma-cli pysigma-backend-elasticsearch pysigma-backend-sqlite
    fi
    sigma="$venv/bin/sigma"
fi

nrules="$(find "$rules" -name '*.yml' | wc -l | tr -d ' ')"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD... : one timed run; appends "wall-us kib cpu-us" to $tmp/NAME
run() {
    local name="$1"
    shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$tmp/mem" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$tmp/mem" | awk '{ printf "%d %d", $1, ($2 + $3) * 1000000 }')" >>"$tmp/$name"
}

# median / min wall (us), max RSS (KiB), median CPU user+sys (us)
stats() {
    local cpu
    cpu=$(awk '{print $3}' "$1" | sort -n | awk '{c[NR]=$1} END {
        printf "%d", (NR % 2) ? c[(NR+1)/2] : (c[NR/2] + c[NR/2+1]) / 2 }')
    sort -n "$1" | awk -v cpu="$cpu" '{t[NR]=$1; if ($2>m) m=$2} END {
        med = (NR % 2) ? t[(NR+1)/2] : (t[NR/2] + t[NR/2+1]) / 2;
        printf "%d %d %d %d\n", med, t[1], m, cpu }'
}

fmt_s() { awk -v us="$1" 'BEGIN { if (us < 1000000) printf "%.1f ms", us/1000; else printf "%.2f s", us/1000000 }'; }

echo "bench-convert: $nrules rule files in $rules; sigil x$sigil_runs, sigma-cli x$sigma_runs per target" >&2
echo "bench-convert: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

rows=()
for target in $targets; do
    # Warm the page cache and check both tools work on this target.
    run "warm-sigil-$target" "$SIGIL" convert -t "$target" "$rules"
    run "warm-sigma-$target" "$sigma" convert -t "$target" --without-pipeline -s "$rules"
    for i in $(seq 1 "$sigil_runs"); do
        run "sigil-$target" "$SIGIL" convert -t "$target" "$rules"
        if (( i <= sigma_runs )); then
            run "sigma-$target" "$sigma" convert -t "$target" --without-pipeline -s "$rules"
        fi
    done
    read -r smed smin smem scpu < <(stats "$tmp/sigil-$target")
    read -r pmed pmin pmem pcpu < <(stats "$tmp/sigma-$target")
    sq=$(grep -ac . "$tmp/sigil-$target.out" || true)
    pq=$(grep -ac . "$tmp/sigma-$target.out" || true)
    ratio=$(awk -v a="$pmed" -v b="$smed" 'BEGIN { printf "%.0fx", a / b }')
    ratio_min=$(awk -v a="$pmin" -v b="$smin" 'BEGIN { printf "%.0fx", a / b }')
    rows+=("| $target | sigil | $(fmt_s "$smed") | $(fmt_s "$smin") | $(fmt_s "$scpu") | $((smem / 1024)) MiB | $sq | **$ratio** | $ratio_min |")
    rows+=("| $target | sigma-cli | $(fmt_s "$pmed") | $(fmt_s "$pmin") | $(fmt_s "$pcpu") | $((pmem / 1024)) MiB | $pq | 1x | 1x |")
done

echo
echo "| target | tool | median wall | min wall | median CPU (user+sys) | peak RSS | non-empty output lines | speed-up (median wall) | speed-up (min wall) |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

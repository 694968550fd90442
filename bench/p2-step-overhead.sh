#!/usr/bin/env bash
# P2 (BENCHMARKS.md): the overhead a build step adds to the command itself.
#
# For N = 1, 20 and 200 trivial commands (`true`), this times:
#   - `slipway build` of a buildspec whose one `build` phase runs the N commands;
#   - the floor: the same N commands as lines of one bash script (one persistent bash);
#   - the other floor: a fresh `bash -c true` per command, N of them from one bash script.
# Per-command costs are differences of medians: (median(N) - median(1)) / (N - 1), so the
# fixed costs (process start, workspace copy, the other phases) cancel out.
#
# Usage: bench/p2-step-overhead.sh        (from any directory)
#   RUNS=10             measured runs per figure (after one warm-up run), 1..1000
#   CARGO_TARGET_DIR    where the release binary is, as for cargo
# Uses hyperfine when it is installed; otherwise times a loop of RUNS runs itself.
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

set -euo pipefail

cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 1000)); then
    echo "p2: RUNS must be a whole number from 1 to 1000, not '$RUNS'" >&2
    exit 2
fi
SIZES=(1 20 200)
# Every slipway build is stopped by slipway itself after this many minutes, so one
# hanging build cannot hang the benchmark.
BUILD_TIMEOUT_MINUTES=2

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-p2.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The binary: rebuilt when missing or older than any source it is built from.
bin="${CARGO_TARGET_DIR:-target}/release/slipway"
if [[ ! -x $bin ]] || [[ -n $(find crates Cargo.toml Cargo.lock -type f -newer "$bin" -print -quit) ]]; then
    echo "p2: building $bin (cargo build --release -p slipway)" >&2
    cargo build --release -p slipway >&2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/slipway

# The inputs for each N: a buildspec in its own source folder, and the two bash scripts.
for n in "${SIZES[@]}"; do
    dir="$work/n$n"
    mkdir -p "$dir/src"
    {
        printf 'version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands:\n'
        for ((i = 0; i < n; i++)); do printf '      - "true"\n'; done
    } >"$dir/src/buildspec.yml"
    for ((i = 0; i < n; i++)); do echo true; done >"$dir/persistent.sh"
    for ((i = 0; i < n; i++)); do echo 'bash -c true'; done >"$dir/fresh.sh"
done

# The command line of one measured kind ("slipway", "persistent" or "fresh") at size N.
command_for() {
    local kind=$1 dir="$work/n$2"
    case $kind in
        slipway)
            CMD=("$bin" build --source "$dir/src" --artifacts "$dir/artifacts"
                --timeout "$BUILD_TIMEOUT_MINUTES")
            ;;
        persistent) CMD=(bash "$dir/persistent.sh") ;;
        fresh) CMD=(bash "$dir/fresh.sh") ;;
    esac
}
KINDS=(slipway persistent fresh)

# MEDIAN_US[kind.n]: the median wall time in microseconds.
declare -A MEDIAN_US

if command -v hyperfine >/dev/null; then
    timer="hyperfine, $RUNS runs + 1 warm-up each"
    for n in "${SIZES[@]}"; do
        for kind in "${KINDS[@]}"; do
            command_for "$kind" "$n"
            csv="$work/$kind.$n.csv"
            hyperfine --shell=none --style none --warmup 1 --runs "$RUNS" \
                --export-csv "$csv" "$(printf '%q ' "${CMD[@]}")" >/dev/null
            # The "median" column, in seconds.
            median_s=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") col = i }
                NR == 2 && col { print $col }' "$csv")
            if [[ -z $median_s ]]; then
                echo "p2: no median column in hyperfine's CSV export ($csv)" >&2
                exit 1
            fi
            MEDIAN_US[$kind.$n]=$(awk -v s="$median_s" 'BEGIN { printf "%.0f", s * 1e6 }')
        done
    done
else
    # The clock, in microseconds. bash 5's EPOCHREALTIME reads it without starting a
    # process; `date +%s%N` is the fallback, and its fork is inside every measurement.
    now_us() {
        if [[ -n ${EPOCHREALTIME:-} ]]; then
            NOW_US=${EPOCHREALTIME/[.,]/}
        else
            NOW_US=$(($(date +%s%N) / 1000))
        fi
    }
    if [[ -n ${EPOCHREALTIME:-} ]]; then clock=EPOCHREALTIME; else clock='date +%s%N'; fi
    timer="a loop of $RUNS runs + 1 warm-up, interleaved, clock: $clock"
    declare -A SAMPLES
    # Run 0 is the warm-up and is not recorded. The runs are interleaved so that a slow
    # moment of this shared machine hits every kind and size alike.
    for ((run = 0; run <= RUNS; run++)); do
        for n in "${SIZES[@]}"; do
            for kind in "${KINDS[@]}"; do
                command_for "$kind" "$n"
                now_us
                start=$NOW_US
                if ! "${CMD[@]}" >/dev/null 2>&1; then
                    echo "p2: failed: ${CMD[*]}" >&2
                    exit 1
                fi
                now_us
                if ((run > 0)); then
                    SAMPLES[$kind.$n]+="$((NOW_US - start)) "
                fi
            done
        done
    done
    for key in "${!SAMPLES[@]}"; do
        MEDIAN_US[$key]=$(tr ' ' '\n' <<<"${SAMPLES[$key]}" | grep . | sort -n |
            awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    done
fi

# figure NAME VALUE_MS FLOOR_MS: prints `NAME: VALUE ms (floor: FLOOR ms, ratio: Rx)`.
figure() {
    awk -v name="$1" -v value="$2" -v floor="$3" '
        function ms(v) { return (v >= 1000 || v <= -1000) ? sprintf("%.0f", v) : sprintf("%.3g", v) }
        BEGIN {
            if (floor > 0) ratio = sprintf(value / floor >= 10 ? "%.0fx" : "%.1fx", value / floor)
            else ratio = "n/a"
            printf "%s: %s ms (floor: %s ms, ratio: %s)\n", name, ms(value), ms(floor), ratio
        }'
}
ms_of() { awk -v us="$1" 'BEGIN { printf "%.6f", us / 1000 }'; }
per_command_ms() {
    local kind=$1 n=$2
    awk -v a="${MEDIAN_US[$kind.$n]}" -v b="${MEDIAN_US[$kind.1]}" -v n="$n" \
        'BEGIN { printf "%.6f", (a - b) / 1000 / (n - 1) }'
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit+=" (with uncommitted changes)"; fi
echo "# P2 step overhead: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit, $(nproc 2>/dev/null || echo '?') cores"
echo "# timer: $timer; medians of whole runs; per-command = (median(N) - median(1)) / (N - 1)"
for n in "${SIZES[@]}"; do
    figure "p2.n$n.build" "$(ms_of "${MEDIAN_US[slipway.$n]}")" "$(ms_of "${MEDIAN_US[persistent.$n]}")"
    figure "p2.n$n.build_vs_fresh_bash" "$(ms_of "${MEDIAN_US[slipway.$n]}")" "$(ms_of "${MEDIAN_US[fresh.$n]}")"
done
for n in "${SIZES[@]}"; do
    ((n > 1)) || continue
    overhead=$(per_command_ms slipway "$n")
    figure "p2.n$n.per_command_overhead" "$overhead" "$(per_command_ms persistent "$n")"
    figure "p2.n$n.per_command_vs_fresh_bash" "$overhead" "$(per_command_ms fresh "$n")"
done

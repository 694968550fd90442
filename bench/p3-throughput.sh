#!/usr/bin/env bash
# P3 (BENCHMARKS.md): scheduling throughput, queued trivial builds drained by agents.
#
# For each backend (SQLite, then a throwaway PostgreSQL), this starts `slipway server
# --no-local-agent`, creates a project whose build runs `true`, starts BUILDS builds as fast as
# one client can (they queue: no agent yet), then starts AGENTS `slipway agent --concurrency
# CONCURRENCY` and measures from just before the first agent starts to the last build's end
# (its endTime): builds/min. Builds are polled once a second; each backend stops after
# DRAIN_TIMEOUT seconds and reports what finished.
#
# The floor is not measured here: Buildbot 4.3's 26 builds/min from BENCHMARKS.md (20-step
# builds on one worker, measured on this kind of machine during the design).
#
# Usage: bench/p3-throughput.sh        (from any directory; as root for PostgreSQL)
#   BUILDS=500            queued builds per backend, 1..10000
#   AGENTS=2              agents, 1..16
#   CONCURRENCY=4         builds each agent runs at once, 1..64
#   BACKENDS="sqlite postgres"
#   DRAIN_TIMEOUT=600     seconds each backend may take to drain
#   CARGO_TARGET_DIR      where the release binary is, as for cargo
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p3
source "$(dirname "$0")/lib/server.sh"

BUILDS=${BUILDS:-500}
AGENTS=${AGENTS:-2}
CONCURRENCY=${CONCURRENCY:-4}
BACKENDS=${BACKENDS:-sqlite postgres}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
check_range() {
    if ! [[ ${!1} =~ ^[0-9]+$ ]] || ((${!1} < $2 || ${!1} > $3)); then
        die "$1 must be a whole number from $2 to $3, not '${!1}'"
    fi
}
check_range BUILDS 1 10000
check_range AGENTS 1 16
check_range CONCURRENCY 1 64
check_range DRAIN_TIMEOUT 10 3600
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] || die "BACKENDS: sqlite and/or postgres, not '$backend'"
done

BUILDBOT_BUILDS_PER_MIN=26

# run_backend NAME [DATABASE ARGS...]: one measurement.
run_backend() {
    local name=$1 data="$work/$1" i token start_ns status=0
    shift
    start_server "server-$name" "$data" --no-local-agent "$@"
    local server_pid=$SERVER_PID

    bench_py - "$SERVER_URL" "$data" "$BUILDS" "$work/$name.ids" <<'PY'
import sys, time
import slipway_bench as sb

url, data, builds, ids_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cb = sb.client(url, data)
sb.create_project(cb, "p3", sb.buildspec("true"), timeout_minutes=10)
ids, errors = [], []
t = time.perf_counter()
for _ in range(builds):
    try:
        ids.append(cb.start_build(projectName="p3")["build"]["id"])
    except Exception as err:  # noqa: BLE001 (reported, and the run goes on)
        errors.append(str(err))
elapsed = time.perf_counter() - t
with open(ids_file, "w") as f:
    f.write("\n".join(ids) + "\n")
print(f"# enqueued {len(ids)} builds in {elapsed:.2f} s ({len(ids) / elapsed:.0f} StartBuild/s, one client)")
if errors:
    print(f"# FAILED StartBuild calls: {len(errors)}, e.g. {errors[0]}")
PY

    local tokens=()
    for ((i = 1; i <= AGENTS; i++)); do
        token=$("$bin" agent-token create "bench-$i" --data-dir "$data" "$@") || die "agent-token create failed"
        tokens+=("$token")
    done
    start_ns=$(date +%s%N)
    for ((i = 1; i <= AGENTS; i++)); do
        spawn "agent-$name-$i" "$bin" agent --server "$SERVER_URL" --token "${tokens[i - 1]}" \
            --concurrency "$CONCURRENCY" --work-dir "$work/$name-agent$i"
    done

    bench_py - "$SERVER_URL" "$data" "$work/$name.ids" "$start_ns" "$DRAIN_TIMEOUT" "$name" \
        "$server_pid" "$BUILDBOT_BUILDS_PER_MIN" "$AGENTS" "$CONCURRENCY" <<'PY' || status=$?
import sys, time
import slipway_bench as sb

url, data, ids_file, start_ns, timeout, name, pid, floor, agents, concurrency = sys.argv[1:]
cb = sb.client(url, data)
ids = [line for line in open(ids_file).read().split() if line]
start = int(start_ns) / 1e9
done = sb.wait_complete(cb, ids, timeout=int(timeout), interval=1.0)
ended = time.time()
if not done:
    print(f"# {name}: no build completed within {timeout} s")
    sys.exit(1)
last_end = max(sb.timestamp(b["endTime"]) for b in done.values())
first_start = min(sb.timestamp(b["startTime"]) for b in done.values())
counts = sb.statuses(done)
minutes = ((last_end if len(done) == len(ids) else ended) - start) / 60
print(f"# {name}: {len(done)} of {len(ids)} builds complete ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) "
      f"in {minutes * 60:.1f} s from the first agent's start; {agents} agents x {concurrency}; "
      f"server peak RSS {sb.rss_kb(int(pid), 'VmHWM') / 1024:.0f} MB")
print(f"# floor: Buildbot 4.3, {floor} builds/min, from BENCHMARKS.md (published, not measured here)")
sb.figure(f"p3.{name}.builds_per_min", len(done) / minutes, "builds/min", floor)
if len(done) < len(ids) or counts.get("SUCCEEDED", 0) < len(ids):
    print(f"# {name}: NOT ALL BUILDS SUCCEEDED within {timeout} s")
    sys.exit(1)
PY

    for ((i = 1; i <= AGENTS; i++)); do stop "agent-$name-$i"; done
    stop "server-$name"
    local problems
    problems=$(server_problems "server-$name"; for ((i = 1; i <= AGENTS; i++)); do server_problems "agent-$name-$i"; done)
    if [[ -n $problems ]]; then
        echo "# $name: the server or agents logged $(wc -l <<<"$problems") warnings or errors, e.g.:"
        sed 's/^/#   /' <<<"$problems" | head -n 10
    fi
    return "$status"
}

header "P3 throughput"
echo "# $BUILDS queued builds of one command (true), $AGENTS agents x $CONCURRENCY concurrent builds"
failed=0
for backend in $BACKENDS; do
    case $backend in
        sqlite) run_backend sqlite || failed=1 ;;
        postgres)
            start_postgres
            run_backend postgres --database-url "$DATABASE_URL" || failed=1
            ;;
    esac
done
exit "$failed"

#!/usr/bin/env bash
# P1 (BENCHMARKS.md): the time from a change to the first buildspec command running. Until git
# push exists this measures StartBuild → first command: `slipway server` with its embedded
# agent (idle and registered), SQLite, one project whose build runs `echo "MARK $(date +%s%N)"` (the time read back from its log).
# For each build, t0 = the client's clock just before StartBuild, t1 = the nanoseconds the
# command wrote; latency = t1 - t0. BUILDS builds run one after another (each waits for the
# last to complete), after one warm-up build that is not counted.
#
# The floor: the median round trip of one BatchGetBuilds call from the same client, measured
# in the same run, so the ratio says how much of the latency is queueing and the agent rather
# than plain API cost.
#
# Usage: bench/p1-start-latency.sh        (from any directory; ~15 s after the build)
#   BUILDS=50           measured builds, 1..1000
#   CARGO_TARGET_DIR    where the release binary is, as for cargo
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p1
source "$(dirname "$0")/lib/server.sh"

BUILDS=${BUILDS:-50}
if ! [[ $BUILDS =~ ^[0-9]+$ ]] || ((BUILDS < 1 || BUILDS > 1000)); then
    die "BUILDS must be a whole number from 1 to 1000, not '$BUILDS'"
fi

start_server server "$work/data"
# Let the embedded agent register and settle into its idle long-poll.
sleep 2

header "P1 start latency"
bench_py - "$SERVER_URL" "$work" "$BUILDS" <<'PY'
import os, sys, time
import slipway_bench as sb

url, work, builds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cb = sb.client(url, work + "/data")
sb.create_project(cb, "p1", sb.buildspec(sb.MARK_COMMAND), timeout_minutes=5)

latencies_ms, start_calls_ms, failed = [], [], []
for i in range(builds + 1):  # build 0 is the warm-up
    t0 = time.time_ns()
    build = cb.start_build(projectName="p1")["build"]
    start_calls_ms.append((time.time_ns() - t0) / 1e6)
    # Wait for the build to complete (each build starts on an idle agent), then read the time
    # its command printed from its log.
    done = sb.wait_complete(cb, [build["id"]], timeout=60, interval=0.01)
    status = done[build["id"]]["buildStatus"] if done else "NOT COMPLETE after 60 s"
    t1 = sb.marked_time_ns(url, work + "/data", build["id"]) if status == "SUCCEEDED" else None
    if t1 is None:
        failed.append(f"{build['id']}: {status}, {'no MARK line in its log' if status == 'SUCCEEDED' else ''}")
        continue
    if i > 0:
        latencies_ms.append((t1 - t0) / 1e6)

# The floor: one BatchGetBuilds round trip, on the same (kept-alive) connection.
round_trips_ms = []
for _ in range(max(builds, 20)):
    t = time.perf_counter_ns()
    cb.batch_get_builds(ids=[build["id"]])
    round_trips_ms.append((time.perf_counter_ns() - t) / 1e6)
floor = sb.median(round_trips_ms)

print(f"# {len(latencies_ms)} builds one at a time after 1 warm-up; embedded agent, SQLite; "
      f"p99 is nearest-rank (of 50 or fewer builds: the slowest)")
print("# floor: the median BatchGetBuilds round trip (one call, same client), measured in this run")
if failed:
    print(f"# FAILED: {len(failed)} builds: {'; '.join(failed[:5])}")
if latencies_ms:
    sb.figure("p1.start_to_first_command.p50", sb.percentile(latencies_ms, 50), "ms", floor)
    sb.figure("p1.start_to_first_command.p99", sb.percentile(latencies_ms, 99), "ms", floor)
    sb.figure("p1.start_build_call.p50", sb.percentile(start_calls_ms[1:], 50), "ms", floor)
    print(f"# start_to_first_command: min {min(latencies_ms):.1f} ms, max {max(latencies_ms):.1f} ms; "
          f"batch_get_builds round trip: min {min(round_trips_ms):.2f} ms, p99 {sb.percentile(round_trips_ms, 99):.2f} ms")
sys.exit(1 if failed else 0)
PY

problems=$(server_problems server)
if [[ -n $problems ]]; then
    echo "# the server logged warnings or errors:"
    sed 's/^/#   /' <<<"$problems" | head -n 20
fi

#!/usr/bin/env bash
# P6 (BENCHMARKS.md): memory. The server's RSS when idle with BUILDS finished builds in its
# history, and an agent's RSS when idle.
#
# Server: `slipway server` with its embedded agent (SQLite). Its VmRSS is read 5 s after start
# (empty, for context), then BUILDS trivial builds (`echo`) run, BATCH at a time (each batch
# waits for the last); 5 s after the last one completes VmRSS is read again, and VmHWM (the
# peak) is reported too.
# Agent: a second server with --no-local-agent, one `slipway agent` connected to it: its VmRSS
# after 5 s idle, and again 5 s after it ran AGENT_BUILDS builds.
#
# The floors are not measured here; they are the figures in BENCHMARKS.md: Buildbot 4.3 on this
# kind of machine (master 95 MB, worker 54 MB) and Woodpecker's published minimums (server
# 200 MB, agent 32 MB). MB here is 2^20 bytes (VmRSS is in KiB).
#
# Usage: bench/p6-memory.sh        (from any directory; ~1 minute after the build)
#   BUILDS=1000          finished builds in the server's history, 1..100000
#   BATCH=100            builds started at once, 1..1000
#   AGENT_BUILDS=50      builds the agent runs before its second reading, 0..10000
#   CARGO_TARGET_DIR     where the release binary is, as for cargo
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p6
source "$(dirname "$0")/lib/server.sh"

BUILDS=${BUILDS:-1000}
BATCH=${BATCH:-100}
AGENT_BUILDS=${AGENT_BUILDS:-50}
check_range() {
    if ! [[ ${!1} =~ ^[0-9]+$ ]] || ((${!1} < $2 || ${!1} > $3)); then
        die "$1 must be a whole number from $2 to $3, not '${!1}'"
    fi
}
check_range BUILDS 1 100000
check_range BATCH 1 1000
check_range AGENT_BUILDS 0 10000

IDLE_SECONDS=5
header "P6 memory"
echo "# floors: Buildbot 4.3 master 95 MB / worker 54 MB (BENCHMARKS.md), Woodpecker's minimums 200 MB / 32 MB (published); not measured here"

# run_builds URL DATA_DIR PROJECT COUNT BATCH: creates PROJECT and runs COUNT builds, BATCH at a
# time; fails when one does not succeed.
run_builds() {
    bench_py - "$@" <<'PY'
import sys, time
import slipway_bench as sb

url, data, project, count, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
cb = sb.client(url, data)
sb.create_project(cb, project, sb.buildspec("echo build $CODEBUILD_BUILD_NUMBER"), timeout_minutes=5)
counts, t = {}, time.perf_counter()
for first in range(0, count, batch):
    ids = [cb.start_build(projectName=project)["build"]["id"] for _ in range(min(batch, count - first))]
    done = sb.wait_complete(cb, ids, timeout=300, interval=0.2)
    for status, n in sb.statuses(done).items():
        counts[status] = counts.get(status, 0) + n
    if len(done) < len(ids):
        counts["NOT COMPLETE after 300 s"] = counts.get("NOT COMPLETE after 300 s", 0) + len(ids) - len(done)
        break
print(f"# {project}: {count} builds, {batch} at a time, in {time.perf_counter() - t:.1f} s: "
      + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
sys.exit(0 if counts.get("SUCCEEDED", 0) == count else 1)
PY
}

mb() { awk -v kb="$1" 'BEGIN { printf "%.2f", kb / 1024 }'; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# The server.
start_server server "$work/data"
server_pid=$SERVER_PID
sleep "$IDLE_SECONDS"
empty_kb=$(status_kb "$server_pid" VmRSS)
failed=0
run_builds "$SERVER_URL" "$work/data" p6 "$BUILDS" "$BATCH" || failed=1
sleep "$IDLE_SECONDS"
idle_kb=$(status_kb "$server_pid" VmRSS)
peak_kb=$(status_kb "$server_pid" VmHWM)
db_kb=$(du -sk "$work/data" | cut -f1)
echo "# server: embedded agent (2 builds at once), SQLite; data directory $(mb "$db_kb") MB after the builds"
figure p6.server_rss_empty "$(mb "$empty_kb")" MB 95
figure "p6.server_rss_idle_${BUILDS}_builds" "$(mb "$idle_kb")" MB 95
figure "p6.server_rss_idle_${BUILDS}_builds_vs_woodpecker" "$(mb "$idle_kb")" MB 200
figure p6.server_rss_peak "$(mb "$peak_kb")" MB 95
stop server

# The agent, beside a server without an embedded agent.
start_server server2 "$work/data2" --no-local-agent
token=$("$bin" agent-token create bench --data-dir "$work/data2") || die "agent-token create failed"
spawn agent "$bin" agent --server "$SERVER_URL" --token "$token" --work-dir "$work/agent"
agent_pid=${PIDS[agent]}
sleep "$IDLE_SECONDS"
alive "$agent_pid" || die "the agent exited: $(tail -n 5 "$work/agent.err")"
agent_kb=$(status_kb "$agent_pid" VmRSS)
echo "# agent: one \`slipway agent\` (1 build at a time) connected to a server with --no-local-agent"
figure p6.agent_rss_idle "$(mb "$agent_kb")" MB 54
figure p6.agent_rss_idle_vs_woodpecker "$(mb "$agent_kb")" MB 32
if ((AGENT_BUILDS > 0)); then
    run_builds "$SERVER_URL" "$work/data2" p6agent "$AGENT_BUILDS" 10 || failed=1
    sleep "$IDLE_SECONDS"
    figure "p6.agent_rss_idle_after_${AGENT_BUILDS}_builds" "$(mb "$(status_kb "$agent_pid" VmRSS)")" MB 54
    figure p6.agent_rss_peak "$(mb "$(status_kb "$agent_pid" VmHWM)")" MB 54
fi
stop agent
stop server2

for name in server server2 agent; do
    problems=$(server_problems "$name")
    if [[ -n $problems ]]; then
        echo "# $name logged $(wc -l <<<"$problems") warnings or errors, e.g.:"
        sed 's/^/#   /' <<<"$problems" | head -n 10
    fi
done
exit "$failed"

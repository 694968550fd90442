#!/usr/bin/env bash
# P7 (BENCHMARKS.md): log ingestion, one build printing LOG_MB megabytes.
#
# A file of LOG_MB x 10^6 bytes of text (100-byte lines) is written to the temporary
# directory; then `slipway server` (SQLite) runs one build whose only command is `cat` of that
# file, on its embedded agent. Figures:
#   - the BUILD phase's duration (its startTime → endTime, as the agent's executor records
#     them) → MB/s;
#   - StartBuild → the build seen complete by a client polling every 0.1 s → MB/s: the build
#     completes only when the server has all of its output, so this is the ingestion rate;
#   - the server's VmRSS (the embedded agent is in the same process), sampled every 0.5 s:
#     the maximum during the build and the value 10 s after it, against the value before;
#   - the whole log read back (`GET /v1/builds/<id>/log`), checking every line arrived.
# Then the same build runs on a separate `slipway agent` beside a `--no-local-agent` server, so
# the memory can be told apart: server and agent RSS, each against its own RSS before.
#
# The floor: `cat` of the same file to another file, in the same run (median of 3, after the
# page cache holds the file), MB/s.
#
# Usage: bench/p7-log-ingestion.sh        (from any directory; ~1 minute for 500 MB, and about
#                                          4 x LOG_MB of free space in $TMPDIR)
#   LOG_MB=500          megabytes (10^6 bytes) the build prints, 1..5000
#   SEPARATE_AGENT=1    also run it on a separate agent (0: only the embedded one)
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p7
source "$(dirname "$0")/lib/server.sh"

LOG_MB=${LOG_MB:-500}
if ! [[ $LOG_MB =~ ^[0-9]+$ ]] || ((LOG_MB < 1 || LOG_MB > 5000)); then
    die "LOG_MB must be a whole number from 1 to 5000, not '$LOG_MB'"
fi
SEPARATE_AGENT=${SEPARATE_AGENT:-1}
# The build is stopped by the server after this many minutes; the client waits a little longer.
BUILD_TIMEOUT_MINUTES=30

bytes=$((LOG_MB * 1000000))
line=$(printf '%099d' 0 | tr 0 x)
head -c "$bytes" < <(yes "$line") >"$work/log.txt"
[[ $(stat -c %s "$work/log.txt") == "$bytes" ]] || die "could not write $bytes bytes to $work/log.txt"

# The floor, first: cat of the same bytes to a file (run 0 warms up).
floor_us=()
for run in 0 1 2 3; do
    start=${EPOCHREALTIME/[.,]/}
    cat "$work/log.txt" >"$work/copy.txt"
    end=${EPOCHREALTIME/[.,]/}
    rm -f "$work/copy.txt"
    if ((run > 0)); then floor_us+=($((end - start))); fi
done
floor_median_us=$(printf '%s\n' "${floor_us[@]}" | sort -n | sed -n 2p)
floor_mb_s=$(awk -v b="$bytes" -v us="$floor_median_us" 'BEGIN { printf "%.3f", b / us }')

# measure NAME URL DATA_DIR SERVER_PID [AGENT_PID]: runs the build, prints the figures.
measure() {
    bench_py - "$work" "$bytes" "$floor_mb_s" "$BUILD_TIMEOUT_MINUTES" "$line" "$@" <<'PY'
import base64, sys, time, urllib.parse, urllib.request
import slipway_bench as sb

work, size, floor_mb_s, timeout_minutes, line, name, url, data, server_pid = sys.argv[1:10]
agent_pid = int(sys.argv[10]) if len(sys.argv) > 10 else None
size, floor_mb_s, timeout_minutes, server_pid = int(size), float(floor_mb_s), int(timeout_minutes), int(server_pid)
pids = {"server": server_pid}
if agent_pid:
    pids["agent"] = agent_pid
cb = sb.client(url, data)
sb.create_project(cb, "p7", sb.buildspec('cat "$LOG_FILE"'), timeout_minutes=timeout_minutes)

before = {k: sb.rss_kb(p) for k, p in pids.items()}
samples = {k: [v] for k, v in before.items()}
next_sample = [time.monotonic() + 0.5]
def sample():
    if time.monotonic() >= next_sample[0]:
        next_sample[0] += 0.5
        for k, p in pids.items():
            samples[k].append(sb.rss_kb(p))

t0 = time.time()
build = cb.start_build(projectName="p7", environmentVariablesOverride=sb.env(LOG_FILE=work + "/log.txt"))["build"]
done = sb.wait_complete(cb, [build["id"]], timeout=timeout_minutes * 60 + 60, interval=0.1, on_poll=sample)
wall = time.time() - t0
for k, p in pids.items():
    samples[k].append(sb.rss_kb(p))
if not done:
    print(f"# {name}: the build did not complete within {timeout_minutes} minutes")
    sys.exit(1)
time.sleep(10)
after = {k: sb.rss_kb(p) for k, p in pids.items()}
build = done[build["id"]]
phase = sb.phase(build, "BUILD")
seconds = sb.timestamp(phase["endTime"]) - sb.timestamp(phase["startTime"])
agent_side = sb.timestamp(build["endTime"]) - sb.timestamp(phase["startTime"])
mb = size / 1e6
print(f"# {name}: one build printing {mb:.0f} MB ({size // 100} lines of 100 bytes): {build['buildStatus']}; "
      f"BUILD phase {seconds:.2f} s, BUILD start to the build's endTime {agent_side:.2f} s (agent's clock), "
      f"StartBuild to seen complete {wall:.2f} s")
sb.figure(f"p7.{name}.build_phase_throughput", mb / seconds if seconds > 0 else float("nan"), "MB/s", floor_mb_s)
sb.figure(f"p7.{name}.ingestion_throughput", mb / wall, "MB/s", floor_mb_s)
for k in pids:
    sb.figure(f"p7.{name}.{k}_rss_max_during_build", max(samples[k]) / 1024, "MB", before[k] / 1024)
    sb.figure(f"p7.{name}.{k}_rss_10s_after_build", after[k] / 1024, "MB", before[k] / 1024)
    print(f"# {name}: {k} RSS every 0.5 s (MB): " + " ".join(f"{s / 1024:.0f}" for s in samples[k])
          + f"; peak (VmHWM) {sb.rss_kb(pids[k], 'VmHWM') / 1024:.0f} MB")

# Read the whole log back and check that every line arrived.
key, secret = sb.credentials(data)
request = urllib.request.Request(f"{url}/v1/builds/{urllib.parse.quote(build['id'])}/log")
request.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode())
expected = (line + "\n").encode()
total = matching = 0
tail = b""
t = time.time()
with urllib.request.urlopen(request, timeout=600) as response:
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        matching += sum(1 for l in lines if l + b"\n" == expected)
read_seconds = time.time() - t
print(f"# {name}: log read back: {total / 1e6:.1f} MB in {read_seconds:.2f} s, {matching} of {size // 100} printed lines intact")
sb.figure(f"p7.{name}.log_read_back_throughput", total / 1e6 / read_seconds, "MB/s", floor_mb_s)
ok = build["buildStatus"] == "SUCCEEDED" and matching == size // 100
if not ok:
    print(f"# {name}: PROBLEM: the build did not succeed, or lines are missing from the stored log")
sys.exit(0 if ok else 1)
PY
}

report_problems() {
    local problems
    problems=$(server_problems "$1")
    if [[ -n $problems ]]; then
        echo "# $1 logged $(wc -l <<<"$problems") warnings or errors, e.g.:"
        sed 's/^/#   /' <<<"$problems" | head -n 10
    fi
}

header "P7 log ingestion"
echo "# floor: cat of the same file to a file (median of 3, warm page cache); RSS floors: the same process's RSS before the build"
status=0

start_server server "$work/data"
sleep 2
measure embedded "$SERVER_URL" "$work/data" "$SERVER_PID" || status=1
echo "# embedded: data directory after the build: $(du -sm "$work/data" | cut -f1) MiB (the log is $((bytes / 1048576)) MiB)"
stop server
report_problems server
rm -rf "$work/data"

if [[ $SEPARATE_AGENT == 1 ]]; then
    start_server server2 "$work/data2" --no-local-agent
    token=$("$bin" agent-token create bench --data-dir "$work/data2") || die "agent-token create failed"
    spawn agent "$bin" agent --server "$SERVER_URL" --token "$token" --work-dir "$work/agent"
    sleep 2
    alive "${PIDS[agent]}" || die "the agent exited: $(tail -n 5 "$work/agent.err")"
    measure separate_agent "$SERVER_URL" "$work/data2" "$SERVER_PID" "${PIDS[agent]}" || status=1
    stop agent
    stop server2
    report_problems server2
    report_problems agent
fi
exit "$status"

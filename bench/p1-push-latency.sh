#!/usr/bin/env bash
# P1 (BENCHMARKS.md): push accepted → first buildspec command running.
# `slipway server` with its embedded agent (idle and registered), SQLite; a hosted repository
# (CodeCommit's CreateRepository) and a project building it (source type CODECOMMIT, location
# the clone URL) with a CodeBuild webhook whose one filter group is `EVENT = PUSH`. Each
# commit's `buildspec.yml` has one build command, `echo "MARK $(date +%s%N)"`, read back from
# the build's log (the embedded agent's sandbox cannot write outside the build's workspace).
# PUSHES pushes of a new commit to `main` run one after another (each waits for its build to
# complete), after one warm-up push that is not counted. t1 = the nanoseconds the command
# wrote. Two figures, both ending at t1 (server, agent and client share one clock here):
#
#   p1.accepted_to_first_command: BENCHMARKS.md's definition. It starts when the push was
#     accepted: the server's time when the refs were updated, i.e. the `timeMs` of the
#     `ref-event` document the push wrote (read from the SQLite store after the build; the
#     server records it right after `git receive-pack` has moved the ref and before the push's
#     response ends; milliseconds, so each figure may be up to 1 ms long). Its floor is the
#     peer of BENCHMARKS.md, Buildbot 4.3's 217 ms from change hook to first command on this
#     machine (published there, not measured here, as P3 does with Buildbot's figure). A
#     comment line gives the median time from the loose ref file's mtime (when git itself
#     wrote the ref) to that `timeMs`: how much later than git the server records a push.
#   p1.push_to_first_command: from just before `git push` starts (the client's clock), so it
#     includes the push itself. Its floor is the median time `git push` takes (start to
#     exit, the same pushes), so the ratio says how much the webhook, the queue and the
#     agent add to the push.
#
# If the server does not know CreateWebhook yet, this prints
# `p1.push_to_first_command: not available (…)` and exits 0.
#
# Usage: bench/p1-push-latency.sh        (from any directory; ~20 s after the build)
#   PUSHES=20           measured pushes, 1..500
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p1
source "$(dirname "$0")/lib/server.sh"

PUSHES=${PUSHES:-20}
if ! [[ $PUSHES =~ ^[0-9]+$ ]] || ((PUSHES < 1 || PUSHES > 500)); then
    die "PUSHES must be a whole number from 1 to 500, not '$PUSHES'"
fi

start_server server "$work/data"
"$bin" git-credentials create --user admin --data-dir "$work/data" >"$work/git-credentials.txt" ||
    die "slipway git-credentials create failed"
# Let the embedded agent register and settle into its idle long-poll.
sleep 2

header "P1 push latency"
set +e
bench_py - "$SERVER_URL" "$work" "$PUSHES" <<'PY'
import json, os, sqlite3, subprocess, sys, time
import botocore.exceptions
import slipway_bench as sb

url, work, pushes = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = work + "/data"
cb = sb.client(url, data)
cc = sb.service_client("codecommit", url, data)

with open(work + "/git-credentials.txt") as f:
    fields = dict(line.split(" = ", 1) for line in f.read().splitlines() if " = " in line)
clone_url = cc.create_repository(repositoryName="p1")["repositoryMetadata"]["cloneUrlHttp"]
push_url = sb.git_url(clone_url, fields["username"], fields["password"])

cb.create_project(
    name="p1",
    source={"type": "CODECOMMIT", "location": clone_url},
    artifacts={"type": "NO_ARTIFACTS"},
    environment=sb.ENVIRONMENT,
    serviceRole="r",
    timeoutInMinutes=5,
)
try:
    cb.create_webhook(projectName="p1", filterGroups=[[{"type": "EVENT", "pattern": "PUSH"}]])
except botocore.exceptions.ClientError as err:
    code = err.response.get("Error", {}).get("Code", "")
    if code.startswith("UnknownOperation"):
        message = err.response.get("Error", {}).get("Message", "")
        print(f"p1.push_to_first_command: not available (CreateWebhook: {code}: {message})")
        sys.exit(0)
    raise

git_env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com")
repo = work + "/repo"
os.makedirs(repo)

def git(*args):
    return subprocess.run(["git", *args], cwd=repo, env=git_env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)

def git_ok(*args):
    run = git(*args)
    if run.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout

# The store, read-only beside the server (SQLite in WAL mode lets a reader in at any time).
store = sqlite3.connect(f"file:{data}/slipway.db?mode=ro", uri=True)
ref_file = data + "/repos/p1.git/refs/heads/main"

def accepted_ms():
    """The `timeMs` of the newest ref event of the repository: when the push was accepted."""
    row = store.execute(
        "SELECT body FROM documents WHERE kind = 'ref-event' AND parent = 'p1' "
        "ORDER BY sort DESC LIMIT 1").fetchone()
    return json.loads(row[0])["timeMs"] if row else None

git_ok("init", "-q", "-b", "main")
latencies_ms, accepted_latencies_ms, record_gaps_ms, push_ms, failed = [], [], [], [], []
for i in range(pushes + 1):  # push 0 is the warm-up
    with open(repo + "/buildspec.yml", "w") as f:
        f.write(sb.buildspec(f"{sb.MARK_COMMAND}  # push {i}"))  # each push a new commit
    git_ok("add", "buildspec.yml")
    git_ok("commit", "-q", "-m", f"push {i}")
    t0 = time.time_ns()
    run = git("push", "-q", push_url, "HEAD:refs/heads/main")
    push_ms.append((time.time_ns() - t0) / 1e6)
    if run.returncode != 0:
        failed.append(f"push {i}: {run.stderr.strip()[:200]}")
        continue
    # Wait for the push's build to appear and complete, then read the time its command printed
    # from its log.
    deadline, ids = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        ids = cb.list_builds_for_project(projectName="p1", sortOrder="DESCENDING")["ids"]
        if len(ids) >= i + 1:
            break
        time.sleep(0.005)
    if len(ids) != i + 1:
        failed.append(f"push {i}: {len(ids)} builds for {i + 1} pushes")
    status, t1 = "no build", None
    if ids:
        done = sb.wait_complete(cb, ids[:1], timeout=60, interval=0.01)
        status = done[ids[0]]["buildStatus"] if done else "NOT COMPLETE after 60 s"
        if status == "SUCCEEDED":
            t1 = sb.marked_time_ns(url, work + "/data", ids[0])
    if t1 is None:
        failed.append(f"push {i}: build {status}, {'no MARK line in its log' if status == 'SUCCEEDED' else ''}")
        continue
    if i > 0:
        latencies_ms.append((t1 - t0) / 1e6)
        accepted = accepted_ms()
        if accepted is None:
            failed.append(f"push {i}: no ref event")
            continue
        accepted_latencies_ms.append(t1 / 1e6 - accepted)
        try:
            record_gaps_ms.append(accepted - os.stat(ref_file).st_mtime_ns / 1e6)
        except FileNotFoundError:
            pass  # the ref was packed: no loose file to date it

floor = sb.median(push_ms[1:])
print(f"# {len(latencies_ms)} pushes of one commit to main, one at a time after 1 warm-up; webhook EVENT=PUSH; "
      f"embedded agent, SQLite; p99 is nearest-rank (of 50 or fewer pushes: the slowest)")
print("# accepted: the ref event's timeMs (server clock, ms); floor: Buildbot 4.3, change hook to first command (BENCHMARKS.md, not measured here)")
print("# push: from just before `git push` starts; floor: the median duration of those `git push` calls (start to exit)")
if failed:
    print(f"# FAILED: {len(failed)}: {'; '.join(failed[:5])}")
BUILDBOT_MS = 217
if accepted_latencies_ms:
    sb.figure("p1.accepted_to_first_command.p50", sb.percentile(accepted_latencies_ms, 50), "ms", BUILDBOT_MS)
    sb.figure("p1.accepted_to_first_command.p99", sb.percentile(accepted_latencies_ms, 99), "ms", BUILDBOT_MS)
    gap = f"{sb.median(record_gaps_ms):.1f} ms" if record_gaps_ms else "n/a (packed ref)"
    print(f"# accepted_to_first_command: min {min(accepted_latencies_ms):.1f} ms, max {max(accepted_latencies_ms):.1f} ms; "
          f"ref file written → ref event recorded: median {gap}")
if latencies_ms:
    sb.figure("p1.push_to_first_command.p50", sb.percentile(latencies_ms, 50), "ms", floor)
    sb.figure("p1.push_to_first_command.p99", sb.percentile(latencies_ms, 99), "ms", floor)
    print(f"# push_to_first_command: min {min(latencies_ms):.1f} ms, max {max(latencies_ms):.1f} ms; "
          f"git push: min {min(push_ms[1:]):.1f} ms, max {max(push_ms[1:]):.1f} ms")
sys.exit(1 if failed or not latencies_ms else 0)
PY
status=$?
set -e

problems=$(server_problems server)
if [[ -n $problems ]]; then
    echo "# the server logged warnings or errors:"
    sed 's/^/#   /' <<<"$problems" | head -n 20
fi
exit "$status"

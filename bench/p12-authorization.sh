#!/usr/bin/env bash
# P12 (BENCHMARKS.md): the cost of authorization. The P8 request (a SigV4-signed
# `BatchGetBuilds` of one finished build, replayed by wrk: 2 threads, 64 connections) sent by
# two users in turn on one server:
#   - `admin`, whose one policy is AdministratorAccess (one statement, `*` on `*`): the floor,
#     the request with as little policy evaluation as there can be;
#   - `p12`, whose policies have 20 statements in all (two inline policies, a customer managed
#     policy and a group's inline policy; one statement allows the request, one denies it on a
#     condition that does not hold, the rest name other actions and resources).
# Each runs ROUNDS times, alternately, for DURATION seconds. The server's CPU time per request
# (from /proc, user + system) of each, and the difference, is the cost of evaluating the 20
# statements; the requests/s say whether P8 stays within 5 %.
#
# Usage: bench/p12-authorization.sh    (from any directory; ~1 min after the build)
#   DURATION=5          seconds of load per run, 1..120
#   ROUNDS=3            runs of each user, alternately, 1..10
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Needs wrk (installed with apt-get when missing, as root).
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p12
source "$(dirname "$0")/lib/server.sh"

DURATION=${DURATION:-5}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 120)); then
    die "DURATION must be a whole number from 1 to 120, not '$DURATION'"
fi
ROUNDS=${ROUNDS:-3}
if ! [[ $ROUNDS =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 10)); then
    die "ROUNDS must be a whole number from 1 to 10, not '$ROUNDS'"
fi
if ! command -v wrk >/dev/null; then
    ((EUID == 0)) || die "needs wrk (apt-get install wrk)"
    echo "p12: installing wrk (apt-get)" >&2
    apt-get install -y --no-install-recommends wrk >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends wrk >&2; }
fi

WRK_DONE='
done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d status=%d\n",
    summary.requests, summary.duration, summary.errors.status))
end
'
wrk_field() { grep '^WRK ' "$1" | tr ' ' '\n' | awk -F= -v f="$2" '$1 == f { print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start_server server "$work/data"
sleep 1
bench_py - "$SERVER_URL" "$work" <<'PY'
import json, sys
import botocore.auth, botocore.awsrequest, botocore.credentials
import slipway_bench as sb

url, work = sys.argv[1], sys.argv[2]
data = work + "/data"
cb = sb.client(url, data)
iam = sb.service_client("iam", url, data)
account = "123456789012"
region = sb.REGION
sb.create_project(cb, "p12", sb.buildspec("echo hello"), timeout_minutes=5)
build_id = cb.start_build(projectName="p12")["build"]["id"]
done = sb.wait_complete(cb, [build_id], timeout=60, interval=0.05)
if not done or done[build_id]["buildStatus"] != "SUCCEEDED":
    raise SystemExit(f"the build did not succeed: {done}")
account = iam.get_user()["User"]["Arn"].split(":")[4]

def statement(effect, actions, resources, condition=None):
    s = {"Effect": effect, "Action": actions, "Resource": resources}
    if condition:
        s["Condition"] = condition
    return s

project = f"arn:aws:codebuild:{region}:{account}:project"
others = [statement("Allow", [f"codebuild:{op}"], [f"{project}/other-{i}"])
          for i, op in enumerate(["StartBuild", "StopBuild", "UpdateProject", "DeleteProject",
                                  "BatchGetBuilds", "ListBuildsForProject"])]
others += [statement("Allow", [f"codecommit:{op}"], [f"arn:aws:codecommit:{region}:{account}:repo-{i}"])
           for i, op in enumerate(["GitPull", "GitPush", "GetFile", "PutFile", "GetBranch",
                                   "CreateBranch", "MergePullRequestByFastForward"])]
others += [statement("Allow", ["ssm:GetParameter*"], [f"arn:aws:ssm:{region}:{account}:parameter/team-{i}/*"])
           for i in range(3)]
others += [statement("Allow", ["s3:GetObject"], ["arn:aws:s3:::bucket-a/*"]),
           statement("Allow", ["logs:*"], ["*"])]
deny = statement("Deny", ["codebuild:*"], ["*"], {"StringEquals": {"aws:username": "someone-else"}})
allow = statement("Allow", ["codebuild:BatchGetBuilds"], [f"{project}/p12"])
# 20 in all, in four places: two inline policies, a managed policy, a group's inline policy.
doc = lambda statements: json.dumps({"Version": "2012-10-17", "Statement": statements})
iam.create_user(UserName="p12")
iam.put_user_policy(UserName="p12", PolicyName="first", PolicyDocument=doc(others[:6]))
iam.put_user_policy(UserName="p12", PolicyName="second", PolicyDocument=doc(others[6:12] + [deny]))
managed = iam.create_policy(PolicyName="p12-managed", PolicyDocument=doc(others[12:17]))
iam.attach_user_policy(UserName="p12", PolicyArn=managed["Policy"]["Arn"])
iam.create_group(GroupName="p12-group")
iam.add_user_to_group(GroupName="p12-group", UserName="p12")
iam.put_group_policy(GroupName="p12-group", PolicyName="group", PolicyDocument=doc(others[17:18] + [allow]))
count = len(others[:18]) + 2
assert count == 20, count
key = iam.create_access_key(UserName="p12")["AccessKey"]

body = json.dumps({"ids": [build_id]})
def lua(text):
    return "[==[" + text + "]==]"
for name, (key_id, secret) in {"admin": sb.credentials(data),
                               "p12": (key["AccessKeyId"], key["SecretAccessKey"])}.items():
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=url + "/", data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeBuild_20161006.BatchGetBuilds"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "codebuild", region).add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    # The request must be answered with the build before it is measured.
    import urllib.request
    check = urllib.request.Request(url + "/", data=body.encode(), method="POST", headers=headers)
    with urllib.request.urlopen(check) as answer:
        if build_id not in answer.read().decode():
            raise SystemExit(f"{name}'s request did not get the build")
    with open(f"{work}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {lua(body)}\n")
        for k, v in headers.items():
            f.write(f"wrk.headers[ {lua(k)} ] = {lua(v)}\n")
PY
for name in admin p12; do echo "$WRK_DONE" >>"$work/$name.lua"; done

# One run: requests, seconds and the server's CPU ticks, appended to $work/NAME.runs.
run() {
    local before after
    before=$(cpu_ticks "$SERVER_PID")
    wrk -t2 -c64 -d"${DURATION}s" -s "$work/$1.lua" "$SERVER_URL/" >"$work/wrk-$1.txt" 2>&1 ||
        die "wrk failed: $(tail -n 5 "$work/wrk-$1.txt")"
    after=$(cpu_ticks "$SERVER_PID")
    [[ $(wrk_field "$work/wrk-$1.txt" status) == 0 ]] || die "$1: non-2xx answers under load"
    echo "$(wrk_field "$work/wrk-$1.txt" requests) $(wrk_field "$work/wrk-$1.txt" duration_us) $((after - before))" >>"$work/$1.runs"
}
for ((i = 0; i < ROUNDS; i++)); do
    run admin
    run p12
done

hz=$(getconf CLK_TCK)
# totals NAME: requests/s and server CPU µs per request over every run of NAME.
totals() {
    awk -v hz="$hz" '{ n += $1; us += $2; t += $3 } END { printf "%.1f %.2f", n / us * 1e6, t / hz * 1e6 / n }' "$work/$1.runs"
}
read -r admin_rps admin_us <<<"$(totals admin)"
read -r user_rps user_us <<<"$(totals p12)"
header "P12 authorization"
echo "# $ROUNDS runs of ${DURATION} s per user, alternately; wrk -t2 -c64, loopback, SQLite; one BatchGetBuilds of one finished build"
echo "# floor: the same request by admin (AdministratorAccess, one statement); CPU from /proc/<server>/stat"
figure p12.cpu_per_request_20_statements "$user_us" us "$admin_us"
figure p12.authorization_cost "$(awk -v a="$admin_us" -v u="$user_us" 'BEGIN { printf "%.2f", u - a }')" us "$admin_us"
figure p12.requests_per_s_20_statements "$user_rps" req/s "$admin_rps"
problems=$(server_problems server)
if [[ -n $problems ]]; then
    echo "# the server logged warnings or errors:"
    sed 's/^/#   /' <<<"$problems" | head -n 10
fi

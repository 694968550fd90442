#!/usr/bin/env bash
# P8 (BENCHMARKS.md): API throughput, `BatchGetBuilds` of one build under wrk (2 threads, 64
# connections, 10 s).
#
# `slipway server` (embedded agent, SQLite) runs one trivial build to its end; then one
# SigV4-signed BatchGetBuilds request for that build is signed with botocore (a signature
# stays valid for 15 minutes) and replayed by wrk from a Lua script, byte for byte. curl checks
# first that the replayed request gets HTTP 200 with the build in its body.
#
# The floor: nginx serving a 1 KiB static file on loopback (worker_processes auto), with the
# same wrk settings, in the same run. Both the requests/s and the p99 latency are compared.
#
# Usage: bench/p8-api-rps.sh        (from any directory; ~30 s after the build)
#   DURATION=10         seconds of load for each of the two, 1..120
#   BACKEND=sqlite      or postgres: a throwaway PostgreSQL as in P3 (needs root); its figures
#                       are named p8.postgres.*
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Needs wrk and nginx; installs them with apt-get when missing (as root).
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p8
source "$(dirname "$0")/lib/server.sh"

DURATION=${DURATION:-10}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 120)); then
    die "DURATION must be a whole number from 1 to 120, not '$DURATION'"
fi
BACKEND=${BACKEND:-sqlite}
case $BACKEND in
    sqlite) PREFIX=p8 ;;
    postgres) PREFIX=p8.postgres ;;
    *) die "BACKEND must be sqlite or postgres, not '$BACKEND'" ;;
esac
THREADS=2
CONNECTIONS=64

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    ((EUID == 0)) || die "needs wrk and nginx (apt-get install wrk nginx)"
    echo "p8: installing wrk and nginx (apt-get)" >&2
    apt-get install -y --no-install-recommends wrk nginx >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends wrk nginx >&2; }
fi

# What wrk's done() prints, one line: parsed below.
WRK_DONE='
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
'

# load NAME URL LUA_FILE: runs wrk; its output goes to $work/wrk-NAME.txt.
load() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$3" "$2" >"$work/wrk-$1.txt" 2>&1 ||
        die "wrk failed: $(tail -n 5 "$work/wrk-$1.txt")"
    grep -q '^WRK ' "$work/wrk-$1.txt" || die "no summary from wrk: $(tail -n 5 "$work/wrk-$1.txt")"
}
# wrk_field NAME FIELD: one number from the WRK line.
wrk_field() { grep '^WRK ' "$work/wrk-$1.txt" | tr ' ' '\n' | awk -F= -v f="$2" '$1 == f { print $2 }'; }
rps() { awk -v n="$(wrk_field "$1" requests)" -v us="$(wrk_field "$1" duration_us)" 'BEGIN { printf "%.1f", n / us * 1e6 }'; }
p99_ms() { awk -v us="$(wrk_field "$1" p99_us)" 'BEGIN { printf "%.3f", us / 1000 }'; }
errors_of() {
    echo "$(wrk_field "$1" status) non-2xx/3xx responses; socket errors: connect $(wrk_field "$1" connect), read $(wrk_field "$1" read), write $(wrk_field "$1" write), timeout $(wrk_field "$1" timeout)"
}

# The server, one finished build, and the signed request.
if [[ $BACKEND == postgres ]]; then
    start_postgres
    start_server server "$work/data" --database-url "$DATABASE_URL"
else
    start_server server "$work/data"
fi
sleep 1
bench_py - "$SERVER_URL" "$work" <<'PY'
import json, sys
import botocore.auth, botocore.awsrequest, botocore.credentials
import slipway_bench as sb

url, work = sys.argv[1], sys.argv[2]
cb = sb.client(url, work + "/data")
sb.create_project(cb, "p8", sb.buildspec("echo hello"), timeout_minutes=5)
build_id = cb.start_build(projectName="p8")["build"]["id"]
done = sb.wait_complete(cb, [build_id], timeout=60, interval=0.05)
if not done or done[build_id]["buildStatus"] != "SUCCEEDED":
    raise SystemExit(f"the build did not succeed: {done}")

body = json.dumps({"ids": [build_id]})
request = botocore.awsrequest.AWSRequest(
    method="POST", url=url + "/", data=body,
    headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeBuild_20161006.BatchGetBuilds"})
key, secret = sb.credentials(work + "/data")
botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "codebuild", sb.REGION).add_auth(request)
headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}

def lua(text):
    return "[==[" + text + "]==]"

with open(work + "/batch_get_builds.lua", "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write(f"wrk.body = {lua(body)}\n")
    for k, v in headers.items():
        f.write(f"wrk.headers[ {lua(k)} ] = {lua(v)}\n")
with open(work + "/body.json", "w") as f:
    f.write(body)
with open(work + "/headers.txt", "w") as f:
    f.write("".join(f"{k}: {v}\n" for k, v in headers.items()))
with open(work + "/build_id", "w") as f:
    f.write(build_id)
PY
echo "$WRK_DONE" >>"$work/batch_get_builds.lua"

# The replayed request must get a 200 with the build.
mapfile -t header_lines <"$work/headers.txt"
curl_args=()
for h in "${header_lines[@]}"; do curl_args+=(-H "$h"); done
code=$(curl -sS -o "$work/curl-body.json" -w '%{http_code}' -X POST "${curl_args[@]}" \
    --data-binary @"$work/body.json" "$SERVER_URL/")
[[ $code == 200 ]] || die "the replayed request got HTTP $code: $(head -c 300 "$work/curl-body.json")"
grep -qF "$(cat "$work/build_id")" "$work/curl-body.json" || die "the replayed request's answer lacks the build"
response_bytes=$(stat -c %s "$work/curl-body.json")

# nginx, the floor.
nginx_port=$(free_port)
mkdir -p "$work/nginx/logs" "$work/nginx/tmp" "$work/nginx/html"
head -c 1024 < <(yes 'slipway p8 floor') >"$work/nginx/html/1k.txt"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
    server { listen 127.0.0.1:$nginx_port; root html; }
}
EOF
chmod -R a+rX "$work/nginx"
nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -e logs/error.log ||
    die "nginx -t failed"
spawn nginx nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e logs/error.log
for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/1k.txt" && break
    alive "${PIDS[nginx]}" || die "nginx exited: $(cat "$work/nginx.err" "$work/nginx/logs/error.log")"
    sleep 0.05
done
echo "$WRK_DONE" >"$work/nginx.lua"

# cpu_ticks PID: user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_before=$(cpu_ticks "$SERVER_PID")
load slipway "$SERVER_URL/" "$work/batch_get_builds.lua"
server_cpu_s=$(awk -v t="$(($(cpu_ticks "$SERVER_PID") - ticks_before))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
load nginx "http://127.0.0.1:$nginx_port/1k.txt" "$work/nginx.lua"
stop nginx

# The server must still answer after the load.
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "${curl_args[@]}" --data-binary @"$work/body.json" "$SERVER_URL/")

header "P8 API requests/s"
echo "# wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, loopback; slipway: one pre-signed BatchGetBuilds of one finished build (answer $response_bytes bytes), embedded agent idle, $BACKEND"
echo "# floor: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes auto, a 1 KiB static file, measured in this run"
echo "# slipway: $(errors_of slipway); nginx: $(errors_of nginx); server answered $code after the load"
figure "$PREFIX.batch_get_builds.requests_per_s" "$(rps slipway)" req/s "$(rps nginx)"
figure "$PREFIX.batch_get_builds.p99_latency" "$(p99_ms slipway)" ms "$(p99_ms nginx)"
echo "# the server used $server_cpu_s s of CPU in the ${DURATION} s of load (wrk shares the 2 cores)"
echo "# server RSS after the load: $(awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status") MB, peak $(awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status") MB"
problems=$(server_problems server)
if [[ -n $problems ]]; then
    echo "# the server logged $(wc -l <<<"$problems") warnings or errors, e.g.:"
    sed 's/^/#   /' <<<"$problems" | head -n 10
fi
failed=0
[[ $code == 200 && $(wrk_field slipway status) == 0 ]] || failed=1
exit "$failed"

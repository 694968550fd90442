#!/usr/bin/env bash
# P5 (BENCHMARKS.md): git over smart HTTP with a ~100 MB repository. The same bare repository
# (the one Slipway hosts, `<data-dir>/repos/p5.git`) is served by `slipway server
# --no-local-agent` at /v1/repos/p5 (HTTP Basic with `slipway git-credentials create`) and by
# `git http-backend` behind nginx + fcgiwrap (the floor of BENCHMARKS.md), and read by git
# through `file://` (the floor of both). For each, the median of RUNS runs of:
#   clone     `git clone --bare` of the whole repository
#   push      a push of 200 new small commits to a fresh branch (deleted again after each run,
#             so that the next push has to send them again)
#   ls_remote 50 `git ls-remote` at once, timed until the last one ends
# The runs interleave the three servers. Then the idle RSS of Slipway's server, against nginx's
# and fcgiwrap's processes together.
#
# Both HTTP servers do the same work for a request: HTTP Basic authentication with the same
# user and password (Slipway's `git-credentials`; nginx's `auth_basic` with an htpasswd entry
# in RFC 2307's `{SSHA}` form, a salted SHA-1, the nearest nginx has to Slipway's one salted
# SHA-256), and git as a client behaves as it does by default with both: its first request
# goes without credentials, gets a 401, and is sent again with them (no
# `http.proactiveAuth`). Before 2026-11-22 the nginx peer had no authentication at all, so
# Slipway alone paid that extra round trip per operation.
#
# The repository is made by a deterministic script (git fast-import): SIZE_MB of pseudo-random
# (incompressible) files in 200 commits, plus a branch of 200 small commits for the push; it is
# generated once per run in the run's temporary directory (~15 s).
#
# Usage: bench/p5-git.sh        (from any directory; ~2 minutes after the build)
#   RUNS=3              runs of each figure, 1..20
#   SIZE_MB=100         the repository's size, 1..1000
#   FCGI_CHILDREN=4     fcgiwrap's preforked processes
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Needs nginx and fcgiwrap; installs them with apt-get when missing (as root).
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`; exits 1 if any git
# call failed.

BENCH=p5
source "$(dirname "$0")/lib/server.sh"

RUNS=${RUNS:-3}
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 20)); then
    die "RUNS must be a whole number from 1 to 20, not '$RUNS'"
fi
SIZE_MB=${SIZE_MB:-100}
if ! [[ $SIZE_MB =~ ^[0-9]+$ ]] || ((SIZE_MB < 1 || SIZE_MB > 1000)); then
    die "SIZE_MB must be a whole number from 1 to 1000, not '$SIZE_MB'"
fi
FCGI_CHILDREN=${FCGI_CHILDREN:-4}
if ! [[ $FCGI_CHILDREN =~ ^[0-9]+$ ]] || ((FCGI_CHILDREN < 1 || FCGI_CHILDREN > 64)); then
    die "FCGI_CHILDREN must be a whole number from 1 to 64, not '$FCGI_CHILDREN'"
fi
COMMITS=200
LS_REMOTES=50
# No git call may take longer than this (seconds).
GIT_TIMEOUT=300

if ! command -v nginx >/dev/null || ! command -v fcgiwrap >/dev/null; then
    ((EUID == 0)) || die "needs nginx and fcgiwrap (apt-get install nginx fcgiwrap)"
    echo "p5: installing nginx and fcgiwrap (apt-get)" >&2
    apt-get install -y --no-install-recommends nginx fcgiwrap >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends nginx fcgiwrap >&2; }
fi
http_backend="$(git --exec-path)/git-http-backend"
[[ -x $http_backend ]] || die "there is no $http_backend"

# git as a client: no user or system configuration, no prompts, a fixed author.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
g() { timeout "$GIT_TIMEOUT" git "$@"; }

# The source repository: `main` (SIZE_MB in COMMITS commits) and `p5-new` (COMMITS small
# commits on top of it), both from a fixed seed.
echo "p5: generating a ${SIZE_MB} MB repository" >&2
src=$work/source.git
g init -q --bare "$src"
bench_py - "$SIZE_MB" "$COMMITS" <<'PY' | g --git-dir="$src" fast-import --quiet
import random, sys

size_mb, commits = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(5)
out = sys.stdout.buffer
mark = 0

def blob(data):
    global mark
    mark += 1
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
    return mark

def commit(branch, i, files, parent=None):
    global mark
    marks = [(path, blob(data)) for path, data in files]
    mark += 1
    when = 1700000000 + i * 60
    message = b"commit %d on %s\n" % (i, branch.encode())
    out.write(b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), mark))
    out.write(b"author Bench <bench@example.com> %d +0000\n" % when)
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % when)
    out.write(b"data %d\n%s" % (len(message), message))
    if parent:
        out.write(b"from %s\n" % parent.encode())
    for path, m in marks:
        out.write(b"M 100644 :%d %s\n" % (m, path.encode()))
    out.write(b"\n")

# main: each commit adds 4 binary files (SIZE_MB in all) and rewrites a small text file.
per_file = size_mb * 1024 * 1024 // (commits * 4)
for i in range(commits):
    files = [(f"data/{i:03}/{j}.bin", rng.randbytes(per_file)) for j in range(4)]
    files.append(("CHANGES.txt", b"".join(b"change %d\n" % k for k in range(i + 1))))
    commit("main", i, files)
# p5-new: small commits on top of main, one new ~2 KiB text file each.
for i in range(commits):
    text = rng.randbytes(1024).hex().encode() + b"\n"
    commit("p5-new", commits + i, [(f"notes/{i:03}.txt", text)], parent="refs/heads/main" if i == 0 else None)
out.flush()
PY
g --git-dir="$src" repack -adq
src_mb=$(du -sm "$src/objects" | cut -f1)

# Slipway: the repository, created with CodeCommit's API, and `main` pushed once.
start_server server "$work/data" --no-local-agent
clone_url=$(bench_py - "$SERVER_URL" "$work/data" <<'PY'
import sys
import slipway_bench as sb

cc = sb.service_client("codecommit", sys.argv[1], sys.argv[2])
print(cc.create_repository(repositoryName="p5")["repositoryMetadata"]["cloneUrlHttp"])
PY
)
"$bin" git-credentials create --user admin --data-dir "$work/data" >"$work/git-credentials.txt" ||
    die "slipway git-credentials create failed"
cred() { sed -n "s/^$1 = //p" "$work/git-credentials.txt"; }
slipway_url=$(bench_py -c 'import sys, slipway_bench as sb; print(sb.git_url(*sys.argv[1:]))' \
    "$clone_url" "$(cred username)" "$(cred password)")
g --git-dir="$src" push -q "$slipway_url" main || die "the first push to Slipway failed"
bare=$work/data/repos/p5.git
[[ -d $bare ]] || die "Slipway keeps the repository somewhere else than $bare"
[[ $(g --git-dir="$bare" rev-parse main) == $(g --git-dir="$src" rev-parse main) ]] ||
    die "the pushed main is not the source's"

# git http-backend behind nginx + fcgiwrap, on the same bare repository, with the same
# credentials: an htpasswd entry `user:{SSHA}base64(sha1(password salt) salt)`.
nginx_port=$(free_port)
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
bench_py - "$(cred username)" "$(cred password)" >"$work/nginx/htpasswd" <<'PY'
import base64, hashlib, os, sys

user, password = sys.argv[1], sys.argv[2]
salt = os.urandom(8)
digest = hashlib.sha1(password.encode() + salt).digest()
print(f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}")
PY
fcgi_socket=$work/fcgiwrap.sock
spawn fcgiwrap fcgiwrap -c "$FCGI_CHILDREN" -s "unix:$fcgi_socket"
for ((i = 0; i < 100; i++)); do
    [[ -S $fcgi_socket ]] && break
    alive "${PIDS[fcgiwrap]}" || die "fcgiwrap exited: $(cat "$work/fcgiwrap.err")"
    sleep 0.05
done
[[ -S $fcgi_socket ]] || die "fcgiwrap did not make its socket"
# fcgiwrap's preforked children outlive their parent's SIGTERM: stop them too, by PID.
stop_fcgiwrap() {
    local pid fcgi_children left i
    fcgi_children=$(pgrep -P "${PIDS[fcgiwrap]}" || true)
    stop fcgiwrap
    for pid in $fcgi_children; do
        alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    # Then wait for them (at most 5 s), so that nothing is left when the script ends.
    for ((i = 0; i < 100; i++)); do
        left=0
        for pid in $fcgi_children; do alive "$pid" && left=1; done
        ((left)) || break
        sleep 0.05
    done
    return 0
}
on_exit stop_fcgiwrap
# nginx's workers run as nobody unless told otherwise: as root, they run as root, like
# fcgiwrap, so that they can use its socket.
nginx_user=""
((EUID == 0)) && nginx_user="user root;"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
$nginx_user
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        client_max_body_size 0;
        # PATH_INFO is the path under GIT_PROJECT_ROOT: /git/p5.git/info/refs -> /p5.git/info/refs
        location ~ ^/git(/.*)\$ {
            auth_basic "git";
            auth_basic_user_file $work/nginx/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $http_backend;
            fastcgi_param GIT_PROJECT_ROOT $work/data/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param REMOTE_USER \$remote_user;
            fastcgi_param PATH_INFO \$1;
            fastcgi_param GIT_PROTOCOL \$http_git_protocol;
            fastcgi_param HTTP_CONTENT_ENCODING \$http_content_encoding;
            fastcgi_pass unix:$fcgi_socket;
        }
    }
}
EOF
chmod -R a+rX "$work/nginx"
nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -e logs/error.log || die "nginx -t failed"
spawn nginx nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e logs/error.log
backend_url=$(bench_py -c 'import sys, slipway_bench as sb; print(sb.git_url(*sys.argv[1:]))' \
    "http://127.0.0.1:$nginx_port/git/p5.git" "$(cred username)" "$(cred password)")
for ((i = 0; i < 100; i++)); do
    g ls-remote "$backend_url" >/dev/null 2>&1 && break
    alive "${PIDS[nginx]}" || die "nginx exited: $(cat "$work/nginx.err" "$work/nginx/logs/error.log")"
    sleep 0.05
done
g ls-remote "$backend_url" >/dev/null 2>"$work/ls-remote.err" ||
    die "git http-backend does not answer: $(cat "$work/ls-remote.err" "$work/nginx/logs/error.log")"
file_url="file://$bare"

declare -A URLS=([slipway]=$slipway_url [http_backend]=$backend_url [file]=$file_url)
TARGETS=(file http_backend slipway)
declare -A TIMES=()
FAILURES=()

# timed KEY CMD...: runs CMD, appends its seconds to TIMES[KEY]; a failure is noted.
timed() {
    local key=$1 start end
    shift
    start=$EPOCHREALTIME
    if ! "$@" >"$work/last.out" 2>"$work/last.err"; then
        FAILURES+=("$key: $(tail -n 3 "$work/last.err" | tr '\n' ' ')")
    fi
    end=$EPOCHREALTIME
    TIMES[$key]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') "
}

# ls_remotes URL: LS_REMOTES `git ls-remote` at once; fails if any failed.
ls_remotes() {
    local pids=() failed=0 i pid
    for ((i = 0; i < LS_REMOTES; i++)); do
        g ls-remote "$1" >"$work/ls-remote-$i.out" 2>"$work/ls-remote-$i.err" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
    for ((i = 0; i < LS_REMOTES; i++)); do
        grep -q 'refs/heads/main$' "$work/ls-remote-$i.out" || failed=$((failed + 1))
    done
    if ((failed > 0)); then
        echo "$failed of $LS_REMOTES ls-remote calls failed: $(cat "$work"/ls-remote-*.err | head -n 3)" >&2
        return 1
    fi
}

echo "p5: measuring ($RUNS runs)" >&2
for ((run = 1; run <= RUNS; run++)); do
    for t in "${TARGETS[@]}"; do
        timed "clone.$t" g clone -q --bare "${URLS[$t]}" "$work/clone-$t"
        [[ -f $work/clone-$t/packed-refs || -d $work/clone-$t/refs ]] || FAILURES+=("clone.$t: no clone")
        rm -rf "$work/clone-$t"
    done
done
for ((run = 1; run <= RUNS; run++)); do
    for t in "${TARGETS[@]}"; do
        branch=refs/heads/p5-push-$t-$run
        timed "push.$t" g --git-dir="$src" push -q "${URLS[$t]}" "p5-new:$branch"
        [[ $(g --git-dir="$bare" rev-parse -q --verify "$branch") == $(g --git-dir="$src" rev-parse p5-new) ]] ||
            FAILURES+=("push.$t: $branch is not p5-new")
        # Gone again, so that the next push sends the same commits.
        g --git-dir="$bare" update-ref -d "$branch"
    done
done
for ((run = 1; run <= RUNS; run++)); do
    for t in "${TARGETS[@]}"; do
        timed "ls_remote.$t" ls_remotes "${URLS[$t]}"
    done
done

# Idle: 3 s after the last call.
sleep 3
rss_mb() { awk '$1 == "VmRSS:" { s += $2 } END { printf "%.1f", s / 1024 }' "$@"; }
slipway_rss=$(rss_mb "/proc/$SERVER_PID/status")
backend_pids=$(for p in "${PIDS[nginx]}" "${PIDS[fcgiwrap]}"; do echo "$p"; pgrep -P "$p" || true; done | sort -u)
backend_rss=$(rss_mb $(sed 's|.*|/proc/&/status|' <<<"$backend_pids"))

median() { bench_py -c 'import sys, slipway_bench as sb; print(sb.median([float(v) for v in sys.argv[1:]]))' $1; }

header "P5 git over smart HTTP"
echo "# repository: main = $COMMITS commits, $src_mb MB packed (SIZE_MB=$SIZE_MB, pseudo-random files); the push: $COMMITS commits of one ~2 KiB file each"
echo "# medians of $RUNS runs, interleaved; both HTTP servers: HTTP Basic, the same credentials (git asks, gets a 401, asks again); slipway: git-credentials; http_backend: git $(git --version | cut -d' ' -f3) http-backend, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') auth_basic ({SSHA}), fcgiwrap -c $FCGI_CHILDREN; floor of both: file://"
for fig in clone push ls_remote; do
    name=$fig
    [[ $fig == push ]] && name=push_${COMMITS}_commits
    [[ $fig == ls_remote ]] && name=ls_remote_${LS_REMOTES}_concurrent
    s=$(median "${TIMES[$fig.slipway]}")
    h=$(median "${TIMES[$fig.http_backend]}")
    f=$(median "${TIMES[$fig.file]}")
    figure "p5.$name" "$s" s "$h"
    figure "p5.$name.http_backend" "$h" s "$f"
    figure "p5.$name.vs_file" "$s" s "$f"
    echo "#   $fig runs (s): slipway ${TIMES[$fig.slipway]}| http_backend ${TIMES[$fig.http_backend]}| file ${TIMES[$fig.file]}"
done
figure p5.idle_rss "$slipway_rss" MB "$backend_rss"
echo "# idle RSS: slipway server alone; floor: nginx (master + worker) and fcgiwrap ($FCGI_CHILDREN + 1 processes) together, 3 s after the last call"
if ((${#FAILURES[@]} > 0)); then
    echo "# FAILED: ${#FAILURES[@]} calls:"
    printf '#   %s\n' "${FAILURES[@]}" | head -n 20
fi
problems=$(server_problems server)
if [[ -n $problems ]]; then
    echo "# the server logged $(wc -l <<<"$problems") warnings or errors, e.g.:"
    sed 's/^/#   /' <<<"$problems" | head -n 10
fi
fsck=$(g --git-dir="$bare" fsck --strict --no-progress 2>&1 | grep -vE '^(dangling|unreachable) ' || true)
[[ -z $fsck ]] || echo "# git fsck --strict of the repository: $(head -n 5 <<<"$fsck")"
((${#FAILURES[@]} == 0)) && [[ -z $fsck ]]

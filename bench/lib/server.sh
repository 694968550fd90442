# Shared by the bench scripts that run `slipway server` (P1, P3, P6, P7, P8). Source it after
# setting BENCH (the prefix of messages, e.g. "p1"); it leaves the shell in the repository's top
# directory with:
#   $bin            the release binary, rebuilt when missing or older than any source
#   $work           a fresh temporary directory, removed on exit
#   spawn NAME CMD...    starts CMD in the background, output in $work/NAME.out / .err,
#                        PID in PIDS[NAME]; stopped (SIGTERM, then SIGKILL) on exit
#   stop NAME            stops it now: SIGTERM, SIGKILL after $STOP_TIMEOUT seconds
#   start_server NAME DATA_DIR [ARGS...]   spawns `slipway server` on a free loopback port,
#                        waits for its first line; sets SERVER_URL and SERVER_PID
#   on_exit CMD          runs CMD (a string) on exit, before the earlier ones
#   bench_py             runs python3 with bench/lib on the module path
#   figure NAME VALUE UNIT FLOOR   prints `NAME: VALUE UNIT (floor: FLOOR UNIT, ratio: Rx)`
# Everything this starts is stopped by PID when the script ends, however it ends.

set -euo pipefail

: "${BENCH:?set BENCH before sourcing bench/lib/server.sh}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# How long a process gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

die() {
    echo "$BENCH: $*" >&2
    exit 1
}

declare -A PIDS=()
EXIT_ACTIONS=()
on_exit() { EXIT_ACTIONS+=("$1"); }
run_exit_actions() {
    local i
    for ((i = ${#EXIT_ACTIONS[@]} - 1; i >= 0; i--)); do
        eval "${EXIT_ACTIONS[i]}" || true
    done
}
trap run_exit_actions EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-$BENCH.XXXXXX")
chmod 755 "$work"
on_exit "rm -rf '$work'"

# The binary: rebuilt when missing or older than any source it is built from (as in P2), unless
# NO_BUILD=1 (then the one there is used as it is). It is copied into $work, so that a build
# running beside the benchmark cannot replace it halfway.
bin="${CARGO_TARGET_DIR:-target}/release/slipway"
BIN_NOTE=""
if [[ ${NO_BUILD:-0} == 1 ]]; then
    [[ -x $bin ]] || die "NO_BUILD=1, but there is no $bin"
    BIN_NOTE=" (NO_BUILD=1: binary built $(date -u -r "$bin" +%Y-%m-%dT%H:%M:%SZ))"
elif [[ ! -x $bin ]] || [[ -n $(find crates Cargo.toml Cargo.lock -type f -newer "$bin" -print -quit) ]]; then
    echo "$BENCH: building $bin (cargo build --release -p slipway)" >&2
    cargo build --release -p slipway >&2
fi
cp "$bin" "$work/slipway"
bin=$work/slipway

# alive PID: the process exists and is not a zombie (a child that has exited but was not
# waited for still answers `kill -0`).
alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

spawn() {
    local name=$1
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    PIDS[$name]=$!
    on_exit "stop '$name'"
}

# stop NAME: SIGTERM, then SIGKILL after $STOP_TIMEOUT s. Says on stderr when it took more
# than a second, or needed the SIGKILL: how a server stops is part of what is measured.
stop() {
    local name=$1 pid=${PIDS[$1]:-} start now waited
    [[ -n $pid ]] || return 0
    unset "PIDS[$name]"
    if alive "$pid"; then
        start=${EPOCHREALTIME/[.,]/}
        kill -TERM "$pid" 2>/dev/null || true
        while alive "$pid"; do
            now=${EPOCHREALTIME/[.,]/}
            if ((now - start > STOP_TIMEOUT * 1000000)); then
                echo "# note: $name (pid $pid) was still running $STOP_TIMEOUT s after SIGTERM; killed" >&2
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                return 0
            fi
            sleep 0.05
        done
        now=${EPOCHREALTIME/[.,]/}
        waited=$(((now - start) / 1000))
        if ((waited > 1000)); then
            echo "# note: $name (pid $pid) took $waited ms to stop after SIGTERM" >&2
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

start_server() {
    local name=$1 data=$2 line="" i
    shift 2
    spawn "$name" "$bin" server --listen 127.0.0.1:0 --data-dir "$data" "$@"
    SERVER_PID=${PIDS[$name]}
    for ((i = 0; i < 300; i++)); do
        line=$(head -n 1 "$work/$name.out" 2>/dev/null) || true
        [[ $line == "Slipway is listening on "* ]] && break
        alive "$SERVER_PID" || die "$name exited at start: $(tail -n 5 "$work/$name.err")"
        sleep 0.1
    done
    [[ $line == "Slipway is listening on "* ]] || die "$name did not say where it listens within 30 s"
    SERVER_URL=${line#Slipway is listening on }
}

# Lines the server logged at WARN or ERROR (tracing's level column), for the report.
server_problems() {
    sed 's/\x1b\[[0-9;]*m//g' "$work/$1.err" | grep -E '^[^ ]+ +(WARN|ERROR) ' || true
}

bench_py() { PYTHONPATH="$PWD/bench/lib${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }

python3 -c 'import botocore' 2>/dev/null ||
    die "needs Python 3 with botocore (it comes with the aws CLI: pip install awscli)"

figure() { bench_py -m slipway_bench figure "$@"; }

header() {
    local commit
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit+=" (with uncommitted changes)"; fi
    echo "# $1: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit, $(nproc 2>/dev/null || echo '?') cores$BIN_NOTE"
}

# free_port: prints a TCP port that is free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_postgres: a throwaway PostgreSQL on a free loopback port, as in
# shared/reference/feasibility.md §1 (run as root: the server runs as the user postgres). Sets
# DATABASE_URL; stops it and removes its directory on exit.
start_postgres() {
    local pgbin pgtmp port
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $pgbin && -x $pgbin/initdb ]] || die "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)"
    ((EUID == 0)) || die "starting PostgreSQL this way needs root (runuser -u postgres)"
    id postgres >/dev/null 2>&1 || die "there is no user postgres"
    pgtmp=$(mktemp -d /tmp/slipway-$BENCH-pg.XXXXXX)
    chown postgres:postgres "$pgtmp"
    on_exit "rm -rf '$pgtmp'"
    runuser -u postgres -- "$pgbin/initdb" -D "$pgtmp/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$pgtmp/initdb.log" || die "initdb failed: $(tail -n 5 "$pgtmp/initdb.log")"
    port=$(free_port)
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgtmp/data" -l "$pgtmp/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pgtmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || die "PostgreSQL did not start: $(tail -n 5 "$pgtmp/server.log")"
    on_exit "runuser -u postgres -- '$pgbin/pg_ctl' -D '$pgtmp/data' -m immediate -w stop >/dev/null"
    DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

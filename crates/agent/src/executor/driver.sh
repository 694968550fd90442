# The build shell: one bash process per build that runs every command of every phase.
#
# Each request on standard input is one line,
# `<succeeding> <posix> <load> <user> <command-file>`, where `<user>` is `-` or the user the
# command runs as (`run-as`).
# The command file is sourced in a subshell, so `exit`, `set -e` and traps end only that
# command, and functions, arrays and shell options do not outlive it, as in CodeBuild. When
# the subshell ends it dumps its variables (`declare -p`) and working directory into the state
# directory; the executor compares the dump with the previous one and writes what changed
# to `load`, which this shell sources before the next command (`<load>` is 1). So variables,
# exported or not, and `cd` carry over to the next command and phase, at the cost of one
# fork per command. Background processes started with `&` keep running. After each command a
# marker with its exit status goes to standard output, behind everything the command printed.
#
# A command with a `run-as` user runs in a fresh bash started by `runuser`, which loads the
# variables and directory from `run-as-env` (written by the executor) and saves them the same
# way when it ends (`run-as.sh`); this shell opens those files for it, so the other user
# needs no access to the state directory or the directories above it.
#
# Arguments: $1 the state directory, $2 the marker's nonce, $3 the path of `runuser`.
exec 2>&1
__slipway_state=$1
__slipway_mark=$2
__slipway_runuser=$3
shift 3
__slipway_run_as=$(< "$__slipway_state/run-as.sh")

# If the agent dies (even by SIGKILL, which leaves it no chance to clean up), the build must
# not run on unwatched: a watchdog kills this shell's whole process group once the agent is
# gone, after removing the state directory (which may be in /dev/shm, where nothing else
# would). It checks every second; it is a member of the group, so it ends with the build.
__slipway_agent=$PPID
( trap - EXIT; while kill -0 "$__slipway_agent" 2>/dev/null; do sleep 1; done
  rm -rf -- "$__slipway_state"; kill -KILL -- -$$ ) </dev/null >/dev/null 2>&1 &

__slipway_save() {
    pwd > "$__slipway_state/pwd"
    declare -p > "$__slipway_state/variables"
}

while IFS=' ' read -r __slipway_ok __slipway_posix __slipway_load __slipway_user __slipway_file; do
    if [ "$__slipway_load" = 1 ]; then
        . "$__slipway_state/load"
    fi
    export CODEBUILD_BUILD_SUCCEEDING=$__slipway_ok
    : > "$__slipway_state/variables"
    if [ "$__slipway_user" = - ]; then
        (
            trap __slipway_save EXIT
            if [ "$__slipway_posix" = 1 ]; then set -o posix; fi
            . "$__slipway_file"
        ) < /dev/null
    else
        "$__slipway_runuser" -u "$__slipway_user" -- "$BASH" --noprofile --norc \
            -c "$__slipway_run_as" run-as "$__slipway_posix" < /dev/null \
            6< "$__slipway_file" 7< "$__slipway_state/run-as-env" \
            8> "$__slipway_state/variables" 9> "$__slipway_state/pwd"
    fi
    printf '\036%s %d\036\n' "$__slipway_mark" "$?"
done

# One command run as another user (`run-as`), started by `driver.sh` through `runuser`.
#
# Loads the build's variables and directory, runs the command, and saves its variables and
# directory as the driver's subshell would.
#
# Arguments: $1 the state directory, $2 1 for POSIX mode, $3 the command file.
__slipway_state=$1
. "$__slipway_state/run-as-env" 2>/dev/null
__slipway_save() {
    pwd > "$__slipway_state/pwd"
    declare -p > "$__slipway_state/variables"
}
trap __slipway_save EXIT
if [ "$2" = 1 ]; then set -o posix; fi
. "$3"

# One command run as another user (`run-as`), started by `driver.sh` through `runuser` as
# `bash -c <this script> run-as <posix>`.
#
# Everything goes through file descriptors the driver (the agent's user) opened, never
# through paths: the workspace's parent directories may be closed to the other user, and
# the state files stay the agent's own. Descriptor 7 holds the build's variables and
# directory (`run-as-env`), 6 the command; the command's variables go to 8 and its
# directory to 9 when it ends, as the driver's subshell would save them.
#
# Arguments: $1 1 for POSIX mode.
IFS= read -r -d '' __slipway_env <&7
exec 7<&-
eval "$__slipway_env"
unset __slipway_env
IFS= read -r -d '' __slipway_command <&6
exec 6<&-
__slipway_save() {
    pwd >&9
    declare -p >&8
}
trap __slipway_save EXIT
if [ "$1" = 1 ]; then set -o posix; fi
eval "$__slipway_command"

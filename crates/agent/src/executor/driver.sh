# The build shell: one bash process per build that runs every command of every phase.
#
# Each request on standard input is one line, `<succeeding> <posix> <command-file>`. The
# command file is sourced in a subshell, so `exit`, `set -e` and traps end only that command,
# and functions, arrays and shell options do not outlive it, as in CodeBuild. Before the
# subshell ends it writes its variables and working directory to the state directory, and
# this shell loads them, so variables (exported or not) and `cd` carry over to the next
# command and phase. Background processes started with `&` keep running. After each command
# a marker with its exit status goes to standard output, behind everything it printed.
#
# Arguments: $1 the state directory, $2 the marker's nonce.
exec 2>&1
__slipway_state=$1
__slipway_mark=$2
shift 2

# Writes the subshell's variables and directory for the parent shell to load. Every step is
# a builtin: a fork here would cost more than the subshell itself.
__slipway_save() {
    local __slipway_n __slipway_a __slipway_keep=()
    pwd > "$__slipway_state/pwd"
    compgen -v > "$__slipway_state/names"
    mapfile -t __slipway_after < "$__slipway_state/names"
    for __slipway_n in "${__slipway_after[@]}"; do
        case $__slipway_n in
            __slipway*|BASH*|COMP_*|DIRSTACK|EPOCHREALTIME|EPOCHSECONDS|EUID|FUNCNAME|GROUPS|HIST*|IFS|LINENO|OLDPWD|OPTARG|OPTIND|PIPESTATUS|PPID|PS[0-9]|PWD|RANDOM|SECONDS|SHELLOPTS|SHLVL|SRANDOM|UID|_|CODEBUILD_BUILD_SUCCEEDING) continue ;;
        esac
        __slipway_a=${!__slipway_n@a}
        # Arrays do not carry over in CodeBuild, and read-only variables cannot be set again.
        case $__slipway_a in *[aAr]*) continue ;; esac
        __slipway_keep+=("$__slipway_n")
    done
    {
        declare -p "${__slipway_keep[@]}"
        for __slipway_n in "${__slipway_before[@]}"; do
            [[ -v $__slipway_n ]] && continue
            case $__slipway_n in
                __slipway*|BASH*|COMP_*|DIRSTACK|EPOCHREALTIME|EPOCHSECONDS|EUID|FUNCNAME|GROUPS|HIST*|IFS|LINENO|OLDPWD|OPTARG|OPTIND|PIPESTATUS|PPID|PS[0-9]|PWD|RANDOM|SECONDS|SHELLOPTS|SHLVL|SRANDOM|UID|_|CODEBUILD_BUILD_SUCCEEDING) continue ;;
            esac
            printf 'unset %s\n' "$__slipway_n"
        done
    } > "$__slipway_state/env"
}

while IFS=' ' read -r __slipway_ok __slipway_posix __slipway_file; do
    export CODEBUILD_BUILD_SUCCEEDING=$__slipway_ok
    : > "$__slipway_state/env"
    (
        compgen -v > "$__slipway_state/names"
        mapfile -t __slipway_before < "$__slipway_state/names"
        trap __slipway_save EXIT
        if [ "$__slipway_posix" = 1 ]; then set -o posix; fi
        . "$__slipway_file"
    ) < /dev/null
    __slipway_status=$?
    # An empty file means the command replaced the subshell (`exec`) or killed it: keep the
    # previous state rather than lose every variable.
    if [ -s "$__slipway_state/env" ]; then
        . "$__slipway_state/env"
        IFS= read -r __slipway_dir < "$__slipway_state/pwd" && cd -- "$__slipway_dir" 2>/dev/null
    fi
    printf '\036%s %d\036\n' "$__slipway_mark" "$__slipway_status"
done
